//! The manifest beside every dump, backup file names, and listing the backup folder.

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Extension of a complete dump.
pub const DUMP_EXT: &str = "dump";
/// Extension of a complete manifest.
pub const MANIFEST_EXT: &str = "json";
/// Suffix of files being written: never mistaken for a backup.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// The registry row as it was when the dump was taken (config unmasked: the restore needs it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RegistrySnapshot {
    pub name: String,
    pub status: String,
    pub config: serde_json::Value,
    pub template_version: i32,
    /// The tenant's template pin; a restore puts it back (manifests older than the pin
    /// read as unpinned).
    #[serde(default)]
    pub pinned_version: Option<i32>,
}

/// One table and its exact row count, from the dump's own snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableCount {
    pub name: String,
    pub rows: i64,
}

/// What a dump holds and how to check it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupManifest {
    pub format: u32,
    pub tenant: String,
    pub schema: String,
    pub readonly_role: String,
    pub registry: RegistrySnapshot,
    pub database: String,
    pub server_version: String,
    pub pg_dump_version: String,
    pub tables: Vec<TableCount>,
    pub size_bytes: u64,
    pub sha256: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub os_user: String,
    pub db_role: String,
    /// File name of the dump, beside this manifest.
    pub file: String,
}

/// Base name of a backup: sorts by tenant, then time (`acme.20261129T012345123Z`).
pub fn base_name(tenant: &str, at: DateTime<Utc>) -> String {
    format!("{tenant}.{}", at.format("%Y%m%dT%H%M%S%3fZ"))
}

/// The manifest path of a dump path.
pub fn manifest_path(dump: &Path) -> PathBuf {
    dump.with_extension(MANIFEST_EXT)
}

/// Reads a manifest.
pub fn read_manifest(path: &Path) -> Result<BackupManifest> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        what: format!("reading manifest {}", path.display()),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Invalid(format!(
            "manifest {} is not a tenantctl manifest: {e}",
            path.display()
        ))
    })
}

/// One backup in the folder.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BackupEntry {
    pub path: PathBuf,
    pub tenant: String,
    pub schema: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub size_bytes: u64,
    pub sha256: Option<String>,
    pub server_version: Option<String>,
    pub pg_dump_version: Option<String>,
    pub template_version: Option<i32>,
    /// False when the manifest is missing, unreadable or disagrees with the file's size.
    pub verifiable: bool,
    /// Why it cannot be verified.
    pub problem: Option<String>,
}

/// Backups in `dir` (all, or one tenant's), newest first. Files being written are skipped.
pub fn list(dir: &Path, tenant: Option<&str>) -> Result<Vec<BackupEntry>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                what: format!("reading the backup folder {}", dir.display()),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || path.extension().and_then(|x| x.to_str()) != Some(DUMP_EXT) {
            continue;
        }
        let Some(file_tenant) = name.split('.').next().map(str::to_string) else {
            continue;
        };
        if tenant.is_some_and(|t| t != file_tenant) {
            continue;
        }
        let size = e.metadata().map(|m| m.len()).unwrap_or(0);
        let entry = match read_manifest(&manifest_path(&path)) {
            Ok(m) => {
                let problem = if m.size_bytes != size {
                    Some(format!(
                        "size {size} differs from the manifest's {}",
                        m.size_bytes
                    ))
                } else if m.tenant != file_tenant {
                    Some(format!("manifest names tenant {}", m.tenant))
                } else {
                    None
                };
                BackupEntry {
                    path: path.clone(),
                    tenant: m.tenant,
                    schema: Some(m.schema),
                    created_at: Some(m.finished_at),
                    size_bytes: size,
                    sha256: Some(m.sha256),
                    server_version: Some(m.server_version),
                    pg_dump_version: Some(m.pg_dump_version),
                    template_version: Some(m.registry.template_version),
                    verifiable: problem.is_none(),
                    problem,
                }
            }
            Err(err) => BackupEntry {
                path: path.clone(),
                tenant: file_tenant,
                schema: None,
                created_at: None,
                size_bytes: size,
                sha256: None,
                server_version: None,
                pg_dump_version: None,
                template_version: None,
                verifiable: false,
                problem: Some(match err {
                    Error::Io { .. } => "no manifest beside it".into(),
                    other => other.to_string(),
                }),
            },
        };
        out.push(entry);
    }
    // Newest first; unverifiable ones (no time) by name among themselves, last.
    out.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.path.cmp(&a.path))
    });
    Ok(out)
}
