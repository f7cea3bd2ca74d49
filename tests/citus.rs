//! A real local Citus cluster (coordinator and two workers), built by `.ci/citus` for the
//! installed PostgreSQL 15. Skipped, with the reason on the terminal, where Citus is not
//! installed for the server in use (the other majors of `.ci/versions`, or a failed build).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use tenantctl::citus_cluster::{CitusCluster, citus_unavailable};
use tenantctl::cluster::find_server_bindir;

#[tokio::test]
async fn a_citus_cluster_has_two_workers_and_distributes_a_schema() {
    let bindir = find_server_bindir().expect("server binaries");
    if let Some(why) = citus_unavailable(&bindir) {
        common::skip(
            "a_citus_cluster_has_two_workers_and_distributes_a_schema",
            &why,
        );
        return;
    }
    let citus = CitusCluster::start("tenantctl_citus", 2).await.unwrap();
    // The harness's connections use sslmode=disable: CREATE EXTENSION citus turns ssl on
    // with an X.509 v1 certificate that rustls refuses (the `prefer` fallback is issue 8's).
    let spec = citus.coordinator.superuser_spec(&citus.dbname);
    assert_eq!(spec.sslmode, "disable");
    let pool = spec.connect(2).await.unwrap();
    let version: String =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(version.starts_with("13.2"), "{version}");
    let nodes: Vec<(i32, i32, bool)> = sqlx::query_as(
        "SELECT nodeport, groupid, isactive FROM pg_dist_node WHERE noderole = 'primary' ORDER BY groupid",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let workers: Vec<i32> = nodes
        .iter()
        .filter(|(_, group, active)| *group != 0 && *active)
        .map(|(port, _, _)| *port)
        .collect();
    let mut want: Vec<i32> = citus.workers.iter().map(|w| i32::from(w.port())).collect();
    want.sort();
    let mut got = workers.clone();
    got.sort();
    assert_eq!(got, want, "{nodes:?}");
    assert!(
        nodes
            .iter()
            .any(|(port, group, _)| *group == 0 && *port == i32::from(citus.coordinator.port())),
        "the coordinator is not registered: {nodes:?}"
    );

    // The nodes reach each other: a schema distributed through the coordinator lands whole
    // on one worker, and its rows come back through the coordinator.
    let mut conn = pool.acquire().await.unwrap();
    for sql in [
        "SET citus.enable_schema_based_sharding TO on",
        "CREATE SCHEMA tenant_probe",
        "CREATE TABLE tenant_probe.items (id int PRIMARY KEY, label text)",
        "INSERT INTO tenant_probe.items SELECT g, 'item ' || g FROM generate_series(1, 50) g",
    ] {
        sqlx::query(sql)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let placed: i32 = sqlx::query_scalar(
        "SELECT DISTINCT p.nodeport FROM pg_dist_shard s
         JOIN pg_dist_shard_placement p USING (shardid)
         WHERE s.logicalrelid = 'tenant_probe.items'::regclass",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert!(
        want.contains(&placed),
        "placed on {placed}, workers {want:?}"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_probe.items")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(rows, 50);
}
