//! The console in a pseudo-terminal against a real throwaway cluster: what an operator sees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod tui_pty;

use common::{TestDb, bin};
use portable_pty::CommandBuilder;
use std::time::{Duration, Instant};
use tenantctl::tenant::{self, NewTenant};
use tui_pty::Console;

async fn db_with_tenants(ids: &[&str]) -> (TestDb, tenantctl::session::Session) {
    let (db, session) = TestDb::bootstrapped().await;
    for id in ids {
        tenant::create(
            &session,
            &NewTenant {
                id: id.to_string(),
                name: Some(format!("{id} Inc")),
                config: vec![("plan".into(), "team".into())],
            },
        )
        .await
        .unwrap();
    }
    (db, session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_shows_filters_provisions_resizes_and_quits() {
    let (db, session) = db_with_tenants(&["alpha", "beta"]).await;
    let mut c = tokio::task::block_in_place(|| Console::open(&db, &[]));
    tokio::task::block_in_place(|| {
        c.wait_text("alpha Inc");
        c.wait_text("beta Inc");
        c.wait_text("PostgreSQL");
        assert!(c.in_alternate_screen());

        // `/` filters as you type; Esc clears.
        c.send("/");
        c.type_text("bet");
        c.wait_for("the filter to hide alpha", |s| {
            s.contains("beta Inc") && !s.contains("alpha Inc")
        });
        c.esc();
        c.wait_text("alpha Inc");

        // `n`, type an id, Enter: provisioned.
        c.send("n");
        c.wait_text("New tenant");
        c.type_text("Bad");
        c.wait_text("is not valid");
        c.send("\x7f\x7f\x7f");
        c.type_text("gamma");
        c.wait_text("schema tenant_gamma");
        c.send("\t");
        c.type_text("Gamma Ltd");
        c.send("\r");
        c.wait_text("created tenant gamma");
        c.wait_text("Gamma Ltd");
    });
    let row = tenantctl::catalog::tenant_row(&session, "gamma")
        .await
        .unwrap();
    let row = row.expect("gamma is in the registry");
    assert_eq!(row.name, "Gamma Ltd");
    assert_eq!(
        row.drift,
        tenantctl::catalog::Drift::None,
        "its schema exists"
    );

    tokio::task::block_in_place(|| {
        // `e`: set a config key on the selected (new) tenant.
        c.send("e");
        c.wait_text("Edit tenant gamma");
        c.send("\t");
        c.type_text("tier=gold");
        c.send("\r");
        c.wait_text("saved tenant gamma");
        c.wait_text("tier=gold");

        // `S`: suspend, through the confirmation.
        c.send("S");
        c.wait_text("Suspend tenant gamma?");
        c.send("y");
        c.wait_text("suspended tenant gamma");

        // `m`: migrate the selected tenant, with its summary at the end.
        c.send("m");
        c.wait_text("Migrate gamma?");
        c.send("\r");
        c.wait_text(&format!(
            "migrate: template v{}:",
            tenantctl::tenant::latest_version()
        ));

        // `l`: the console log shows what was just done.
        c.send("l");
        c.wait_text("console log");
        c.wait_text("tenant create");
        c.esc();
        c.wait_text("Gamma Ltd");
    });
    let row = tenantctl::catalog::tenant_row(&session, "gamma")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, tenantctl::catalog::TenantStatus::Suspended);
    assert_eq!(row.config["tier"], "gold");

    tokio::task::block_in_place(|| {
        c.resize(80, 24);
        c.wait_for("a redraw at 80x24", |s| {
            s.contains("gamma") && s.lines().all(|l| l.chars().count() <= 80)
        });
        c.resize(20, 5);
        c.wait_text("too small");
        c.resize(120, 36);
        c.wait_text("Gamma Ltd");

        c.send("q");
        let status = c.wait_exit();
        assert!(status.success(), "{status:?}");
        c.wait_for("the main screen back", |_| !c.in_alternate_screen());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_console_refuses_n() {
    let (db, _session) = db_with_tenants(&["alpha"]).await;
    let mut c = tokio::task::block_in_place(|| Console::open(&db, &["--read-only"]));
    tokio::task::block_in_place(|| {
        c.wait_text("alpha Inc");
        c.wait_text("READ-ONLY");
        c.wait_for("the footer", |s| s.lines().any(|l| l.contains("? help")));
        let screen = c.screen();
        let footer = screen.lines().find(|l| l.contains("? help")).unwrap();
        assert!(footer.contains("/ filter"), "{footer}");
        assert!(!footer.contains("n new"), "write keys hidden: {footer}");
        c.send("n");
        c.wait_text("read-only console");
        assert!(!c.screen().contains("New tenant"));
        c.send("\x03");
        let status = c.wait_exit();
        assert!(status.success(), "{status:?}");
        c.wait_for("the main screen back", |_| !c.in_alternate_screen());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sighup_restore_the_terminal() {
    let (db, _session) = db_with_tenants(&["alpha"]).await;
    for signal in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGHUP,
    ] {
        let mut c = tokio::task::block_in_place(|| Console::open(&db, &[]));
        tokio::task::block_in_place(|| {
            c.wait_text("alpha Inc");
            assert!(c.in_alternate_screen());
            let pid = c.child.process_id().unwrap();
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
            let status = c.wait_exit();
            assert!(status.success(), "{signal}: {status:?}");
            c.wait_for("the main screen back", |_| !c.in_alternate_screen());
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_means_no_colour_anywhere() {
    let (db, _session) = db_with_tenants(&["alpha"]).await;
    let mut c = tokio::task::block_in_place(|| Console::open(&db, &[]));
    tokio::task::block_in_place(|| {
        c.wait_text("alpha Inc");
        c.wait_text("● connected");
        assert!(c.has_colour(), "colours by default");
        c.send("q");
        c.wait_exit();
    });
    let mut c = tokio::task::block_in_place(|| {
        Console::open_with_env(&db, &["--read-only"], &[("NO_COLOR", "1")])
    });
    tokio::task::block_in_place(|| {
        c.wait_text("alpha Inc");
        c.wait_text("● connected");
        c.wait_text("READ-ONLY");
        assert!(!c.has_colour(), "NO_COLOR:\n{}", c.screen());
        c.send("q");
        c.wait_exit();
    });
}

#[test]
fn demo_opens_the_console_and_cleans_up_on_quit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = CommandBuilder::new(bin());
    cmd.args(["demo", "--tenants", "3"]);
    cmd.env("TMPDIR", tmp.path());
    let mut c = Console::spawn(cmd);
    // Starting a cluster and three tenants takes longer than a screen update.
    let start = Instant::now();
    while !c.screen().contains("initech") {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "demo never showed its tenants:\n{}",
            c.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    c.wait_text("profile demo");
    c.send("q");
    let status = c.wait_exit();
    assert!(status.success(), "{status:?}");
    let left = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("tenantctl-cluster-")
        })
        .count();
    assert_eq!(left, 0, "the demo removed its cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_remapped_in_the_config_work_in_the_console() {
    let (db, _session) = db_with_tenants(&["alpha"]).await;
    let mut text = std::fs::read_to_string(db.config_file()).unwrap();
    text.push_str("\n[keys]\nactivity = \"F2\"\n");
    let path = db.dir.path().join("remapped.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap().to_string();
    let mut c = tokio::task::block_in_place(|| {
        Console::open_with_env(&db, &[], &[("TENANTCTL_CONFIG", path.as_str())])
    });
    tokio::task::block_in_place(|| {
        c.wait_text("alpha Inc");
        c.wait_for("the footer", |s| s.lines().any(|l| l.contains("? help")));
        let screen = c.screen();
        let footer = screen.lines().find(|l| l.contains("? help")).unwrap();
        assert!(footer.contains("F2 log"), "{footer}");
        assert!(!footer.contains("l log"), "{footer}");
        // The old key does nothing; the new one opens the console log.
        c.send("l");
        std::thread::sleep(Duration::from_millis(300));
        assert!(c.screen().contains("[Tenants]"), "{}", c.screen());
        c.send("\x1bOQ");
        c.wait_text("[Activity]");
        c.send("q");
        assert!(c.wait_exit().success());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_dumps_the_selected_tenant_into_the_backup_folder() {
    let (db, session) = db_with_tenants(&["alpha"]).await;
    require_pg_dump!(session);
    let dir = db.dir.path().join("console-backups");
    let dir_text = dir.display().to_string();
    let mut c = tokio::task::block_in_place(|| {
        Console::open_with_env(&db, &[], &[("TENANTCTL_BACKUP_DIR", dir_text.as_str())])
    });
    tokio::task::block_in_place(|| {
        c.wait_text("alpha Inc");
        c.send("d");
        c.wait_text("dump: written");
        c.send("q");
        c.wait_exit();
    });
    let listed = tenantctl::backup::list(&dir, Some("alpha")).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].verifiable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_adopts_an_unregistered_schema_after_showing_its_changes() {
    let (db, session) = db_with_tenants(&["alpha"]).await;
    sqlx::raw_sql(
        "CREATE SCHEMA tenant_legacy;
         CREATE TABLE tenant_legacy.items (id int PRIMARY KEY, name text);
         INSERT INTO tenant_legacy.items VALUES (1, 'one');",
    )
    .execute(&session.pool)
    .await
    .unwrap();
    let mut c = tokio::task::block_in_place(|| Console::open(&db, &[]));
    tokio::task::block_in_place(|| {
        c.wait_text("alpha Inc");
        c.wait_text("unregistered");
        c.send("/");
        c.type_text("legacy");
        c.send("\r");
        c.send("a");
        c.wait_text("Adopt schema tenant_legacy");
        c.send("\r");
        // The dry run's changes, in the confirmation, before anything changes.
        c.wait_text("TABLE tenant_legacy.items");
        c.send("y");
        c.wait_text("adopted tenant_legacy as tenant legacy");
        c.send("q");
        c.wait_exit();
    });
    let row = tenantctl::catalog::tenant_row(&session, "legacy")
        .await
        .unwrap()
        .expect("legacy is in the registry");
    assert_eq!(row.drift, tenantctl::catalog::Drift::None);
    let owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = 'tenant_legacy.items'::regclass",
    )
    .fetch_one(&session.pool)
    .await
    .unwrap();
    assert_eq!(owner, db.names.admin_role);
}
