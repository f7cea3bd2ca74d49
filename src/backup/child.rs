//! Running `pg_dump`/`pg_restore` as children: credentials through the environment and a
//! private pgpass file, killable, killed with tenantctl.

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio_util::sync::CancellationToken;

/// The libpq environment of a child, built from the same settings as the core's sessions.
/// The password lives only in a 0600 pgpass file that is removed when this is dropped.
pub struct ChildEnv {
    vars: Vec<(&'static str, OsString)>,
    pgpass: Option<tempfile::NamedTempFile>,
    password: Option<crate::connect::Secret>,
}

/// Escapes a pgpass field: `\` and `:` are backslash-escaped.
fn pgpass_field(s: &str) -> String {
    s.replace('\\', "\\\\").replace(':', "\\:")
}

impl ChildEnv {
    /// The environment for connecting to `dbname` with `spec`'s settings.
    pub fn new(spec: &ConnectionSpec, dbname: &str) -> Result<ChildEnv> {
        let mut vars: Vec<(&'static str, OsString)> = vec![
            ("PGHOST", spec.host.clone().into()),
            ("PGPORT", spec.port.to_string().into()),
            ("PGUSER", spec.user.clone().into()),
            ("PGDATABASE", dbname.into()),
            ("PGSSLMODE", spec.sslmode.clone().into()),
            ("PGAPPNAME", spec.application_name.clone().into()),
            ("PGCONNECT_TIMEOUT", "10".into()),
        ];
        if let Some(cert) = &spec.sslrootcert {
            vars.push(("PGSSLROOTCERT", cert.clone().into()));
        }
        if spec.read_only {
            vars.push(("PGOPTIONS", "-c default_transaction_read_only=on".into()));
        }
        let pgpass = match &spec.password {
            Some(pw) => {
                use std::io::Write;
                use std::os::unix::fs::PermissionsExt;
                let io = |what: &str| {
                    let what = what.to_string();
                    move |source| Error::Io { what, source }
                };
                let mut f = tempfile::Builder::new()
                    .prefix("tenantctl-pgpass-")
                    .permissions(std::fs::Permissions::from_mode(0o600))
                    .tempfile()
                    .map_err(io("creating the private pgpass file"))?;
                writeln!(f, "*:*:*:*:{}", pgpass_field(pw.expose()))
                    .and_then(|_| f.flush())
                    .map_err(io("writing the private pgpass file"))?;
                vars.push(("PGPASSFILE", f.path().as_os_str().to_owned()));
                Some(f)
            }
            None => None,
        };
        Ok(ChildEnv {
            vars,
            pgpass,
            password: spec.password.clone(),
        })
    }

    /// Path of the private pgpass file, if a password is passed on.
    pub fn pgpass_path(&self) -> Option<&Path> {
        self.pgpass.as_ref().map(|f| f.path())
    }

    fn apply(&self, cmd: &mut tokio::process::Command) {
        // Inherited PG* variables (PGPASSWORD above all) must not override ours.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PG") {
                cmd.env_remove(&k);
            }
        }
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
    }

    fn scrub(&self, text: &str) -> String {
        crate::connect::scrub(text, self.password.as_ref())
    }
}

/// What a finished child printed.
#[derive(Debug, Default)]
pub struct ChildOutput {
    /// Its stdout (captured only when asked for), invalid UTF-8 replaced.
    pub stdout: String,
    /// Whether the stdout was valid UTF-8 as written (nothing was replaced).
    pub utf8: bool,
}

/// The command for `program args` with `env`: stderr piped, killed when dropped and when
/// tenantctl dies (PDEATHSIG).
fn command(
    program: &Path,
    args: &[OsString],
    env: &ChildEnv,
    stdout: Stdio,
) -> Result<tokio::process::Child> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    env.apply(&mut cmd);
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
    cmd.spawn().map_err(|source| Error::Io {
        what: format!("starting {}", program.display()),
        source,
    })
}

fn program_name(program: &Path) -> String {
    program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The error for a child that did not succeed: how it ended and the line that says why.
fn failure(name: &str, status: std::process::ExitStatus, tail: &[String], env: &ChildEnv) -> Error {
    use std::os::unix::process::ExitStatusExt;
    let how = match status.signal() {
        Some(sig) => format!("was killed by signal {sig}"),
        None => format!("exited with {}", status.code().unwrap_or(-1)),
    };
    // The tools end with detail lines ("Query was: ..."); the cause is the error line.
    let last = tail
        .iter()
        .rev()
        .find(|l| l.contains("error:"))
        .or_else(|| tail.iter().rev().find(|l| !l.trim().is_empty()))
        .map(|l| format!(": {}", env.scrub(l)))
        .unwrap_or_default();
    Error::Invalid(format!("{name} {how}{last}"))
}

/// A child whose stdout is read by the caller as it comes (pg_restore's data section):
/// killed when dropped, so a failed or cancelled reader leaves no child behind.
pub struct StreamingChild {
    name: String,
    child: tokio::process::Child,
    stderr: tokio::task::JoinHandle<Vec<String>>,
}

impl StreamingChild {
    /// Starts `program args` with its stdout piped; returns the child and its stdout.
    pub fn spawn(
        program: &Path,
        args: &[OsString],
        env: &ChildEnv,
    ) -> Result<(StreamingChild, tokio::process::ChildStdout)> {
        let mut child = command(program, args, env, Stdio::piped())?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::Invalid(format!("{}: no stdout to read", program.display())))?;
        let stderr = child.stderr.take();
        let stderr = tokio::spawn(async move {
            let mut tail: Vec<String> = Vec::new();
            if let Some(e) = stderr {
                let mut lines = BufReader::new(e).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tail.push(line);
                    if tail.len() > 8 {
                        tail.remove(0);
                    }
                }
            }
            tail
        });
        Ok((
            StreamingChild {
                name: program_name(program),
                child,
                stderr,
            },
            stdout,
        ))
    }

    /// Waits for the child (its stdout read to the end) and says why it failed, if it did.
    pub async fn wait(mut self, env: &ChildEnv) -> Result<()> {
        let status = self.child.wait().await.map_err(|source| Error::Io {
            what: format!("waiting for {}", self.name),
            source,
        })?;
        let tail = (&mut self.stderr).await.unwrap_or_default();
        if status.success() {
            Ok(())
        } else {
            Err(failure(&self.name, status, &tail, env))
        }
    }
}

/// Runs `program args` with `env`; every stderr line goes to `on_line`. Cancel kills the
/// child at once; so does dropping the future, and tenantctl's death (PDEATHSIG).
pub async fn run(
    program: &Path,
    args: &[OsString],
    env: &ChildEnv,
    capture_stdout: bool,
    cancel: &CancellationToken,
    mut on_line: impl FnMut(&str),
) -> Result<ChildOutput> {
    let name = program_name(program);
    let mut child = command(
        program,
        args,
        env,
        if capture_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        },
    )?;
    let stderr = child.stderr.take();
    let stdout = child.stdout.take();
    let mut tail: Vec<String> = Vec::new();
    let work = async {
        let out_task = async {
            let mut s = Vec::new();
            if let Some(mut o) = stdout {
                let _ = o.read_to_end(&mut s).await;
            }
            s
        };
        let err_task = async {
            if let Some(e) = stderr {
                let mut lines = BufReader::new(e).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    on_line(&line);
                    tail.push(line);
                    if tail.len() > 8 {
                        tail.remove(0);
                    }
                }
            }
        };
        let (out, ()) = tokio::join!(out_task, err_task);
        let status = child.wait().await;
        (out, status)
    };
    let finished = tokio::select! {
        r = work => Some(r),
        _ = cancel.cancelled() => None,
    };
    let Some((out, status)) = finished else {
        // Reap it, so that nothing writes to the partial file once the caller removes it.
        let _ = child.kill().await;
        return Err(Error::Cancelled(format!(
            "{name}: cancelled; the child was killed"
        )));
    };
    let status = status.map_err(|source| Error::Io {
        what: format!("waiting for {name}"),
        source,
    })?;
    if !status.success() {
        return Err(failure(&name, status, &tail, env));
    }
    let utf8 = std::str::from_utf8(&out).is_ok();
    Ok(ChildOutput {
        stdout: String::from_utf8_lossy(&out).into_owned(),
        utf8,
    })
}
