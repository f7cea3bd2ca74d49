//! Attack tests for the model's defaults: functions, schema public, tenantctl's own
//! search_path, application roles that already exist, suspension, and quoting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, cluster, run_cli};
use sqlx::Row;
use tenantctl::audit::{Finding, Rule, Severity};
use tenantctl::catalog;
use tenantctl::error::Error;
use tenantctl::session::Session;
use tenantctl::tenant::{self, NewTenant};

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

/// Runs `sql` as `role` on a connection of its own; the error text on failure.
async fn as_role(s: &Session, role: &str, setup: &str, sql: &str) -> Result<i64, String> {
    let mut c = s.pool.acquire().await.unwrap();
    c.close_on_drop();
    sqlx::raw_sql(&format!("SET ROLE \"{role}\"; {setup}"))
        .execute(&mut *c)
        .await
        .unwrap();
    sqlx::query(sql)
        .fetch_one(&mut *c)
        .await
        .map(|r| r.get::<i64, _>(0))
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_function_planted_in_public_never_runs_with_tenantctls_rights() {
    let (_db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("acme")).await.unwrap();
    // A better match than pg_catalog.format(text, VARIADIC "any") for format(unknown, name):
    // any session whose search_path reaches public would call it (CVE-2018-1058).
    sqlx::raw_sql(
        "CREATE TABLE public.pwned (who text);
         GRANT INSERT ON public.pwned TO PUBLIC;
         CREATE FUNCTION public.format(text, name) RETURNS text LANGUAGE sql
             AS $$ INSERT INTO public.pwned VALUES (current_user) RETURNING 'x' $$;
         GRANT EXECUTE ON FUNCTION public.format(text, name) TO PUBLIC;",
    )
    .execute(&s.pool)
    .await
    .unwrap();
    // A fresh session, as tenantctl opens them.
    let s = Session::open(s.spec.clone(), s.names.clone(), s.lock_timeout, 2)
        .await
        .unwrap();
    let size = catalog::schema_tables(&s, "tenant_acme").await.unwrap();
    assert!(size.tables.iter().all(|t| t.tenant_bound), "{size:?}");
    catalog::grant_matrix(&s, "tenant_acme").await.unwrap();
    tenant::create(&s, &new("beta")).await.unwrap();
    tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    let pwned: i64 = sqlx::query_scalar("SELECT count(*) FROM public.pwned")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(pwned, 0, "the planted function ran");
    // The same query on a session that does not pin search_path calls it: the attack is real.
    let mut c = s.pool.acquire().await.unwrap();
    c.close_on_drop();
    sqlx::raw_sql("SET search_path = \"$user\", public; SELECT format('%L', nspname) FROM pg_namespace LIMIT 1")
        .execute(&mut *c)
        .await
        .unwrap();
    let pwned: i64 = sqlx::query_scalar("SELECT count(*) FROM public.pwned")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(pwned, 1);
}

#[tokio::test]
async fn a_function_in_a_tenant_schema_is_not_executable_by_everyone_or_is_flagged() {
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("acme")).await.unwrap();
    let mut tx = s.begin_change("test").await.unwrap();
    sqlx::raw_sql(
        "CREATE FUNCTION tenant_acme.all_orders() RETURNS bigint LANGUAGE sql SECURITY DEFINER
             SET search_path = pg_catalog, pg_temp
             AS $$ SELECT count(*) FROM tenant_acme.orders $$",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let rls = db.names.rls_role.clone();
    let got = as_role(&s, &rls, "", "SELECT tenant_acme.all_orders()").await;
    assert!(
        got.as_ref().is_err_and(|e| e.contains("permission denied")),
        "{got:?}"
    );
    let found = findings(&s, "acme").await;
    assert!(found.is_empty(), "{found:#?}");
    // Granted to PUBLIC by hand: a finding.
    sqlx::query("GRANT EXECUTE ON FUNCTION tenant_acme.all_orders() TO PUBLIC")
        .execute(&s.pool)
        .await
        .unwrap();
    let found = findings(&s, "acme").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        (found[0].rule, found[0].role.as_deref(), found[0].severity),
        (Rule::FunctionExecute, Some("PUBLIC"), Severity::Critical)
    );
    // The database-wide default itself is checked too.
    sqlx::query(&format!(
        "ALTER DEFAULT PRIVILEGES FOR ROLE {} GRANT EXECUTE ON FUNCTIONS TO PUBLIC",
        db.names.admin_role
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let found = findings(&s, "acme").await;
    assert!(
        found.iter().any(|f| f.rule == Rule::FunctionDefaultExecute),
        "{found:#?}"
    );
}

#[tokio::test]
async fn init_revokes_create_on_public_and_a_later_grant_is_flagged() {
    let db = TestDb::new().await;
    let s = db.superuser_session().await;
    // As PostgreSQL 14 and older leave it.
    sqlx::query("GRANT CREATE ON SCHEMA public TO PUBLIC")
        .execute(&s.pool)
        .await
        .unwrap();
    let out = run_cli(&db, &["init"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("revoked CREATE on schema public from PUBLIC"),
        "{stdout}"
    );
    let open: bool =
        sqlx::query_scalar("SELECT has_schema_privilege('public', 'public', 'CREATE')")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert!(!open);
    tenant::create(&s, &new("acme")).await.unwrap();
    let found = findings(&s, "acme").await;
    assert!(found.is_empty(), "{found:#?}");
    sqlx::query("GRANT CREATE ON SCHEMA public TO PUBLIC")
        .execute(&s.pool)
        .await
        .unwrap();
    // Database-wide, but it reaches every tenant: each tenant's findings have it.
    let found = findings(&s, "acme").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].rule, Rule::PublicSchemaCreate, "{found:#?}");
    assert_eq!(found[0].schema.as_deref(), Some("public"));
}

#[tokio::test]
async fn init_refuses_application_roles_with_dangerous_powers_and_says_how_to_repair() {
    let db = TestDb::new().await;
    let s = db.superuser_session().await;
    let n = &db.names;
    // pg_read_all_data exists from PostgreSQL 14.
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    if version < 140000 {
        common::skip(
            "init_refuses_application_roles_with_dangerous_powers_and_says_how_to_repair",
            &format!(
                "pg_read_all_data exists from PostgreSQL 14 on; this server is {}",
                version / 10000
            ),
        );
        return;
    }
    sqlx::raw_sql(&format!(
        "CREATE ROLE {svc} LOGIN BYPASSRLS CREATEDB;
         CREATE ROLE {rls} NOLOGIN;
         CREATE ROLE {admin} NOLOGIN;
         CREATE ROLE {db}_middle NOLOGIN;
         GRANT pg_read_all_data TO {rls};
         GRANT {admin} TO {db}_middle;
         GRANT {db}_middle TO {svc};",
        svc = n.service_role,
        rls = n.rls_role,
        admin = n.admin_role,
        db = db.dbname,
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let err = tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Invalid(_)), "{msg}");
    assert!(msg.contains("nothing was changed"), "{msg}");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'commons')")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert!(!exists, "init went on");
    // The CLI says the same with exit 2.
    let out = run_cli(&db, &["init"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // The repair it gives is exact: run it, and init goes through.
    let repair = msg.split("Repair with: ").nth(1).expect("repair SQL");
    assert!(repair.contains("NOBYPASSRLS NOCREATEDB"), "{repair}");
    assert!(repair.contains("REVOKE pg_read_all_data FROM"), "{repair}");
    assert!(
        repair.contains(&format!("REVOKE {}_middle FROM", db.dbname)),
        "{repair}"
    );
    sqlx::raw_sql(repair).execute(&s.pool).await.unwrap();
    tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn suspend_closes_the_tenant_to_every_application_role() {
    let (db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("acme")).await.unwrap();
    let ro = db.names.readonly_role_pattern.replace("{id}", "acme");
    let route = "SET search_path TO tenant_acme; SET app.user_id = '1'";
    let q = "SELECT count(*) FROM tenant_acme.orders";
    for role in [&db.names.service_role, &db.names.rls_role, &ro] {
        assert_eq!(as_role(&s, role, route, q).await, Ok(0), "{role}");
    }
    tenant::suspend(&s, "acme").await.unwrap();
    for role in [&db.names.service_role, &db.names.rls_role, &ro] {
        let got = as_role(&s, role, route, q).await;
        assert!(
            got.as_ref().is_err_and(|e| e.contains("permission denied")),
            "{role}: {got:?}"
        );
    }
    let found = findings(&s, "acme").await;
    assert!(found.is_empty(), "{found:#?}");
    tenant::resume(&s, "acme").await.unwrap();
    for role in [&db.names.service_role, &db.names.rls_role, &ro] {
        assert_eq!(as_role(&s, role, route, q).await, Ok(0), "{role}");
    }
}

/// The whole lifecycle through the CLI with every renameable name a reserved word: a name
/// reaching SQL unquoted anywhere fails a step.
#[tokio::test]
async fn the_lifecycle_works_with_reserved_words_for_every_name() {
    let db = TestDb::new().await;
    let c = cluster();
    let config = format!(
        r#"default_profile = "test"
lock_timeout_secs = 2

[naming]
common_schema = "order"
registry_table = "user"
log_table = "select"
schema_prefix = "gr"
admin_role = "grant"
service_role = "table"
rls_role = "column"
readonly_role_pattern = "an{{id}}"

[profiles.test]
host = "127.0.0.1"
port = {}
user = "postgres"
dbname = "{}"
sslmode = "disable"
"#,
        c.port(),
        db.dbname
    );
    let path = db.dir.path().join("reserved.toml");
    std::fs::write(&path, config).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(common::bin())
            .args(args)
            .env("TENANTCTL_CONFIG", &path)
            .env("PGPASSWORD", db.password())
            .env_remove("PGHOST")
            .env_remove("PGPORT")
            .env_remove("PGUSER")
            .env_remove("PGDATABASE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tenantctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["init"]);
    // "ant" gives schema "grant"; "alyse" gives read-only role "analyse": both reserved.
    run(&[
        "tenant",
        "create",
        "ant",
        "--name",
        "Ant",
        "--set",
        "plan=free",
    ]);
    run(&["tenant", "create", "alyse"]);
    run(&["tenant", "set", "ant", "--set", "seats=3"]);
    for id in ["ant", "alyse"] {
        run(&["tenant", "suspend", id]);
        run(&["tenant", "resume", id]);
    }
    let s = db.superuser_session().await;
    sqlx::query(r#"UPDATE "order"."user" SET template_version = 2 WHERE id = 'ant'"#)
        .execute(&s.pool)
        .await
        .unwrap();
    let migrated = run(&["tenant", "migrate", "--all"]);
    assert!(migrated.contains("1 migrated"), "{migrated}");
    let list = run(&["tenant", "list", "--format", "json"]);
    assert!(list.contains("\"grant\""), "{list}");
    let show = run(&["tenant", "show", "ant", "--format", "json"]);
    let show: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(show["findings"], serde_json::json!([]), "{show}");
    let show = run(&["tenant", "show", "alyse", "--format", "json"]);
    let show: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(show["findings"], serde_json::json!([]), "{show}");
    let log = run(&["log", "--format", "json"]);
    assert!(log.contains("tenant migrate"), "{log}");
    let bound: i64 = sqlx::query_scalar(
        r#"SELECT count(*) FROM pg_policy WHERE polname = 'tenantctl_tenant_bound'
           AND polrelid::regclass::text LIKE '"grant".%'"#,
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(bound, 4);
}

#[tokio::test]
async fn the_console_log_refuses_changes_and_verify_names_a_superuser_edit() {
    let (db, s) = TestDb::bootstrapped().await;
    for id in ["a1", "a2", "a3"] {
        tenant::create(&s, &new(id)).await.unwrap();
    }
    let out = run_cli(&db, &["log", "--verify"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact: 4 row(s)"));

    // The admin role, which owns the table, cannot change or remove a row.
    for sql in [
        "UPDATE commons.admin_log SET outcome = 'ok' WHERE tenant_id = 'a2'",
        "DELETE FROM commons.admin_log WHERE tenant_id = 'a2'",
        "TRUNCATE commons.admin_log",
    ] {
        let mut tx = s.begin_change("test").await.unwrap();
        let err = sqlx::query(sql).execute(&mut *tx).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    // Nor can a superuser without first switching the triggers off.
    let err = sqlx::query("DELETE FROM commons.admin_log")
        .execute(&s.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");

    // A superuser edits row 3 behind the triggers' back: verify names it, exit 2.
    let mut c = s.pool.acquire().await.unwrap();
    c.close_on_drop();
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         UPDATE commons.admin_log SET sql_summary = 'nothing to see' WHERE seq = 3;",
    )
    .execute(&mut *c)
    .await
    .unwrap();
    let out = run_cli(&db, &["log", "--verify"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("row 3 (id 3) was edited"), "{stdout}");
    let findings: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("head:")).collect();
    assert_eq!(findings.len(), 1, "{stdout}");

    // And a row deleted the same way is named as missing.
    sqlx::raw_sql("DELETE FROM commons.admin_log WHERE seq = 2")
        .execute(&mut *c)
        .await
        .unwrap();
    drop(c);
    let report = tenantctl::journal::verify(&s).await.unwrap();
    let problems: Vec<(i64, &str)> = report
        .findings
        .iter()
        .map(|f| (f.seq, f.problem.as_str()))
        .collect();
    assert_eq!(problems, vec![(2, "missing"), (3, "edited")], "{report:?}");
}

#[tokio::test]
async fn a_log_written_before_the_chain_is_chained_by_the_upgrade() {
    let db = TestDb::new().await;
    let s = db.superuser_session().await;
    tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    tenant::create(&s, &new("old")).await.unwrap();
    // Back to what bootstrap version 2 left: no chain, no triggers.
    sqlx::raw_sql(
        "DROP TRIGGER admin_log_chain ON commons.admin_log;
         DROP TRIGGER admin_log_no_update_delete ON commons.admin_log;
         DROP TRIGGER admin_log_no_truncate ON commons.admin_log;
         DROP FUNCTION commons.admin_log_chain(); DROP FUNCTION commons.admin_log_refuse();
         ALTER TABLE commons.admin_log DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN row_hash;
         ALTER TABLE tenantctl.tenantctl_meta SET SCHEMA commons;
         DROP SCHEMA tenantctl CASCADE;
         ALTER TABLE commons.tenants DROP COLUMN pinned_version;
         ALTER TABLE commons.tenants ALTER COLUMN template_version SET NOT NULL;
         UPDATE commons.tenantctl_meta SET value = '2' WHERE key = 'bootstrap_version';",
    )
    .execute(&s.pool)
    .await
    .unwrap();
    let err = tenantctl::journal::verify(&s).await.unwrap_err();
    assert!(err.to_string().contains("tenantctl init"), "{err}");
    let report = tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap();
    assert_eq!((report.from_version, report.to_version), (2, 4));
    tenant::create(&s, &new("new")).await.unwrap();
    let chain = tenantctl::journal::verify(&s).await.unwrap();
    assert!(chain.intact(), "{chain:?}");
    assert_eq!(chain.rows, 4, "{chain:?}");
}
