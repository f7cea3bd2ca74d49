//! Scale benchmark: every catalog-heavy operation of tenantctl beside the bare PostgreSQL
//! work it wraps, at 1,000 and 10,000 tenants (or the counts given), with their ratios and
//! peak memory. Starts its own throwaway cluster (removed on exit), builds the fixture
//! set-based, and writes `docs/benchmarks.md`.
//!
//! cargo build --release && cargo run --release --example catalog_bench -- \
//!     [--tenants 1000,10000] [--tables 10] [--runs 5] [--out docs/benchmarks.md] [--keep]
//!
//! `--keep` builds the fixture for the first count, prints how to reach it with psql, and
//! waits for Ctrl-C (for EXPLAIN ANALYZE by hand).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture;
mod measure;
mod phases;
mod report;

use std::time::Duration;
use tenantctl::cluster::Cluster;
use tenantctl::session::Session;

/// Benchmark settings from the command line.
struct Args {
    tenants: Vec<usize>,
    tables: usize,
    runs: usize,
    out: Option<String>,
    keep: bool,
}

fn args() -> Args {
    let mut a = Args {
        tenants: vec![1000, 10_000],
        tables: 10,
        runs: 5,
        out: Some("docs/benchmarks.md".into()),
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--tenants" => {
                a.tenants = it
                    .next()
                    .expect("--tenants N[,N]")
                    .split(',')
                    .map(|n| n.parse().expect("a tenant count"))
                    .collect();
            }
            "--tables" => a.tables = it.next().expect("--tables N").parse().expect("a number"),
            "--runs" => a.runs = it.next().expect("--runs N").parse().expect("a number"),
            "--out" => a.out = it.next().filter(|p| p != "-"),
            "--keep" => a.keep = true,
            other => panic!("unknown argument {other}"),
        }
    }
    a.tenants.sort();
    a
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let cluster = Cluster::start().expect("cluster");
    let pg = cluster.superuser_spec("postgres").connect(1).await.unwrap();
    sqlx::query("CREATE DATABASE bench")
        .execute(&pg)
        .await
        .unwrap();
    pg.close().await;
    let session = Session::open(
        cluster.superuser_spec("bench"),
        Default::default(),
        Duration::from_secs(10),
        4,
    )
    .await
    .unwrap();
    tenantctl::bootstrap::init(&session, &Default::default())
        .await
        .unwrap();
    let mut have = 0;
    let mut results = Vec::new();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    for &n in &args.tenants {
        let took = fixture::grow(&session, have, n, args.tables).await;
        eprintln!(
            "fixture: {} -> {n} tenants x {} tables in {:.1} s",
            have,
            args.tables,
            took.as_secs_f64()
        );
        have = n;
        if args.keep {
            let spec = cluster.superuser_spec("bench");
            println!(
                "PGHOST=127.0.0.1 PGPORT={} PGUSER=postgres PGDATABASE=bench PGPASSWORD={} psql",
                cluster.port(),
                spec.password.as_ref().unwrap().expose()
            );
            tokio::signal::ctrl_c().await.unwrap();
            return;
        }
        let r = report::measure(&cluster, &session, n, args.tables, args.runs, took).await;
        println!("{}", report::table(&r));
        results.push(r);
    }
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let md = report::markdown(&results, args.tables, args.runs, &load_before, &load_after);
    match &args.out {
        Some(path) => {
            // Hand-written notes below the marker survive a rerun.
            let notes = std::fs::read_to_string(path)
                .ok()
                .and_then(|old| old.find(report::NOTES).map(|i| old[i..].to_string()))
                .unwrap_or_default();
            std::fs::write(path, md + &notes).unwrap();
            eprintln!("wrote {path}");
        }
        None => println!("{md}"),
    }
}
