//! `dump`: one tenant's schema with `pg_dump --format=custom`, under a temporary name until
//! it is complete and checked, with a manifest beside it.

use super::child::{self, ChildEnv};
use super::manifest::{self, BackupManifest, PARTIAL_SUFFIX, RegistrySnapshot, TableCount};
use super::{BackupSettings, BackupStep, report, server_info};
use crate::error::{Error, Result};
use crate::job::{ItemFailure, JobReport, Progress, ProgressSender, report_progress};
use crate::journal::Entry;
use crate::names::quote_ident;
use crate::session::Session;
use serde::Serialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// Exact row counts of every table of a schema in one statement (identifiers quoted by
/// the server's `format('%I')`; the tables found through `pg_depend`, indexed on the
/// schema, rather than by scanning all of pg_class). Tables that hold rows only: a partitioned table's rows
/// are its partitions' (the archive has no data entry for it, and verify looks for one
/// per manifest table).
const COUNT_ROWS: &str = r#"
SELECT c.relname::text,
       (xpath('/row/n/text()',
              query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
                           false, true, '')))[1]::text::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid IN (SELECT d.objid FROM pg_depend d
                WHERE d.refclassid = 'pg_namespace'::regclass
                  AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1)
                  AND d.classid = 'pg_class'::regclass)
  AND n.nspname = $1 AND c.relkind = 'r'
ORDER BY 1"#;

/// A finished dump.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DumpReport {
    pub path: PathBuf,
    pub manifest: BackupManifest,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Creates the backup folder (0700) if needed.
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(format!("creating the backup folder {}", dir.display())))
}

/// Size and sha256 of a file.
pub(crate) async fn digest(path: &Path) -> Result<(u64, String)> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<(u64, String)> {
        use sha2::{Digest, Sha256};
        use std::io::Read;
        let mut f =
            std::fs::File::open(&path).map_err(io(format!("reading {}", path.display())))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n: u64 = 0;
        loop {
            let k = f
                .read(&mut buf)
                .map_err(io(format!("reading {}", path.display())))?;
            if k == 0 {
                break;
            }
            n += k as u64;
            h.update(&buf[..k]);
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok((n, hex))
    })
    .await
    .map_err(|e| Error::Invalid(format!("hashing the dump: {e}")))?
}

/// Removes a file if it is there (cleanup: a failure here is not the error to report).
pub(crate) fn remove_quietly(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Dumps tenant `id` into `settings.dir`; returns the path of the checked backup. Progress
/// counts tables against the manifest's table count; cancel kills pg_dump and removes the
/// partial file. Nothing that looks like a backup exists until the dump is complete.
/// One tenant, its failure as the error: the building block of [`dump`] and `tenant drop`.
pub async fn dump_tenant<T>(
    session: &Session,
    settings: &BackupSettings,
    id: &str,
    progress: &ProgressSender<T>,
    cancel: &CancellationToken,
) -> Result<DumpReport> {
    let id = session.names.tenant_id(id)?;
    let (row, server) = tokio::try_join!(
        crate::catalog::tenant_row(session, id.as_str()),
        server_info(session)
    )?;
    let row = row
        .filter(|r| r.status != crate::catalog::TenantStatus::Unregistered)
        .ok_or_else(|| Error::NoSuchTenant(id.to_string()))?;
    if row.drift == crate::catalog::Drift::MissingSchema {
        return Err(Error::Conflict(format!(
            "dump {id}: schema {} does not exist; there is nothing to dump",
            row.schema
        )));
    }
    crate::citus::backup::refuse_dump(&row)?;
    // Finding the tools starts a process or two: it runs while the snapshot is set up.
    let finding = {
        let (dir, major, version) = (
            settings.pg_bin_dir.clone(),
            server.major,
            server.version.clone(),
        );
        tokio::task::spawn_blocking(move || super::find_tools(dir.as_deref(), major, &version))
    };
    ensure_dir(&settings.dir)?;
    let started = chrono::Utc::now();
    let base = manifest::base_name(id.as_str(), started);
    let final_dump = settings.dir.join(format!("{base}.{}", manifest::DUMP_EXT));
    let final_manifest = manifest::manifest_path(&final_dump);
    let tmp_dump = settings.dir.join(format!(".{base}.dump{PARTIAL_SUFFIX}"));
    let tmp_manifest = settings.dir.join(format!(".{base}.json{PARTIAL_SUFFIX}"));

    let work = async {
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Made 0600 before pg_dump writes a byte: a dump holds the tenant's data.
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp_dump)
                .map_err(io(format!("creating {}", tmp_dump.display())))?;
        }
        // One snapshot for the row counts and for pg_dump, so the manifest describes the dump.
        let mut snap = session
            .pool
            .acquire()
            .await
            .map_err(Error::db(format!("dump {id}: connecting")))?;
        snap.close_on_drop();
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *snap)
            .await
            .map_err(Error::db(format!("dump {id}: starting the snapshot")))?;
        // Counting must not wait forever behind a migration's lock.
        sqlx::query("SELECT set_config('lock_timeout', $1, true)")
            .bind(format!("{}ms", session.lock_timeout.as_millis()))
            .execute(&mut *snap)
            .await
            .map_err(Error::db(format!("dump {id}: setting lock_timeout")))?;
        let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *snap)
            .await
            .map_err(Error::db(format!("dump {id}: exporting the snapshot")))?;
        let total: i64 = sqlx::query_scalar(
            // Through pg_depend (indexed on the schema), not a scan of all of pg_class.
            "SELECT count(*) FROM pg_class c
             WHERE c.oid IN (SELECT d.objid FROM pg_depend d
                             WHERE d.refclassid = 'pg_namespace'::regclass
                               AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1)
                               AND d.classid = 'pg_class'::regclass)
               AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
               AND c.relkind = 'r'",
        )
        .bind(&row.schema)
        .fetch_one(&mut *snap)
        .await
        .map_err(Error::db(format!("dump {id}: counting tables")))?;
        let total = total as usize;
        let tools = finding
            .await
            .map_err(|e| Error::Invalid(format!("dump {id}: finding pg_dump: {e}")))??;
        report(progress, id.as_str(), BackupStep::Dump, 0, total, "");
        let env = ChildEnv::new(&session.spec, &server.database)?;
        let args: Vec<OsString> = vec![
            "--format=custom".into(),
            format!("--schema={}", quote_ident(&row.schema)).into(),
            format!("--snapshot={snapshot}").into(),
            format!("--lock-wait-timeout={}", session.lock_timeout.as_millis()).into(),
            "--verbose".into(),
            "--no-password".into(),
            {
                let mut f = OsString::from("--file=");
                f.push(&tmp_dump);
                f
            },
        ];
        let mut done = 0;
        let dumping = child::run(&tools.pg_dump, &args, &env, false, cancel, |line| {
            if let Some(rest) = line.split("dumping contents of table ").nth(1) {
                done += 1;
                report(
                    progress,
                    id.as_str(),
                    BackupStep::Dump,
                    done.min(total),
                    total,
                    rest.trim_matches('"'),
                );
            }
        });
        // The exact row counts scan the same data pg_dump reads, in the same snapshot:
        // counting alongside it, on the server's other core, keeps the dump's wall time.
        let counting = async {
            tokio::select! {
                r = sqlx::query_as::<_, (String, i64)>(COUNT_ROWS).bind(&row.schema).fetch_all(&mut *snap) => {
                    r.map_err(Error::db(format!("dump {id}: counting rows")))
                }
                _ = cancel.cancelled() => Err(Error::Cancelled(format!("dump {id}: cancelled"))),
            }
        };
        let (dumped, counts) = tokio::join!(dumping, counting);
        dumped.map_err(|e| prefixed(e, &format!("dump {id}")))?;
        let counts = counts?;
        let _ = sqlx::query("ROLLBACK").execute(&mut *snap).await;
        drop(snap);
        std::fs::File::open(&tmp_dump)
            .and_then(|f| f.sync_all())
            .map_err(io(format!("syncing {}", tmp_dump.display())))?;
        report(progress, id.as_str(), BackupStep::Verify, 0, 1, "");
        let tables: Vec<TableCount> = counts
            .into_iter()
            .map(|(name, rows)| TableCount { name, rows })
            .collect();
        // Both read the finished file (from the page cache): side by side, not one after
        // the other.
        let ((size_bytes, sha256), _) = tokio::try_join!(
            digest(&tmp_dump),
            super::verify::check_archive(&tools, &env, &tmp_dump, &row.schema, &tables, cancel)
        )?;
        let manifest = BackupManifest {
            format: 1,
            tenant: id.to_string(),
            schema: row.schema.clone(),
            readonly_role: session.names.readonly_role_of(&id),
            registry: RegistrySnapshot {
                name: row.name.clone(),
                status: row.status.to_string(),
                config: row.config.clone(),
                template_version: row.template_version,
                pinned_version: row.pinned_version,
            },
            database: server.database.clone(),
            server_version: server.version.clone(),
            pg_dump_version: tools.version.clone(),
            tables,
            size_bytes,
            sha256,
            started_at: started,
            finished_at: chrono::Utc::now(),
            os_user: session.os_user.clone(),
            db_role: server.role.clone(),
            file: final_dump
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        write_private(
            &tmp_manifest,
            &serde_json::to_vec_pretty(&manifest)
                .map_err(|e| Error::Invalid(format!("encoding the manifest: {e}")))?,
        )?;
        if cancel.is_cancelled() {
            return Err(Error::Cancelled(format!("dump {id}: cancelled")));
        }
        // The dump first: a crash between the renames leaves a dump listed as unverifiable
        // (no manifest), never a manifest pointing at nothing.
        std::fs::rename(&tmp_dump, &final_dump)
            .map_err(io(format!("renaming to {}", final_dump.display())))?;
        std::fs::rename(&tmp_manifest, &final_manifest)
            .map_err(io(format!("renaming to {}", final_manifest.display())))?;
        if let Ok(d) = std::fs::File::open(&settings.dir) {
            let _ = d.sync_all();
        }
        report(progress, id.as_str(), BackupStep::Verify, 1, 1, "");
        Ok(manifest)
    };
    match work.await {
        Ok(manifest) => {
            super::log_done(
                session,
                &Entry {
                    action: "dump",
                    tenant: Some(id.as_str()),
                    sql_summary: format!("pg_dump --schema {}", row.schema),
                    outcome: "ok".into(),
                    detail: Some(serde_json::json!({
                        "path": final_dump, "sha256": manifest.sha256, "size_bytes": manifest.size_bytes
                    })),
                },
            )
            .await;
            Ok(DumpReport {
                path: final_dump,
                manifest,
            })
        }
        Err(e) => {
            remove_quietly(&tmp_dump);
            remove_quietly(&tmp_manifest);
            Err(e)
        }
    }
}

/// Puts `what` in front of a child's failure, so the message says which job failed.
pub(crate) fn prefixed(e: Error, what: &str) -> Error {
    match e {
        Error::Invalid(m) => Error::Invalid(format!("{what}: {m}; no backup was written")),
        Error::Cancelled(m) => Error::Cancelled(format!("{what}: {m}; no backup was written")),
        other => other,
    }
}

/// Writes a file readable by its owner only, synced.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(format!("writing {}", path.display())))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(io(format!("writing {}", path.display())))
}

/// Reads the registry's tenant ids, in id order.
const REGISTRY_IDS: &str = "SELECT id FROM {{registry}} ORDER BY id";

/// Dumps the tenants `ids` (every registered tenant when `None`), `jobs` at a time, under
/// the long-job contract: each tenant lands in `done` or `failed`, and the ones a cancel
/// kept from starting in `not_tried`. `Err` only when the job cannot start (an id that is
/// not valid or not registered, no registry).
pub async fn dump(
    session: &Session,
    settings: &BackupSettings,
    ids: Option<Vec<String>>,
    jobs: usize,
    progress: &ProgressSender<DumpReport>,
    cancel: &CancellationToken,
) -> Result<JobReport<DumpReport>> {
    let registered: Vec<String> =
        sqlx::query_scalar(&session.names.template_vars().render(REGISTRY_IDS)?)
            .fetch_all(&session.pool)
            .await
            .map_err(|e| crate::catalog::registry_error(session, e))?;
    let ids = match ids {
        None => registered,
        Some(ids) => {
            for id in &ids {
                let id = session.names.tenant_id(id)?;
                if !registered.iter().any(|r| r == id.as_str()) {
                    return Err(Error::NoSuchTenant(id.to_string()));
                }
            }
            ids
        }
    };
    let total = ids.len();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, id) in ids.iter().cloned().enumerate() {
        let (session, settings, progress, cancel, sem) = (
            session.clone(),
            settings.clone(),
            progress.clone(),
            cancel.clone(),
            sem.clone(),
        );
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            if cancel.is_cancelled() {
                return (i, id, None);
            }
            let r = dump_tenant(&session, &settings, &id, &progress, &cancel).await;
            (i, id, Some(r))
        });
    }
    let mut out: Vec<(usize, String, Option<Result<DumpReport>>)> = Vec::new();
    let mut finished = 0;
    while let Some(r) = set.join_next().await {
        let (i, id, r) = r.map_err(|e| Error::Invalid(format!("a dump task failed: {e}")))?;
        let mut p = Progress {
            done: 0,
            total,
            current: id.clone(),
            landed: Vec::new(),
            failed: Vec::new(),
        };
        match &r {
            Some(Ok(d)) => p.landed.push(d.clone()),
            Some(Err(e)) => p.failed.push(ItemFailure {
                item: id.clone(),
                error: e.to_string(),
            }),
            None => {}
        }
        if r.is_some() {
            finished += 1;
            p.done = finished;
            report_progress(progress, p);
        }
        out.push((i, id, r));
    }
    out.sort_by_key(|x| x.0);
    let mut report = JobReport {
        cancelled: cancel.is_cancelled(),
        ..JobReport::default()
    };
    for (_, id, r) in out {
        match r {
            Some(Ok(d)) => report.done.push(d),
            Some(Err(Error::Cancelled(_))) | None => report.not_tried.push(id),
            Some(Err(e)) => report.failed.push(ItemFailure {
                item: id,
                error: e.to_string(),
            }),
        }
    }
    Ok(report)
}
