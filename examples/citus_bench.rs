//! Citus catalog benchmark: `tenant list` (tenantctl's core) beside the bare
//! `citus_schemas` query it must stay within 1.5x of, on a throwaway coordinator and two
//! workers (removed on exit). The fixture is set-based: distributed schemas made in batches
//! of one transaction each, with their registry rows.
//!
//! cargo run --release --example citus_bench -- [TENANTS] [RUNS]   (default 2000 5)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};
use tenantctl::citus_cluster::{CitusCluster, citus_unavailable};
use tenantctl::cluster::find_server_bindir;
use tenantctl::names::NamingPolicy;
use tenantctl::session::Session;

const BATCH: usize = 100;

#[tokio::main]
async fn main() {
    let mut a = std::env::args().skip(1);
    let tenants: usize = a.next().map(|v| v.parse().unwrap()).unwrap_or(2000);
    let runs: usize = a.next().map(|v| v.parse().unwrap()).unwrap_or(5);
    if let Some(why) = citus_unavailable(&find_server_bindir().expect("server binaries")) {
        eprintln!("citus_bench skipped: {why}");
        return;
    }
    let citus = CitusCluster::start("citus_bench", 2).await.unwrap();
    let s = Session::open(
        citus.coordinator.superuser_spec(&citus.dbname),
        NamingPolicy::default(),
        Duration::from_secs(30),
        4,
    )
    .await
    .unwrap();
    tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    let built = Instant::now();
    for start in (0..tenants).step_by(BATCH) {
        let mut sql = String::from(
            "BEGIN; SET LOCAL citus.enable_schema_based_sharding TO on; SET LOCAL citus.propagate_set_commands TO none;",
        );
        for i in start..(start + BATCH).min(tenants) {
            sql.push_str(&format!(
                "CREATE SCHEMA tenant_b{i:05};
                 CREATE TABLE tenant_b{i:05}.items (id bigint PRIMARY KEY, label text);
                 INSERT INTO tenant_b{i:05}.items SELECT g, 'item ' || g FROM generate_series(1, 20) g;
                 INSERT INTO commons.tenants (id, name, schema) VALUES ('b{i:05}', 'Bench {i}', 'tenant_b{i:05}');"
            ));
        }
        sql.push_str("COMMIT;");
        sqlx::raw_sql(&sql).execute(&s.pool).await.unwrap();
    }
    eprintln!(
        "fixture: {tenants} distributed tenants in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let mut bare = Vec::new();
    let mut list = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT schema_name::text, schema_size FROM public.citus_schemas")
                .fetch_all(&s.pool)
                .await
                .unwrap();
        bare.push(t.elapsed());
        assert_eq!(rows.len(), tenants);
        let t = Instant::now();
        let rows = tenantctl::catalog::list_tenants(&s).await.unwrap();
        list.push(t.elapsed());
        assert_eq!(rows.len(), tenants);
        assert!(rows.iter().all(|r| r.node.is_some()));
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (b, l) = (median(&mut bare), median(&mut list));
    println!(
        "{tenants} tenants on a coordinator + 2 workers, median of {runs}: citus_schemas {:.1} ms, tenant list {:.1} ms, ratio {:.2}",
        b.as_secs_f64() * 1e3,
        l.as_secs_f64() * 1e3,
        l.as_secs_f64() / b.as_secs_f64()
    );
}
