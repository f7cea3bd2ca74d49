//! `tenant create --from FILE` against a real cluster, through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, run_cli};
use tenantctl::session::Session;

async fn registered(s: &Session) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM commons.tenants ORDER BY id")
        .fetch_all(&s.pool)
        .await
        .unwrap()
}

async fn schema_exists(s: &Session, schema: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(&s.pool)
        .await
        .unwrap()
}

fn write(db: &TestDb, name: &str, text: &str) -> String {
    let path = db.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn one_bad_row_fails_alone_and_a_rerun_skips_what_exists() {
    let (db, s) = TestDb::bootstrapped().await;
    // The read-only role of "clash" already exists, so provisioning it fails inside its
    // transaction, after the registry row and schema were written there.
    sqlx::query(&format!(
        "CREATE ROLE {}",
        tenantctl::names::quote_ident(&db.names.readonly_role_pattern.replace("{id}", "clash"))
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let file = write(
        &db,
        "tenants.jsonl",
        r#"{"id": "alpha", "name": "Alpha Ltd", "config": {"plan": "team", "seats": 40}}
{"id": "beta"}
# a comment, then a blank line

{"id": "clash", "name": "Clash"}
{"id": "gamma", "config": {"region": "eu"}}
"#,
    );
    let out = run_cli(&db, &["tenant", "create", "--from", &file, "--jobs", "2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stdout.contains("failed: line 5 clash:"), "{stdout}");
    assert!(
        stdout.contains("3 created, 0 already existed, 1 failed"),
        "{stdout}"
    );
    assert_eq!(registered(&s).await, ["alpha", "beta", "gamma"]);
    assert!(!schema_exists(&s, "tenant_clash").await, "all or nothing");
    for id in ["alpha", "beta", "gamma"] {
        assert!(schema_exists(&s, &format!("tenant_{id}")).await);
    }
    let (name, config): (String, serde_json::Value) =
        sqlx::query_as("SELECT name, config FROM commons.tenants WHERE id = 'alpha'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(name, "Alpha Ltd");
    assert_eq!(config, serde_json::json!({"plan": "team", "seats": 40}));

    // Rerun: the three that exist are reported as such, not provisioned again.
    let out = run_cli(
        &db,
        &["tenant", "create", "--from", &file, "--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results: Vec<(String, String)> = report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_string(),
                o["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("alpha".to_string(), "exists".to_string()),
            ("beta".into(), "exists".into()),
            ("clash".into(), "failed".into()),
            ("gamma".into(), "exists".into()),
        ]
    );
    let creates: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM commons.admin_log WHERE action = 'tenant create' AND outcome = 'ok'",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(creates, 3, "a rerun writes nothing for existing tenants");
}

#[tokio::test]
async fn malformed_lines_are_refused_with_their_numbers_and_nothing_is_made() {
    let (db, s) = TestDb::bootstrapped().await;
    let file = write(
        &db,
        "bad.jsonl",
        r#"{"id": "fine"}
{"id": "broken",
{"name": "no id"}
{"id": "fine"}
{"id": "x", "confg": {}}
"#,
    );
    let out = run_cli(&db, &["tenant", "create", "--from", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in [
        "line 2: not JSON",
        "line 3: \"id\" must be",
        "line 4: tenant \"fine\" already appears on line 1",
        "line 5: unknown key \"confg\"",
        "nothing was provisioned",
    ] {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
    assert!(registered(&s).await.is_empty());

    let csv = write(
        &db,
        "bad.csv",
        "id,name\nok,Ok\n\"open,Open\nthree,fields,here\n",
    );
    let out = run_cli(&db, &["tenant", "create", "--from", &csv]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 3: a quoted field is not closed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 4: 3 fields, the header has 2"),
        "{stderr}"
    );
    assert!(registered(&s).await.is_empty());
}

#[tokio::test]
async fn csv_with_quoted_config_provisions_every_row() {
    let (db, s) = TestDb::bootstrapped().await;
    let file = write(
        &db,
        "tenants.csv",
        "id,name,config\r\nacme,\"Acme, Inc.\",\"{\"\"plan\"\": \"\"enterprise\"\"}\"\r\nbolt,,\r\n",
    );
    let out = run_cli(&db, &["tenant", "create", "--from", &file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<(String, String, serde_json::Value)> =
        sqlx::query_as("SELECT id, name, config FROM commons.tenants ORDER BY id")
            .fetch_all(&s.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            (
                "acme".to_string(),
                "Acme, Inc.".to_string(),
                serde_json::json!({"plan": "enterprise"})
            ),
            ("bolt".into(), "bolt".into(), serde_json::json!({})),
        ]
    );
}
