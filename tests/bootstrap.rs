//! `init` against a real throwaway cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, run_cli};
use tenantctl::bootstrap;

async fn scalar_bool(s: &tenantctl::session::Session, sql: &str, args: &[&str]) -> bool {
    let mut q = sqlx::query_scalar::<_, bool>(sql);
    for a in args {
        q = q.bind(*a);
    }
    q.fetch_one(&s.pool).await.unwrap()
}

#[tokio::test]
async fn init_creates_the_model_and_is_idempotent() {
    let db = TestDb::new().await;
    let s = db.superuser_session().await;
    let first = bootstrap::init(&s, &Default::default()).await.unwrap();
    assert_eq!(first.from_version, 0);
    assert_eq!(first.to_version, bootstrap::current_version());
    assert_eq!(first.roles_created.len(), 3);
    let second = bootstrap::init(&s, &Default::default()).await.unwrap();
    assert!(second.was_current(), "{second:?}");
    let n = &db.names;

    // Roles and their attributes.
    let roles: Vec<(String, bool, bool, bool, bool, bool)> = sqlx::query_as(
        "SELECT rolname::text, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls
         FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname",
    )
    .bind(vec![
        n.admin_role.clone(),
        n.service_role.clone(),
        n.rls_role.clone(),
    ])
    .fetch_all(&s.pool)
    .await
    .unwrap();
    let by = |name: &str| roles.iter().find(|r| r.0 == name).cloned().unwrap();
    assert_eq!(
        by(&n.admin_role),
        (n.admin_role.clone(), false, false, true, false, false)
    );
    assert_eq!(
        by(&n.service_role),
        (n.service_role.clone(), true, false, false, false, false)
    );
    assert_eq!(
        by(&n.rls_role),
        (n.rls_role.clone(), false, false, false, false, false)
    );

    // Ownership: the admin role owns the common schema and its tables.
    let owners: Vec<String> = sqlx::query_scalar(
        "SELECT pg_get_userbyid(relowner)::text FROM pg_class
         WHERE relnamespace = 'commons'::regnamespace AND relkind = 'r'
         UNION SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = 'commons'",
    )
    .fetch_all(&s.pool)
    .await
    .unwrap();
    assert_eq!(owners, vec![n.admin_role.clone()]);

    // Exactly one init row in the console log, from the first run.
    let logged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM commons.admin_log WHERE action = 'init'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(logged, 1);
}

#[tokio::test]
async fn init_grants_on_the_common_schema_follow_the_model() {
    let (db, s) = TestDb::bootstrapped().await;
    let n = &db.names;
    let svc = n.service_role.as_str();
    let rls = n.rls_role.as_str();
    let q = "SELECT has_schema_privilege($1, 'commons', $2)";
    assert!(scalar_bool(&s, q, &[svc, "USAGE"]).await);
    assert!(!scalar_bool(&s, q, &[svc, "CREATE"]).await);
    assert!(!scalar_bool(&s, q, &[rls, "USAGE"]).await);
    assert!(!scalar_bool(&s, q, &["public", "USAGE"]).await);
    let t = "SELECT has_table_privilege($1, $2, $3)";
    assert!(scalar_bool(&s, t, &[svc, "commons.tenants", "SELECT"]).await);
    for p in ["INSERT", "UPDATE", "DELETE", "TRUNCATE"] {
        assert!(
            !scalar_bool(&s, t, &[svc, "commons.tenants", p]).await,
            "{p}"
        );
    }
    assert!(!scalar_bool(&s, t, &[svc, "commons.admin_log", "SELECT"]).await);
    assert!(!scalar_bool(&s, t, &[rls, "commons.tenants", "SELECT"]).await);

    // A common table the admin role adds later gets the seed's grants by default.
    let mut tx = s.begin_change("test").await.unwrap();
    sqlx::query("CREATE TABLE commons.countries (code text PRIMARY KEY, id serial)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for p in ["SELECT", "INSERT", "UPDATE", "DELETE"] {
        assert!(
            scalar_bool(&s, t, &[svc, "commons.countries", p]).await,
            "{p}"
        );
    }
    assert!(!scalar_bool(&s, t, &[svc, "commons.countries", "TRUNCATE"]).await);
    assert!(
        scalar_bool(
            &s,
            "SELECT has_sequence_privilege($1, 'commons.countries_id_seq', 'USAGE')",
            &[svc]
        )
        .await
    );
}

#[tokio::test]
async fn init_refuses_a_foreign_common_schema() {
    let db = TestDb::new().await;
    let s = db.superuser_session().await;
    sqlx::query("CREATE SCHEMA commons")
        .execute(&s.pool)
        .await
        .unwrap();
    let err = bootstrap::init(&s, &Default::default()).await.unwrap_err();
    assert!(err.to_string().contains("not made by tenantctl"), "{err}");
    // Nothing was left behind: no roles were created.
    let roles: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_roles WHERE rolname = $1")
        .bind(&db.names.admin_role)
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(roles, 0);
}

#[tokio::test]
async fn init_with_admin_password_lets_the_admin_log_in() {
    let db = TestDb::new().await;
    let s = db.superuser_session().await;
    let pwfile = db.dir.path().join("admin.pw");
    std::fs::write(&pwfile, "s3cret-Admin\n").unwrap();
    let out = run_cli(
        &db,
        &["init", "--admin-password-file", pwfile.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("may now log in"), "{stdout}");
    assert!(!stdout.contains("s3cret-Admin"));
    let mut spec = db.superuser_spec();
    spec.user = db.names.admin_role.clone();
    spec.password = Some(tenantctl::connect::Secret::new("s3cret-Admin"));
    let pool = spec.connect(1).await.expect("admin logs in");
    let who: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(who, db.names.admin_role);
    // The server stored a verifier, not the password.
    let stored: String = sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
        .bind(&db.names.admin_role)
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("SCRAM-SHA-256$4096:"));

    let again = run_cli(&db, &["init"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to do"));
}

#[tokio::test]
async fn init_refuses_a_database_bootstrapped_by_a_newer_release() {
    let (_db, s) = TestDb::bootstrapped().await;
    sqlx::query("UPDATE tenantctl.tenantctl_meta SET value = '99' WHERE key = 'bootstrap_version'")
        .execute(&s.pool)
        .await
        .unwrap();
    let err = bootstrap::init(&s, &Default::default()).await.unwrap_err();
    assert!(err.to_string().contains("newer tenantctl"), "{err}");
}

#[test]
fn demo_without_server_binaries_names_the_package() {
    let out = std::process::Command::new(common::bin())
        .arg("demo")
        .env("TENANTCTL_PG_BINDIR", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("apt-get install postgresql"), "{err}");
}
