//! Per-tenant backups: finding pg_dump/pg_restore, dump with a manifest, verify, restore
//! beside or in place, kept copies, and deprovisioning behind a verified dump.
//! Knows nothing of the terminal: progress goes out on a channel, cancel comes in on a token.

mod child;
mod data_load;
mod deprovision;
mod dump;
mod kept;
mod lock;
mod manifest;
mod restore;
mod tools;
mod verify;

pub use child::ChildEnv;
pub use deprovision::{DropReport, drop_tenant};
pub use dump::{DumpReport, dump, dump_tenant};
pub use kept::{KeptCopy, kept, release};
pub(crate) use lock::BUSY_KEY;
pub use lock::{TenantBusy, holder_of};
pub use manifest::{
    BackupEntry, BackupManifest, RegistrySnapshot, TableCount, list, read_manifest,
};
pub use restore::{RestoreMode, RestoreReport, RestoreRequest, not_restored, restore};
pub use tools::{Tools, candidate_dirs, find_tools, parse_version};
pub use verify::{VerifyReport, verify};

use crate::error::{Error, Result};
use crate::job::{Progress, ProgressSender, report_progress};
use crate::names::{NamingPolicy, TenantId};
use crate::session::Session;
use serde::Serialize;
use std::path::PathBuf;

/// Where backups go and which client tools to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSettings {
    /// The backup folder (config `backup_dir`, `TENANTCTL_BACKUP_DIR`, or `--out`).
    pub dir: PathBuf,
    /// Config `pg_bin_dir`: the only folder searched for pg_dump/pg_restore when set.
    pub pg_bin_dir: Option<PathBuf>,
}

/// A step of a backup job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStep {
    Dump,
    Verify,
    ScratchRestore,
    Rename,
    ScratchDump,
    Restore,
    Swap,
    Analyze,
    Drop,
}

impl BackupStep {
    /// A few words for progress lines.
    pub fn label(self) -> &'static str {
        match self {
            BackupStep::Dump => "dumping",
            BackupStep::Verify => "verifying",
            BackupStep::ScratchRestore => "restoring into the scratch database",
            BackupStep::Rename => "renaming in the scratch database",
            BackupStep::ScratchDump => "dumping the renamed copy",
            BackupStep::Restore => "restoring beside the live tenant",
            BackupStep::Swap => "swapping",
            BackupStep::Analyze => "analyzing the restored tables",
            BackupStep::Drop => "dropping",
        }
    }
}

/// Sends a step report of a backup job: `done` of `total` tables (or objects) of `step`
/// for `tenant`; `current` reads "TENANT: STEP DETAIL". Reports that carry `landed` or
/// `failed` mark a tenant finished, and then `done`/`total` count tenants.
pub(crate) fn report<T>(
    progress: &ProgressSender<T>,
    tenant: &str,
    step: BackupStep,
    done: usize,
    total: usize,
    detail: &str,
) {
    let current = if detail.is_empty() {
        format!("{tenant}: {}", step.label())
    } else {
        format!("{tenant}: {} {detail}", step.label())
    };
    report_progress(
        progress,
        Progress {
            done,
            total,
            current,
            landed: Vec::new(),
            failed: Vec::new(),
        },
    );
}

/// The server's version, for choosing tools and for the manifest.
#[derive(Debug, Clone)]
pub(crate) struct ServerInfo {
    pub version: String,
    pub major: u32,
    pub database: String,
    pub role: String,
}

pub(crate) async fn server_info(session: &Session) -> Result<ServerInfo> {
    let (num, version, database, role): (String, String, String, String) = sqlx::query_as(
        "SELECT current_setting('server_version_num'), current_setting('server_version'),
                current_database()::text, session_user::text",
    )
    .fetch_one(&session.pool)
    .await
    .map_err(Error::db("reading the server version"))?;
    let major = num.parse::<u32>().unwrap_or(0) / 10000;
    Ok(ServerInfo {
        version,
        major,
        database,
        role,
    })
}

/// Prefix of the schema a restore builds beside the live one: outside the tenant prefix,
/// so it never shows as an unregistered tenant.
pub const SIDE_PREFIX: &str = "_side_";
/// Prefix of a kept copy (the previous contents after an in-place restore).
pub const KEPT_PREFIX: &str = "_kept_";

fn outside_prefix(names: &NamingPolicy, name: String) -> Result<String> {
    if name.starts_with(&names.schema_prefix) {
        return Err(Error::Invalid(format!(
            "schema_prefix {:?} also covers tenantctl's restore names ({name}); choose a prefix that does not start with '_'",
            names.schema_prefix
        )));
    }
    if name.len() > crate::names::MAX_IDENT_BYTES {
        return Err(Error::Invalid(format!(
            "{name} is longer than 63 bytes; tenant ids this long cannot be restored in place"
        )));
    }
    Ok(name)
}

/// The side schema of a restore into tenant `id`.
pub fn side_schema(names: &NamingPolicy, id: &TenantId) -> Result<String> {
    outside_prefix(names, format!("{SIDE_PREFIX}{id}"))
}

/// The kept copy's name for tenant `id` at `at`.
pub fn kept_schema(
    names: &NamingPolicy,
    id: &TenantId,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<String> {
    outside_prefix(
        names,
        format!("{KEPT_PREFIX}{id}_{}", at.format("%y%m%d%H%M%S%3f")),
    )
}

/// Best-effort console-log row for work that changed no table (a dump); a read-only
/// session or a failure to log never fails the dump itself.
pub(crate) async fn log_done(session: &Session, entry: &crate::journal::Entry<'_>) {
    if session.read_only() {
        return;
    }
    let _ = async {
        let mut tx = session.pool.begin().await.ok()?;
        crate::session::act_as_admin(&mut tx, &session.names)
            .await
            .ok()?;
        crate::journal::record(&mut tx, session, entry).await.ok()?;
        tx.commit().await.ok()
    }
    .await;
}
