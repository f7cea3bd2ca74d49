//! Provisioning and lifecycle against a real throwaway cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, run_cli};
use tenantctl::audit::{Finding, Rule};
use tenantctl::catalog;
use tenantctl::error::Error;
use tenantctl::session::Session;
use tenantctl::tenant::{self, NewTenant, TenantChange};

fn new(id: &str) -> NewTenant {
    NewTenant {
        id: id.into(),
        name: None,
        config: vec![],
    }
}

/// The audit's findings about tenant `id`, as `tenant show` and the Grants pane get them.
async fn findings(s: &Session, id: &str) -> Vec<Finding> {
    tenant::inspect(s, id).await.unwrap().findings
}

async fn yes(s: &Session, sql: &str, args: &[&str]) -> bool {
    let mut q = sqlx::query_scalar::<_, bool>(sql);
    for a in args {
        q = q.bind(*a);
    }
    q.fetch_one(&s.pool).await.unwrap()
}

/// What exists of a tenant: registry row, schema, read-only role.
async fn traces(s: &Session, id: &str) -> (bool, bool, bool) {
    let ro = s.names.readonly_role_pattern.replace("{id}", id);
    sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM commons.tenants WHERE id = $1),
                EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'tenant_' || $1),
                EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2)",
    )
    .bind(id)
    .bind(ro)
    .fetch_one(&s.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn create_leaves_exactly_the_policy() {
    let (db, s) = TestDb::bootstrapped().await;
    let row = tenant::create(&s, &new("acme")).await.unwrap();
    assert_eq!(row.schema, "tenant_acme");
    assert_eq!(row.template_version, tenant::latest_version());
    let n = &db.names;
    let (svc, rls, ro) = (
        n.service_role.as_str(),
        n.rls_role.as_str(),
        &n.readonly_role_pattern.replace("{id}", "acme"),
    );
    let schema_priv = "SELECT has_schema_privilege($1, 'tenant_acme', $2)";
    for role in [svc, rls, ro.as_str()] {
        assert!(yes(&s, schema_priv, &[role, "USAGE"]).await, "{role} USAGE");
        assert!(
            !yes(&s, schema_priv, &[role, "CREATE"]).await,
            "{role} CREATE"
        );
    }
    assert!(!yes(&s, schema_priv, &["public", "USAGE"]).await);
    let owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = 'tenant_acme'",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(owner, n.admin_role);

    let tables: Vec<(String, bool, String)> = sqlx::query_as(
        "SELECT relname::text, relrowsecurity, pg_get_userbyid(relowner)::text FROM pg_class
         WHERE relnamespace = 'tenant_acme'::regnamespace AND relkind = 'r'",
    )
    .fetch_all(&s.pool)
    .await
    .unwrap();
    assert_eq!(tables.len(), 4);
    let tp = "SELECT has_table_privilege($1, $2, $3)";
    for (table, rls_on, table_owner) in &tables {
        assert!(rls_on, "RLS off on {table}");
        assert_eq!(table_owner, &n.admin_role);
        let q = format!("tenant_acme.{table}");
        for p in ["SELECT", "INSERT", "UPDATE", "DELETE"] {
            assert!(yes(&s, tp, &[svc, &q, p]).await, "service {p} {table}");
        }
        for p in ["TRUNCATE", "REFERENCES", "TRIGGER"] {
            assert!(!yes(&s, tp, &[svc, &q, p]).await, "service {p} {table}");
        }
        for role in [rls, ro.as_str()] {
            assert!(yes(&s, tp, &[role, &q, "SELECT"]).await);
            assert!(!yes(&s, tp, &[role, &q, "INSERT"]).await);
        }
    }
    let seq = "SELECT has_sequence_privilege($1, 'tenant_acme.orders_id_seq', $2)";
    assert!(yes(&s, seq, &[svc, "USAGE"]).await);
    assert!(!yes(&s, seq, &[svc, "UPDATE"]).await);
    assert!(!yes(&s, seq, &[rls, "USAGE"]).await);
    let defaults: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_default_acl WHERE defaclnamespace = 'tenant_acme'::regnamespace",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(defaults, 2, "default privileges for tables and sequences");

    // The audit agrees: no finding on a fresh tenant.
    let found = findings(&s, "acme").await;
    assert!(found.is_empty(), "{found:#?}");
    // And it does see one once a grant strays from the model.
    sqlx::query(&format!("GRANT TRUNCATE ON tenant_acme.orders TO {svc}"))
        .execute(&s.pool)
        .await
        .unwrap();
    let found = findings(&s, "acme").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(
        (f.rule, f.object.as_deref(), f.role.as_deref()),
        (Rule::TablePrivilege, Some("orders"), Some(svc))
    );
    assert!(f.message.contains("TRUNCATE"), "{f:#?}");
    // `tenant show` prints the same finding, with its fix; JSON under `findings`.
    let out = run_cli(&db, &["tenant", "show", "acme"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("1 audit finding(s):"), "{text}");
    assert!(
        text.contains(&format!("! {} {}:", f.severity, f.id)),
        "{text}"
    );
    assert!(text.contains("fix: REVOKE TRUNCATE ON TABLE"), "{text}");
    let out = run_cli(&db, &["tenant", "show", "acme", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"][0]["id"], serde_json::json!(f.id), "{v}");
    assert_eq!(v["findings"].as_array().map(Vec::len), Some(1), "{v}");

    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM commons.admin_log WHERE action = 'tenant create' AND tenant_id = 'acme' AND outcome = 'ok'",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(logged, 1);
}

#[tokio::test]
async fn a_table_added_later_is_granted_by_default_privileges() {
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("acme")).await.unwrap();
    let mut tx = s.begin_change("test").await.unwrap();
    sqlx::query("CREATE TABLE tenant_acme.notes (id serial PRIMARY KEY, body text)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let n = &db.names;
    let tp = "SELECT has_table_privilege($1, 'tenant_acme.notes', $2)";
    assert!(yes(&s, tp, &[&n.service_role, "INSERT"]).await);
    // The shared RLS role waits for the tenant binding (the next migration adds it).
    assert!(!yes(&s, tp, &[&n.rls_role, "SELECT"]).await);
    assert!(
        yes(
            &s,
            tp,
            &[&n.readonly_role_pattern.replace("{id}", "acme"), "SELECT"]
        )
        .await
    );
    assert!(
        yes(
            &s,
            "SELECT has_sequence_privilege($1, 'tenant_acme.notes_id_seq', 'USAGE')",
            &[&n.service_role]
        )
        .await
    );
}

#[tokio::test]
async fn readonly_role_of_one_tenant_cannot_reach_another() {
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("alpha")).await.unwrap();
    tenant::create(&s, &new("beta")).await.unwrap();
    let ro_a = db.names.readonly_role_pattern.replace("{id}", "alpha");
    assert!(
        !yes(
            &s,
            "SELECT has_schema_privilege($1, 'tenant_beta', 'USAGE')",
            &[&ro_a]
        )
        .await
    );
    assert!(
        !yes(
            &s,
            "SELECT has_table_privilege($1, 'tenant_beta.orders', 'SELECT')",
            &[&ro_a]
        )
        .await
    );
    assert!(
        yes(
            &s,
            "SELECT has_table_privilege($1, 'tenant_alpha.orders', 'SELECT')",
            &[&ro_a]
        )
        .await
    );
    // The read-only role really reads its own rows and is refused the other tenant's.
    let mut tx = s.pool.begin().await.unwrap();
    sqlx::query(&format!("SET LOCAL ROLE {ro_a}"))
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT count(*) FROM tenant_alpha.orders")
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query("SELECT count(*) FROM tenant_beta.orders")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn a_create_that_fails_part_way_leaves_nothing() {
    let (db, s) = TestDb::bootstrapped().await;
    // A schema of that name already exists.
    sqlx::query("CREATE SCHEMA tenant_taken")
        .execute(&s.pool)
        .await
        .unwrap();
    let err = tenant::create(&s, &new("taken")).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    assert!(
        err.to_string().contains("tenant_taken already exists"),
        "{err}"
    );
    assert_eq!(traces(&s, "taken").await, (false, true, false));

    // A role of that name already exists.
    let ro = db.names.readonly_role_pattern.replace("{id}", "clash");
    sqlx::query(&format!("CREATE ROLE {ro}"))
        .execute(&s.pool)
        .await
        .unwrap();
    let err = tenant::create(&s, &new("clash")).await.unwrap_err();
    assert!(err.to_string().contains(&ro), "{err}");
    assert_eq!(traces(&s, "clash").await, (false, false, true));

    // The tenant's lock is held elsewhere for longer than lock_timeout (2 s here).
    let mut holder = s.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('tenantctl:tenant:' || $1, 0))")
        .bind("locked")
        .execute(&mut *holder)
        .await
        .unwrap();
    let err = tenant::create(&s, &new("locked")).await.unwrap_err();
    assert!(err.to_string().contains("another session"), "{err}");
    holder.rollback().await.unwrap();
    assert_eq!(traces(&s, "locked").await, (false, false, false));

    // Failures are logged too, with the cause.
    let failures: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM commons.admin_log WHERE action = 'tenant create' AND outcome LIKE 'failed:%'",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(failures, 3);
}

#[tokio::test]
async fn bad_ids_are_refused_and_change_nothing() {
    let (_db, s) = TestDb::bootstrapped().await;
    let before: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM commons.tenants), (SELECT count(*) FROM pg_namespace)",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    let too_long = "a".repeat(s.names.max_tenant_id_len() + 1);
    for bad in [
        "",
        "a'b",
        "a\"b",
        "a b",
        "Acme",
        "café",
        "1st",
        "x;drop schema commons",
        too_long.as_str(),
    ] {
        let err = tenant::create(&s, &new(bad)).await.unwrap_err();
        assert!(matches!(err, Error::Name(_)), "{bad:?}: {err}");
        assert!(err.to_string().contains("characters"), "{bad:?}: {err}");
    }
    let after: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM commons.tenants), (SELECT count(*) FROM pg_namespace)",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn two_concurrent_creates_of_one_id_one_wins() {
    let (_db, s) = TestDb::bootstrapped().await;
    let (one, two) = (new("race"), new("race"));
    let (a, b) = tokio::join!(tenant::create(&s, &one), tenant::create(&s, &two));
    let oks = [a.is_ok(), b.is_ok()].iter().filter(|x| **x).count();
    assert_eq!(oks, 1, "{a:?} {b:?}");
    let loser = match (a, b) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        other => panic!("expected one winner: {other:?}"),
    };
    assert!(loser.to_string().contains("already exists"), "{loser}");
    assert_eq!(traces(&s, "race").await, (true, true, true));
}

#[tokio::test]
async fn suspend_revokes_and_resume_restores_the_service_role() {
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("acme")).await.unwrap();
    let usage = "SELECT has_schema_privilege($1, 'tenant_acme', 'USAGE')";
    let row = tenant::suspend(&s, "acme").await.unwrap();
    assert_eq!(row.status.as_str(), "suspended");
    let ro = db.names.readonly_role_pattern.replace("{id}", "acme");
    // Closed to every application role, not only the service role.
    for role in [&db.names.service_role, &db.names.rls_role, &ro] {
        assert!(!yes(&s, usage, &[role]).await, "{role}");
    }
    let row = tenant::resume(&s, "acme").await.unwrap();
    assert_eq!(row.status.as_str(), "active");
    for role in [&db.names.service_role, &db.names.rls_role, &ro] {
        assert!(yes(&s, usage, &[role]).await, "{role}");
    }
    let err = tenant::suspend(&s, "nobody").await.unwrap_err();
    assert!(matches!(err, Error::NoSuchTenant(_)), "{err}");
}

#[tokio::test]
async fn set_changes_name_and_config_keys() {
    let (_db, s) = TestDb::bootstrapped().await;
    tenant::create(
        &s,
        &NewTenant {
            id: "acme".into(),
            name: Some("Acme".into()),
            config: vec![("plan".into(), "team".into()), ("seats".into(), "5".into())],
        },
    )
    .await
    .unwrap();
    let row = tenant::set(
        &s,
        "acme",
        &TenantChange {
            name: Some("Acme Corp".into()),
            set: vec![
                ("seats".into(), "12".into()),
                ("beta".into(), "true".into()),
            ],
            unset: vec!["plan".into()],
        },
    )
    .await
    .unwrap();
    assert_eq!(row.name, "Acme Corp");
    assert_eq!(row.config, serde_json::json!({"seats": 12, "beta": true}));
    assert!(
        tenant::set(&s, "acme", &TenantChange::default())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn migrate_carries_on_past_a_failing_tenant() {
    let (_db, s) = TestDb::bootstrapped().await;
    for id in ["m1", "m2", "m3", "m4", "m5"] {
        tenant::create_at_version(&s, &new(id), 1).await.unwrap();
    }
    // m3 already has a table v2 wants to create: its migration must fail alone.
    let mut tx = s.begin_change("test").await.unwrap();
    sqlx::query("CREATE TABLE tenant_m3.invoices (x int)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel();
    let report = tenant::migrate(&s, None, &ptx, &Default::default())
        .await
        .unwrap();
    assert_eq!(report.failed.len(), 1);
    let failed = &report.failed[0];
    assert_eq!(failed.item, "m3");
    assert!(failed.error.contains("template version 2"), "{failed:?}");
    assert!(!report.complete(), "a partly failed job is no success");
    let mut seen = 0;
    while let Ok(p) = prx.try_recv() {
        seen += 1;
        assert_eq!(p.total, 5);
    }
    assert_eq!(seen, 5);

    let versions: Vec<(String, i32)> =
        sqlx::query_as("SELECT id, template_version FROM commons.tenants ORDER BY id")
            .fetch_all(&s.pool)
            .await
            .unwrap();
    let v = tenant::latest_version();
    assert_eq!(
        versions,
        vec![
            ("m1".into(), v),
            ("m2".into(), v),
            ("m3".into(), 1),
            ("m4".into(), v),
            ("m5".into(), v)
        ]
    );
    // m3 was rolled back whole: its customers table has no v2 column.
    let has_email: bool = yes(
        &s,
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'tenant_m3' AND table_name = 'customers' AND column_name = $1)",
        &["email"],
    )
    .await;
    assert!(!has_email);
    // The migrated tenants got grants on the new table (default privileges + regrant).
    let found = findings(&s, "m1").await;
    assert!(found.is_empty(), "{found:#?}");

    // Resumable: after fixing m3, a rerun migrates only it.
    let mut tx = s.begin_change("test").await.unwrap();
    sqlx::query("DROP TABLE tenant_m3.invoices")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (ptx, _prx) = tokio::sync::mpsc::unbounded_channel();
    let report = tenant::migrate(&s, None, &ptx, &Default::default())
        .await
        .unwrap();
    let migrated: Vec<&str> = report
        .done
        .iter()
        .filter(|o| o.result == tenant::MigrateResult::Migrated)
        .map(|o| o.tenant.as_str())
        .collect();
    assert_eq!(migrated, vec!["m3"]);
}

#[tokio::test]
async fn estimates_and_exact_sizes_agree_after_analyze() {
    let (_db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("big")).await.unwrap();
    let mut tx = s.begin_change("test").await.unwrap();
    sqlx::query(
        "INSERT INTO tenant_big.tenant_users (email, display_name)
         SELECT 'u' || g || '@x', repeat('n', 200) FROM generate_series(1, 20000) g",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("VACUUM ANALYZE tenant_big.tenant_users")
        .execute(&s.pool)
        .await
        .unwrap();
    let rows = catalog::list_tenants(&s).await.unwrap();
    let estimate = rows[0].size_bytes.unwrap() as f64;
    let exact = catalog::exact_sizes(&s, &["tenant_big".into()])
        .await
        .unwrap()[0]
        .bytes as f64;
    assert!(exact > 4_000_000.0, "{exact}");
    let ratio = estimate / exact;
    assert!(
        (0.8..1.25).contains(&ratio),
        "estimate {estimate} exact {exact}"
    );
    let detail = catalog::schema_tables(&s, "tenant_big").await.unwrap();
    assert_eq!(detail.tables[0].name, "tenant_users");
    let est_rows = detail.tables[0].row_estimate.unwrap();
    assert!((19_000..21_000).contains(&est_rows), "{est_rows}");
    // The parts add up to the server's own total, which the list's exact size also sums.
    let t = &detail.tables[0];
    let total: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('tenant_big.tenant_users')")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(t.total_bytes, total);
    assert_eq!(t.table_bytes + t.index_bytes + t.toast_bytes, total);
    assert!(t.index_bytes > 0 && t.table_bytes > 0, "{t:?}");
}

#[tokio::test]
async fn list_shows_drift_both_ways() {
    let (_db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("gone")).await.unwrap();
    tenant::create(&s, &new("fine")).await.unwrap();
    sqlx::query("DROP SCHEMA tenant_gone CASCADE")
        .execute(&s.pool)
        .await
        .unwrap();
    sqlx::query("CREATE SCHEMA tenant_stray")
        .execute(&s.pool)
        .await
        .unwrap();
    let rows = catalog::list_tenants(&s).await.unwrap();
    let drift: Vec<(String, catalog::Drift)> =
        rows.iter().map(|r| (r.id.clone(), r.drift)).collect();
    assert_eq!(
        drift,
        vec![
            ("fine".into(), catalog::Drift::None),
            ("gone".into(), catalog::Drift::MissingSchema),
            ("stray".into(), catalog::Drift::Unregistered),
        ]
    );
}

#[tokio::test]
async fn list_finds_a_registered_schema_outside_the_prefix_with_its_size() {
    // Registry rows made under another schema prefix (the naming policy changed since) name
    // schemas without today's prefix: the list joins the registry to pg_namespace by name
    // and sizes every namespace, so such a schema shows as present, with its tables.
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("moved")).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE tenant_moved.extra AS SELECT g AS id FROM generate_series(1, 5000) g;
         ANALYZE tenant_moved.extra;",
    )
    .execute(&s.pool)
    .await
    .unwrap();
    let before = catalog::tenant_row(&s, "moved").await.unwrap().unwrap();
    let mut names = db.names.clone();
    names.schema_prefix = "renamed_".into();
    let other = Session::open(
        db.superuser_spec(),
        names,
        std::time::Duration::from_secs(2),
        2,
    )
    .await
    .unwrap();
    let rows = catalog::list_tenants(&other).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let moved = &rows[0];
    assert_eq!(
        (moved.id.as_str(), moved.schema.as_str(), moved.drift),
        ("moved", "tenant_moved", catalog::Drift::None)
    );
    // The template's four tables and the one added; the same as the one-schema estimate.
    assert_eq!(moved.tables, 5);
    assert_eq!(
        (moved.size_bytes, moved.tables),
        (before.size_bytes, before.tables)
    );
    assert!(moved.size_bytes.unwrap() > 8192 * 10, "{moved:?}");
}

#[tokio::test]
async fn cli_json_shapes_follow_the_contract() {
    let (db, s) = TestDb::bootstrapped().await;
    let out = run_cli(
        &db,
        &[
            "tenant",
            "create",
            "acme",
            "--name",
            "Acme",
            "--set",
            "plan=team",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_cli(&db, &["tenant", "list", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &list.as_array().unwrap()[0];
    for key in [
        "id",
        "name",
        "schema",
        "status",
        "size_bytes",
        "size_exact",
        "tables",
        "config",
    ] {
        assert!(first.get(key).is_some(), "tenant list lacks {key}: {first}");
    }
    assert_eq!(first["config"]["plan"], "team");
    assert_eq!(first["size_exact"], false);
    let out = run_cli(&db, &["tenant", "list", "--exact", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["size_exact"], true);
    assert!(list[0]["size_bytes"].as_i64().unwrap() > 0);
    // `--exact` lists without the estimate's scan: the measurement counts the tables, and
    // every other column is the plain list's.
    assert!(first["tables"].as_i64().unwrap() > 0, "{first}");
    let mut measured = list[0].clone();
    let mut estimated = first.clone();
    for row in [&mut measured, &mut estimated] {
        let row = row.as_object_mut().unwrap();
        row.remove("size_bytes");
        row.remove("size_exact");
    }
    assert_eq!(measured, estimated);
    let out = run_cli(&db, &["tenant", "show", "acme", "--format", "json"]);
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "id",
        "name",
        "schema",
        "status",
        "size_bytes",
        "tables",
        "config",
        "grants",
        "backups",
    ] {
        assert!(show.get(key).is_some(), "tenant show lacks {key}");
    }
    // Text output fits 80 columns.
    let out = run_cli(&db, &["tenant", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    assert!(text.contains("acme"));
    // The log records who did it.
    let out = run_cli(&db, &["log", "--format", "json"]);
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log[0]["action"], "tenant create");
    assert_eq!(log[0]["db_role"], "postgres");
    drop(s);
}

#[tokio::test]
async fn read_only_refuses_every_write() {
    let (db, _s) = TestDb::bootstrapped().await;
    for args in [
        vec!["--read-only", "tenant", "create", "acme"],
        vec!["--read-only", "tenant", "suspend", "acme"],
        vec!["--read-only", "tenant", "migrate", "--all"],
        vec!["--read-only", "init"],
    ] {
        let out = run_cli(&db, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("read-only"),
            "{args:?}"
        );
    }
    let out = run_cli(&db, &["--read-only", "tenant", "list"]);
    assert!(out.status.success());
}

#[tokio::test]
async fn a_cancelled_catalog_query_is_cancelled_on_the_server() {
    let (_db, s) = TestDb::bootstrapped().await;
    let cancel = tokio_util::sync::CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let started = std::time::Instant::now();
    let result: Result<(), Error> = s
        .cancellable(&cancel, "sleeping", |conn| {
            Box::pin(async move {
                sqlx::query("SELECT pg_sleep(60) /* cancel-me */")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .await;
    assert!(matches!(result, Err(Error::Cancelled(_))), "{result:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The server stopped running it (pg_cancel_backend), not merely the client waiting.
    let mut still = 1;
    for _ in 0..50 {
        still = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%cancel-me%' AND pid <> pg_backend_pid()",
        )
        .fetch_one(&s.pool)
        .await
        .unwrap();
        if still == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(still, 0);
}

#[tokio::test]
async fn exact_sizes_stream_in_chunks() {
    let (_db, s) = TestDb::bootstrapped().await;
    for id in ["a1", "a2"] {
        tenant::create(&s, &new(id)).await.unwrap();
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let schemas = vec![
        "tenant_a1".to_string(),
        "tenant_a2".to_string(),
        "tenant_nope".to_string(),
    ];
    let sizes = catalog::measure_sizes(&s, &schemas, &tx, &Default::default())
        .await
        .unwrap()
        .done;
    assert_eq!(sizes.len(), 2, "a missing schema is left out: {sizes:?}");
    assert!(sizes.iter().all(|m| m.bytes > 0));
    let p = rx.recv().await.unwrap();
    assert_eq!((p.done, p.total), (3, 3));
}

#[tokio::test]
async fn a_create_whose_connection_dies_leaves_nothing_and_names_the_step() {
    let (_db, s) = TestDb::bootstrapped().await;
    // Park the create on the tenant lock, then kill its backend as a network cut would.
    let mut holder = s.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('tenantctl:tenant:' || $1, 0))")
        .bind("cut")
        .execute(&mut *holder)
        .await
        .unwrap();
    let killer = {
        let pool = s.pool.clone();
        tokio::spawn(async move {
            for _ in 0..40 {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let killed: Vec<bool> = sqlx::query_scalar(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%'
                       AND datname = current_database() AND pid <> pg_backend_pid()",
                )
                .fetch_all(&pool)
                .await
                .unwrap();
                if !killed.is_empty() {
                    return true;
                }
            }
            false
        })
    };
    let err = tenant::create(&s, &new("cut")).await.unwrap_err();
    assert!(
        killer.await.unwrap(),
        "the waiting backend was found and terminated"
    );
    holder.rollback().await.unwrap();
    let msg = err.to_string();
    assert!(msg.contains("create cut: taking the tenant lock"), "{msg}");
    assert!(msg.contains("terminating connection"), "{msg}");
    assert_eq!(traces(&s, "cut").await, (false, false, false));
}

#[tokio::test]
async fn migrating_a_suspended_tenant_keeps_it_closed_to_the_service_role() {
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create_at_version(&s, &new("sleepy"), 1)
        .await
        .unwrap();
    tenant::suspend(&s, "sleepy").await.unwrap();
    let (ptx, _prx) = tokio::sync::mpsc::unbounded_channel();
    let report = tenant::migrate(&s, None, &ptx, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        report.count(tenant::MigrateResult::Migrated),
        1,
        "{report:?}"
    );
    let usage = "SELECT has_schema_privilege($1, 'tenant_sleepy', 'USAGE')";
    assert!(!yes(&s, usage, &[&db.names.service_role]).await);
    assert!(!yes(&s, usage, &[&db.names.rls_role]).await);
    // The audit agrees: closed is right for a suspended tenant, and so is nothing else.
    let found = findings(&s, "sleepy").await;
    assert!(found.is_empty(), "{found:#?}");
    // Reopened behind the registry's back, it is flagged.
    sqlx::query(&format!(
        "GRANT USAGE ON SCHEMA tenant_sleepy TO {}",
        db.names.service_role
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let found = findings(&s, "sleepy").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].rule, Rule::SuspendedReachable, "{found:#?}");
    assert!(found[0].message.contains("suspended"), "{found:#?}");
}

#[tokio::test]
async fn the_audit_flags_objects_owned_by_another_role() {
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("acme")).await.unwrap();
    sqlx::query(&format!(
        "ALTER TABLE tenant_acme.orders OWNER TO {}",
        db.names.service_role
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let found = findings(&s, "acme").await;
    // The table's identity sequence moves with it.
    let mut owned: Vec<(Option<&str>, Option<&str>)> = found
        .iter()
        .filter(|f| f.rule == Rule::Owner)
        .map(|f| (f.role.as_deref(), f.object.as_deref()))
        .collect();
    owned.sort();
    let svc = Some(db.names.service_role.as_str());
    assert_eq!(
        owned,
        vec![(svc, Some("orders")), (svc, Some("orders_id_seq"))],
        "{found:#?}"
    );
}

#[tokio::test]
async fn a_create_failing_after_its_schema_and_role_exist_leaves_nothing() {
    let (_db, s) = TestDb::bootstrapped().await;
    // An event trigger (superuser) that refuses one table of one tenant: the failure comes
    // after the registry row, the schema and the role were made, inside the template.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_boom() RETURNS event_trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
                      WHERE object_identity = 'tenant_boom.orders') THEN
             RAISE EXCEPTION 'orders refused for boom';
           END IF;
         END $$;
         CREATE EVENT TRIGGER refuse_boom ON ddl_command_end EXECUTE FUNCTION refuse_boom();",
    )
    .execute(&s.pool)
    .await
    .unwrap();
    let err = tenant::create(&s, &new("boom")).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("create boom: template version 1"), "{msg}");
    assert!(msg.contains("orders refused for boom"), "{msg}");
    assert_eq!(traces(&s, "boom").await, (false, false, false));
    // Others are unaffected.
    tenant::create(&s, &new("fine")).await.unwrap();
}

#[tokio::test]
async fn secret_config_values_stay_out_of_output_and_the_log() {
    let (db, s) = TestDb::bootstrapped().await;
    let out = run_cli(
        &db,
        &[
            "tenant",
            "create",
            "acme",
            "--set",
            "smtp_password=hunter2",
            "--set",
            "plan=team",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for args in [
        vec!["tenant", "show", "acme"],
        vec!["tenant", "show", "acme", "--format", "json"],
        vec!["tenant", "list", "--format", "json"],
        vec!["log", "--format", "json"],
    ] {
        let out = run_cli(&db, &args);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("hunter2"), "{args:?}: {text}");
    }
    let out = run_cli(&db, &["tenant", "list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["config"]["smtp_password"], tenant::MASK);
    assert_eq!(list[0]["config"]["plan"], "team");
    // The registry keeps the real value; the log's detail does not.
    let (real, logged): (String, String) = sqlx::query_as(
        "SELECT (SELECT config->>'smtp_password' FROM commons.tenants WHERE id = 'acme'),
                (SELECT detail::text FROM commons.admin_log WHERE action = 'tenant create')",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(real, "hunter2");
    assert!(!logged.contains("hunter2"), "{logged}");
}

#[tokio::test]
async fn one_tenants_estimate_matches_the_whole_list() {
    // `tenant_row` finds one schema's relations through pg_depend and pg_index; the list
    // scans pg_class. Both must count the same relations: heap, indexes and TOAST.
    let (_db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("wide")).await.unwrap();
    tenant::create(&s, &new("other")).await.unwrap();
    let mut tx = s.begin_change("test").await.unwrap();
    sqlx::query(
        "INSERT INTO tenant_wide.customers (name, notes)
         SELECT 'c' || g, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 200))
         FROM generate_series(1, 300) g",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("VACUUM ANALYZE tenant_wide.customers")
        .execute(&s.pool)
        .await
        .unwrap();
    let toast_pages: i32 = sqlx::query_scalar(
        "SELECT t.relpages FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid
         WHERE c.oid = 'tenant_wide.customers'::regclass",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert!(
        toast_pages > 10,
        "the fixture must reach TOAST: {toast_pages}"
    );
    let all = catalog::list_tenants(&s).await.unwrap();
    let listed = all.iter().find(|r| r.id == "wide").unwrap();
    let one = catalog::tenant_row(&s, "wide").await.unwrap().unwrap();
    assert_eq!(one.size_bytes, listed.size_bytes);
    assert_eq!(one.tables, listed.tables);
    assert_eq!(one.tables, 4);
    assert!(listed.size_bytes.unwrap() > i64::from(toast_pages) * 8192);
}

#[tokio::test]
async fn exact_sizes_stream_as_schemas_complete() {
    // More schemas than one progress message carries: the sizes must arrive in several
    // messages, each schema once, adding up to the result.
    let (_db, s) = TestDb::bootstrapped().await;
    let n = catalog::EXACT_CHUNK * 2 + 7;
    sqlx::raw_sql(&format!(
        "DO $$ BEGIN FOR i IN 1..{n} LOOP
             EXECUTE format('CREATE SCHEMA %I', 'tenant_s' || i);
             IF i % 100 = 0 THEN
                 EXECUTE format('CREATE TABLE %I.t AS SELECT 1 AS x', 'tenant_s' || i);
             END IF;
         END LOOP; END $$"
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let schemas: Vec<String> = (1..=n).map(|i| format!("tenant_s{i}")).collect();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sizes = catalog::measure_sizes(&s, &schemas, &tx, &Default::default())
        .await
        .unwrap()
        .done;
    drop(tx);
    assert_eq!(sizes.len(), n);
    let mut messages = Vec::new();
    while let Some(p) = rx.recv().await {
        messages.push(p);
    }
    assert!(messages.len() >= 3, "{} messages", messages.len());
    let key = |m: &catalog::Measured| (m.schema.clone(), m.bytes, m.tables);
    let mut a: Vec<_> = messages
        .iter()
        .flat_map(|p| p.landed.iter().map(key))
        .collect();
    let mut b: Vec<_> = sizes.iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "every schema exactly once");
    assert!(messages.windows(2).all(|w| w[0].done <= w[1].done));
    assert_eq!(messages.last().map(|p| p.done), Some(n));
    let with_table = sizes.iter().filter(|m| m.bytes > 0).count();
    assert_eq!(with_table, n / 100);
    // The table counts come with the sizes (`tenant list --exact` shows them).
    assert_eq!(
        sizes.iter().map(|m| m.tables).sum::<i64>(),
        (n / 100) as i64
    );
}

#[tokio::test]
async fn exact_size_counts_every_relation_kind_of_the_schema() {
    // Exact sizes find a schema's relations through pg_depend: a materialized view and a
    // sequence of its own must be counted as the bare pg_class query counts them.
    let (_db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("kinds")).await.unwrap();
    tenant::create(&s, &new("beside")).await.unwrap();
    sqlx::raw_sql(
        "CREATE SEQUENCE tenant_kinds.counter;
         CREATE MATERIALIZED VIEW tenant_kinds.wide AS
             SELECT g, repeat(md5(g::text), 20) AS pad FROM generate_series(1, 5000) g;",
    )
    .execute(&s.pool)
    .await
    .unwrap();
    let bare: i64 = sqlx::query_scalar(
        "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
         WHERE c.relnamespace = 'tenant_kinds'::regnamespace AND c.relkind IN ('r', 'p', 'm', 'S')",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    let matview: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('tenant_kinds.wide')")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert!(matview > 500_000, "{matview}");
    let sizes = catalog::exact_sizes(&s, &["tenant_kinds".into(), "tenant_beside".into()])
        .await
        .unwrap();
    let kinds = sizes.iter().find(|m| m.schema == "tenant_kinds").unwrap();
    assert_eq!(kinds.bytes, bare);
    // A materialized view and a sequence are not tables.
    let template_tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'tenant_beside'::regnamespace AND relkind IN ('r', 'p')",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(kinds.tables, template_tables);
    let kinds = kinds.bytes;
    let beside = sizes
        .iter()
        .find(|m| m.schema == "tenant_beside")
        .unwrap()
        .bytes;
    assert!(
        beside > 0 && beside < kinds - matview / 2,
        "{beside} vs {kinds}"
    );
}

#[tokio::test]
async fn exact_sizes_measure_on_several_connections_and_cancel_them_all() {
    // The bare query runs on three server processes; the streamed measurement hands
    // batches of schemas to three connections. A locked table at the start of each of the
    // first three batches holds every connection at once; cancelling must stop all three
    // on the server.
    use sqlx::Connection;
    let (db, s) = TestDb::bootstrapped().await;
    let n = 600;
    let second = 1 + catalog::next_batch(n, 3);
    let third = second + catalog::next_batch(n + 1 - second, 3);
    let starts = [1, second, third];
    sqlx::raw_sql(&format!(
        "DO $$ BEGIN FOR i IN 1..{n} LOOP
             EXECUTE format('CREATE SCHEMA %I', 'tenant_p' || i);
             IF i IN (1, {second}, {third}) THEN
                 EXECUTE format('CREATE TABLE %I.t (x int)', 'tenant_p' || i);
             END IF;
         END LOOP; END $$"
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let options = db.superuser_spec().options();
    let mut holder = sqlx::PgConnection::connect_with(&options).await.unwrap();
    let mut watcher = sqlx::PgConnection::connect_with(&options).await.unwrap();
    sqlx::raw_sql(&format!(
        "BEGIN; LOCK tenant_p1.t, tenant_p{second}.t, tenant_p{third}.t IN ACCESS EXCLUSIVE MODE"
    ))
    .execute(&mut holder)
    .await
    .unwrap();
    let schemas: Vec<String> = (1..=n).map(|i| format!("tenant_p{i}")).collect();
    let cancel = tokio_util::sync::CancellationToken::new();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let job = {
        let (s, schemas, cancel) = (s.clone(), schemas.clone(), cancel.clone());
        tokio::spawn(async move { catalog::measure_sizes(&s, &schemas, &tx, &cancel).await })
    };
    let waiting = "SELECT count(*) FROM pg_stat_activity
                   WHERE wait_event_type = 'Lock' AND query LIKE '%pg_total_relation_size%'
                     AND datname = current_database()";
    let mut blocked = 0;
    for _ in 0..100 {
        blocked = sqlx::query_scalar::<_, i64>(waiting)
            .fetch_one(&mut watcher)
            .await
            .unwrap();
        if blocked == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(blocked, 3, "three connections measure side by side");
    cancel.cancel();
    let report = job.await.unwrap().unwrap();
    assert!(report.cancelled);
    for start in starts {
        let locked = format!("tenant_p{start}");
        assert!(report.not_tried.contains(&locked), "{locked}");
    }
    let mut still = 3;
    for _ in 0..50 {
        still = sqlx::query_scalar::<_, i64>(waiting)
            .fetch_one(&mut watcher)
            .await
            .unwrap();
        if still == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        still, 0,
        "every connection's statement was cancelled on the server"
    );
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_lists_planner_settings_stay_inside_it() {
    // The list turns merge and nested-loop joins off for its own transaction; a pooled
    // connection handed on afterwards must plan as configured.
    let (db, _s) = TestDb::bootstrapped().await;
    let one = Session::open(
        db.superuser_spec(),
        db.names.clone(),
        std::time::Duration::from_secs(2),
        1,
    )
    .await
    .unwrap();
    tenant::create(&one, &new("plain")).await.unwrap();
    assert_eq!(catalog::list_tenants(&one).await.unwrap().len(), 1);
    let (merge, nestloop): (String, String) = sqlx::query_as(
        "SELECT current_setting('enable_mergejoin'), current_setting('enable_nestloop')",
    )
    .fetch_one(&one.pool)
    .await
    .unwrap();
    assert_eq!((merge.as_str(), nestloop.as_str()), ("on", "on"));
}

#[tokio::test]
async fn sessions_run_without_jit() {
    // Catalog queries over thousands of schemas cross jit_above_cost; compiling them cost
    // more than running them, so tenantctl's connections turn JIT off.
    let (_db, s) = TestDb::bootstrapped().await;
    let jit: String = sqlx::query_scalar("SELECT current_setting('jit')")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(jit, "off");
}
