//! Shared harness: one throwaway cluster per test binary, a fresh database and a private
//! set of role names per test (roles are cluster-wide, databases are not).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use tenantctl::cluster::Cluster;
use tenantctl::connect::ConnectionSpec;
use tenantctl::names::NamingPolicy;
use tenantctl::session::Session;

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(1);

/// The test binary's cluster, started on first use; its watchdog removes it at exit.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| Cluster::start().expect("a throwaway PostgreSQL cluster"))
}

/// A fresh database with its own role names.
pub struct TestDb {
    pub dbname: String,
    pub names: NamingPolicy,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    /// Creates the database (as the cluster's superuser).
    pub async fn new() -> TestDb {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dbname = format!("t{n}");
        let admin = cluster().superuser_spec("postgres");
        let pool = admin.connect(1).await.expect("superuser connection");
        sqlx::query(&format!("CREATE DATABASE {dbname}"))
            .execute(&pool)
            .await
            .expect("create database");
        pool.close().await;
        let names = NamingPolicy {
            admin_role: format!("{dbname}_marvin"),
            service_role: format!("{dbname}_user_tenant_owner"),
            rls_role: format!("{dbname}_tenant_user"),
            readonly_role_pattern: format!("{dbname}_tenant_{{id}}_ro"),
            ..NamingPolicy::default()
        };
        TestDb {
            dbname,
            names,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Superuser connection settings for this database.
    pub fn superuser_spec(&self) -> ConnectionSpec {
        cluster().superuser_spec(&self.dbname)
    }

    /// A superuser session under this database's naming policy.
    pub async fn superuser_session(&self) -> Session {
        Session::open(
            self.superuser_spec(),
            self.names.clone(),
            std::time::Duration::from_secs(2),
            4,
        )
        .await
        .expect("superuser session")
    }

    /// A fresh database, bootstrapped, with a superuser session.
    pub async fn bootstrapped() -> (TestDb, Session) {
        let db = TestDb::new().await;
        let session = db.superuser_session().await;
        tenantctl::bootstrap::init(&session, &Default::default())
            .await
            .expect("init");
        (db, session)
    }

    /// Writes a config file whose `test` profile reaches this database; no password in it.
    pub fn config_file(&self) -> PathBuf {
        let c = cluster();
        let n = &self.names;
        let text = format!(
            r#"default_profile = "test"
lock_timeout_secs = 2

[naming]
admin_role = "{}"
service_role = "{}"
rls_role = "{}"
readonly_role_pattern = "{}"

[profiles.test]
host = "127.0.0.1"
port = {}
user = "postgres"
dbname = "{}"
sslmode = "disable"
"#,
            n.admin_role,
            n.service_role,
            n.rls_role,
            n.readonly_role_pattern,
            c.port(),
            self.dbname
        );
        let path = self.dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The superuser's password, for a child process's PGPASSWORD.
    pub fn password(&self) -> String {
        self.superuser_spec().password.unwrap().expose().to_string()
    }
}

/// The built binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tenantctl"))
}

/// The binary with this database's config and password in the environment, not run yet.
pub fn cli_command(db: &TestDb, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(bin());
    cmd.args(args)
        .env("TENANTCTL_CONFIG", db.config_file())
        .env("PGPASSWORD", db.password())
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGDATABASE");
    cmd
}

/// Runs the binary with this database's config and password in the environment.
pub fn run_cli(db: &TestDb, args: &[&str]) -> std::process::Output {
    cli_command(db, args).output().expect("run tenantctl")
}

/// The test cluster's `server_version_num` (e.g. 170002), read from the server itself.
pub async fn server_version_num() -> i32 {
    let pool = cluster()
        .superuser_spec("postgres")
        .connect(1)
        .await
        .unwrap();
    let v: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    v.parse().unwrap()
}

/// The test cluster's major version (13, 14, …).
pub async fn server_major() -> i32 {
    server_version_num().await / 10000
}

/// Says on the terminal why `test` did nothing: written past libtest's output capture, so a
/// skip is never silent.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// Whether the installed pg_dump/pg_restore can serve the test cluster's server version;
/// the reason when not (the PostgreSQL matrix runs servers newer than the client).
pub async fn pg_dump_serves(session: &Session) -> Result<tenantctl::backup::Tools, String> {
    let (num, version): (String, String) = sqlx::query_as(
        "SELECT current_setting('server_version_num'), current_setting('server_version')",
    )
    .fetch_one(&session.pool)
    .await
    .map_err(|e| format!("cannot read the server version: {e}"))?;
    let major = num.parse::<u32>().unwrap_or(0) / 10000;
    tenantctl::backup::find_tools(None, major, &version).map_err(|e| e.to_string())
}

/// Returns early from a backup test, saying why, when pg_dump cannot serve this server.
#[macro_export]
macro_rules! require_pg_dump {
    ($session:expr) => {
        match common::pg_dump_serves(&$session).await {
            Ok(tools) => tools,
            Err(why) => {
                common::skip(module_path!(), &why);
                return;
            }
        }
    };
}
