//! A real local Citus cluster (coordinator and two workers), built by `.ci/citus` for the
//! installed PostgreSQL 15. Skipped, with the reason on the terminal, where Citus is not
//! installed for the server in use (the other majors of `.ci/versions`, or a failed build).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use sqlx::Row;
use tenantctl::citus_cluster::{CitusCluster, citus_unavailable};
use tenantctl::cluster::find_server_bindir;
use tenantctl::names::NamingPolicy;
use tenantctl::session::Session;
use tenantctl::tenant;

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

/// A Citus cluster, or `None` after printing why the test is skipped.
async fn citus_or_skip(test: &str) -> Option<CitusCluster> {
    let bindir = find_server_bindir().expect("server binaries");
    if let Some(why) = citus_unavailable(&bindir) {
        common::skip(test, &why);
        return None;
    }
    Some(CitusCluster::start("tenantctl_citus", 2).await.unwrap())
}

/// A superuser session on the coordinator, under the default naming policy.
async fn coordinator_session(citus: &CitusCluster) -> Session {
    Session::open(
        citus.coordinator.superuser_spec(&citus.dbname),
        NamingPolicy::default(),
        std::time::Duration::from_secs(10),
        4,
    )
    .await
    .unwrap()
}

/// Runs `sql` as `role` (SET ROLE) through the coordinator; the first column or the error.
async fn as_role(pool: &sqlx::PgPool, role: &str, setup: &str, sql: &str) -> Result<i64, String> {
    let mut c = pool.acquire().await.unwrap();
    c.close_on_drop();
    sqlx::raw_sql(&format!("SET ROLE \"{role}\"; {setup}"))
        .execute(&mut *c)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(sql)
        .fetch_one(&mut *c)
        .await
        .map(|r| r.get::<i64, _>(0))
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn init_on_a_coordinator_readies_the_workers_and_tenants_become_distributed_schemas() {
    let test = "init_on_a_coordinator_readies_the_workers_and_tenants_become_distributed_schemas";
    let Some(citus) = citus_or_skip(test).await else {
        return;
    };
    let s = coordinator_session(&citus).await;
    assert!(s.citus);
    let report = tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    assert!(report.registry_made_reference, "{report:?}");
    // Detection, as the console header shows it.
    let summary = tenantctl::catalog::server_summary(&s).await.unwrap();
    assert_eq!(
        summary.citus.as_ref().map(|c| c.label()).as_deref(),
        Some("Citus 13.2 · 2 workers")
    );
    let names = &s.names;
    // On every worker: the admin and RLS roles log in, the admin may create schemas, the
    // common schema is there, and so is the registry (a reference table's placement).
    for w in &citus.workers {
        let pool = w.superuser_spec(&citus.dbname).connect(1).await.unwrap();
        let (admin_login, rls_login, admin_create, commons, registry): (bool, bool, bool, bool, bool) =
            sqlx::query_as(
                "SELECT (SELECT rolcanlogin FROM pg_roles WHERE rolname = $1),
                        (SELECT rolcanlogin FROM pg_roles WHERE rolname = $2),
                        has_database_privilege($1, current_database(), 'CREATE'),
                        EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $3),
                        EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                WHERE n.nspname = $3 AND c.relname LIKE $4 || '\\_%')",
            )
            .bind(&names.admin_role)
            .bind(&names.rls_role)
            .bind(&names.common_schema)
            .bind(&names.registry_table)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(admin_login && rls_login && admin_create && commons && registry);
        pool.close().await;
    }
    // Attack: the worker passwords are for superusers' eyes only.
    let got = as_role(
        &s.pool,
        &names.admin_role,
        "",
        "SELECT count(*) FROM pg_dist_authinfo",
    )
    .await;
    assert!(
        got.as_ref().is_err_and(|e| e.contains("permission denied")),
        "{got:?}"
    );
    // A second run has nothing to do.
    let again = tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    assert!(again.was_current(), "{again:?}");

    // A tenant is a distributed schema, placed whole on a worker.
    let new = |id: &str| tenant::NewTenant {
        id: id.into(),
        ..Default::default()
    };
    tenant::create_at_version(&s, &new("acme"), 1)
        .await
        .unwrap();
    tenant::create_at_version(&s, &new("globex"), 1)
        .await
        .unwrap();
    let placed: Vec<(String, i32)> = sqlx::query_as(
        "SELECT DISTINCT n.nspname::text, p.nodeport FROM pg_dist_shard sh
         JOIN pg_dist_placement pl USING (shardid)
         JOIN pg_dist_node p ON p.groupid = pl.groupid
         JOIN pg_class c ON c.oid = sh.logicalrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.oid IN (SELECT schemaid FROM pg_dist_schema) ORDER BY 1",
    )
    .fetch_all(&s.pool)
    .await
    .unwrap();
    let workers: Vec<i32> = citus.workers.iter().map(|w| i32::from(w.port())).collect();
    assert_eq!(
        placed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        vec!["tenant_acme", "tenant_globex"],
        "{placed:?}"
    );
    assert!(
        placed.iter().all(|(_, port)| workers.contains(port)),
        "{placed:?}"
    );

    // The service role writes and reads through the coordinator, routed by search_path.
    set_worker_password(&s, &names.service_role).await;
    let service = &names.service_role;
    let wrote = as_role(
        &s.pool,
        service,
        "SET search_path TO tenant_acme",
        "WITH i AS (INSERT INTO tenant_users (email, display_name) VALUES ('a@acme', 'A') RETURNING 1)
         SELECT count(*) FROM i",
    )
    .await;
    assert_eq!(wrote, Ok(1));
    let read = as_role(
        &s.pool,
        service,
        "SET search_path TO tenant_acme",
        "SELECT count(*) FROM tenant_users",
    )
    .await;
    assert_eq!(read, Ok(1));
    let other = as_role(
        &s.pool,
        service,
        "SET search_path TO tenant_globex",
        "SELECT count(*) FROM tenant_users",
    )
    .await;
    assert_eq!(other, Ok(0));

    // The catalog: each tenant's node, and sizes equal to what Citus reports for the schema.
    let rows = tenantctl::catalog::list_tenants(&s).await.unwrap();
    let reported: Vec<(String, i64)> = sqlx::query_as(
        "SELECT n.nspname::text, sum(citus_total_relation_size(p.logicalrelid))::bigint
         FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('tenant_acme', 'tenant_globex') GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&s.pool)
    .await
    .unwrap();
    assert_eq!(reported.len(), 2);
    for (schema, bytes) in &reported {
        let row = rows.iter().find(|r| &r.schema == schema).unwrap();
        let port = placed.iter().find(|(n, _)| n == schema).unwrap().1;
        assert_eq!(row.node, Some(format!("127.0.0.1:{port}")), "{row:?}");
        assert_eq!(
            (row.size_bytes, row.size_exact),
            (Some(*bytes), true),
            "{row:?}"
        );
    }
    let schemas: Vec<String> = reported.iter().map(|(s, _)| s.clone()).collect();
    let exact: Vec<(String, i64)> = tenantctl::catalog::exact_sizes(&s, &schemas)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.schema, m.bytes))
        .collect();
    assert_eq!(exact, reported);

    // Dump refuses a distributed tenant, naming what would be needed, and writes nothing.
    let dir = tempfile::tempdir().unwrap();
    let settings = tenantctl::backup::BackupSettings {
        dir: dir.path().join("backups"),
        pg_bin_dir: None,
    };
    let refused = tenantctl::backup::dump_tenant(
        &s,
        &settings,
        "acme",
        &tenantctl::job::progress_channel::<()>().0,
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("distributed Citus schema")
            && refused.contains("citus_schema_undistribute"),
        "{refused}"
    );
    assert!(!settings.dir.exists() || std::fs::read_dir(&settings.dir).unwrap().next().is_none());

    let refused = tenantctl::backup::restore(
        &s,
        &settings,
        &tenantctl::backup::RestoreRequest {
            id: "acme".into(),
            backup: dir.path().join("acme.dump"),
            as_id: None,
            registry_from_backup: false,
        },
        &tenantctl::job::progress_channel().0,
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("restoring into a Citus coordinator is not supported"),
        "{refused}"
    );

    // A template step Citus cannot propagate (a policy with a subquery, in an operator's
    // folder without a Citus variant) fails the create, and nothing is left.
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("V1__base.sql"),
        include_str!("../assets/template/v1.sql"),
    )
    .unwrap();
    std::fs::write(
        folder.path().join("V2__invoices.sql"),
        include_str!("../assets/template/v2.sql"),
    )
    .unwrap();
    let plain = s
        .clone()
        .with_template(tenant::Template::load_dir(folder.path()).unwrap());
    let failed = tenant::create(&plain, &new("initech")).await;
    let err = failed.unwrap_err().to_string();
    assert!(
        err.contains("Citus") && err.contains(".citus.sql") && err.contains("nothing was changed"),
        "{err}"
    );
    let left: (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM commons.tenants WHERE id = 'initech'),
                EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'tenant_initech')",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(left, (false, false));
}

/// Gives `role` a password and the coordinator the same one for the workers, as
/// `tenantctl worker-login` does.
async fn set_worker_password(s: &Session, role: &str) {
    tenantctl::citus::logins::set_worker_login(
        s,
        role,
        &tenantctl::connect::Secret::new("app-secret-1"),
    )
    .await
    .unwrap();
}

/// A pool logging in to the coordinator as `user` with `password`, as a person or an
/// application does.
async fn login_pool(citus: &CitusCluster, user: &str, password: &str) -> sqlx::PgPool {
    let options = sqlx::postgres::PgConnectOptions::new()
        .host("127.0.0.1")
        .port(citus.coordinator.port())
        .username(user)
        .password(password)
        .database(&citus.dbname)
        .ssl_mode(sqlx::postgres::PgSslMode::Disable);
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}

/// The first column of `sql`'s row, or the error.
async fn count(pool: &sqlx::PgPool, sql: &str) -> Result<i64, String> {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .map_err(|e| e.to_string())
}

/// A password file for `worker-login`.
fn password_file(dir: &std::path::Path, password: &str) -> std::path::PathBuf {
    let path = dir.join("pw");
    std::fs::write(&path, format!("{password}\n")).unwrap();
    path
}

/// Rows with the same ids in every tenant (template version 1): user 1 placed two orders.
async fn seed(s: &Session, schema: &str, label: &str) {
    let sql = format!(
        "INSERT INTO {schema}.tenant_users (id, email, display_name) VALUES (1, '{label}@x', '{label}');
         INSERT INTO {schema}.customers (id, name, owner_user_id) VALUES (1, '{label} customer', 1);
         INSERT INTO {schema}.orders (id, customer_id, placed_by, total_cents) VALUES (1, 1, 1, 100), (2, 1, 1, 200);"
    );
    for statement in sql.split(";\n") {
        sqlx::query(statement).execute(&s.pool).await.unwrap();
    }
}

/// The hardening issue's isolation test (`tests/isolation.rs`), through the coordinator:
/// the data is on the workers, where the policies must hold.
#[tokio::test]
async fn rls_role_routed_to_one_tenant_reads_nothing_of_another_through_the_coordinator() {
    let test = "rls_role_routed_to_one_tenant_reads_nothing_of_another_through_the_coordinator";
    let Some(citus) = citus_or_skip(test).await else {
        return;
    };
    let s = coordinator_session(&citus).await;
    tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    for id in ["a", "b"] {
        let new = tenant::NewTenant {
            id: id.into(),
            ..Default::default()
        };
        tenant::create_at_version(&s, &new, 1).await.unwrap();
    }
    seed(&s, "tenant_a", "a").await;
    seed(&s, "tenant_b", "b").await;
    let rls = s.names.rls_role.clone();
    // Session-level routing does not reach the workers: the binding fails closed there.
    let session_level = "SET search_path TO tenant_a, commons; SET app.user_id = '1'";
    assert_eq!(
        as_role(
            &app_pool(&citus).await,
            &rls,
            session_level,
            "SELECT count(*) FROM orders"
        )
        .await,
        Ok(0)
    );
    // On Citus the application routes per transaction, with SET LOCAL, which init has Citus
    // pass on to the workers (new sessions get the database's setting).
    let app = app_pool(&citus).await;
    let routed = |schema: &str| {
        format!("BEGIN; SET LOCAL search_path TO {schema}, commons; SET LOCAL app.user_id = '1'")
    };

    let a = routed("tenant_a");
    assert_eq!(
        as_role(&app, &rls, &a, "SELECT count(*) FROM orders").await,
        Ok(2)
    );
    assert_eq!(
        as_role(&app, &rls, &a, "SELECT count(*) FROM tenant_a.orders").await,
        Ok(2)
    );
    assert_eq!(
        as_role(&app, &rls, &a, "SELECT count(*) FROM tenant_users").await,
        Ok(1)
    );
    for table in ["orders", "customers", "tenant_users"] {
        let got = as_role(
            &app,
            &rls,
            &a,
            &format!("SELECT count(*) FROM tenant_b.{table}"),
        )
        .await;
        assert!(
            matches!(got, Ok(0) | Err(_)),
            "tenant_b.{table} read from a session routed to tenant_a: {got:?}"
        );
    }
    let got = as_role(
        &app,
        &rls,
        &a,
        "SELECT count(*) FROM orders o JOIN tenant_b.orders ob ON ob.id = o.id",
    )
    .await;
    assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
    let b = routed("tenant_b");
    assert_eq!(
        as_role(&app, &rls, &b, "SELECT count(*) FROM orders").await,
        Ok(2)
    );
    let got = as_role(&app, &rls, &b, "SELECT count(*) FROM tenant_a.orders").await;
    assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
}

/// A pool connecting as an application does (plain sqlx, none of tenantctl's session
/// settings), as the coordinator's superuser.
async fn app_pool(citus: &CitusCluster) -> sqlx::PgPool {
    let spec = citus.coordinator.superuser_spec(&citus.dbname);
    let options = sqlx::postgres::PgConnectOptions::new()
        .host("127.0.0.1")
        .port(citus.coordinator.port())
        .username(&spec.user)
        .password(spec.password.as_ref().unwrap().expose())
        .database(&citus.dbname)
        .ssl_mode(sqlx::postgres::PgSslMode::Disable);
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap()
}

/// `demo --citus`: the sample tenants are distributed schemas, spread over both workers.
#[tokio::test]
async fn the_citus_demo_spreads_its_tenants_over_both_workers() {
    let bindir = find_server_bindir().expect("server binaries");
    if let Some(why) = citus_unavailable(&bindir) {
        common::skip("the_citus_demo_spreads_its_tenants_over_both_workers", &why);
        return;
    }
    let citus = CitusCluster::start(tenantctl::demo::DEMO_DB, 2)
        .await
        .unwrap();
    let s = tenantctl::demo::prepare_citus(&citus, 4, false)
        .await
        .unwrap();
    let rows = tenantctl::catalog::list_tenants(&s).await.unwrap();
    assert_eq!(rows.len(), 4, "{rows:?}");
    let mut nodes: Vec<String> = rows.iter().map(|r| r.node.clone().unwrap()).collect();
    nodes.sort();
    nodes.dedup();
    let mut workers: Vec<String> = citus
        .workers
        .iter()
        .map(|w| format!("127.0.0.1:{}", w.port()))
        .collect();
    workers.sort();
    assert_eq!(nodes, workers);
    assert!(
        rows.iter().all(|r| r.size_bytes.unwrap_or(0) > 0),
        "{rows:?}"
    );
}

/// The model on Citus folds the tenant binding into the permissive policies (restrictive
/// ones lose their kind on the workers); the audit must hold that as the expected state,
/// so a fresh Citus database has no finding, and must still see a policy that lost it.
#[tokio::test]
async fn a_fresh_citus_database_audits_clean_and_an_unbound_policy_is_found() {
    let test = "a_fresh_citus_database_audits_clean_and_an_unbound_policy_is_found";
    let Some(citus) = citus_or_skip(test).await else {
        return;
    };
    let s = coordinator_session(&citus).await;
    tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    for id in ["acme", "globex"] {
        let new = tenant::NewTenant {
            id: id.into(),
            ..Default::default()
        };
        tenant::create_at_version(&s, &new, 1).await.unwrap();
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let report = tenantctl::audit::run(&s, None, &cancel).await.unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    // Widen one policy the RLS role passes back to its bare template form: the binding is
    // gone from it, and the RLS role routed anywhere reads this tenant's rows.
    let rls = &s.names.rls_role;
    let (policy, using): (String, String) = sqlx::query_as(
        "SELECT p.polname::text, pg_get_expr(p.polqual, p.polrelid) FROM pg_policy p
         WHERE p.polrelid = 'tenant_acme.orders'::regclass AND p.polpermissive
           AND (SELECT oid FROM pg_roles WHERE rolname = $1) = ANY (p.polroles)
         LIMIT 1",
    )
    .bind(rls)
    .fetch_one(&s.pool)
    .await
    .unwrap();
    // `((template) AND (binding))`: keep `(template)`.
    let bare = using
        .strip_prefix('(')
        .and_then(|u| u.rsplit_once(" AND "))
        .map(|(head, _)| head.to_string())
        .unwrap();
    sqlx::raw_sql(&format!(
        "ALTER POLICY \"{policy}\" ON tenant_acme.orders USING ({bare})"
    ))
    .execute(&s.pool)
    .await
    .unwrap_or_else(|e| panic!("{using} -> {bare}: {e}"));
    let report = tenantctl::audit::run(&s, None, &cancel).await.unwrap();
    let unbound: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == tenantctl::audit::finding::Rule::TenantBindingMissing)
        .map(|f| (f.schema.clone(), f.object.clone()))
        .collect();
    assert_eq!(
        unbound,
        vec![(Some("tenant_acme".to_string()), Some("orders".to_string()))],
        "{:#?}",
        report.findings
    );
}

/// The CLI against the coordinator, as its superuser (password from the environment).
fn cli(citus: &CitusCluster, args: &[&str]) -> std::process::Output {
    let spec = citus.coordinator.superuser_spec(&citus.dbname);
    let config = tempfile::NamedTempFile::new().unwrap();
    std::process::Command::new(common::bin())
        .arg("--dsn")
        .arg(format!(
            "postgres://{}@127.0.0.1:{}/{}?sslmode=disable",
            spec.user, spec.port, spec.dbname
        ))
        .args(args)
        .env("PGPASSWORD", spec.password.as_ref().unwrap().expose())
        .env("TENANTCTL_CONFIG", config.path())
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGDATABASE")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// The operator's normal path on Citus: new tenants at the latest template version, older
/// ones migrated to it. Version 2's invoice policy holds a subquery, which Citus refuses on
/// a distributed table; its Citus variant (`v2.citus.sql`) says the same through a function.
/// Afterwards the service role writes and reads through the coordinator, and the RLS role
/// sees the invoices of its own orders only, in its own tenant only.
#[tokio::test]
async fn tenants_reach_the_latest_template_on_citus_by_create_and_by_migrate_and_stay_isolated() {
    let test =
        "tenants_reach_the_latest_template_on_citus_by_create_and_by_migrate_and_stay_isolated";
    let Some(citus) = citus_or_skip(test).await else {
        return;
    };
    let s = coordinator_session(&citus).await;
    tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    let latest = s.template.latest();
    assert!(latest >= 2);
    let new = |id: &str| tenant::NewTenant {
        id: id.into(),
        ..Default::default()
    };
    // `a` as a tenant made before version 2 could be had on Citus; `b` at the latest.
    tenant::create_at_version(&s, &new("a"), 1).await.unwrap();
    tenant::create(&s, &new("b")).await.unwrap();
    let out = cli(&citus, &["tenant", "migrate", "--all", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let versions: Vec<(String, Option<i32>)> =
        sqlx::query_as("SELECT id, template_version FROM commons.tenants ORDER BY id")
            .fetch_all(&s.pool)
            .await
            .unwrap();
    assert_eq!(
        versions,
        vec![("a".into(), Some(latest)), ("b".into(), Some(latest))]
    );
    let v2_files: Vec<String> = sqlx::query_scalar(
        "SELECT file FROM tenantctl.template_history WHERE version = 2 ORDER BY tenant_id",
    )
    .fetch_all(&s.pool)
    .await
    .unwrap();
    assert_eq!(v2_files, vec!["builtin:v2.citus.sql"; 2]);
    // A second run has nothing left to do, and the applied files check out.
    let again = cli(&citus, &["tenant", "migrate", "--all"]);
    assert!(again.status.success(), "{again:?}");

    // The service role, through the coordinator: users 1 and 2 each placed one order with
    // one invoice, in both tenants.
    let service = s.names.service_role.clone();
    set_worker_password(&s, &service).await;
    for schema in ["tenant_a", "tenant_b"] {
        let wrote = as_role(
            &s.pool,
            &service,
            &format!(
                "SET search_path TO {schema};
                 INSERT INTO tenant_users (id, email, display_name) VALUES (1, 'u1@x', 'U1'), (2, 'u2@x', 'U2');
                 INSERT INTO customers (id, name, owner_user_id, email) VALUES (1, 'C', 1, 'c@x');
                 INSERT INTO orders (id, customer_id, placed_by, total_cents) VALUES (1, 1, 1, 100), (2, 1, 2, 200);
                 INSERT INTO invoices (id, order_id, amount_cents) VALUES (10, 1, 100), (20, 2, 200);"
            ),
            "SELECT count(*) FROM invoices",
        )
        .await;
        assert_eq!(wrote, Ok(2), "{schema}");
    }

    // The RLS role: its own invoices, in the tenant it is routed to, and nothing else.
    let app = app_pool(&citus).await;
    let rls = s.names.rls_role.clone();
    let routed = |schema: &str, user: i32| {
        format!(
            "BEGIN; SET LOCAL search_path TO {schema}, commons; SET LOCAL app.user_id = '{user}'"
        )
    };
    for (user, order) in [(1, 1), (2, 2)] {
        let a = routed("tenant_a", user);
        assert_eq!(
            as_role(&app, &rls, &a, "SELECT count(*) FROM invoices").await,
            Ok(1),
            "user {user}"
        );
        assert_eq!(
            as_role(
                &app,
                &rls,
                &a,
                &format!("SELECT count(*) FROM invoices WHERE order_id = {order}")
            )
            .await,
            Ok(1),
            "user {user}"
        );
        let got = as_role(&app, &rls, &a, "SELECT count(*) FROM tenant_b.invoices").await;
        assert!(
            matches!(got, Ok(0) | Err(_)),
            "tenant_b's invoices read from a session routed to tenant_a: {got:?}"
        );
    }
    let b = routed("tenant_b", 1);
    let got = as_role(&app, &rls, &b, "SELECT count(*) FROM tenant_a.invoices").await;
    assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
    assert_eq!(
        as_role(&app, &rls, &b, "SELECT count(*) FROM invoices").await,
        Ok(1)
    );
    // No user: no invoice.
    let nobody = "BEGIN; SET LOCAL search_path TO tenant_a, commons";
    assert_eq!(
        as_role(&app, &rls, nobody, "SELECT count(*) FROM invoices").await,
        Ok(0)
    );

    // The model holds: the audit finds nothing.
    let cancel = tokio_util::sync::CancellationToken::new();
    let report = tenantctl::audit::run(&s, None, &cancel).await.unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

/// A tenant's read-only role is a group role (NOLOGIN); the people granted it log in as
/// themselves, and Citus reaches the workers as them. `worker-login` gives such a login the
/// worker credentials; then it reads its tenant through the coordinator, and still nothing
/// of another tenant, and writes nothing.
#[tokio::test]
async fn a_login_member_of_a_read_only_role_reads_its_tenant_through_the_coordinator_and_no_other()
{
    let test =
        "a_login_member_of_a_read_only_role_reads_its_tenant_through_the_coordinator_and_no_other";
    let Some(citus) = citus_or_skip(test).await else {
        return;
    };
    let s = coordinator_session(&citus).await;
    tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    for id in ["a", "b"] {
        let new = tenant::NewTenant {
            id: id.into(),
            ..Default::default()
        };
        tenant::create(&s, &new).await.unwrap();
    }
    seed(&s, "tenant_a", "a").await;
    seed(&s, "tenant_b", "b").await;
    let ro_a = s.names.readonly_role_of(&s.names.tenant_id("a").unwrap());
    sqlx::raw_sql(&format!(
        "CREATE ROLE alice LOGIN PASSWORD 'alice-pw-1'; GRANT \"{ro_a}\" TO alice"
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let alice = login_pool(&citus, "alice", "alice-pw-1").await;
    // Without worker credentials the coordinator cannot reach the workers as alice.
    let before = count(&alice, "SELECT count(*) FROM tenant_a.orders").await;
    assert!(before.is_err(), "{before:?}");

    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path(), "alice-pw-2");
    let pw = pw.to_str().unwrap();
    // The group role itself is refused, with what to do instead; nothing is stored.
    let out = cli(&citus, &["worker-login", &ro_a, "--password-file", pw]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("group role") && err.contains("GRANT"), "{err}");
    let out = cli(&citus, &["worker-login", "alice", "--password-file", pw]);
    assert!(out.status.success(), "{out:?}");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_dist_authinfo WHERE rolename IN ('alice', $1)")
            .bind(&ro_a)
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(stored, 1);
    // The password never reached a command line or the console log in clear.
    let logged: Vec<String> = sqlx::query_scalar(
        "SELECT sql_summary FROM commons.admin_log WHERE action = 'worker-login'",
    )
    .fetch_all(&s.pool)
    .await
    .unwrap();
    assert_eq!(logged.len(), 1);
    assert!(!logged[0].contains("alice-pw-2"), "{logged:?}");

    alice.close().await;
    let alice = login_pool(&citus, "alice", "alice-pw-2").await;
    assert_eq!(
        count(&alice, "SELECT count(*) FROM tenant_a.orders").await,
        Ok(2)
    );
    assert_eq!(
        count(&alice, "SELECT count(*) FROM tenant_a.tenant_users").await,
        Ok(1)
    );
    // Attack: tenant b's rows, and a write to tenant a.
    for sql in [
        "SELECT count(*) FROM tenant_b.orders",
        "SELECT count(*) FROM tenant_b.tenant_users",
        "WITH i AS (INSERT INTO tenant_a.tenant_users (email, display_name) VALUES ('x@x', 'X') RETURNING 1) SELECT count(*) FROM i",
    ] {
        let got = count(&alice, sql).await;
        assert!(
            got.as_ref().is_err_and(|e| e.contains("permission denied")),
            "{sql}: {got:?}"
        );
    }
}

/// The service role's worker credentials on a fresh Citus init: the application logs in as
/// the service role with the password `worker-login` set, and writes and reads a tenant
/// through the coordinator.
#[tokio::test]
async fn the_service_role_works_end_to_end_on_a_fresh_citus_init_after_worker_login() {
    let test = "the_service_role_works_end_to_end_on_a_fresh_citus_init_after_worker_login";
    let Some(citus) = citus_or_skip(test).await else {
        return;
    };
    let out = cli(&citus, &["init"]);
    assert!(out.status.success(), "{out:?}");
    let out = cli(&citus, &["tenant", "create", "acme"]);
    assert!(out.status.success(), "{out:?}");
    let s = coordinator_session(&citus).await;
    let service = s.names.service_role.clone();
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path(), "service 'pw' \\ 3");
    let out = cli(
        &citus,
        &[
            "worker-login",
            &service,
            "--password-file",
            pw.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["authinfo_added"], true, "{report}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("service 'pw'"));

    let app = login_pool(&citus, &service, "service 'pw' \\ 3").await;
    let mut conn = app.acquire().await.unwrap();
    sqlx::query("SET search_path TO tenant_acme")
        .execute(&mut *conn)
        .await
        .unwrap();
    let wrote: i64 = sqlx::query_scalar(
        "WITH i AS (INSERT INTO tenant_users (email, display_name) VALUES ('a@acme', 'A') RETURNING 1)
         SELECT count(*) FROM i",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(wrote, 1);
    let read: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_users")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(read, 1);
}

/// A worker that is down: the audit says which node it could not read and how many tenant
/// schemas that leaves unchecked, and goes on with the rest.
#[tokio::test]
async fn a_stopped_worker_is_reported_unreachable_and_the_audit_goes_on() {
    let test = "a_stopped_worker_is_reported_unreachable_and_the_audit_goes_on";
    let Some(mut citus) = citus_or_skip(test).await else {
        return;
    };
    let s = coordinator_session(&citus).await;
    tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    let new = tenant::NewTenant {
        id: "a".into(),
        ..Default::default()
    };
    tenant::create(&s, &new).await.unwrap();
    let rows = tenantctl::catalog::list_tenants(&s).await.unwrap();
    let node = rows[0].node.clone().unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let before = tenantctl::audit::run(&s, None, &cancel).await.unwrap();
    assert!(before.findings.is_empty(), "{:#?}", before.findings);

    let down = citus
        .workers
        .iter()
        .position(|w| format!("127.0.0.1:{}", w.port()) == node)
        .unwrap();
    citus.workers[down].stop();
    let report = tenantctl::audit::run(&s, None, &cancel).await.unwrap();
    let found: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.rule, f.severity, f.object.clone()))
        .collect();
    assert_eq!(
        found,
        vec![(
            tenantctl::audit::Rule::WorkerUnreachable,
            tenantctl::audit::Severity::Medium,
            Some(node.clone())
        )],
        "{:#?}",
        report.findings
    );
    let message = &report.findings[0].message;
    assert!(
        message.contains(&node) && message.contains("1 tenant schema(s)"),
        "{message}"
    );
}
