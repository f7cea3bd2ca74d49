//! A throwaway local PostgreSQL: private data dir, free port, password auth, removed on drop.
//! Used by `demo` and by the tests.

use crate::connect::{ConnectionSpec, PasswordSource, Secret};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Superuser of a throwaway cluster.
pub const SUPERUSER: &str = "postgres";

/// Why a throwaway cluster could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, postgres) were not found in PATH, `pg_config --bindir` or /usr/lib/postgresql/*/bin"
    )]
    NoBinaries,
    #[error(
        "running as root, and initdb refuses root: no unprivileged user {0:?} exists to run the server as"
    )]
    NoServerUser(String),
    #[error("{step} failed: {detail}")]
    Step { step: &'static str, detail: String },
}

impl ClusterError {
    /// What to do next.
    pub fn hint(&self) -> &'static str {
        match self {
            ClusterError::NoBinaries => {
                "install them: apt-get install postgresql (or set TENANTCTL_PG_BINDIR to the folder holding initdb)"
            }
            ClusterError::NoServerUser(_) => {
                "create one (apt-get install postgresql does), or set TENANTCTL_CLUSTER_USER to an existing unprivileged user"
            }
            ClusterError::Step { .. } => {
                "the server's log above says why; check free disk space and /tmp permissions"
            }
        }
    }
}

fn step(step: &'static str) -> impl Fn(std::io::Error) -> ClusterError {
    move |e| ClusterError::Step {
        step,
        detail: e.to_string(),
    }
}

/// Finds the folder holding `initdb` and `postgres`: `$TENANTCTL_PG_BINDIR`, `PATH`,
/// `pg_config --bindir`, then the newest `/usr/lib/postgresql/*/bin`.
pub fn find_server_bindir() -> Option<PathBuf> {
    let has_server = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    if let Some(d) = std::env::var_os("TENANTCTL_PG_BINDIR") {
        let d = PathBuf::from(d);
        return has_server(&d).then_some(d);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_server(&dir) {
                return Some(dir);
            }
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&d) {
            return Some(d);
        }
    }
    newest_versioned_bindir(Path::new("/usr/lib/postgresql"), has_server)
}

fn newest_versioned_bindir(root: &Path, ok: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            ok(&bin).then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// The uid/gid the server runs as: ourselves, or an unprivileged user when we are root.
pub(crate) fn server_identity() -> Result<Option<(nix::unistd::Uid, nix::unistd::Gid)>, ClusterError>
{
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let name = std::env::var("TENANTCTL_CLUSTER_USER").unwrap_or_else(|_| "postgres".into());
    match nix::unistd::User::from_name(&name) {
        Ok(Some(u)) if !u.uid.is_root() => Ok(Some((u.uid, u.gid))),
        _ => Err(ClusterError::NoServerUser(name)),
    }
}

/// What a throwaway cluster needs beyond the defaults.
#[derive(Debug, Default, Clone)]
pub struct ClusterOptions {
    /// Extra server settings, passed as `-c name=value`.
    pub settings: Vec<(String, String)>,
    /// Extra environment of the server process (e.g. `PGPASSFILE` for its own outgoing
    /// connections, as Citus makes to its workers).
    pub env: Vec<(String, String)>,
    /// The superuser's password; a random one when `None`.
    pub password: Option<Secret>,
}

/// A running throwaway cluster. Dropping it stops the server and removes every file.
pub struct Cluster {
    root: PathBuf,
    port: u16,
    password: Secret,
    server: Option<Child>,
    watchdog: Option<Child>,
    bindir: PathBuf,
    options: ClusterOptions,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("root", &self.root)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Creates and starts a cluster in a new temp dir on a free port, scram auth on.
    pub fn start() -> Result<Cluster, ClusterError> {
        Cluster::start_with(ClusterOptions::default())
    }

    /// Like [`Cluster::start`], with extra server settings and environment.
    pub fn start_with(options: ClusterOptions) -> Result<Cluster, ClusterError> {
        let bindir = find_server_bindir().ok_or(ClusterError::NoBinaries)?;
        let owner = server_identity()?;
        let root = tempfile::Builder::new()
            .prefix("tenantctl-cluster-")
            .tempdir()
            .map_err(step("creating the temp dir"))?
            .keep();
        let mut cluster = Cluster {
            root,
            port: 0,
            password: options.password.clone().unwrap_or_else(Secret::random),
            server: None,
            watchdog: None,
            bindir,
            options,
        };
        // From here on, Drop cleans up whatever was made.
        cluster.init(owner)?;
        let mut last = None;
        for _ in 0..5 {
            cluster.port = free_port().map_err(step("finding a free port"))?;
            match cluster.launch(owner) {
                Ok(()) => return Ok(cluster),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ClusterError::Step {
            step: "starting the server",
            detail: "no attempt made".into(),
        }))
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.root.join("sock")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("server.log")
    }

    fn command(
        &self,
        program: &str,
        owner: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
    ) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        cmd.current_dir(&self.root).stdin(Stdio::null());
        // A user's PG* settings must not leak into the private server.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PG") {
                cmd.env_remove(k);
            }
        }
        if let Some((uid, gid)) = owner {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
        cmd
    }

    fn init(
        &mut self,
        owner: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
    ) -> Result<(), ClusterError> {
        let pwfile = self.root.join("pwfile");
        {
            let mut f = fs::File::create(&pwfile).map_err(step("writing the password file"))?;
            fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600))
                .map_err(step("writing the password file"))?;
            writeln!(f, "{}", self.password.expose()).map_err(step("writing the password file"))?;
        }
        fs::create_dir(self.socket_dir()).map_err(step("creating the socket dir"))?;
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
            .map_err(step("securing the temp dir"))?;
        if let Some((uid, gid)) = owner {
            for p in [&self.root, &pwfile, &self.socket_dir()] {
                nix::unistd::chown(p.as_path(), Some(uid), Some(gid)).map_err(|e| {
                    ClusterError::Step {
                        step: "handing the temp dir to the server user",
                        detail: e.to_string(),
                    }
                })?;
            }
        }
        let out = self
            .command("initdb", owner)
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", SUPERUSER, "-A", "scram-sha-256", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .map_err(step("running initdb"))?;
        let _ = fs::remove_file(&pwfile);
        if !out.status.success() {
            return Err(ClusterError::Step {
                step: "initdb",
                detail: last_lines(&String::from_utf8_lossy(&out.stderr), 5),
            });
        }
        Ok(())
    }

    fn launch(
        &mut self,
        owner: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
    ) -> Result<(), ClusterError> {
        // A previous attempt that timed out may still be running: never leave it orphaned.
        self.shut_down_server();
        let log = fs::File::create(self.log_file()).map_err(step("creating the server log"))?;
        if let Some((uid, gid)) = owner {
            let _ = nix::unistd::chown(self.log_file().as_path(), Some(uid), Some(gid));
        }
        let log_err = log.try_clone().map_err(step("creating the server log"))?;
        let mut cmd = self.command("postgres", owner);
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.socket_dir())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .args([
                "-c",
                "shared_buffers=64MB",
                "-c",
                "log_min_messages=warning",
            ])
            .args(
                self.options
                    .settings
                    .iter()
                    .flat_map(|(k, v)| ["-c".to_string(), format!("{k}={v}")]),
            )
            .envs(self.options.env.iter().map(|(k, v)| (k, v)))
            .stdout(log)
            .stderr(log_err)
            // Own process group: a Ctrl-C in the terminal reaches us, not the server.
            .process_group(0);
        let child = cmd.spawn().map_err(step("starting postgres"))?;
        let pid = child.id();
        self.server = Some(child);
        self.watchdog = spawn_watchdog(pid, &self.root).ok();
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), ClusterError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let pidfile = self.data_dir().join("postmaster.pid");
        loop {
            if let Some(child) = self.server.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                {
                    self.server = None;
                    let log = fs::read_to_string(self.log_file()).unwrap_or_default();
                    return Err(ClusterError::Step {
                        step: "starting the server",
                        detail: format!("postgres exited with {status}: {}", last_lines(&log, 5)),
                    });
                }
            }
            // The 8th line of postmaster.pid reads "ready" once connections are accepted.
            let ready = fs::read_to_string(&pidfile)
                .map(|t| t.lines().nth(7).is_some_and(|l| l.trim() == "ready"))
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ClusterError::Step {
                    step: "starting the server",
                    detail: "not ready after 60 s".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// TCP port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temp dir holding everything of this cluster.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Folder of the server binaries in use (with the distribution's packages the matching
    /// `pg_dump` is there too; a bare server build such as `.ci/versions` fetches has none).
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// Connection settings for the superuser on database `dbname`, over TCP with a password.
    pub fn superuser_spec(&self, dbname: &str) -> ConnectionSpec {
        ConnectionSpec {
            host: "127.0.0.1".into(),
            port: self.port,
            user: SUPERUSER.into(),
            dbname: dbname.into(),
            password: Some(self.password.clone()),
            password_source: PasswordSource::Supplied,
            sslmode: "disable".into(),
            sslrootcert: None,
            application_name: crate::connect::DEFAULT_APPLICATION_NAME.into(),
            read_only: false,
            warnings: Vec::new(),
        }
    }

    /// Stops the server (fast shutdown, then immediate) and removes every file.
    pub fn stop(&mut self) {
        self.shut_down_server();
        let _ = fs::remove_dir_all(&self.root);
    }

    /// Stops the server process (fast shutdown, then immediate) and its watchdog, keeping
    /// the files: a failed start attempt is retried in the same data dir.
    fn shut_down_server(&mut self) {
        if let Some(mut child) = self.server.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGQUIT);
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A detached shell that removes the cluster if this process dies without dropping it
/// (SIGKILL, a test binary's statics, an abort).
fn spawn_watchdog(server_pid: u32, root: &Path) -> std::io::Result<Child> {
    let script = r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done
if [ -d "$3" ]; then kill -QUIT "$2" 2>/dev/null; i=0; while kill -0 "$2" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; rm -rf "$3"; fi"#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("tenantctl-watchdog")
        .arg(std::process::id().to_string())
        .arg(server_pid.to_string())
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
