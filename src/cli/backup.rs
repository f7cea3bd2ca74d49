//! `tenantctl dump`, `restore` and `backups ...`, and the progress/cancel plumbing they share
//! with `tenant drop`.

use super::output::{self, Align, Table};
use super::{Context, EXIT_OK, Format};
use crate::backup::{self, BackupSettings};
use crate::error::{Error, Result};
use crate::job::ProgressSender;
use crate::session::Session;
use crate::units::human_bytes;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// `dump` arguments.
#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// Tenant id
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub id: Option<String>,
    /// Every tenant in the registry
    #[arg(long)]
    pub all: bool,
    /// Folder to write to [default: $TENANTCTL_BACKUP_DIR, else the config's backup_dir]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Dumps running at once with --all
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
}

/// `restore` arguments.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The tenant the backup is of
    pub id: String,
    /// The backup: a path, or a file name in the backup folder
    pub backup: PathBuf,
    /// Restore beside the live tenant as this new tenant (the live one is not touched)
    #[arg(long = "as", value_name = "NEW_ID")]
    pub as_id: Option<String>,
    /// In place: take name, status and config from the backup's registry row too
    #[arg(long)]
    pub registry_from_backup: bool,
    /// Do not ask for confirmation (required without a terminal for an in-place restore)
    #[arg(long)]
    pub yes: bool,
}

/// `backups` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BackupsCommand {
    /// Backups in the backup folder, newest first; unverifiable ones are marked
    List {
        /// Only this tenant's
        id: Option<String>,
    },
    /// Check a backup's sha256 against its manifest and list the archive; exit 2 on any mismatch
    Verify {
        /// The backup: a path, or a file name in the backup folder
        backup: PathBuf,
    },
    /// Previous contents kept by in-place restores
    Kept {
        /// Only this tenant's
        id: Option<String>,
    },
    /// Drop kept previous contents
    Release {
        /// Kept copies to drop (names from `backups kept`)
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        names: Vec<String>,
        /// Every kept copy
        #[arg(long)]
        all: bool,
        /// Do not ask for confirmation (required without a terminal)
        #[arg(long)]
        yes: bool,
    },
}

/// The backup folder and tools, from `--out`, `TENANTCTL_BACKUP_DIR` or the config.
pub fn settings(ctx: &Context, out: Option<&PathBuf>) -> Result<BackupSettings> {
    let dir = out.cloned().or_else(|| ctx.loaded.backup_dir()).ok_or_else(|| {
        Error::Invalid(
            "no backup folder: set backup_dir in the config or TENANTCTL_BACKUP_DIR, or pass --out DIR"
                .into(),
        )
    })?;
    Ok(BackupSettings {
        dir,
        pg_bin_dir: ctx.loaded.config.pg_bin_dir.clone(),
    })
}

/// A progress channel printing to stderr, and a token Ctrl-C cancels.
pub fn progress_and_cancel<T: Send + 'static>() -> (
    ProgressSender<T>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = crate::job::progress_channel::<T>();
    let cancel = super::progress::ctrl_c_cancels("cancelling…");
    let printer = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            if let Some(f) = p.failed.first() {
                eprintln!("[{}/{}] {} FAILED: {}", p.done, p.total, f.item, f.error);
            } else if !p.landed.is_empty() {
                eprintln!("[{}/{}] {} done", p.done, p.total, p.current);
            } else if p.total > 0 && p.done > 0 {
                eprintln!("{} {}/{}", p.current, p.done, p.total);
            } else if p.done == 0 {
                eprintln!("{}", p.current);
            }
        }
    });
    (tx, cancel, printer)
}

/// Refuses a destructive step without `--yes` unless a terminal user types `expected`.
pub fn confirm(yes: bool, what: &str, expected: &str) -> Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Invalid(format!(
            "{what} needs confirmation: add --yes (no terminal to ask on); nothing was changed"
        )));
    }
    eprint!("{what}\ntype {expected} to go on: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|source| Error::Io {
            what: "reading the confirmation".into(),
            source,
        })?;
    if line.trim() != expected {
        return Err(Error::Invalid("not confirmed; nothing was changed".into()));
    }
    Ok(())
}

/// Runs `dump`.
pub async fn dump(ctx: &Context, args: &DumpArgs) -> Result<u8> {
    let settings = settings(ctx, args.out.as_ref())?;
    let jobs = usize::from(args.jobs);
    let session = Session::open(
        ctx.spec()?,
        ctx.loaded.config.naming.clone(),
        ctx.loaded.config.lock_timeout(),
        (jobs as u32) * 2 + 2,
    )
    .await?;
    let (tx, cancel, printer) = progress_and_cancel();
    let ids = args.id.clone().map(|id| vec![id]);
    let report = backup::dump(&session, &settings, ids, jobs, &tx, &cancel).await;
    drop(tx);
    let _ = printer.await;
    let report = report?;
    match ctx.format {
        Format::Json if args.id.is_some() && report.complete() => {
            output::print_json(&report.done[0])?
        }
        Format::Json => output::print_json(&report)?,
        Format::Text => {
            for f in &report.failed {
                eprintln!("error: dump {}: {}", f.item, f.error);
            }
            if !report.not_tried.is_empty() {
                eprintln!("not tried: {}", report.not_tried.join(" "));
            }
            for r in &report.done {
                outln!("{}", r.path.display());
            }
        }
    }
    match report.shortfall("dump(s)") {
        None => Ok(EXIT_OK),
        Some(shortfall) => Err(Error::Incomplete(format!(
            "dump did not finish: {shortfall}; {} backup(s) were written; rerun for the rest",
            report.done.len()
        ))),
    }
}

/// Runs `restore`.
pub async fn restore(ctx: &Context, args: &RestoreArgs) -> Result<u8> {
    let settings = settings(ctx, None)?;
    let session = ctx.session().await?;
    let id = session.names.tenant_id(&args.id)?;
    let registered = crate::catalog::tenant_row(&session, id.as_str())
        .await?
        .is_some_and(|r| r.status != crate::catalog::TenantStatus::Unregistered);
    if args.as_id.is_none() && registered {
        confirm(
            args.yes,
            &format!(
                "restore {id} in place from {}: its current contents are swapped out and kept (closed to every application role) until `backups release`",
                args.backup.display()
            ),
            id.as_str(),
        )?;
    }
    let mode = match (&args.as_id, registered) {
        (Some(_), _) => backup::RestoreMode::Beside,
        (None, true) => backup::RestoreMode::InPlace,
        (None, false) => backup::RestoreMode::Recreated,
    };
    let (tx, cancel, printer) = progress_and_cancel();
    let req = backup::RestoreRequest {
        id: args.id.clone(),
        backup: args.backup.clone(),
        as_id: args.as_id.clone(),
        registry_from_backup: args.registry_from_backup,
    };
    let r = backup::restore(&session, &settings, &req, &tx, &cancel).await;
    drop(tx);
    let _ = printer.await;
    let report = r?;
    match ctx.format {
        Format::Json if report.complete() => output::print_json(&report.done[0])?,
        Format::Json => output::print_json(&report)?,
        Format::Text => {
            for f in &report.failed {
                eprintln!("error: {}: {}", f.item, f.error);
            }
            if let Some(r) = report.done.first() {
                outln!("{}", r.line());
            }
        }
    }
    let target = match &args.as_id {
        Some(a) => session.names.tenant_id(a)?,
        None => id,
    };
    match report.shortfall("step(s)") {
        None => Ok(EXIT_OK),
        Some(shortfall) => Err(Error::Incomplete(format!(
            "restore did not finish: {shortfall}; {}",
            match report.done.first() {
                Some(_) =>
                    format!("tenant {target} holds the backup's data (the restore committed)"),
                None => format!(
                    "{}; rerun the restore to finish",
                    backup::not_restored(mode, &target)
                ),
            }
        ))),
    }
}

/// Runs a `backups` subcommand.
pub async fn backups(ctx: &Context, cmd: &BackupsCommand) -> Result<u8> {
    match cmd {
        BackupsCommand::List { id } => {
            let settings = settings(ctx, None)?;
            if let Some(id) = id {
                ctx.loaded.config.naming.tenant_id(id)?;
            }
            let entries = backup::list(&settings.dir, id.as_deref())?;
            match ctx.format {
                Format::Json => output::print_json(&entries)?,
                Format::Text => out!("{}", backup_table(&entries)),
            }
        }
        BackupsCommand::Verify { backup: path } => {
            let settings = settings(ctx, None)?;
            let r = backup::verify(&settings, path, &CancellationToken::new()).await?;
            match ctx.format {
                Format::Json => output::print_json(&r)?,
                Format::Text => outln!(
                    "{}: ok (sha256 {}, {} archive entries, tenant {}, {} tables)",
                    r.path.display(),
                    r.manifest.sha256,
                    r.toc_entries,
                    r.manifest.tenant,
                    r.manifest.tables.len()
                ),
            }
        }
        BackupsCommand::Kept { id } => {
            let session = ctx.session().await?;
            let kept = backup::kept(&session, id.as_deref()).await?;
            match ctx.format {
                Format::Json => output::print_json(&kept)?,
                Format::Text => {
                    let mut t = Table::new(&[
                        ("NAME", Align::Left),
                        ("TENANT", Align::Left),
                        ("KEPT AT", Align::Left),
                        ("SIZE", Align::Right),
                    ]);
                    for k in &kept {
                        t.row(vec![
                            k.name.clone(),
                            k.tenant.clone().unwrap_or_else(|| "?".into()),
                            k.kept_at
                                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                                .unwrap_or_default(),
                            human_bytes(k.size_bytes),
                        ]);
                    }
                    out!("{}", t.render(80));
                }
            }
        }
        BackupsCommand::Release { names, all, yes } => {
            let session = ctx.session().await?;
            let which = if *all { None } else { Some(names.as_slice()) };
            let what = if *all {
                "drop every kept copy".to_string()
            } else {
                format!("drop the kept copies {}", names.join(", "))
            };
            confirm(*yes, &what, "yes")?;
            let dropped = backup::release(&session, which).await?;
            match ctx.format {
                Format::Json => output::print_json(&dropped)?,
                Format::Text if dropped.is_empty() => outln!("no kept copies"),
                Format::Text => outln!("dropped {}", dropped.join(", ")),
            }
        }
    }
    Ok(EXIT_OK)
}

/// Backups as a table.
pub fn backup_table(entries: &[backup::BackupEntry]) -> String {
    let mut t = Table::new(&[
        ("CREATED", Align::Left),
        ("TENANT", Align::Left),
        ("SIZE", Align::Right),
        ("STATE", Align::Left),
        ("FILE", Align::Left),
    ]);
    for e in entries {
        t.row(vec![
            e.created_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "?".into()),
            e.tenant.clone(),
            human_bytes(e.size_bytes as i64),
            match &e.problem {
                None => "ok".into(),
                Some(p) => format!("UNVERIFIABLE: {p}"),
            },
            e.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ]);
    }
    t.render(120)
}
