//! Adopting schemas tenantctl did not make: one transaction each, ownership moved to the
//! admin role, the model's grants and policies applied, data untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, run_cli};
use tenantctl::catalog;
use tenantctl::session::Session;

/// A schema as an application framework would leave it: owned by its own role, with data,
/// a serial and a standalone sequence, a view, a function and an enum type.
async fn hand_made(s: &Session, schema: &str, owner: &str) {
    sqlx::raw_sql(&format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{owner}') THEN CREATE ROLE {owner}; END IF; END $$;
         CREATE SCHEMA {schema} AUTHORIZATION {owner};
         SET ROLE {owner};
         CREATE TYPE {schema}.mood AS ENUM ('ok', 'meh');
         CREATE TABLE {schema}.items (id serial PRIMARY KEY, name text NOT NULL, mood {schema}.mood);
         CREATE SEQUENCE {schema}.invoice_no;
         CREATE VIEW {schema}.item_names AS SELECT name FROM {schema}.items;
         CREATE FUNCTION {schema}.item_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM {schema}.items';
         INSERT INTO {schema}.items (name, mood) VALUES ('one', 'ok'), ('two', 'meh');
         SELECT nextval('{schema}.invoice_no');
         RESET ROLE;"
    ))
    .execute(&s.pool)
    .await
    .unwrap();
}

async fn contents(s: &Session, schema: &str) -> Vec<(i32, String, String)> {
    sqlx::query_as(&format!(
        "SELECT id, name, mood::text FROM {schema}.items ORDER BY id"
    ))
    .fetch_all(&s.pool)
    .await
    .unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn adopting_a_hand_made_schema_hands_it_to_the_admin_role_and_keeps_its_data() {
    let (db, s) = TestDb::bootstrapped().await;
    let owner = format!("{}_legacy_owner", db.dbname);
    hand_made(&s, "tenant_legacy", &owner).await;
    let before = contents(&s, "tenant_legacy").await;

    // A dry run shows the objects whose owner changes, and changes nothing.
    let out = run_cli(&db, &["tenant", "adopt", "tenant_legacy", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for what in [
        "would adopt schema tenant_legacy as tenant legacy",
        "SCHEMA tenant_legacy",
        "TABLE tenant_legacy.items",
        "SEQUENCE tenant_legacy.invoice_no",
        "VIEW tenant_legacy.item_names",
        "FUNCTION tenant_legacy.item_count()",
        "TYPE tenant_legacy.mood",
    ] {
        assert!(text.contains(what), "{what} in {text}");
    }
    assert!(
        !text.contains("items_id_seq"),
        "owned sequences follow their table: {text}"
    );
    assert!(
        catalog::tenant_row(&s, "legacy")
            .await
            .unwrap()
            .unwrap()
            .drift
            == catalog::Drift::Unregistered
    );

    let out = run_cli(&db, &["tenant", "adopt", "tenant_legacy"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let not_admin: Vec<String> = sqlx::query_scalar(
        "SELECT what FROM (
             SELECT relname::text AS what, relowner AS owner FROM pg_class WHERE relnamespace = 'tenant_legacy'::regnamespace
             UNION ALL SELECT proname::text, proowner FROM pg_proc WHERE pronamespace = 'tenant_legacy'::regnamespace
             UNION ALL SELECT typname::text, typowner FROM pg_type WHERE typnamespace = 'tenant_legacy'::regnamespace
             UNION ALL SELECT nspname::text, nspowner FROM pg_namespace WHERE nspname = 'tenant_legacy') o
         WHERE owner <> $1::regrole ORDER BY 1",
    )
    .bind(&db.names.admin_role)
    .fetch_all(&s.pool)
    .await
    .unwrap();
    assert_eq!(not_admin, Vec::<String>::new());
    assert_eq!(
        contents(&s, "tenant_legacy").await,
        before,
        "data unchanged"
    );

    // The permission audit finds nothing: the adopted schema matches the model.
    let findings = tenantctl::audit::run(&s, Some("legacy"), &Default::default())
        .await
        .unwrap()
        .findings;
    assert!(findings.is_empty(), "{findings:#?}");

    // The service role reads and writes the tenant's rows, serial included.
    let mut c = s.pool.acquire().await.unwrap();
    c.close_on_drop();
    sqlx::raw_sql(&format!(
        "SET ROLE \"{}\"; SET search_path TO tenant_legacy",
        db.names.service_role
    ))
    .execute(&mut *c)
    .await
    .unwrap();
    sqlx::raw_sql("INSERT INTO tenant_legacy.items (name) VALUES ('three')")
        .execute(&mut *c)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_legacy.items")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(n, 3);
    drop(c);

    // Without --at-version, migrate leaves it alone and says why.
    let out = run_cli(&db, &["tenant", "migrate", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 without a version"), "{text}");
    let v: Option<i32> =
        sqlx::query_scalar("SELECT template_version FROM commons.tenants WHERE id = 'legacy'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(v, None);

    // Once its version is recorded, migrate takes it from there, once.
    let out = run_cli(&db, &["tenant", "set", "legacy", "--template-version", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run_cli(&db, &["tenant", "set", "legacy", "--template-version", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("has a template version already"),
        "{}",
        stderr(&out)
    );
    let out = run_cli(&db, &["tenant", "migrate", "legacy"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 already current"), "{text}");

    // Adopting it again is refused.
    let out = run_cli(&db, &["tenant", "adopt", "tenant_legacy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("registered already"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_schema_outside_the_naming_policy_is_refused_with_the_rule() {
    let (db, s) = TestDb::bootstrapped().await;
    let owner = format!("{}_legacy_owner", db.dbname);
    hand_made(&s, "legacy_app", &owner).await;
    let out = run_cli(&db, &["tenant", "adopt", "legacy_app"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("does not fit the naming policy") && err.contains("tenant_<id>"),
        "{err}"
    );
    let out = run_cli(&db, &["tenant", "adopt", "legacy_app", "--id", "legacy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("rename it to tenant_legacy"),
        "{}",
        stderr(&out)
    );
    let owner_now: String = sqlx::query_scalar(
        "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'legacy_app'",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(owner_now, owner);
}

#[tokio::test]
async fn all_unregistered_adopts_each_schema_at_the_version_given() {
    let (db, s) = TestDb::bootstrapped().await;
    let owner = format!("{}_legacy_owner", db.dbname);
    hand_made(&s, "tenant_one", &owner).await;
    hand_made(&s, "tenant_two", &owner).await;
    let out = run_cli(
        &db,
        &[
            "tenant",
            "adopt",
            "--all-unregistered",
            "--at-version",
            "1",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let adopted: Vec<&str> = v["adopted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(adopted, vec!["one", "two"]);
    let rows: Vec<(String, Option<i32>)> =
        sqlx::query_as("SELECT id, template_version FROM commons.tenants ORDER BY id")
            .fetch_all(&s.pool)
            .await
            .unwrap();
    assert_eq!(rows, vec![("one".into(), Some(1)), ("two".into(), Some(1))]);
}

#[tokio::test]
async fn a_failed_adoption_leaves_the_schema_as_it_was() {
    let (db, s) = TestDb::bootstrapped().await;
    let owner = format!("{}_legacy_owner", db.dbname);
    hand_made(&s, "tenant_clash", &owner).await;
    // Another session holds a table of the schema: the adoption writes the registry row,
    // then cannot take the table over within lock_timeout (2 s in the test config).
    let mut holder = s.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE tenant_clash.items IN ACCESS SHARE MODE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let out = run_cli(&db, &["tenant", "adopt", "tenant_clash"]);
    holder.rollback().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("adopt clash"), "{}", stderr(&out));
    let log: String = sqlx::query_scalar(
        "SELECT outcome FROM commons.admin_log WHERE action = 'tenant adopt' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert!(log.starts_with("failed"), "{log}");
    let owner_now: String = sqlx::query_scalar(
        "SELECT relowner::regrole::text FROM pg_class WHERE oid = 'tenant_clash.items'::regclass",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(owner_now, owner);
    let registered: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM commons.tenants WHERE id = 'clash')")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert!(!registered);
}
