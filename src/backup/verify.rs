//! `backups verify`: the file's sha256 against its manifest, and `pg_restore --list`.

use super::child::{self, ChildEnv};
use super::manifest::{self, BackupManifest, TableCount};
use super::{BackupSettings, Tools};
use crate::error::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// A backup that passed every check.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VerifyReport {
    pub path: PathBuf,
    pub manifest: BackupManifest,
    /// Entries in the archive's table of contents.
    pub toc_entries: usize,
}

/// Reads the archive's table of contents and checks the data of every manifest table is in it.
pub(crate) async fn check_archive(
    tools: &Tools,
    env: &ChildEnv,
    path: &Path,
    schema: &str,
    tables: &[TableCount],
    cancel: &CancellationToken,
) -> Result<usize> {
    let args = vec![
        std::ffi::OsString::from("--list"),
        path.as_os_str().to_owned(),
    ];
    let out = child::run(&tools.pg_restore, &args, env, true, cancel, |_| {})
        .await
        .map_err(|e| match e {
            Error::Invalid(m) => Error::Invalid(format!(
                "{} is not a readable archive ({m})",
                path.display()
            )),
            other => other,
        })?;
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .collect();
    for t in tables {
        let needle = format!(" TABLE DATA {schema} {} ", t.name);
        if !lines.iter().any(|l| l.contains(&needle)) {
            return Err(Error::Invalid(format!(
                "{}: the archive holds no data for table {}.{} named in its manifest",
                path.display(),
                schema,
                t.name
            )));
        }
    }
    Ok(lines.len())
}

/// Finds the backup: a path, or a file name in the backup folder.
pub fn resolve_path(settings: &BackupSettings, given: &Path) -> PathBuf {
    if given.exists() || given.components().count() > 1 {
        return given.to_path_buf();
    }
    settings.dir.join(given)
}

/// Checks size and sha256 against the manifest, then lists the archive with pg_restore.
/// Any mismatch is an error naming what differs.
pub async fn verify(
    settings: &BackupSettings,
    given: &Path,
    cancel: &CancellationToken,
) -> Result<VerifyReport> {
    let path = resolve_path(settings, given);
    if !path.is_file() {
        return Err(Error::Invalid(format!(
            "backup {} does not exist; `tenantctl backups list` shows the backups",
            path.display()
        )));
    }
    let mpath = manifest::manifest_path(&path);
    let m = manifest::read_manifest(&mpath).map_err(|e| match e {
        Error::Io { .. } => Error::Invalid(format!(
            "backup {} cannot be verified: it has no manifest ({} is missing)",
            path.display(),
            mpath.display()
        )),
        other => other,
    })?;
    let (_, major) = super::parse_version(&m.pg_dump_version).unwrap_or_default();
    // Off the async threads: a restore looks for its own tools meanwhile.
    let (dir, server) = (settings.pg_bin_dir.clone(), m.server_version.clone());
    let tools =
        tokio::task::spawn_blocking(move || super::find_tools(dir.as_deref(), major, &server))
            .await
            .map_err(|e| Error::Invalid(format!("looking for pg_restore: {e}")))??;
    let env = ChildEnv::new(&no_connection(), "")?;
    // Both read the whole file: side by side. A damaged file is reported as damaged,
    // whatever the listing made of it.
    let (digest, listed) = tokio::join!(
        super::dump::digest(&path),
        check_archive(&tools, &env, &path, &m.schema, &m.tables, cancel)
    );
    let (size, sha) = digest?;
    if size != m.size_bytes || sha != m.sha256 {
        return Err(Error::Invalid(format!(
            "backup {} is damaged: its size/sha256 ({size} bytes, {sha}) differ from the manifest's ({} bytes, {}); do not restore it",
            path.display(),
            m.size_bytes,
            m.sha256
        )));
    }
    let toc_entries = listed?;
    Ok(VerifyReport {
        path,
        manifest: m,
        toc_entries,
    })
}

/// Settings for a child that connects nowhere (`pg_restore --list`).
pub(crate) fn no_connection() -> crate::connect::ConnectionSpec {
    crate::connect::ConnectionSpec {
        host: String::new(),
        port: 5432,
        user: String::new(),
        dbname: String::new(),
        password: None,
        password_source: crate::connect::PasswordSource::None,
        sslmode: "prefer".into(),
        sslrootcert: None,
        application_name: crate::connect::DEFAULT_APPLICATION_NAME.into(),
        read_only: true,
        warnings: Vec::new(),
    }
}
