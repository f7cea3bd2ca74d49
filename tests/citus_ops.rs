//! Citus operations on a real local cluster (a coordinator and two workers): where tenants
//! are, moving one while the application writes, distributing, rebalancing, and the audit
//! across workers. Skipped, with the reason on the terminal, where Citus is not installed.
//!
//! One cluster per test binary; the tests take turns on it (a rebalance moves every
//! tenant), each with schemas of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tenantctl::citus::nodes::{self, NodeAddr};
use tenantctl::citus::ops::{self, TransferMode};
use tenantctl::citus_cluster::{CitusCluster, citus_unavailable};
use tenantctl::cluster::find_server_bindir;
use tenantctl::connect::ConnectionSpec;
use tenantctl::job::progress_channel;
use tenantctl::names::NamingPolicy;
use tenantctl::session::Session;
use tokio_util::sync::CancellationToken;

static CITUS: OnceLock<Result<CitusCluster, String>> = OnceLock::new();
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The binary's Citus cluster, or why there is none. Started on a runtime of its own, as
/// every test has its own.
fn citus() -> Result<&'static CitusCluster, String> {
    CITUS
        .get_or_init(|| {
            let bindir = find_server_bindir().ok_or("no PostgreSQL server binaries")?;
            if let Some(why) = citus_unavailable(&bindir) {
                return Err(why);
            }
            std::thread::spawn(|| {
                tokio::runtime::Runtime::new()
                    .unwrap()
                    .block_on(CitusCluster::start("tenantctl_ops", 2))
                    .map_err(|e| e.to_string())
            })
            .join()
            .unwrap()
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The cluster, or `None` after saying why the test is skipped. A cluster that Citus
/// should have started but did not is a failure, not a skip.
fn cluster_or_skip(test: &str) -> Option<&'static CitusCluster> {
    let bindir = find_server_bindir().expect("server binaries");
    if let Some(why) = citus_unavailable(&bindir) {
        common::skip(test, &why);
        return None;
    }
    Some(citus().expect("the Citus cluster starts"))
}

fn coordinator_spec(c: &CitusCluster) -> ConnectionSpec {
    c.coordinator.superuser_spec(&c.dbname)
}

async fn session(c: &CitusCluster) -> Session {
    Session::open(
        coordinator_spec(c),
        NamingPolicy::default(),
        Duration::from_secs(5),
        4,
    )
    .await
    .unwrap()
}

async fn exec(pool: &sqlx::PgPool, sqls: &[&str]) {
    let mut conn = pool.acquire().await.unwrap();
    for sql in sqls {
        sqlx::query(sql)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Runs `sql` on a worker by hand, as a DBA would, without Citus carrying it anywhere.
async fn on_worker(conn: &mut sqlx::PgConnection, sql: &str) {
    sqlx::query("SET citus.enable_ddl_propagation TO off")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query(sql)
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A distributed tenant schema `tenant_<id>` with one table holding `rows` rows.
async fn distributed_tenant(pool: &sqlx::PgPool, id: &str, rows: i32) {
    let mut conn = pool.acquire().await.unwrap();
    for sql in [
        "SET citus.enable_schema_based_sharding TO on".to_string(),
        format!("CREATE SCHEMA tenant_{id}"),
        format!("CREATE TABLE tenant_{id}.items (id bigserial PRIMARY KEY, v int NOT NULL)"),
        format!("INSERT INTO tenant_{id}.items (v) SELECT g FROM generate_series(1, {rows}) g"),
        "RESET citus.enable_schema_based_sharding".to_string(),
    ] {
        sqlx::query(&sql)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// The node holding `schema`, from Citus's own metadata.
async fn node_of(pool: &sqlx::PgPool, schema: &str) -> NodeAddr {
    let (host, port): (String, i32) = sqlx::query_as(
        "SELECT DISTINCT n.nodename::text, n.nodeport
         FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
         JOIN pg_dist_node n ON n.groupid = p.groupid
         WHERE s.logicalrelid IN (SELECT c.oid FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
                                  WHERE ns.nspname = $1)",
    )
    .bind(schema)
    .fetch_one(pool)
    .await
    .unwrap();
    NodeAddr {
        host,
        port: port as u16,
    }
}

fn other_worker(c: &CitusCluster, than: &NodeAddr) -> NodeAddr {
    let port = c
        .workers
        .iter()
        .map(|w| w.port())
        .find(|p| *p != than.port)
        .unwrap();
    NodeAddr {
        host: "127.0.0.1".into(),
        port,
    }
}

/// An empty config file: the defaults, and nothing from the invoking user's.
fn empty_config() -> &'static std::path::Path {
    static FILE: OnceLock<tempfile::NamedTempFile> = OnceLock::new();
    FILE.get_or_init(|| tempfile::NamedTempFile::new().unwrap())
        .path()
}

fn cli(c: &CitusCluster, args: &[&str]) -> std::process::Output {
    let spec = coordinator_spec(c);
    let dsn = format!(
        "postgres://{}@127.0.0.1:{}/{}?sslmode=disable",
        spec.user, spec.port, spec.dbname
    );
    std::process::Command::new(common::bin())
        .arg("--dsn")
        .arg(dsn)
        .args(args)
        .env("PGPASSWORD", spec.password.as_ref().unwrap().expose())
        .env("TENANTCTL_CONFIG", empty_config())
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGDATABASE")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_tenant_moves_between_workers_while_the_application_inserts_and_no_row_is_lost() {
    let test = "a_tenant_moves_between_workers_while_the_application_inserts_and_no_row_is_lost";
    let Some(c) = cluster_or_skip(test) else {
        return;
    };
    let _turn = TURN.lock().await;
    let session = session(c).await;
    distributed_tenant(&session.pool, "mv", 1000).await;
    let from = node_of(&session.pool, "tenant_mv").await;
    let to = other_worker(c, &from);

    // The application: its own session on the coordinator, routed by search_path, inserting
    // one row per statement until told to stop; it counts what the server acknowledged.
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let app = {
        let (acked, stop) = (acked.clone(), stop.clone());
        let pool = coordinator_spec(c).connect(1).await.unwrap();
        tokio::spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            sqlx::query("SET search_path TO tenant_mv")
                .execute(&mut *conn)
                .await
                .unwrap();
            let mut errors = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                match sqlx::query("INSERT INTO items (v) VALUES ($1)")
                    .bind(-i)
                    .execute(&mut *conn)
                    .await
                {
                    Ok(_) => {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => errors.push(e.to_string()),
                }
            }
            errors
        })
    };
    while acked.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let map = nodes::read(&session, &CancellationToken::new())
        .await
        .unwrap();
    let plan = ops::plan_move(&session.names, &map, "mv", &to, TransferMode::Auto).unwrap();
    assert_eq!(plan.from, from);
    let (tx, mut rx) = progress_channel();
    let at_start = acked.load(Ordering::SeqCst);
    let report = ops::move_tenant(&session, &plan, &tx, &CancellationToken::new())
        .await
        .unwrap();
    let at_end = acked.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    let errors = app.await.unwrap();
    assert!(report.complete(), "{report:?}");
    assert!(
        errors.is_empty(),
        "the application's inserts failed: {errors:?}"
    );
    assert!(
        at_end > at_start,
        "the application wrote nothing during the move ({at_start} → {at_end}): the test proves nothing"
    );
    let mut seen_done = false;
    while let Ok(p) = rx.try_recv() {
        seen_done |= p.done == 1 && p.landed.len() == 1;
    }
    assert!(seen_done, "no progress report with the moved tenant");

    // Every acknowledged row is there, and the tenant lives on the other worker.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_mv.items WHERE v < 0")
        .fetch_one(&session.pool)
        .await
        .unwrap();
    assert_eq!(rows as usize, acked.load(Ordering::SeqCst));
    assert_eq!(node_of(&session.pool, "tenant_mv").await, to);
    let map = nodes::read(&session, &CancellationToken::new())
        .await
        .unwrap();
    let p = map.placement("tenant_mv").unwrap();
    assert_eq!(map.node_of_group(p.group_id.unwrap()).unwrap().addr, to);
}

#[tokio::test]
async fn nodes_and_tenant_move_on_the_command_line() {
    let test = "nodes_and_tenant_move_on_the_command_line";
    let Some(c) = cluster_or_skip(test) else {
        return;
    };
    let _turn = TURN.lock().await;
    let session = session(c).await;
    distributed_tenant(&session.pool, "cl", 200).await;
    let from = node_of(&session.pool, "tenant_cl").await;
    let to = other_worker(c, &from);

    let out = cli(c, &["nodes", "--format", "json"]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tenant = json["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "cl")
        .unwrap();
    assert_eq!(tenant["node"], from.to_string());
    assert_eq!(tenant["distributed"], true);
    // Each node's count and bytes are its tenants'.
    for n in json["nodes"].as_array().unwrap() {
        let here: Vec<&serde_json::Value> = json["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["node"] == n["address"])
            .collect();
        assert_eq!(n["tenants"].as_u64().unwrap() as usize, here.len(), "{n}");
        let bytes: i64 = here.iter().map(|t| t["size_bytes"].as_i64().unwrap()).sum();
        assert_eq!(n["size_bytes"].as_i64().unwrap(), bytes, "{n}");
    }
    // The tenant's bytes are what Citus reports for its shards.
    let citus_bytes: i64 = sqlx::query_scalar(
        "SELECT sum(size)::int8 FROM citus_shard_sizes() css JOIN pg_dist_shard s ON s.shardid = css.shard_id
         WHERE s.logicalrelid = 'tenant_cl.items'::regclass",
    )
    .fetch_one(&session.pool)
    .await
    .unwrap();
    assert_eq!(tenant["size_bytes"].as_i64().unwrap(), citus_bytes);
    assert!(citus_bytes > 0);

    // Without --yes and without a terminal: refused, nothing moved.
    let target = to.to_string();
    let out = cli(c, &["tenant", "move", "cl", "--to", &target]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--yes"),
        "{out:?}"
    );
    assert_eq!(node_of(&session.pool, "tenant_cl").await, from);

    // An unknown node is refused with the list of nodes.
    let out = cli(c, &["tenant", "move", "cl", "--to", "127.0.0.1:1", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a node of this cluster"),
        "{out:?}"
    );

    let out = cli(
        c,
        &[
            "tenant",
            "move",
            "cl",
            "--to",
            &target,
            "--mode",
            "block_writes",
            "--yes",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("to {target}")),
        "{out:?}"
    );
    assert_eq!(node_of(&session.pool, "tenant_cl").await, to);
}

#[tokio::test]
async fn distribute_makes_local_tenants_distributed_and_stops_between_tenants_when_cancelled() {
    let test =
        "distribute_makes_local_tenants_distributed_and_stops_between_tenants_when_cancelled";
    let Some(c) = cluster_or_skip(test) else {
        return;
    };
    let _turn = TURN.lock().await;
    let session = session(c).await;
    exec(
        &session.pool,
        &[
            "CREATE SCHEMA tenant_loc1",
            "CREATE TABLE tenant_loc1.items (id int PRIMARY KEY)",
            "INSERT INTO tenant_loc1.items SELECT generate_series(1, 10)",
            "CREATE SCHEMA tenant_loc2",
            "CREATE TABLE tenant_loc2.items (id int PRIMARY KEY)",
            "CREATE SCHEMA tenant_loc3",
            "CREATE TABLE tenant_loc3.items (id int PRIMARY KEY)",
        ],
    )
    .await;
    let map = nodes::read(&session, &CancellationToken::new())
        .await
        .unwrap();
    assert!(!map.placement("tenant_loc1").unwrap().distributed);
    let local: Vec<String> = map.local().map(|p| p.tenant.clone()).collect();
    for t in ["loc1", "loc2", "loc3"] {
        assert!(local.contains(&t.to_string()), "{local:?}");
    }

    // The second tenant waits on a lock the test holds; the job is cancelled as soon as
    // the first lands: the second is cancelled on the server and rolled back, the third
    // never tried.
    let mut holder = session.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE tenant_loc2.items IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let (tx, mut rx) = progress_channel();
    let watcher = {
        let cancel = cancel.clone();
        let pool = session.pool.clone();
        tokio::spawn(async move {
            if let Some(p) = rx.recv().await {
                assert_eq!(p.done, 1);
                // Cancel once the second tenant's distribute waits on the lock.
                for tries in 0.. {
                    if tries == 500 {
                        return;
                    }
                    let waiting: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM pg_stat_activity
                         WHERE wait_event_type = 'Lock' AND query LIKE '%citus_schema_distribute%'",
                    )
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                    if waiting > 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                cancel.cancel();
            }
        })
    };
    let list: Vec<String> = ["loc1", "loc2", "loc3"].map(String::from).to_vec();
    let report = ops::distribute(&session, &list, &tx, &cancel)
        .await
        .unwrap();
    drop(tx);
    watcher.await.unwrap();
    holder.rollback().await.unwrap();
    assert_eq!(report.done.len(), 1, "{report:?}");
    assert_eq!(
        report.not_tried,
        vec!["loc2".to_string(), "loc3".to_string()],
        "{report:?}"
    );
    assert!(report.cancelled);
    let map = nodes::read(&session, &CancellationToken::new())
        .await
        .unwrap();
    assert!(map.placement("tenant_loc1").unwrap().distributed);
    assert!(!map.placement("tenant_loc2").unwrap().distributed);
    assert!(!map.placement("tenant_loc3").unwrap().distributed);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_loc1.items")
        .fetch_one(&session.pool)
        .await
        .unwrap();
    assert_eq!(rows, 10);

    // An already distributed tenant is refused by name.
    let err = ops::plan_distribute(&session.names, &map, &["loc1".to_string()], false).unwrap_err();
    assert!(err.to_string().contains("already distributed"), "{err}");

    // The command line distributes the rest.
    let out = cli(c, &["tenant", "distribute", "--all"]);
    assert!(out.status.success(), "{out:?}");
    let map = nodes::read(&session, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(map.local().count(), 0, "{:?}", map.placements);
}

#[tokio::test]
async fn rebalance_spreads_tenants_piled_on_one_worker() {
    let test = "rebalance_spreads_tenants_piled_on_one_worker";
    let Some(c) = cluster_or_skip(test) else {
        return;
    };
    let _turn = TURN.lock().await;
    let session = session(c).await;
    for id in ["rb1", "rb2", "rb3", "rb4"] {
        distributed_tenant(&session.pool, id, 10).await;
    }
    // Pile every tenant (these tests' others too) on the first worker.
    let first = NodeAddr {
        host: "127.0.0.1".into(),
        port: c.workers[0].port(),
    };
    let map = nodes::read(&session, &CancellationToken::new())
        .await
        .unwrap();
    for p in map
        .placements
        .iter()
        .filter(|p| p.distributed && p.group_id.is_some())
    {
        if map.node_of_group(p.group_id.unwrap()).unwrap().addr != first {
            let plan = ops::plan_move(
                &session.names,
                &map,
                &p.tenant,
                &first,
                TransferMode::BlockWrites,
            )
            .unwrap();
            let (tx, _rx) = progress_channel();
            let r = ops::move_tenant(&session, &plan, &tx, &CancellationToken::new())
                .await
                .unwrap();
            assert!(r.complete(), "{r:?}");
        }
    }
    let map = nodes::read(&session, &CancellationToken::new())
        .await
        .unwrap();
    let second = other_worker(c, &first);
    assert_eq!(map.node(&second).unwrap().tenants, 0);

    let out = cli(c, &["rebalance", "--mode", "block_writes", "--yes"]);
    assert!(out.status.success(), "{out:?}");
    let map = nodes::read(&session, &CancellationToken::new())
        .await
        .unwrap();
    assert!(
        map.node(&second).unwrap().tenants > 0,
        "nothing moved to {second}: {:?}",
        map.nodes
    );
    let out = cli(c, &["rebalance", "--status", "--format", "json"]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["state"], "finished", "{json}");
    assert!(json["tasks_done"].as_u64().unwrap() > 0, "{json}");
}

#[tokio::test]
async fn the_audit_finds_a_grant_changed_directly_on_a_worker_and_its_fix_undoes_it() {
    let test = "the_audit_finds_a_grant_changed_directly_on_a_worker_and_its_fix_undoes_it";
    let Some(c) = cluster_or_skip(test) else {
        return;
    };
    let _turn = TURN.lock().await;
    let session = session(c).await;
    distributed_tenant(&session.pool, "au", 5).await;
    exec(
        &session.pool,
        &[
            "CREATE ROLE audit_reader",
            "GRANT USAGE ON SCHEMA tenant_au TO audit_reader",
            "GRANT SELECT, INSERT ON tenant_au.items TO audit_reader",
        ],
    )
    .await;
    let cancel = CancellationToken::new();
    let mine = |fs: Vec<tenantctl::audit::Finding>| -> Vec<tenantctl::audit::Finding> {
        fs.into_iter()
            .filter(|f| f.schema.as_deref() == Some("tenant_au"))
            .collect()
    };
    // What Citus propagated matches the coordinator: nothing to say.
    let before = mine(
        tenantctl::audit::workers::audit(&session, None, &cancel)
            .await
            .unwrap(),
    );
    assert!(before.is_empty(), "{before:#?}");

    // A DBA grants DELETE on the shard, on the worker itself.
    let worker = node_of(&session.pool, "tenant_au").await;
    let w = c.workers.iter().find(|w| w.port() == worker.port).unwrap();
    let wpool = w.superuser_spec(&c.dbname).connect(1).await.unwrap();
    let mut wconn = wpool.acquire().await.unwrap();
    sqlx::query("SET citus.override_table_visibility TO off")
        .execute(&mut *wconn)
        .await
        .unwrap();
    let shard: String = sqlx::query_scalar(
        "SELECT relname::text FROM pg_class WHERE relnamespace = 'tenant_au'::regnamespace
         AND relname ~ '^items_[0-9]+$'",
    )
    .fetch_one(&mut *wconn)
    .await
    .unwrap();
    on_worker(
        &mut wconn,
        &format!("GRANT DELETE ON tenant_au.{shard} TO audit_reader"),
    )
    .await;

    let found = mine(
        tenantctl::audit::workers::audit(&session, None, &cancel)
            .await
            .unwrap(),
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f.rule, tenantctl::audit::Rule::WorkerGrantDrift);
    assert_eq!(f.severity, tenantctl::audit::Severity::High);
    assert_eq!(f.role.as_deref(), Some("audit_reader"));
    assert_eq!(f.tenant.as_deref(), Some("au"));
    assert!(f.message.contains("DELETE"), "{}", f.message);
    let path = f.path.as_deref().unwrap();
    assert!(
        path.contains(&worker.to_string()) && path.contains(&shard),
        "{path}"
    );
    let fix = f.fix.clone().unwrap();
    assert_eq!(
        fix,
        r#"REVOKE DELETE ON TABLE "tenant_au"."items" FROM "audit_reader";"#
    );
    // The id is stable: a second audit gives the same one.
    let again = mine(
        tenantctl::audit::workers::audit(&session, None, &cancel)
            .await
            .unwrap(),
    );
    assert_eq!(again[0].id, f.id);

    // The fix runs on the coordinator; Citus carries it to the shard.
    exec(&session.pool, &[&fix]).await;
    let after = mine(
        tenantctl::audit::workers::audit(&session, None, &cancel)
            .await
            .unwrap(),
    );
    assert!(after.is_empty(), "{after:#?}");

    // A revoke on the worker is found too (missing, with a GRANT as its fix).
    on_worker(
        &mut wconn,
        &format!("REVOKE INSERT ON tenant_au.{shard} FROM audit_reader"),
    )
    .await;
    let found = mine(
        tenantctl::audit::workers::audit(&session, Some("tenant_au"), &cancel)
            .await
            .unwrap(),
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0].fix.as_deref(),
        Some(r#"GRANT INSERT ON TABLE "tenant_au"."items" TO "audit_reader";"#)
    );
    exec(&session.pool, &[found[0].fix.as_deref().unwrap()]).await;
    drop(wconn);
    wpool.close().await;
}

#[tokio::test]
async fn citus_commands_refuse_a_database_without_citus() {
    let db = common::TestDb::new().await;
    let pw = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pw.path(), "secret\n").unwrap();
    let pw = pw.path().to_str().unwrap();
    for args in [
        vec!["worker-login", "someone", "--password-file", pw],
        vec!["nodes"],
        vec!["tenant", "move", "a", "--to", "127.0.0.1:5432", "--yes"],
        vec!["tenant", "distribute", "--all"],
        vec!["rebalance", "--status"],
    ] {
        let out = common::run_cli(&db, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("has no citus extension"), "{args:?}: {err}");
        assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1);
    }
}

/// The `worker_*` findings of `schema` in `audit --format json` output.
fn worker_findings(out: &std::process::Output, schema: &str) -> Vec<serde_json::Value> {
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("worker_"))
        .filter(|f| f["schema"] == schema)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_bootstrapped_citus_tenant_audits_clean_on_its_worker_and_drift_is_fixed_through_the_cli()
{
    let test =
        "a_bootstrapped_citus_tenant_audits_clean_on_its_worker_and_drift_is_fixed_through_the_cli";
    let Some(c) = cluster_or_skip(test) else {
        return;
    };
    let _turn = TURN.lock().await;
    let session = session(c).await;
    tenantctl::bootstrap::init(&session, &Default::default())
        .await
        .unwrap();
    let new = tenantctl::tenant::NewTenant {
        id: "fresh".into(),
        ..Default::default()
    };
    // The latest version: v2's Citus variant holds a function the policy calls.
    tenantctl::tenant::create(&session, &new).await.unwrap();
    let worker_findings = |out: &std::process::Output| worker_findings(out, "tenant_fresh");
    // What init and provisioning set up holds on the worker as on the coordinator.
    let out = cli(c, &["audit", "--format", "json"]);
    let found = worker_findings(&out);
    assert!(found.is_empty(), "{found:#?}");

    // The service role loses INSERT on the shard, on the worker only.
    let worker = node_of(&session.pool, "tenant_fresh").await;
    let w = c.workers.iter().find(|w| w.port() == worker.port).unwrap();
    let wpool = w.superuser_spec(&c.dbname).connect(1).await.unwrap();
    let mut wconn = wpool.acquire().await.unwrap();
    sqlx::query("SET citus.override_table_visibility TO off")
        .execute(&mut *wconn)
        .await
        .unwrap();
    let shard: String = sqlx::query_scalar(
        "SELECT relname::text FROM pg_class c
         WHERE relnamespace = 'tenant_fresh'::regnamespace AND relkind = 'r'
           AND relname ~ '_[0-9]+$' AND has_table_privilege('user_tenant_owner', c.oid, 'INSERT')
         ORDER BY 1 LIMIT 1",
    )
    .fetch_one(&mut *wconn)
    .await
    .unwrap();
    on_worker(
        &mut wconn,
        &format!("REVOKE INSERT ON tenant_fresh.{shard} FROM user_tenant_owner"),
    )
    .await;
    drop(wconn);
    wpool.close().await;

    let out = cli(c, &["audit", "--format", "json"]);
    let found = worker_findings(&out);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["role"], "user_tenant_owner");
    assert!(
        found[0]["path"]
            .as_str()
            .unwrap()
            .contains(&worker.to_string()),
        "{}",
        found[0]
    );
    let id = found[0]["id"].as_str().unwrap().to_string();
    let out = cli(c, &["audit", "fix", &id, "--yes"]);
    assert!(out.status.success(), "{out:?}");
    let out = cli(c, &["audit", "--format", "json"]);
    let found = worker_findings(&out);
    assert!(found.is_empty(), "{found:#?}");
}

/// A policy dropped, one added and RLS turned off on a worker's shard, by hand: the audit
/// finds it (critical: every row readable there), and its fix, run on the coordinator,
/// puts the coordinator's policies and RLS back on the shard.
#[tokio::test]
async fn policies_changed_directly_on_a_worker_are_found_and_the_fix_restores_the_coordinators() {
    let test =
        "policies_changed_directly_on_a_worker_are_found_and_the_fix_restores_the_coordinators";
    let Some(c) = cluster_or_skip(test) else {
        return;
    };
    let _turn = TURN.lock().await;
    let session = session(c).await;
    tenantctl::bootstrap::init(&session, &Default::default())
        .await
        .unwrap();
    let new = tenantctl::tenant::NewTenant {
        id: "pol".into(),
        ..Default::default()
    };
    tenantctl::tenant::create(&session, &new).await.unwrap();
    let worker_findings = |out: &std::process::Output| worker_findings(out, "tenant_pol");
    let out = cli(c, &["audit", "--format", "json"]);
    assert!(worker_findings(&out).is_empty(), "{out:?}");

    let worker = node_of(&session.pool, "tenant_pol").await;
    let w = c.workers.iter().find(|w| w.port() == worker.port).unwrap();
    let wpool = w.superuser_spec(&c.dbname).connect(1).await.unwrap();
    let mut wconn = wpool.acquire().await.unwrap();
    sqlx::query("SET citus.override_table_visibility TO off")
        .execute(&mut *wconn)
        .await
        .unwrap();
    let shard: String = sqlx::query_scalar(
        "SELECT relname::text FROM pg_class
         WHERE relnamespace = 'tenant_pol'::regnamespace AND relname ~ '^invoices_[0-9]+$'",
    )
    .fetch_one(&mut *wconn)
    .await
    .unwrap();
    let state_sql = format!(
        "SELECT (SELECT relrowsecurity FROM pg_class WHERE oid = 'tenant_pol.{shard}'::regclass),
                ARRAY(SELECT polname::text FROM pg_policy
                      WHERE polrelid = 'tenant_pol.{shard}'::regclass ORDER BY 1)"
    );
    let state = sqlx::query_as::<_, (bool, Vec<String>)>(&state_sql);
    let (rls, before) = state.fetch_one(&mut *wconn).await.unwrap();
    assert!(
        rls && before.contains(&"app_user_invoices".to_string()),
        "{before:?}"
    );
    for sql in [
        format!("DROP POLICY app_user_invoices ON tenant_pol.{shard}"),
        format!("CREATE POLICY everything ON tenant_pol.{shard} FOR SELECT TO PUBLIC USING (true)"),
        format!("ALTER TABLE tenant_pol.{shard} DISABLE ROW LEVEL SECURITY"),
    ] {
        on_worker(&mut wconn, &sql).await;
    }

    let out = cli(c, &["audit", "--format", "json"]);
    let found = worker_findings(&out);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f["rule"], "worker_policy_drift");
    assert_eq!(f["severity"], "critical");
    assert!(f["path"].as_str().unwrap().contains(&shard), "{f}");
    let fix = f["fix"].as_str().unwrap();
    assert!(fix.starts_with("DO $tenantctl_fix$"), "{fix}");
    let id = f["id"].as_str().unwrap().to_string();
    let out = cli(c, &["audit", "fix", &id, "--yes"]);
    assert!(out.status.success(), "{out:?}");
    let out = cli(c, &["audit", "--format", "json"]);
    let found = worker_findings(&out);
    assert!(found.is_empty(), "{found:#?}");
    // On the worker itself: the coordinator's policies, RLS on, the added one gone.
    let (rls, after) = sqlx::query_as::<_, (bool, Vec<String>)>(&state_sql)
        .fetch_one(&mut *wconn)
        .await
        .unwrap();
    assert!(rls);
    assert_eq!(after, before);
    drop(wconn);
    wpool.close().await;
}

#[tokio::test]
async fn the_node_map_job_lands_the_catalog_first_then_the_workers_sizes() {
    let test = "the_node_map_job_lands_the_catalog_first_then_the_workers_sizes";
    let Some(c) = cluster_or_skip(test) else {
        return;
    };
    let _turn = TURN.lock().await;
    let session = session(c).await;
    distributed_tenant(&session.pool, "two", 100).await;
    let (tx, mut rx) = progress_channel();
    let report = nodes::read_job(&session, &tx, &CancellationToken::new())
        .await
        .unwrap();
    drop(tx);
    assert!(report.complete(), "{report:?}");
    let first = rx.recv().await.unwrap();
    let second = rx.recv().await.unwrap();
    let bytes = |m: &nodes::NodeMap| m.placement("tenant_two").unwrap().bytes;
    assert_eq!((first.done, first.total), (1, 2));
    assert!(!first.landed[0].sizes_measured);
    assert_eq!(bytes(&first.landed[0]), 0);
    // The first map already says where the tenant is.
    assert_eq!(
        first.landed[0].placement("tenant_two").unwrap().group_id,
        second.landed[0].placement("tenant_two").unwrap().group_id
    );
    assert!(second.landed[0].sizes_measured);
    assert!(bytes(&second.landed[0]) > 0);
}
