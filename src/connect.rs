//! Connection settings from `--dsn`, the profile, the libpq environment and `~/.pgpass`,
//! resolved as psql would, and connecting with failures told apart.

use crate::config::Profile;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Default `application_name`, so a DBA can see the console in `pg_stat_activity`.
pub const DEFAULT_APPLICATION_NAME: &str = "tenantctl";

/// How long a connection attempt may take before the host counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the first connection may take before a connection of our own asks why.
const SLOW_FIRST_CONNECTION: Duration = Duration::from_secs(1);

/// A password: never printed, never in Debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// A fresh random password (32 alphanumerics), for throwaway clusters and the demo.
    pub fn random() -> Secret {
        use rand::Rng;
        Secret(
            rand::rng()
                .sample_iter(rand::distr::Alphanumeric)
                .take(32)
                .map(char::from)
                .collect(),
        )
    }

    /// The password itself, for the one place that must hand it on.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the password came from (said in messages instead of the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    Dsn,
    Command,
    Environment,
    PassFile(PathBuf),
    Supplied,
    None,
}

impl fmt::Display for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordSource::Dsn => f.write_str("the --dsn URL"),
            PasswordSource::Command => f.write_str("the profile's password_command"),
            PasswordSource::Environment => f.write_str("PGPASSWORD"),
            PasswordSource::PassFile(p) => write!(f, "{}", p.display()),
            PasswordSource::Supplied => f.write_str("the caller"),
            PasswordSource::None => f.write_str("nowhere (no password was found)"),
        }
    }
}

/// Everything needed to open a session, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionSpec {
    /// Host name, IP address, or a socket directory (starting with `/`).
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub password: Option<Secret>,
    pub password_source: PasswordSource,
    pub sslmode: String,
    pub sslrootcert: Option<PathBuf>,
    pub application_name: String,
    /// Every session runs with `default_transaction_read_only = on`.
    pub read_only: bool,
    /// Things the user should know (an ignored pgpass file, say).
    pub warnings: Vec<String>,
}

/// Why settings could not be resolved or a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("--dsn is not a valid postgres:// URL: {0}")]
    BadDsn(String),
    #[error("{0}")]
    BadSetting(String),
    #[error("password_command failed: {0}")]
    PasswordCommand(String),
    #[error("cannot reach the server at {target}: {cause}")]
    Unreachable { target: String, cause: String },
    #[error("authentication failed for user {user:?} at {target} (password from {source_})")]
    AuthFailed {
        user: String,
        target: String,
        source_: PasswordSource,
    },
    #[error("database {dbname:?} does not exist at {target}")]
    DatabaseMissing { dbname: String, target: String },
    #[error("TLS refused at {target}: {cause}")]
    TlsRefused { target: String, cause: String },
    #[error("server at {target} refused the connection: {cause}")]
    Refused { target: String, cause: String },
    #[error(
        "read-only was asked for, but the session at {target} runs with default_transaction_read_only = {actual} (a pooler or proxy dropped the startup option); refusing to continue"
    )]
    ReadOnlyNotEnforced { target: String, actual: String },
}

impl ConnectError {
    /// What to do next, for the line after the error.
    pub fn hint(&self) -> &'static str {
        match self {
            ConnectError::BadDsn(_) => {
                "write it as postgres://user@host:port/dbname?sslmode=require (percent-encode special characters)"
            }
            ConnectError::BadSetting(_) => "fix the profile, --dsn or PG* variable named above",
            ConnectError::PasswordCommand(_) => {
                "run the profile's password_command by hand to see why it fails"
            }
            ConnectError::Unreachable { .. } => {
                "check host and port (--dsn, the profile, PGHOST/PGPORT) and that the server accepts connections from here"
            }
            ConnectError::AuthFailed { .. } => {
                "check the user and password (profile password_command, PGPASSWORD or ~/.pgpass with mode 0600)"
            }
            ConnectError::DatabaseMissing { .. } => {
                "name an existing database (dbname in the profile, PGDATABASE, or the --dsn path)"
            }
            ConnectError::TlsRefused { .. } => {
                "check sslmode and sslrootcert, or whether the server has TLS enabled"
            }
            ConnectError::Refused { .. } => "check the server's pg_hba.conf and connection limits",
            ConnectError::ReadOnlyNotEnforced { .. } => {
                "connect directly or through a pooler that passes startup options, or set default_transaction_read_only for the role (ALTER ROLE ... SET)"
            }
        }
    }
}

/// Reads one environment variable; injectable for tests.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, ignoring empty values as libpq does.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// The OS user name, the libpq default for the database user.
pub fn os_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| process_env("USER"))
        .unwrap_or_else(|| "postgres".into())
}

#[derive(Default)]
struct Fields {
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    dbname: Option<String>,
    password: Option<Secret>,
    sslmode: Option<String>,
    sslrootcert: Option<PathBuf>,
    application_name: Option<String>,
}

fn parse_dsn(dsn: &str) -> Result<Fields, ConnectError> {
    let url = url::Url::parse(dsn).map_err(|e| ConnectError::BadDsn(e.to_string()))?;
    if url.scheme() != "postgres" && url.scheme() != "postgresql" {
        return Err(ConnectError::BadDsn(format!(
            "scheme is {:?}, expected postgres or postgresql",
            url.scheme()
        )));
    }
    // Userinfo and path are percent-encoded, with '+' literal (unlike a query string).
    let decode = |s: &str| -> Result<String, ConnectError> {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|v| v.into_owned())
            .map_err(|_| ConnectError::BadDsn("percent-encoding that is not UTF-8".into()))
    };
    let mut f = Fields {
        host: url
            .host_str()
            .filter(|h| !h.is_empty())
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string()),
        port: url.port(),
        ..Fields::default()
    };
    if !url.username().is_empty() {
        f.user = Some(decode(url.username())?);
    }
    if let Some(p) = url.password() {
        f.password = Some(Secret::new(decode(p)?));
    }
    let path = url.path().trim_start_matches('/');
    if !path.is_empty() {
        f.dbname = Some(decode(path)?);
    }
    for (k, v) in url.query_pairs() {
        let v = v.into_owned();
        match k.as_ref() {
            "sslmode" => f.sslmode = Some(v),
            "sslrootcert" => f.sslrootcert = Some(v.into()),
            "application_name" => f.application_name = Some(v),
            "host" => f.host = Some(v),
            "port" => {
                f.port = Some(
                    v.parse()
                        .map_err(|_| ConnectError::BadDsn(format!("port {v:?} is not a number")))?,
                )
            }
            "user" => f.user = Some(v),
            "dbname" => f.dbname = Some(v),
            "connect_timeout" => {}
            other => {
                return Err(ConnectError::BadDsn(format!(
                    "unsupported parameter {other:?}; supported: sslmode, sslrootcert, application_name, host, port, user, dbname"
                )));
            }
        }
    }
    Ok(f)
}

const SSLMODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// Resolves settings field by field: `--dsn`, then the profile, then the libpq environment,
/// then libpq's defaults; the password from the DSN, `password_command`, `PGPASSWORD`, or
/// the pgpass file.
pub fn resolve(
    dsn: Option<&str>,
    profile: &Profile,
    read_only: bool,
    env: EnvLookup<'_>,
) -> Result<ConnectionSpec, ConnectError> {
    let d = match dsn {
        Some(s) => parse_dsn(s)?,
        None => Fields::default(),
    };
    let env_port = match env("PGPORT") {
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| ConnectError::BadSetting(format!("PGPORT={p:?} is not a port")))?,
        ),
        None => None,
    };
    // A profile's password_command is for the profile's own server only.
    let own_server = (d.host.is_none() || d.host == profile.host)
        && (d.port.is_none() || d.port == profile.port);
    let host = d
        .host
        .or_else(|| profile.host.clone())
        .or_else(|| env("PGHOST"))
        .unwrap_or_else(default_socket_dir);
    let port = d.port.or(profile.port).or(env_port).unwrap_or(5432);
    let user = d
        .user
        .or_else(|| profile.user.clone())
        .or_else(|| env("PGUSER"))
        .unwrap_or_else(os_user);
    let dbname = d
        .dbname
        .or_else(|| profile.dbname.clone())
        .or_else(|| env("PGDATABASE"))
        .unwrap_or_else(|| user.clone());
    let sslrootcert = d
        .sslrootcert
        .or_else(|| profile.sslrootcert.clone())
        .or_else(|| env("PGSSLROOTCERT").map(PathBuf::from));
    // libpq: with the OS store as anchors, the default becomes verify-full.
    let default_mode = if sslrootcert.as_deref() == Some(Path::new("system")) {
        "verify-full"
    } else {
        "prefer"
    };
    let sslmode = d
        .sslmode
        .or_else(|| profile.sslmode.clone())
        .or_else(|| env("PGSSLMODE"))
        .unwrap_or_else(|| default_mode.into());
    if !SSLMODES.contains(&sslmode.as_str()) {
        return Err(ConnectError::BadSetting(format!(
            "sslmode {sslmode:?} is not one of {}",
            SSLMODES.join(", ")
        )));
    }
    let application_name = d
        .application_name
        .or_else(|| profile.application_name.clone())
        .or_else(|| env("PGAPPNAME"))
        .unwrap_or_else(|| DEFAULT_APPLICATION_NAME.into());

    let mut spec = ConnectionSpec {
        host,
        port,
        user,
        dbname,
        password: None,
        password_source: PasswordSource::None,
        sslmode,
        sslrootcert,
        application_name,
        read_only: read_only || profile.read_only,
        warnings: Vec::new(),
    };
    if let Some(p) = d.password {
        spec.password = Some(p);
        spec.password_source = PasswordSource::Dsn;
    } else if let Some(cmd) = profile.password_command.as_ref().filter(|_| own_server) {
        spec.password = Some(run_password_command(cmd)?);
        spec.password_source = PasswordSource::Command;
    } else if let Some(p) = env("PGPASSWORD") {
        spec.password = Some(Secret::new(p));
        spec.password_source = PasswordSource::Environment;
    } else if let Some(file) = pgpass_path(env) {
        match lookup_pgpass(&file, &spec) {
            Ok(Some(p)) => {
                spec.password = Some(p);
                spec.password_source = PasswordSource::PassFile(file);
            }
            Ok(None) => {}
            Err(warning) => spec.warnings.push(warning),
        }
    }
    Ok(spec)
}

fn default_socket_dir() -> String {
    for dir in ["/var/run/postgresql", "/run/postgresql"] {
        if Path::new(dir).is_dir() {
            return dir.into();
        }
    }
    "/tmp".into()
}

fn pgpass_path(env: EnvLookup<'_>) -> Option<PathBuf> {
    env("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")))
}

fn run_password_command(cmd: &str) -> Result<Secret, ConnectError> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| ConnectError::PasswordCommand(e.to_string()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(ConnectError::PasswordCommand(format!(
            "exited with {}{}",
            out.status,
            err.lines()
                .next()
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        )));
    }
    let text = String::from_utf8(out.stdout)
        .map_err(|_| ConnectError::PasswordCommand("its output is not UTF-8".into()))?;
    let pw = text.strip_suffix('\n').unwrap_or(&text);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    if pw.is_empty() {
        return Err(ConnectError::PasswordCommand("it printed nothing".into()));
    }
    Ok(Secret::new(pw))
}

/// Finds the password for `spec` in a pgpass file. `Err` carries a warning (the file is
/// ignored, as libpq ignores one readable by group or others).
pub fn lookup_pgpass(file: &Path, spec: &ConnectionSpec) -> Result<Option<Secret>, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(file) {
        Ok(m) => m,
        Err(_) => return Ok(None),
    };
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "password file {} is ignored: it is readable by group or others (chmod 0600 it)",
            file.display()
        ));
    }
    let text = std::fs::read_to_string(file).map_err(|e| {
        format!(
            "password file {} is ignored: cannot read it ({e})",
            file.display()
        )
    })?;
    let port = spec.port.to_string();
    // libpq matches a socket connection against the name "localhost".
    let host_names: Vec<&str> = if spec.host.starts_with('/') {
        vec!["localhost", spec.host.as_str()]
    } else {
        vec![spec.host.as_str()]
    };
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass_line(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = |pat: &str, val: &str| pat == "*" || pat == val;
        if host_names.iter().any(|h| matches(&fields[0], h))
            && matches(&fields[1], &port)
            && matches(&fields[2], &spec.dbname)
            && matches(&fields[3], &spec.user)
        {
            return Ok(Some(Secret::new(fields[4..].join(":"))));
        }
    }
    Ok(None)
}

/// Splits a pgpass line on unescaped `:`; `\:` and `\\` are literal.
fn split_pgpass_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), fields.last_mut()) {
                    last.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

impl ConnectionSpec {
    /// `user@host:port/db`, for headers and messages (never the password).
    pub fn target(&self) -> String {
        format!("{}@{}:{}/{}", self.user, self.host, self.port, self.dbname)
    }

    fn host_port(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// sqlx options for this spec.
    pub fn options(&self) -> PgConnectOptions {
        let mut o = PgConnectOptions::new_without_pgpass()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .database(&self.dbname)
            .application_name(&self.application_name)
            .ssl_mode(PgSslMode::from_str(&self.sslmode).unwrap_or(PgSslMode::Prefer));
        if let Some(p) = &self.password {
            // SASLprep, as libpq does before SCRAM (sqlx sends the bytes as they are): a
            // non-ASCII password then matches a verifier made by the server or by init.
            // Like libpq, a password SASLprep rejects is sent unchanged.
            let prepared = stringprep::saslprep(p.expose())
                .map(|c| c.into_owned())
                .unwrap_or_else(|_| p.expose().to_string());
            o = o.password(&prepared);
        }
        if let Some(c) = &self.sslrootcert {
            o = o.ssl_root_cert(c);
        }
        // Catalog queries over 10,000 schemas cross jit_above_cost, and compiling them
        // costs more than running them (about 0.6 s of 1.5 s for `tenant list`).
        o = o.options([("jit", "off")]);
        if self.read_only {
            o = o.options([("default_transaction_read_only", "on")]);
        }
        o
    }

    /// Opens a pool of up to `max` sessions, after one direct connection attempt so that
    /// failures are reported at once (the pool itself would retry until its timeout).
    pub async fn connect(&self, max: u32) -> Result<PgPool, ConnectError> {
        self.connect_tls(max).await.map(|(pool, _)| pool)
    }

    /// As [`connect`](Self::connect), also saying which TLS protection is in force.
    /// TLS is set up by [`crate::tls`], by libpq's rules.
    pub async fn connect_tls(
        &self,
        max: u32,
    ) -> Result<(PgPool, crate::tls::TlsState), ConnectError> {
        self.connect_probed(max)
            .await
            .map(|(pool, tls, _)| (pool, tls))
    }

    /// As [`connect_tls`](Self::connect_tls), also saying whether the database has the
    /// `citus` extension. The first connection is the pool's own, checked here and handed
    /// back to it, so a one-query command opens one session: a separate probe connection
    /// cost every CLI run a second backend and SCRAM exchange (about 10 ms at 10,000
    /// tenants, where a fresh backend pays for every catalog page it first touches).
    pub async fn connect_probed(
        &self,
        max: u32,
    ) -> Result<(PgPool, crate::tls::TlsState, bool), ConnectError> {
        let (route, state) = crate::tls::route(self).await?;
        let options = match route {
            crate::tls::Route::Direct {
                sslmode_for_sqlx,
                answered,
            } => {
                if !answered {
                    self.knock().await?;
                }
                self.options()
                    .ssl_mode(PgSslMode::from_str(&sslmode_for_sqlx).unwrap_or(PgSslMode::Disable))
            }
            crate::tls::Route::Relayed { dir } => self
                .options()
                .host(&dir.to_string_lossy())
                .ssl_mode(PgSslMode::Disable),
        };
        // The pool retries a connection whose readying failed until its timeout; the first
        // such failure is sent here, so the command ends at once with its reason.
        let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<ConnectError>();
        let first_failure = std::sync::Arc::new(std::sync::Mutex::new(Some(failed_tx)));
        let spec = std::sync::Arc::new(self.clone());
        let read_only = self.read_only;
        let pool = PgPoolOptions::new()
            .after_connect(move |conn, _meta| {
                let (spec, first_failure) = (spec.clone(), first_failure.clone());
                Box::pin(async move {
                    let failure = match prepare(conn, read_only).await {
                        Ok(()) => return Ok(()),
                        Err(PrepareError::Db(e)) => spec.classify(e),
                        Err(PrepareError::NotReadOnly(actual)) => {
                            ConnectError::ReadOnlyNotEnforced {
                                target: spec.host_port(),
                                actual,
                            }
                        }
                    };
                    let text = failure.to_string();
                    let sender = first_failure.lock().ok().and_then(|mut s| s.take());
                    if let Some(sender) = sender {
                        let _ = sender.send(failure);
                    }
                    Err(sqlx::Error::Protocol(text))
                })
            })
            .max_connections(max)
            .min_connections(0)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with(options.clone());
        let mut conn = self.first_connection(&pool, &options, failed_rx).await?;
        let citus = crate::citus::provision::has_citus(&mut conn)
            .await
            .map_err(|e| self.classify(e))?;
        // Back to the pool before the command asks for a connection: a dropped one goes
        // back on a spawned task, and an acquire that came first would open another.
        conn.return_to_pool().await;
        Ok((pool, state, citus))
    }

    /// The pool's first connection, or why there is none as soon as that is known: a
    /// failure readying it arrives on `failed`, and after a second one connection of our
    /// own asks why, since the pool retries passing trouble (too many connections, a
    /// server starting up) without saying so until its timeout.
    async fn first_connection(
        &self,
        pool: &PgPool,
        options: &PgConnectOptions,
        mut failed: tokio::sync::oneshot::Receiver<ConnectError>,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, ConnectError> {
        use sqlx::Connection;
        let diagnosis = async {
            tokio::time::sleep(SLOW_FIRST_CONNECTION).await;
            match tokio::time::timeout(CONNECT_TIMEOUT, sqlx::PgConnection::connect_with(options))
                .await
            {
                Ok(Err(e)) => e,
                Ok(Ok(conn)) => {
                    // It connects after all: the pool's own attempt goes on.
                    let _ = conn.close().await;
                    std::future::pending().await
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            acquired = pool.acquire() => acquired.map_err(|e| self.classify(e)),
            Ok(failure) = &mut failed => Err(failure),
            e = diagnosis => Err(self.classify(e)),
        }
    }

    /// Fails at once when nothing listens at the address: the pool would retry a refused
    /// connection until its timeout. Sends nothing, so the server logs nothing.
    async fn knock(&self) -> Result<(), ConnectError> {
        let attempt = async {
            if self.host.starts_with('/') {
                let socket = Path::new(&self.host).join(format!(".s.PGSQL.{}", self.port));
                tokio::net::UnixStream::connect(socket).await.map(drop)
            } else {
                tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                    .await
                    .map(drop)
            }
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ConnectError::Unreachable {
                target: self.host_port(),
                cause: e.to_string(),
            }),
            Err(_) => Err(ConnectError::Unreachable {
                target: self.host_port(),
                cause: format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
            }),
        }
    }

    /// Turns a sqlx error from connecting into one of the failures users tell apart.
    pub fn classify(&self, e: sqlx::Error) -> ConnectError {
        let target = self.host_port();
        match e {
            sqlx::Error::Io(io) => ConnectError::Unreachable {
                target,
                cause: io.to_string(),
            },
            sqlx::Error::PoolTimedOut => ConnectError::Unreachable {
                target,
                cause: format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
            },
            sqlx::Error::Tls(t) => ConnectError::TlsRefused {
                target,
                cause: t.to_string(),
            },
            sqlx::Error::Database(db) => match db.code().as_deref() {
                Some("28P01") => ConnectError::AuthFailed {
                    user: self.user.clone(),
                    target,
                    source_: self.password_source.clone(),
                },
                Some("3D000") => ConnectError::DatabaseMissing {
                    dbname: self.dbname.clone(),
                    target,
                },
                _ => ConnectError::Refused {
                    target,
                    cause: scrub(db.message(), self.password.as_ref()),
                },
            },
            other => {
                let text = scrub(&other.to_string(), self.password.as_ref());
                if text.contains("password") && self.password.is_none() {
                    ConnectError::AuthFailed {
                        user: self.user.clone(),
                        target,
                        source_: PasswordSource::None,
                    }
                } else if text.to_ascii_lowercase().contains("tls")
                    || text.to_ascii_lowercase().contains("ssl")
                {
                    ConnectError::TlsRefused {
                        target,
                        cause: text,
                    }
                } else {
                    ConnectError::Refused {
                        target,
                        cause: text,
                    }
                }
            }
        }
    }
}

/// The `search_path` of every tenantctl session: nothing an unprivileged role can create
/// in is searched, so a function or operator planted in `public` or a tenant schema never
/// runs with tenantctl's rights (CVE-2018-1058). Everything else is schema-qualified.
pub const PINNED_SEARCH_PATH: &str = "pg_catalog, pg_temp";

enum PrepareError {
    Db(sqlx::Error),
    NotReadOnly(String),
}

/// Readies a fresh connection: pins `search_path` (again, in case a pooler dropped the
/// startup option) and, for a read-only session, verifies the server enforces it. On a
/// Citus coordinator whose `init` made the application's SET LOCALs reach the workers,
/// tenantctl's own (role, lock_timeout) must not: a custom setting, harmless without Citus.
async fn prepare(conn: &mut sqlx::PgConnection, read_only: bool) -> Result<(), PrepareError> {
    let (_, actual, _): (String, String, String) = sqlx::query_as(
        "SELECT pg_catalog.set_config('search_path', $1, false),
                pg_catalog.current_setting('default_transaction_read_only'),
                pg_catalog.set_config('citus.propagate_set_commands', 'none', false)",
    )
    .bind(PINNED_SEARCH_PATH)
    .fetch_one(&mut *conn)
    .await
    .map_err(PrepareError::Db)?;
    if read_only && actual != "on" {
        return Err(PrepareError::NotReadOnly(actual));
    }
    Ok(())
}

/// Removes a password from text that is about to be shown, in case a layer echoed it.
pub fn scrub(text: &str, password: Option<&Secret>) -> String {
    match password {
        Some(p) if !p.expose().is_empty() => text.replace(p.expose(), "***"),
        _ => text.to_string(),
    }
}
