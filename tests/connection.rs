//! Connection security against a real cluster: profiles and --dsn, config permissions,
//! SCRAM with a non-ASCII password, read-only enforced by the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, bin, cluster};
use std::os::unix::fs::PermissionsExt;
use tenantctl::session::Session;

fn tenantctl(config: &std::path::Path, password: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .env("TENANTCTL_CONFIG", config)
        .env("PGPASSWORD", password)
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGDATABASE")
        .env_remove("PGPASSFILE")
        .output()
        .unwrap()
}

/// A config whose default profile fetches its password by a command that leaves a marker.
fn config_with_marker(db: &TestDb, mode: u32) -> (std::path::PathBuf, std::path::PathBuf) {
    let marker = db.dir.path().join("password_command_ran");
    let text = format!(
        r#"default_profile = "vault"
[naming]
admin_role = "{}"
service_role = "{}"
rls_role = "{}"
readonly_role_pattern = "{}"

[profiles.vault]
host = "127.0.0.1"
port = {}
user = "postgres"
dbname = "{}"
sslmode = "disable"
password_command = "touch {} && echo wrong-password"
"#,
        db.names.admin_role,
        db.names.service_role,
        db.names.rls_role,
        db.names.readonly_role_pattern,
        cluster().port(),
        db.dbname,
        marker.display()
    );
    let path = db.dir.path().join("vault.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    (path, marker)
}

#[tokio::test]
async fn dsn_without_profile_never_runs_the_default_profiles_password_command() {
    let (db, _s) = TestDb::bootstrapped().await;
    let (config, marker) = config_with_marker(&db, 0o600);
    // Another server as far as the profile knows (localhost, not 127.0.0.1).
    let dsn = format!(
        "postgres://postgres@localhost:{}/{}?sslmode=disable",
        cluster().port(),
        db.dbname
    );
    let out = tenantctl(&config, &db.password(), &["--dsn", &dsn, "tenant", "list"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        !marker.exists(),
        "the default profile's password_command ran"
    );
    // Named with --profile, the profile applies, but its command is for its own host only.
    let out = tenantctl(
        &config,
        &db.password(),
        &["--profile", "vault", "--dsn", &dsn, "tenant", "list"],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(!marker.exists(), "password_command ran for another host");
    // For its own host it runs (and its wrong password fails): the marker is a real witness.
    let out = tenantctl(&config, &db.password(), &["tenant", "list"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(marker.exists());
}

#[tokio::test]
async fn a_config_others_may_write_is_refused_when_it_runs_a_password_command() {
    let db = TestDb::new().await;
    let (config, marker) = config_with_marker(&db, 0o664);
    let out = tenantctl(&config, &db.password(), &["tenant", "list"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("writable by group or others"), "{err}");
    assert!(!marker.exists());
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = tenantctl(&config, &db.password(), &["tenant", "list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("writable"), "{err}");
}

#[tokio::test]
async fn a_non_ascii_admin_password_logs_in_with_psql_and_tenantctl() {
    let db = TestDb::new().await;
    let s = db.superuser_session().await;
    // Both parts change under SASLprep (NFKC): a ligature and a decomposed Å.
    let password = "p\u{FB01}x-A\u{030A}-ß";
    tenantctl::bootstrap::init(
        &s,
        &tenantctl::bootstrap::InitOptions {
            admin_password: Some(tenantctl::connect::Secret::new(password)),
        },
    )
    .await
    .unwrap();
    let c = cluster();
    let psql = ["/usr/bin/psql".into(), c.bindir().join("psql")]
        .into_iter()
        .find(|p: &std::path::PathBuf| p.exists())
        .unwrap_or_else(|| panic!("psql not found beside {}", c.bindir().display()));
    let out = std::process::Command::new(psql)
        .args([
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            &c.port().to_string(),
            "-U",
            &db.names.admin_role,
            "-d",
            &db.dbname,
            "-tAc",
            "SELECT current_user",
        ])
        .env("PGPASSWORD", password)
        .env("PGSSLMODE", "disable")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut spec = db.superuser_spec();
    spec.user = db.names.admin_role.clone();
    spec.password = Some(tenantctl::connect::Secret::new(password));
    let admin = Session::open(spec, db.names.clone(), std::time::Duration::from_secs(2), 1)
        .await
        .unwrap();
    let who: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&admin.pool)
        .await
        .unwrap();
    assert_eq!(who, db.names.admin_role);
}

#[tokio::test]
async fn read_only_is_enforced_by_the_server_not_only_the_client() {
    let (db, _s) = TestDb::bootstrapped().await;
    let mut spec = db.superuser_spec();
    spec.read_only = true;
    let ro = Session::open(spec, db.names.clone(), std::time::Duration::from_secs(2), 2)
        .await
        .unwrap();
    // Straight to the pool, past ensure_writable.
    for sql in [
        "INSERT INTO commons.tenants (id, name, schema) VALUES ('x', 'x', 'tenant_x')",
        "CREATE SCHEMA sneaky",
    ] {
        let err = sqlx::query(sql).execute(&ro.pool).await.unwrap_err();
        assert_eq!(
            tenantctl::error::sqlstate(&err).as_deref(),
            Some("25006"),
            "{sql}: {err}"
        );
    }
}

/// A proxy that forwards to the cluster but drops the startup packet's `options`, as
/// some poolers do.
async fn options_dropping_proxy() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = cluster().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                // The reachability check connects and sends nothing.
                let Ok(len) = client.read_i32().await else {
                    return;
                };
                let len = len as usize;
                let mut body = vec![0u8; len - 4];
                client.read_exact(&mut body).await.unwrap();
                let (version, params) = body.split_at(4);
                let mut fields: Vec<&[u8]> = params.split(|b| *b == 0).collect();
                fields.retain(|f| !f.is_empty());
                let mut out = version.to_vec();
                for pair in fields.chunks(2) {
                    if pair[0] == b"options" || pair.len() < 2 {
                        continue;
                    }
                    out.extend_from_slice(pair[0]);
                    out.push(0);
                    out.extend_from_slice(pair[1]);
                    out.push(0);
                }
                out.push(0);
                let mut server = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
                    .await
                    .unwrap();
                server.write_i32(out.len() as i32 + 4).await.unwrap();
                server.write_all(&out).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    port
}

/// A proxy that forwards to the cluster and counts the connections that sent anything
/// (a PostgreSQL session; a bare reachability check sends nothing).
async fn counting_proxy() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sessions = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = sessions.clone();
    let upstream = cluster().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut first = [0u8; 1];
                if !matches!(client.read(&mut first).await, Ok(1)) {
                    return;
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let mut server = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
                    .await
                    .unwrap();
                server.write_all(&first).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (port, sessions)
}

#[tokio::test]
async fn a_one_connection_session_opens_one_server_session() {
    let (db, _s) = TestDb::bootstrapped().await;
    let (port, sessions) = counting_proxy().await;
    let mut spec = db.superuser_spec();
    spec.port = port;
    let s = Session::open(spec, db.names.clone(), std::time::Duration::from_secs(2), 1)
        .await
        .unwrap();
    // The checks made on connecting (search_path, read-only, Citus) ran on the connection
    // the command then uses.
    let (path, pid): (String, i32) =
        sqlx::query_as("SELECT current_setting('search_path'), pg_backend_pid()")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(path, "pg_catalog, pg_temp");
    let again: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(pid, again);
    assert_eq!(
        sessions.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "connecting and one query took more than one server session"
    );
}

#[tokio::test]
async fn a_role_over_its_connection_limit_is_told_so_promptly() {
    let (db, s) = TestDb::bootstrapped().await;
    let role = format!("{}_limited", db.dbname);
    sqlx::query(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'limited-pw' CONNECTION LIMIT 0"
    ))
    .execute(&s.pool)
    .await
    .unwrap();
    let mut spec = db.superuser_spec();
    spec.user = role.clone();
    spec.password = Some(tenantctl::connect::Secret::new("limited-pw"));
    let started = std::time::Instant::now();
    let err = Session::open(spec, db.names.clone(), std::time::Duration::from_secs(2), 1)
        .await
        .unwrap_err();
    // The server's reason, well before the connect timeout (10 s) would end the retries.
    assert!(
        err.to_string().contains("too many connections for role"),
        "{err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_read_only_session_whose_setting_was_dropped_is_refused() {
    let (db, _s) = TestDb::bootstrapped().await;
    let port = options_dropping_proxy().await;
    let mut spec = db.superuser_spec();
    spec.port = port;
    spec.read_only = true;
    let err = Session::open(
        spec.clone(),
        db.names.clone(),
        std::time::Duration::from_secs(2),
        1,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("default_transaction_read_only = off"),
        "{err}"
    );
    // Writable sessions through it work, with search_path still pinned.
    spec.read_only = false;
    let s = Session::open(spec, db.names.clone(), std::time::Duration::from_secs(2), 1)
        .await
        .unwrap();
    let path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(path, "pg_catalog, pg_temp");
}

fn run_with_stdin(db: &TestDb, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(bin())
        .args(args)
        .env("TENANTCTL_CONFIG", db.config_file())
        .env("PGPASSWORD", db.password())
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGDATABASE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn secrets_come_from_stdin_or_a_file_and_never_show() {
    let (db, s) = TestDb::bootstrapped().await;
    let file = db.dir.path().join("key.pem");
    std::fs::write(&file, "file-secret-42\n").unwrap();
    let set_file = format!("signing_key={}", file.display());
    let out = run_with_stdin(
        &db,
        &[
            "tenant",
            "create",
            "acme",
            "--set",
            "smtp_passphrase=-",
            "--set-file",
            &set_file,
            "--set",
            "billing=postgres://app:url-secret-7@db/x",
            "--format",
            "json",
        ],
        "stdin-secret-9\n",
    );
    assert!(out.status.success(), "{out:?}");
    let config: serde_json::Value =
        sqlx::query_scalar("SELECT config FROM commons.tenants WHERE id = 'acme'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(config["smtp_passphrase"], "stdin-secret-9");
    assert_eq!(config["signing_key"], "file-secret-42");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log: String =
        sqlx::query_scalar("SELECT string_agg(detail::text, ' ') FROM commons.admin_log")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    for secret in ["stdin-secret-9", "file-secret-42", "url-secret-7"] {
        assert!(!stdout.contains(secret), "{secret} in {stdout}");
        assert!(!log.contains(secret), "{secret} in the log: {log}");
    }
    for key in [
        "pwd",
        "passphrase",
        "auth_header",
        "dsn",
        "stripe_key",
        "key",
    ] {
        assert!(tenantctl::tenant::is_secret_key(key), "{key}");
    }
    // An entry with an empty key is refused without echoing what followed the =.
    let out = run_with_stdin(&db, &["tenant", "set", "acme", "--set", "=hunter2"], "");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("hunter2"), "{all}");
}

#[tokio::test]
async fn control_characters_in_names_never_reach_the_terminal() {
    let (db, _s) = TestDb::bootstrapped().await;
    let evil = "Evil\u{1b}]0;pwned\u{7}\u{1b}[2JCorp\r";
    let out = run_with_stdin(&db, &["tenant", "create", "evil", "--name", evil], "");
    assert!(out.status.success(), "{out:?}");
    // The JSON says which TLS state is in force (the test profile uses sslmode=disable).
    let out = run_with_stdin(&db, &["tenant", "show", "evil", "--format", "json"], "");
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(show["connection"]["tls"], "off", "{show}");
    for args in [&["tenant", "list"][..], &["tenant", "show", "evil"][..]] {
        let out = run_with_stdin(&db, args, "");
        assert!(out.status.success(), "{out:?}");
        assert!(
            !out.stdout
                .iter()
                .any(|b| *b == 0x1b || *b == 0x07 || *b == b'\r'),
            "{args:?}: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Evil\\u{1b}"),
            "{args:?}"
        );
    }
}
