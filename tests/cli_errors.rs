//! Bad input gets one clear line and exit 2: config, connection, ids, bootstrap state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, bin, cluster, run_cli};
use std::process::{Command, Output};

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    for k in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGPASSFILE",
        "TENANTCTL_CONFIG",
    ] {
        cmd.env_remove(k);
    }
    // No config file of the developer's may leak in.
    let home = tempfile::tempdir().unwrap();
    cmd.env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn malformed_config_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[profiles.prod]\nhost = \"db\"\nport = \"fivefourthreetwo\"\n",
    )
    .unwrap();
    let out = run(&["--config", path.to_str().unwrap(), "tenant", "list"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.toml, line 3, column 8"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_named_config_that_is_missing_is_an_error_but_the_default_is_not() {
    let out = run(
        &["tenant", "list"],
        &[("TENANTCTL_CONFIG", "/nonexistent/tenantctl.toml")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/tenantctl.toml does not exist"),
        "{}",
        stderr(&out)
    );
    let out = run(&["--profile", "nope", "tenant", "list"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("profile \"nope\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unreachable_host_is_one_clear_line() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dsn = format!("postgres://someone@127.0.0.1:{port}/db?sslmode=disable");
    let out = run(&["--dsn", &dsn, "tenant", "list"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: cannot reach the server at 127.0.0.1:"),
        "{err}"
    );
    // At once, with the reason: not after the pool's retries ran out ("no answer").
    assert!(err.contains("refused"), "{err}");
    assert!(err.contains("hint: check host and port"), "{err}");
}

#[test]
fn wrong_password_is_reported_without_echoing_it() {
    let c = cluster();
    let dsn = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        c.port()
    );
    let out = run(
        &["--dsn", &dsn, "tenant", "list"],
        &[("PGPASSWORD", "Wr0ng-Pa55word")],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("authentication failed for user \"postgres\""),
        "{err}"
    );
    assert!(
        err.contains("PGPASSWORD"),
        "says where the password came from: {err}"
    );
    assert!(!err.contains("Wr0ng-Pa55word"), "{err}");
    // Nor when the password is inside the DSN (which also earns a warning).
    let dsn = format!(
        "postgres://postgres:Wr0ng-Pa55word@127.0.0.1:{}/postgres?sslmode=disable",
        c.port()
    );
    let out = run(&["--dsn", &dsn, "tenant", "list"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(!err.contains("Wr0ng-Pa55word"), "{err}");
    assert!(err.contains("process list"), "{err}");
}

#[tokio::test]
async fn missing_database_and_missing_bootstrap_are_told_apart() {
    let db = TestDb::new().await;
    let c = cluster();
    let dsn = format!(
        "postgres://postgres@127.0.0.1:{}/no_such_db?sslmode=disable",
        c.port()
    );
    let out = run(
        &["--dsn", &dsn, "tenant", "list"],
        &[("PGPASSWORD", &db.password())],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("database \"no_such_db\" does not exist"),
        "{}",
        stderr(&out)
    );

    let out = run_cli(&db, &["tenant", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("not bootstrapped"), "{err}");
    assert!(err.contains("tenantctl init"), "{err}");
}

#[tokio::test]
async fn tls_required_by_the_client_but_absent_on_the_server() {
    let db = TestDb::new().await;
    let dsn = format!(
        "postgres://postgres@127.0.0.1:{}/{}?sslmode=require",
        cluster().port(),
        db.dbname
    );
    let out = run(
        &["--dsn", &dsn, "tenant", "list"],
        &[("PGPASSWORD", &db.password())],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("TLS refused"), "{}", stderr(&out));
}

#[tokio::test]
async fn pgpass_supplies_the_password_when_nothing_else_does() {
    use std::os::unix::fs::PermissionsExt;
    let (db, _s) = TestDb::bootstrapped().await;
    let pass = db.dir.path().join("pgpass");
    std::fs::write(
        &pass,
        format!(
            "127.0.0.1:{}:*:postgres:{}\n",
            cluster().port(),
            db.password()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(
        &["tenant", "list"],
        &[
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", &cluster().port().to_string()),
            ("PGUSER", "postgres"),
            ("PGDATABASE", &db.dbname),
            ("PGSSLMODE", "disable"),
            ("PGPASSFILE", pass.to_str().unwrap()),
            ("TENANTCTL_CONFIG", db.config_file().to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn bad_tenant_ids_are_refused_with_the_rule() {
    let (db, _s) = TestDb::bootstrapped().await;
    for bad in ["a'b", "Robert'); DROP TABLE students;--", "UPPER", ""] {
        let out = run_cli(&db, &["tenant", "create", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = stderr(&out);
        assert!(
            err.contains("lowercase letter first") || err.contains("empty"),
            "{bad}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    let out = run_cli(&db, &["tenant", "create", "ok_id", "--set", "novalue"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("KEY=VALUE"));
}

#[test]
fn the_console_without_a_terminal_points_to_the_subcommands() {
    let out = run(&[], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("needs a terminal") && err.contains("tenant list"),
        "{err}"
    );
}

#[test]
fn a_bad_keys_table_stops_the_console_at_start_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "[keys]\nhelp = \"F1\"\nsuspend = \"n\"\n\n[profiles.default]\nhost = \"127.0.0.1\"\n",
    )
    .unwrap();
    let out = run(&[], &[("TENANTCTL_CONFIG", path.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}, line 3", path.display()))
            && err.contains("bound to both new and suspend"),
        "{err}"
    );
    // Checked before anything else: no connection was tried, no terminal asked for.
    assert!(!err.contains("terminal"), "{err}");
}

/// `tenantctl tenant list | head -1`: the reader goes away and tenantctl ends as `ls` or
/// `psql` would there, by SIGPIPE and without a word; it used to panic ("failed printing
/// to stdout") with a backtrace hint on stderr.
#[tokio::test]
async fn output_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (db, s) = TestDb::bootstrapped().await;
    tenantctl::tenant::create(
        &s,
        &tenantctl::tenant::NewTenant {
            id: "piped".into(),
            name: None,
            config: vec![],
        },
    )
    .await
    .unwrap();
    for format in ["text", "json"] {
        let mut child = common::cli_command(&db, &["tenant", "list", "--format", format])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before tenantctl has connected, let alone printed.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.signal(),
            Some(13),
            "{format}: {:?} {stderr}",
            out.status
        );
        assert!(stderr.is_empty(), "{format}: {stderr}");
    }
}
