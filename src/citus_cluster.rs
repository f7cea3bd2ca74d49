//! A throwaway Citus cluster: a coordinator and workers, each a throwaway server preloading
//! `citus`, registered with each other. For the tests (and later `demo --citus`).

use crate::cluster::{Cluster, ClusterError, ClusterOptions, SUPERUSER};
use crate::connect::Secret;
use crate::names::quote_literal;
use crate::sql::SqlVars;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why Citus cannot be used with the server binaries in `bindir`, or `None` when its library
/// and control file are installed for them.
pub fn citus_unavailable(bindir: &Path) -> Option<String> {
    // PATH may hold links to the real folder (e.g. /usr/local/bin/postgres).
    let real = bindir
        .join("postgres")
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let bindir = real.as_deref().unwrap_or(bindir);
    let pkglib = std::process::Command::new(bindir.join("pg_config"))
        .arg("--pkglibdir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    // Distribution packages ship pg_config beside the server; bare builds keep their
    // libraries in ../lib or ../lib/postgresql.
    let candidates = pkglib
        .into_iter()
        .chain([bindir.join("../lib"), bindir.join("../lib/postgresql")]);
    for dir in candidates {
        if dir.join("citus.so").is_file() {
            return None;
        }
    }
    Some(format!(
        "Citus is not installed for the PostgreSQL server in {} (`bash .ci/citus` builds it for the installed PostgreSQL 15)",
        bindir.display()
    ))
}

/// A coordinator and its workers. Dropping it stops and removes every node.
pub struct CitusCluster {
    /// The node applications connect to.
    pub coordinator: Cluster,
    /// The nodes holding the distributed data, registered in `pg_dist_node`.
    pub workers: Vec<Cluster>,
    /// The database in which `citus` was created on every node.
    pub dbname: String,
    // Holds the password file the nodes use to reach each other; removed with the cluster.
    _secrets: tempfile::TempDir,
}

impl std::fmt::Debug for CitusCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CitusCluster")
            .field("coordinator", &self.coordinator)
            .field("workers", &self.workers)
            .field("dbname", &self.dbname)
            .finish_non_exhaustive()
    }
}

fn step(step: &'static str) -> impl Fn(String) -> ClusterError {
    move |detail| ClusterError::Step { step, detail }
}

/// Escapes `:` and `\` for a pgpass field.
fn pgpass_field(s: &str) -> String {
    s.replace('\\', "\\\\").replace(':', "\\:")
}

impl CitusCluster {
    /// Starts a coordinator and `workers` workers, creates `dbname` with the `citus`
    /// extension on each, and registers the coordinator and the workers.
    pub async fn start(dbname: &str, workers: usize) -> Result<CitusCluster, ClusterError> {
        // Citus connects to the other nodes as the current role, and when it adds a node it
        // copies the coordinator's roles, passwords included, to it: every node gets one
        // superuser password, which they find in a private pgpass file.
        let secrets = tempfile::Builder::new()
            .prefix("tenantctl-citus-")
            .tempdir()
            .map_err(|e| step("creating the Citus password dir")(e.to_string()))?;
        let pgpass = secrets.path().join("pgpass");
        let owner = crate::cluster::server_identity()?;
        if let Some((uid, gid)) = owner {
            nix::unistd::chown(secrets.path(), Some(uid), Some(gid)).map_err(|e| {
                step("handing the Citus password dir to the server user")(e.to_string())
            })?;
        }
        let options = ClusterOptions {
            settings: vec![
                ("shared_preload_libraries".into(), "citus".into()),
                // Online tenant moves use logical replication.
                ("wal_level".into(), "logical".into()),
                // A node connects to itself (a move's logical replication) by this name; the
                // password file names the nodes by 127.0.0.1.
                ("citus.local_hostname".into(), "127.0.0.1".into()),
            ],
            env: vec![
                ("PGPASSFILE".into(), pgpass.to_string_lossy().into_owned()),
                // libpq looks for client certificates under $HOME/.postgresql: not the
                // invoking user's home, which the server user may not read (root's).
                ("HOME".into(), secrets.path().to_string_lossy().into_owned()),
            ],
            password: Some(Secret::random()),
        };
        let start = |options: ClusterOptions| {
            tokio::task::spawn_blocking(move || Cluster::start_with(options))
        };
        // Start the nodes side by side: each start is mostly initdb's waiting.
        let mut handles = vec![start(options.clone())];
        for _ in 0..workers {
            handles.push(start(options.clone()));
        }
        let mut nodes = Vec::new();
        let mut first_error = None;
        for h in handles {
            match h.await {
                Ok(Ok(c)) => nodes.push(c),
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    first_error.get_or_insert(step("starting a Citus node")(e.to_string()));
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let coordinator = nodes.remove(0);
        let cluster = CitusCluster {
            coordinator,
            workers: nodes,
            dbname: dbname.into(),
            _secrets: secrets,
        };
        cluster.write_pgpass(&pgpass, &options, owner)?;
        for node in cluster.nodes() {
            node.prepare_citus_db(dbname).await?;
        }
        cluster.register().await?;
        Ok(cluster)
    }

    /// The coordinator, then the workers.
    pub fn nodes(&self) -> impl Iterator<Item = &Cluster> {
        std::iter::once(&self.coordinator).chain(self.workers.iter())
    }

    fn write_pgpass(
        &self,
        path: &Path,
        options: &ClusterOptions,
        owner: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
    ) -> Result<(), ClusterError> {
        let password = options.password.as_ref().map(|p| p.expose()).unwrap_or("");
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(path)?;
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
            for node in self.nodes() {
                writeln!(
                    f,
                    "127.0.0.1:{}:*:{}:{}",
                    node.port(),
                    SUPERUSER,
                    pgpass_field(password)
                )?;
            }
            Ok(())
        };
        write().map_err(|e| step("writing the Citus password file")(e.to_string()))?;
        if let Some((uid, gid)) = owner {
            nix::unistd::chown(path, Some(uid), Some(gid)).map_err(|e| {
                step("handing the Citus password file to the server user")(e.to_string())
            })?;
        }
        Ok(())
    }

    async fn register(&self) -> Result<(), ClusterError> {
        let pool = self
            .coordinator
            .superuser_spec(&self.dbname)
            .connect(1)
            .await
            .map_err(|e| step("connecting to the Citus coordinator")(e.to_string()))?;
        let result = async {
            sqlx::query("SELECT citus_set_coordinator_host('127.0.0.1', $1)")
                .bind(i32::from(self.coordinator.port()))
                .execute(&pool)
                .await?;
            for w in &self.workers {
                sqlx::query("SELECT citus_add_node('127.0.0.1', $1)")
                    .bind(i32::from(w.port()))
                    .execute(&pool)
                    .await?;
            }
            Ok::<(), sqlx::Error>(())
        }
        .await;
        pool.close().await;
        result.map_err(|e| step("registering the Citus nodes")(e.to_string()))
    }
}

impl Cluster {
    /// Creates `dbname` and the `citus` extension in it.
    async fn prepare_citus_db(&self, dbname: &str) -> Result<(), ClusterError> {
        let fail =
            |e: crate::connect::ConnectError| step("connecting to a Citus node")(e.to_string());
        let pool = self
            .superuser_spec("postgres")
            .connect(1)
            .await
            .map_err(fail)?;
        let mut vars = SqlVars::default();
        vars.ident("db", dbname);
        let sql = vars
            .render("CREATE DATABASE {{db}}")
            .map_err(|e| step("creating the Citus database")(e.to_string()))?;
        let created = sqlx::query(&sql).execute(&pool).await;
        pool.close().await;
        created.map_err(|e| step("creating the Citus database")(e.to_string()))?;
        let pool = self.superuser_spec(dbname).connect(1).await.map_err(fail)?;
        let made = sqlx::query("CREATE EXTENSION citus").execute(&pool).await;
        pool.close().await;
        made.map_err(|e| {
            step("creating the citus extension")(format!(
                "{e} (database {})",
                quote_literal(dbname)
            ))
        })?;
        Ok(())
    }
}
