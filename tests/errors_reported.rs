//! Errors that used to be swallowed are reported: each test fails without its fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};
use tenantctl::error::Error;
use tenantctl::session::Session;
use tenantctl::tenant::{self, MigrateResult, NewTenant};

fn new(id: &str) -> NewTenant {
    NewTenant {
        id: id.into(),
        name: None,
        config: Vec::new(),
    }
}

/// A bootstrapped database and a session as its (non-superuser) admin role.
async fn as_admin() -> (TestDb, Session, Session) {
    let db = TestDb::new().await;
    let superuser = db.superuser_session().await;
    tenantctl::bootstrap::init(
        &superuser,
        &tenantctl::bootstrap::InitOptions {
            admin_password: Some(tenantctl::connect::Secret::new("adm-Pw-1")),
        },
    )
    .await
    .unwrap();
    let mut spec = db.superuser_spec();
    spec.user = db.names.admin_role.clone();
    spec.password = Some(tenantctl::connect::Secret::new("adm-Pw-1"));
    let admin = Session::open(spec, db.names.clone(), Duration::from_secs(5), 4)
        .await
        .unwrap();
    (db, superuser, admin)
}

#[tokio::test]
async fn grants_are_not_judged_clean_when_the_audit_could_not_read_the_catalog() {
    let (_db, superuser, admin) = as_admin().await;
    tenant::create(&admin, &new("acme")).await.unwrap();
    // The audit's function query (and the grant matrix's owners) deparse arguments: take
    // that away from the admin role; the tables query does not need it.
    sqlx::query("REVOKE EXECUTE ON FUNCTION pg_get_function_identity_arguments(oid) FROM PUBLIC")
        .execute(&superuser.pool)
        .await
        .unwrap();
    let parts = tenant::inspect_schema(&admin, "acme", "tenant_acme").await;
    assert!(parts.tables.is_ok(), "{:?}", parts.tables);
    let err = parts.findings.expect_err("an empty list would look clean");
    assert!(err.to_string().contains("cannot be judged"), "{err}");
    // `tenant show` fails rather than printing a tenant without its findings.
    assert!(tenant::inspect(&admin, "acme").await.is_err());
}

#[tokio::test]
async fn a_tenant_migrated_meanwhile_by_another_session_is_current_not_migrated() {
    let (_db, s) = TestDb::bootstrapped().await;
    tenant::create_at_version(&s, &new("race"), 1)
        .await
        .unwrap();
    let target = tenant::latest_version();
    assert!(target > 1);
    // Another session takes the tenant's lock and migrates it (here: records the version).
    let mut other = s.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('tenantctl:tenant:' || $1, 0))")
        .bind("race")
        .execute(&mut *other)
        .await
        .unwrap();
    let ours = tokio::spawn({
        let s = s.clone();
        async move {
            let (ptx, _prx) = tokio::sync::mpsc::unbounded_channel();
            tenant::migrate(&s, Some(vec!["race".into()]), &ptx, &Default::default()).await
        }
    });
    // Wait until our migration has read the old version and waits for the lock.
    let start = Instant::now();
    loop {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)",
        )
        .fetch_one(&s.pool)
        .await
        .unwrap();
        if waiting {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never waited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sqlx::query("UPDATE commons.tenants SET template_version = $1 WHERE id = 'race'")
        .bind(target)
        .execute(&mut *other)
        .await
        .unwrap();
    other.commit().await.unwrap();
    let report = ours.await.unwrap().unwrap();
    assert!(report.complete(), "{report:?}");
    assert_eq!(report.done.len(), 1);
    assert_eq!(report.done[0].result, MigrateResult::Current, "{report:?}");
    assert_eq!(report.done[0].from_version, target);
}

#[tokio::test]
async fn a_cancel_the_server_refused_is_not_reported_as_cancelled() {
    let (_db, superuser, admin) = as_admin().await;
    sqlx::query("REVOKE EXECUTE ON FUNCTION pg_cancel_backend(integer) FROM PUBLIC")
        .execute(&superuser.pool)
        .await
        .unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let result: Result<(), Error> = admin
        .cancellable(&cancel, "sleeping", |conn| {
            Box::pin(async move {
                sqlx::query("SELECT pg_sleep(3) /* refuse-me */")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .await;
    let err = result.unwrap_err();
    assert!(!matches!(err, Error::Cancelled(_)), "{err:?}");
    assert!(err.to_string().contains("may still be running"), "{err}");
}

#[tokio::test]
async fn an_unreadable_bootstrap_version_stops_init() {
    let (_db, s) = TestDb::bootstrapped().await;
    sqlx::query(
        "UPDATE tenantctl.tenantctl_meta SET value = 'one' WHERE key = 'bootstrap_version'",
    )
    .execute(&s.pool)
    .await
    .unwrap();
    let err = tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"one\""), "{err}");
    // Nothing was rerun: the log has only the first init.
    let inits: i64 =
        sqlx::query_scalar("SELECT count(*) FROM commons.admin_log WHERE action = 'init'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(inits, 1);
    sqlx::query("DELETE FROM tenantctl.tenantctl_meta WHERE key = 'bootstrap_version'")
        .execute(&s.pool)
        .await
        .unwrap();
    let err = tenantctl::bootstrap::init(&s, &Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no bootstrap version"), "{err}");
}

#[tokio::test]
async fn a_cancelled_migrate_exits_2_and_names_the_tenants_not_tried() {
    let (db, s) = TestDb::bootstrapped().await;
    let ids: Vec<String> = (0..40).map(|i| format!("c{i:02}")).collect();
    for id in &ids {
        tenant::create_at_version(&s, &new(id), 1).await.unwrap();
    }
    let mut child = std::process::Command::new(bin())
        .args(["tenant", "migrate", "--all"])
        .env("TENANTCTL_CONFIG", db.config_file())
        .env("PGPASSWORD", db.password())
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGDATABASE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{seen}");
        seen.push_str(&line);
        if line.starts_with("[1/40]") {
            break;
        }
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    seen.push_str(&rest);
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{seen}");
    assert!(seen.contains("tenant(s) not tried (c"), "{seen}");
    // Every tenant not reached is named, the last one certainly.
    let untried = stdout
        .lines()
        .find_map(|l| l.strip_prefix("not tried: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(untried.split(' ').any(|id| id == "c39"), "{stdout}");
    let migrated: i64 =
        sqlx::query_scalar("SELECT count(*) FROM commons.tenants WHERE template_version > 1")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert!(migrated < 40, "all migrated before the cancel: {seen}");
}

#[tokio::test]
async fn an_unknown_registry_status_is_an_error_naming_the_row() {
    let (_db, s) = TestDb::bootstrapped().await;
    tenant::create(&s, &new("zed")).await.unwrap();
    tenant::create(&s, &new("ok")).await.unwrap();
    let check: String = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint WHERE conrelid = 'commons.tenants'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%status%'",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    sqlx::query(&format!(
        "ALTER TABLE commons.tenants DROP CONSTRAINT {check}"
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE commons.tenants SET status = 'archived' WHERE id = 'zed'")
        .execute(&s.pool)
        .await
        .unwrap();
    let err = tenantctl::catalog::list_tenants(&s).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("\"zed\"") && msg.contains("\"archived\""),
        "{msg}"
    );
}
