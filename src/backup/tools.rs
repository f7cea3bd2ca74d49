//! Finding `pg_dump` and `pg_restore` whose major version can serve the server.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A usable pair of client tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    pub pg_dump: PathBuf,
    pub pg_restore: PathBuf,
    /// `pg_dump --version`'s version, e.g. `15.18`.
    pub version: String,
    pub major: u32,
}

/// Folders to look in, in order: the configured one alone when set; else `PATH`,
/// `pg_config --bindir`, `/usr/lib/postgresql/*/bin` and `/usr/pgsql-*/bin` (newest first).
pub fn candidate_dirs(configured: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = configured {
        // An explicit choice is honoured or refused, never silently replaced.
        return vec![dir.to_path_buf()];
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let d = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !d.is_empty() {
            dirs.push(PathBuf::from(d));
        }
    }
    dirs.extend(versioned(Path::new("/usr/lib/postgresql"), "", "bin"));
    dirs.extend(versioned(Path::new("/usr"), "pgsql-", "bin"));
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// `root/<prefix><major>/<sub>` folders, highest major first.
fn versioned(root: &Path, prefix: &str, sub: &str) -> Vec<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let major: u32 = name.strip_prefix(prefix)?.parse().ok()?;
            Some((major, e.path().join(sub)))
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found.into_iter().map(|(_, p)| p).collect()
}

/// Major version of a `pg_dump --version` line (`pg_dump (PostgreSQL) 15.18 (Debian…)`).
pub fn parse_version(line: &str) -> Option<(String, u32)> {
    let word = line
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let version: String = word
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let major = version.split('.').next()?.parse().ok()?;
    Some((version, major))
}

fn probe(dir: &Path) -> Option<Tools> {
    let pg_dump = dir.join("pg_dump");
    let pg_restore = dir.join("pg_restore");
    if !pg_dump.is_file() || !pg_restore.is_file() {
        return None;
    }
    // Debian's pg_wrapper (a Perl script) picks a version per call and costs a Perl start
    // each time; the versioned folders later in the list hold the real binaries.
    if std::fs::canonicalize(&pg_dump)
        .ok()
        .and_then(|p| p.file_name().map(|n| n == "pg_wrapper"))
        .unwrap_or(false)
    {
        return None;
    }
    let out = Command::new(&pg_dump).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let (version, major) = parse_version(&String::from_utf8_lossy(&out.stdout))?;
    Some(Tools {
        pg_dump,
        pg_restore,
        version,
        major,
    })
}

/// Tools found earlier in this process, by configured folder and server major: a restore
/// looks for them twice (verify, then restore), and each look runs `pg_config` and
/// `pg_dump --version` (tens of milliseconds, a third of a small tenant's restore).
type Found = Vec<((Option<PathBuf>, u32), Tools)>;
static FOUND: std::sync::Mutex<Found> = std::sync::Mutex::new(Vec::new());

/// The first tools (in [`candidate_dirs`] order) whose major version is at least
/// `server_major`; a clear error naming the server and everything found otherwise. A
/// result found before in this process is reused while both files are still there.
pub fn find_tools(configured: Option<&Path>, server_major: u32, server: &str) -> Result<Tools> {
    let key = (configured.map(Path::to_path_buf), server_major);
    if let Ok(found) = FOUND.lock()
        && let Some((_, t)) = found.iter().find(|(k, _)| *k == key)
        && t.pg_dump.is_file()
        && t.pg_restore.is_file()
    {
        return Ok(t.clone());
    }
    let mut found = Vec::new();
    for dir in candidate_dirs(configured) {
        if let Some(t) = probe(&dir) {
            if t.major >= server_major {
                if let Ok(mut cache) = FOUND.lock() {
                    cache.retain(|(k, _)| *k != key);
                    cache.push((key, t.clone()));
                }
                return Ok(t);
            }
            found.push(format!("{} in {}", t.version, dir.display()));
        }
    }
    let where_ = match configured {
        Some(d) => format!("pg_bin_dir {}", d.display()),
        None => "PATH, pg_config --bindir, /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin".into(),
    };
    Err(Error::Invalid(format!(
        "no pg_dump/pg_restore of major version {server_major} or newer (the server is PostgreSQL {server}) in {where_}; found: {}; install the client of version {server_major}+ (e.g. apt-get install postgresql-client-{server_major}) or set pg_bin_dir in the config",
        if found.is_empty() {
            "none".to_string()
        } else {
            found.join(", ")
        }
    )))
}
