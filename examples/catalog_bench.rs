//! Catalog benchmark: `tenant list` (estimate) and `--exact` at scale, beside the bare
//! queries in psql. Starts its own throwaway cluster; removes it on exit.
//!
//! cargo run --release --example catalog_bench -- [TENANTS] [TABLES_PER_TENANT] [RUNS]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};
use tenantctl::cluster::Cluster;
use tenantctl::session::Session;

const BARE_ESTIMATE: &str = "SELECT n.nspname, sum(c.relpages::bigint) * 8192 FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid WHERE n.nspname LIKE 'tenant\\_%' GROUP BY 1";
const BARE_EXACT: &str = "SELECT n.nspname, sum(pg_total_relation_size(c.oid)) FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind = 'r' WHERE n.nspname LIKE 'tenant\\_%' GROUP BY 1";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn psql_ms(cluster: &Cluster, sql: &str, runs: usize) -> f64 {
    let beside = cluster.bindir().join("psql");
    let psql = if beside.is_file() {
        beside
    } else {
        "psql".into()
    };
    let spec = cluster.superuser_spec("bench");
    let mut times = Vec::new();
    for _ in 0..runs {
        let out = Command::new(&psql)
            .args([
                "-X",
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                &cluster.port().to_string(),
                "-U",
                "postgres",
                "-d",
                "bench",
            ])
            .args(["-c", "\\timing on", "-c", sql, "-o", "/dev/null"])
            .env("PGPASSWORD", spec.password.as_ref().unwrap().expose())
            .output()
            .expect("psql");
        let text = String::from_utf8_lossy(&out.stdout);
        let ms: f64 = text
            .lines()
            .rev()
            .filter_map(|l| l.strip_prefix("Time: "))
            .find_map(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(f64::NAN);
        times.push(ms);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[times.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let tenants = args.first().copied().unwrap_or(2000);
    let tables = args.get(1).copied().unwrap_or(10);
    let runs = args.get(2).copied().unwrap_or(5);
    let cluster = Cluster::start().expect("cluster");
    let pg = cluster.superuser_spec("postgres").connect(1).await.unwrap();
    sqlx::query("CREATE DATABASE bench")
        .execute(&pg)
        .await
        .unwrap();
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
    let t0 = Instant::now();
    // Bulk-made tenants: registry rows and schemas of `tables` small tables each, with rows,
    // an index and TOAST, in one server-side loop (provisioning each would take minutes).
    sqlx::raw_sql(&format!(
        "DO $$
         BEGIN
           FOR i IN 1..{tenants} LOOP
             INSERT INTO commons.tenants (id, name, schema, template_version)
               VALUES ('t' || i, 'Tenant ' || i, 'tenant_t' || i, 0);
             EXECUTE format('CREATE SCHEMA %I', 'tenant_t' || i);
             FOR j IN 1..{tables} LOOP
               EXECUTE format('CREATE TABLE %I.%I (id int PRIMARY KEY, body text)', 'tenant_t' || i, 'tbl' || j);
               EXECUTE format('INSERT INTO %I.%I SELECT g, repeat(''x'', 50) FROM generate_series(1, 20) g', 'tenant_t' || i, 'tbl' || j);
             END LOOP;
             COMMIT;
           END LOOP;
         END $$;"
    ))
    .execute(&session.pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&session.pool).await.unwrap();
    eprintln!(
        "made {tenants} tenants x {tables} tables in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let mut est = Vec::new();
    let mut exact = Vec::new();
    let mut exact_chunked = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let rows = tenantctl::catalog::list_tenants(&session).await.unwrap();
        est.push(t.elapsed());
        assert_eq!(rows.len(), tenants);
        let schemas: Vec<String> = rows.iter().map(|r| r.schema.clone()).collect();
        let t = Instant::now();
        tenantctl::catalog::exact_sizes(&session, &schemas)
            .await
            .unwrap();
        exact.push(t.elapsed());
        let t = Instant::now();
        for chunk in schemas.chunks(500) {
            tenantctl::catalog::exact_sizes(&session, chunk)
                .await
                .unwrap();
        }
        exact_chunked.push(t.elapsed());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{tenants} tenants x {tables} tables, median of {runs} runs");
    println!(
        "  list_tenants (estimate, registry join + drift)  {:>8.1} ms",
        ms(median(est))
    );
    println!(
        "  exact_sizes (one query)                         {:>8.1} ms",
        ms(median(exact))
    );
    println!(
        "  exact_sizes (chunks of 500)                     {:>8.1} ms",
        ms(median(exact_chunked))
    );
    println!(
        "  psql bare estimate query                        {:>8.1} ms",
        psql_ms(&cluster, BARE_ESTIMATE, runs)
    );
    println!(
        "  psql bare exact query                           {:>8.1} ms",
        psql_ms(&cluster, BARE_EXACT, runs)
    );
    // The whole command, as an operator runs it: start, connect, query, format, print.
    let bin = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("tenantctl")))
        .filter(|p| p.is_file());
    let Some(bin) = bin else {
        println!("  (build the binary as well, e.g. `cargo build --release`, to time the command)");
        return;
    };
    let password = cluster.superuser_spec("bench").password.unwrap();
    for (label, extra) in [
        ("tenantctl tenant list", None),
        ("tenantctl tenant list --exact", Some("--exact")),
    ] {
        let mut times = Vec::new();
        for _ in 0..runs {
            let mut cmd = Command::new(&bin);
            cmd.args(["tenant", "list"])
                .args(extra)
                .env("PGHOST", "127.0.0.1")
                .env("PGPORT", cluster.port().to_string())
                .env("PGUSER", "postgres")
                .env("PGDATABASE", "bench")
                .env("PGSSLMODE", "disable")
                .env("PGPASSWORD", password.expose())
                .env("TENANTCTL_CONFIG", "/dev/null");
            let t = Instant::now();
            let out = cmd.output().expect("tenantctl");
            times.push(t.elapsed());
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        println!("  {label:<48}{:>8.1} ms", ms(median(times)));
    }
}
