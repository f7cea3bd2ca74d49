//! `restore`: a backup beside the live tenant under a new id, or in place of it with an
//! atomic swap that keeps the previous contents. pg_restore cannot rename a schema and text
//! substitution on a dump is unsafe, so the archive's schema objects go through the scratch
//! database: restore there, rename, dump the renamed objects, restore those here under a
//! side name outside the tenant prefix. The rows name no schema: they are loaded once,
//! straight from the backup ([`super::data_load`]). One short transaction then makes the
//! side schema the tenant.

use super::child::{self, ChildEnv};
use super::data_load;
use super::lock::TenantBusy;
use super::manifest::BackupManifest;
use super::{BackupSettings, BackupStep, Tools, report, server_info};
use crate::error::{Error, Result};
use crate::job::{ItemFailure, JobReport, ProgressSender};
use crate::journal::{self, Entry};
use crate::names::{NamingPolicy, TenantId, quote_ident};
use crate::session::Session;
use crate::sql::SqlVars;
use serde::Serialize;
use sqlx::Connection;
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

mod load;
mod scratch;
mod swap;

const TRANSFER_READONLY: &str = include_str!("../../../assets/backup/transfer_readonly.sql");
const CLOSE_KEPT: &str = include_str!("../../../assets/backup/close_kept.sql");
const OLD_NAMES: &str = include_str!("../../../assets/backup/old_names.sql");

/// Comment on a read-only role made for a restore that has not committed yet; a rerun
/// may adopt or drop such a role.
const PENDING_ROLE: &str = "tenantctl: pending restore";

/// What to restore, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRequest {
    /// The tenant the backup is of.
    pub id: String,
    /// The backup: a path, or a file name in the backup folder.
    pub backup: PathBuf,
    /// Restore beside, as this new tenant.
    pub as_id: Option<String>,
    /// In place: take name, status and config from the backup's registry row too.
    pub registry_from_backup: bool,
}

/// How a restore was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreMode {
    /// The live tenant's contents were swapped for the backup's; the old ones are kept.
    InPlace,
    /// A new tenant was made from the backup; the live one was not touched.
    Beside,
    /// The tenant was not registered (dropped); it was made again from the backup.
    Recreated,
}

/// A finished restore.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RestoreReport {
    pub tenant: String,
    pub mode: RestoreMode,
    pub schema: String,
    pub backup: PathBuf,
    /// The kept copy of the previous contents (in place only).
    pub kept: Option<String>,
}

impl RestoreReport {
    /// One line for a committed restore.
    pub fn line(&self) -> String {
        match (&self.mode, &self.kept) {
            (RestoreMode::InPlace, Some(kept)) => format!(
                "restored tenant {} in place from {}; its previous contents are kept as {kept} (`tenantctl backups release {kept}` drops them)",
                self.tenant,
                self.backup.display()
            ),
            (RestoreMode::Beside, _) => format!(
                "restored {} beside as tenant {} in schema {}",
                self.backup.display(),
                self.tenant,
                self.schema
            ),
            _ => format!(
                "re-created tenant {} in schema {} from {}",
                self.tenant,
                self.schema,
                self.backup.display()
            ),
        }
    }
}

/// The scratch database of this database, made by `init` and owned by the admin role.
pub(crate) async fn scratch_name(conn: &mut sqlx::PgConnection) -> Result<String> {
    sqlx::query_scalar(
        "SELECT 'tenantctl_scratch_' || oid::text FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(conn)
    .await
    .map_err(Error::db("finding the scratch database"))
}

/// The tables of a schema (partitioned parents too), found through `pg_depend` (indexed on
/// the schema; filtering pg_class on relnamespace scans all of it: 4-5 ms at 2,000 tenants).
const LIVE_TABLES: &str = "SELECT c.relname::text FROM pg_class c
     WHERE c.oid IN (SELECT d.objid FROM pg_depend d
                     WHERE d.refclassid = 'pg_namespace'::regclass
                       AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1)
                       AND d.classid = 'pg_class'::regclass)
       AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
       AND c.relkind IN ('r', 'p') ORDER BY 1";

/// Renames a schema.
const RENAME_SCHEMA: &str = "ALTER SCHEMA {{from}} RENAME TO {{to}}";

/// Whether a table of schema $1 has a column whose values name objects by schema (a reg*
/// type, directly or inside an array, domain or composite type).
const NAMES_IN_ROWS: &str = "
WITH RECURSIVE ty(oid) AS (
    SELECT a.atttypid
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  UNION
    SELECT s.x
    FROM ty JOIN pg_type t ON t.oid = ty.oid,
         LATERAL (SELECT t.typelem
                  UNION ALL SELECT t.typbasetype
                  UNION ALL SELECT a.atttypid FROM pg_attribute a
                            WHERE a.attrelid = t.typrelid AND a.attnum > 0) s(x)
    WHERE s.x <> 0
)
SELECT EXISTS (
    SELECT 1 FROM ty JOIN pg_type t ON t.oid = ty.oid
    WHERE t.typnamespace = 'pg_catalog'::regnamespace
      AND t.typname IN ('regclass', 'regproc', 'regprocedure', 'regoper', 'regoperator',
                        'regconfig', 'regdictionary', 'regnamespace', 'regrole', 'regtype',
                        'regcollation'))";

/// Restores a backup: in place when `as_id` is none and the tenant is registered, beside as
/// `as_id`, or re-creates a dropped tenant. Verifies first; holds the tenant's busy lock
/// throughout. On the long-job contract: `Err` when it could not start (nothing written);
/// otherwise the report's `done` holds the restore exactly when the tenant holds the
/// backup's data, and a failed or cancelled step says the tenant is as it was.
pub async fn restore(
    session: &Session,
    settings: &BackupSettings,
    req: &RestoreRequest,
    progress: &ProgressSender<RestoreReport>,
    cancel: &CancellationToken,
) -> Result<JobReport<RestoreReport>> {
    session.ensure_writable("restore")?;
    let names = &session.names;
    let id = names.tenant_id(&req.id)?;
    crate::citus::backup::refuse_restore(session, id.as_str())?;
    let target = match &req.as_id {
        Some(a) => names.tenant_id(a)?,
        None => id.clone(),
    };
    report(progress, target.as_str(), BackupStep::Verify, 0, 1, "");
    // The server's version and the tools for it are found while the backup is verified:
    // each starts a process or two.
    let found = async {
        let server = server_info(session).await?;
        let (dir, major, version) = (
            settings.pg_bin_dir.clone(),
            server.major,
            server.version.clone(),
        );
        let tools =
            tokio::task::spawn_blocking(move || super::find_tools(dir.as_deref(), major, &version))
                .await
                .map_err(|e| Error::Invalid(format!("restore: looking for pg_restore: {e}")))?;
        Ok::<_, Error>((server, tools))
    };
    let (verified, found) = tokio::join!(super::verify(settings, &req.backup, cancel), found);
    let verified = verified?;
    let (server, tools) = found?;
    report(progress, target.as_str(), BackupStep::Verify, 1, 1, "");
    let m = verified.manifest;
    if m.tenant != id.as_str() {
        return Err(Error::Invalid(format!(
            "backup {} is of tenant {}, not {id}; name {} as the ID (add --as NEW_ID for a copy)",
            verified.path.display(),
            m.tenant,
            m.tenant
        )));
    }
    let side = super::side_schema(names, &target)?;
    let action = if req.as_id.is_some() {
        "restore beside"
    } else {
        "restore"
    };
    let mut busy =
        TenantBusy::hold(session, &target, &format!("tenantctl {action} {target}")).await?;
    let tools = tools?;
    let registered: bool = sqlx::query_scalar(
        &names
            .template_vars()
            .render("SELECT EXISTS (SELECT 1 FROM {{registry}} WHERE id = $1)")?,
    )
    .bind(target.as_str())
    .fetch_one(&mut *busy.conn)
    .await
    .map_err(|e| crate::catalog::registry_error(session, e))?;
    let mode = match (&req.as_id, registered) {
        (Some(_), true) => {
            return Err(Error::Conflict(format!(
                "tenant {target} already exists; choose another --as id; nothing was changed"
            )));
        }
        (Some(_), false) => RestoreMode::Beside,
        (None, true) => RestoreMode::InPlace,
        (None, false) => RestoreMode::Recreated,
    };
    let schema = names.schema_of(&target);
    let new_ro = names.readonly_role_of(&target);
    let summary = match mode {
        RestoreMode::InPlace => format!(
            "pg_restore via scratch as {side}; swap {schema} -> kept copy, {side} -> {schema}; revoke on the kept copy; model grants"
        ),
        _ => format!(
            "pg_restore via scratch as {side}; RENAME {side} -> {schema}; INSERT registry row; role {new_ro}; model grants"
        ),
    };
    let kept = match mode {
        RestoreMode::InPlace => Some(super::kept_schema(names, &target, chrono::Utc::now())?),
        _ => None,
    };
    let job = Job {
        session,
        tools: &tools,
        database: &server.database,
        m: &m,
        archive: &verified.path,
        target: &target,
        side: &side,
        kept: kept.as_deref(),
        mode,
        registry_from_backup: req.registry_from_backup,
        progress,
        cancel,
        at: std::sync::Mutex::new(BackupStep::Verify),
    };
    let mut made_roles: Vec<String> = Vec::new();
    let result = job.run(&mut busy, &mut made_roles).await;
    let result = match result {
        Err(e) if job.committed().await == Some(true) => {
            // The connection died at the commit, or after it: the swap is in.
            let mut report = job.finished();
            report.failed.push(ItemFailure {
                item: format!("{target}: {}", job.at().label()),
                error: format!(
                    "{e}; the change did commit: tenant {target} holds the backup's data"
                ),
            });
            return Ok(report);
        }
        other => other,
    };
    match result {
        Ok(done) => {
            // A read-only role made only so the archive could be restored into the scratch
            // database (the old tenant's, when it is gone) is no longer needed.
            for role in made_roles.iter().filter(|r| **r != new_ro) {
                let _ = drop_pending_role(&mut busy, session, role).await;
            }
            Ok(JobReport {
                done: vec![done],
                ..JobReport::default()
            })
        }
        Err(e) => {
            // Nothing outside the tenant prefix needs to survive a failure.
            let _ = drop_side(&mut busy, session, &side).await;
            for role in &made_roles {
                let _ = drop_pending_role(&mut busy, session, role).await;
            }
            drop(busy);
            let state = not_restored(mode, &target);
            let cancelled = matches!(e, Error::Cancelled(_));
            let e = match e {
                Error::Invalid(msg) => Error::Invalid(format!("{msg}; {state}")),
                Error::Conflict(msg) => Error::Conflict(format!("{msg}; {state}")),
                Error::Cancelled(msg) => Error::Cancelled(format!("{msg}; {state}")),
                Error::Db { during, source } => Error::Db {
                    during: format!("{during} ({state})"),
                    source,
                },
                other => Error::Invalid(format!("{other}; {state}")),
            };
            let logged = crate::tenant::failed::<()>(session, action, target.as_str(), &summary, e)
                .await
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            let at = job.at();
            let mut report = JobReport {
                cancelled,
                ..JobReport::default()
            };
            let mut rest = STEPS.iter().skip_while(|s| **s != at);
            if cancelled {
                report.not_tried = rest.map(|s| format!("{target}: {}", s.label())).collect();
            } else {
                rest.next();
                report.failed.push(ItemFailure {
                    item: format!("{target}: {}", at.label()),
                    error: logged,
                });
                report.not_tried = rest.map(|s| format!("{target}: {}", s.label())).collect();
            }
            Ok(report)
        }
    }
}

/// The steps of a restore after verifying, in order (the items of its job report).
const STEPS: [BackupStep; 6] = [
    BackupStep::ScratchRestore,
    BackupStep::Rename,
    BackupStep::ScratchDump,
    BackupStep::Restore,
    BackupStep::Analyze,
    BackupStep::Swap,
];

/// What a restore that did not commit left: the tenant as it was.
pub fn not_restored(mode: RestoreMode, target: &TenantId) -> String {
    match mode {
        RestoreMode::InPlace => format!("tenant {target} still holds its previous data"),
        RestoreMode::Beside => format!("tenant {target} was not created"),
        RestoreMode::Recreated => format!("tenant {target} was not re-created"),
    }
}

struct Job<'a> {
    session: &'a Session,
    tools: &'a Tools,
    database: &'a str,
    m: &'a BackupManifest,
    archive: &'a Path,
    target: &'a TenantId,
    side: &'a str,
    /// The kept copy's name (in place only).
    kept: Option<&'a str>,
    mode: RestoreMode,
    registry_from_backup: bool,
    progress: &'a ProgressSender<RestoreReport>,
    cancel: &'a CancellationToken,
    /// The step under way, for the report of a failure or cancel.
    at: std::sync::Mutex<BackupStep>,
}

impl Job<'_> {
    /// Runs pg_restore of `archive` into `database`, reporting each table's data as a
    /// step of `step` out of `total`.
    async fn pg_restore(
        &self,
        database: &str,
        archive: &Path,
        sections: &[&str],
        step: BackupStep,
        total: usize,
    ) -> Result<child::ChildOutput> {
        let env = ChildEnv::new(&self.session.spec, database)?;
        let mut done = 0;
        child::run(
            &self.tools.pg_restore,
            &restore_args(&self.session.names, database, archive, sections),
            &env,
            false,
            self.cancel,
            |line| {
                if let Some(t) = line.split("processing data for table ").nth(1) {
                    done += 1;
                    report(
                        self.progress,
                        self.target.as_str(),
                        step,
                        done.min(total),
                        total,
                        t.trim_matches('"'),
                    );
                }
            },
        )
        .await
    }

    fn step(&self, step: BackupStep, done: usize, total: usize, detail: &str) {
        if let Ok(mut at) = self.at.lock() {
            *at = step;
        }
        report(
            self.progress,
            self.target.as_str(),
            step,
            done,
            total,
            detail,
        );
    }

    fn check_cancel(&self) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(Error::Cancelled(format!(
                "restore {}: cancelled",
                self.target
            )));
        }
        Ok(())
    }

    async fn run(
        &self,
        busy: &mut TenantBusy,
        made_roles: &mut Vec<String>,
    ) -> Result<RestoreReport> {
        let names = &self.session.names;
        let schema = names.schema_of(self.target);
        let new_ro = names.readonly_role_of(self.target);
        let old_ro = self.m.readonly_role.clone();
        if self.mode != RestoreMode::InPlace {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                    .bind(&schema)
                    .fetch_one(&mut *busy.conn)
                    .await
                    .map_err(Error::db("restore: looking for the schema"))?;
            if exists {
                return Err(Error::Conflict(format!(
                    "restore {}: schema {schema} exists without a registry row (drift); adopt, rename or drop it first",
                    self.target
                )));
            }
            // The archive names the old read-only role: it must exist for the scratch
            // restore, and the new one must exist for the policies that move to it.
            for role in [&old_ro, &new_ro] {
                match role_state(busy, role).await? {
                    RoleState::Missing => {
                        create_pending_role(busy, self.session, role).await?;
                        made_roles.push(role.clone());
                    }
                    RoleState::Pending => made_roles.push(role.clone()),
                    RoleState::Taken if *role == new_ro => {
                        return Err(Error::Conflict(format!(
                            "restore {}: role {new_ro} already exists; drop it or choose another id",
                            self.target
                        )));
                    }
                    RoleState::Taken => {}
                }
            }
            made_roles.dedup();
        }
        drop_side(busy, self.session, self.side).await?;
        let work = tempfile::Builder::new()
            .prefix("tenantctl-restore-")
            .tempdir()
            .map_err(|source| Error::Io {
                what: "creating a temporary folder".into(),
                source,
            })?;
        let renamed = work.path().join("renamed.dump");
        let rows_in_scratch = self
            .through_scratch(busy, &old_ro, &new_ro, &renamed)
            .await?;
        self.check_cancel()?;

        // The renamed copy, restored here under the side name: not a tenant yet. The
        // rows go in once, straight from the backup, between its pre-data and post-data
        // (indexes and constraints are built over the loaded rows, as pg_restore does).
        let total = self.m.tables.len();
        self.step(BackupStep::Restore, 0, total, "");
        let beside = |e| {
            scope(
                e,
                &format!("restore {}: restoring beside the live tenant", self.target),
            )
        };
        if rows_in_scratch {
            self.pg_restore(self.database, &renamed, &[], BackupStep::Restore, total)
                .await
                .map_err(beside)?;
        } else {
            let (pre, post) = tokio::join!(
                self.script_of(&renamed, &["pre-data"]),
                self.script_of(&renamed, &["post-data"])
            );
            match (pre.map_err(beside)?, post.map_err(beside)?) {
                // One transaction on our own connection: no child connects, and the tables
                // are new in it, so their rows are written frozen.
                (Some(pre), Some(post)) => {
                    self.load_rows(busy, Some((&pre, &post)))
                        .await
                        .map_err(beside)?;
                }
                _ => {
                    self.pg_restore(
                        self.database,
                        &renamed,
                        &["pre-data"],
                        BackupStep::Restore,
                        total,
                    )
                    .await
                    .map_err(beside)?;
                    self.check_cancel()?;
                    self.load_rows(busy, None).await.map_err(beside)?;
                    self.check_cancel()?;
                    self.pg_restore(
                        self.database,
                        &renamed,
                        &["post-data"],
                        BackupStep::Restore,
                        total,
                    )
                    .await
                    .map_err(beside)?;
                }
            }
        }
        self.check_cancel()?;
        self.prepare(busy).await?;
        self.check_cancel()?;

        self.step(BackupStep::Swap, 0, 1, "");
        match self.kept {
            Some(kept) => self.swap(busy, kept).await?,
            None => self.create(busy, &old_ro, &new_ro).await?,
        }
        self.step(BackupStep::Swap, 1, 1, "");
        let _ = schema;
        Ok(self.restored())
    }

    /// The step under way.
    fn at(&self) -> BackupStep {
        self.at.lock().map(|g| *g).unwrap_or(BackupStep::Verify)
    }

    /// The report of a restore whose swap (or create) committed.
    fn restored(&self) -> RestoreReport {
        RestoreReport {
            tenant: self.target.to_string(),
            mode: self.mode,
            schema: self.session.names.schema_of(self.target),
            backup: self.archive.to_path_buf(),
            kept: self.kept.map(str::to_string),
        }
    }

    /// A job report whose only result is this restore, committed.
    fn finished(&self) -> JobReport<RestoreReport> {
        JobReport {
            done: vec![self.restored()],
            ..JobReport::default()
        }
    }

    /// Whether the swap (or create) committed, asked on a fresh connection after a
    /// failure: a connection lost at COMMIT leaves that unknown to the one that sent it.
    /// `None` when the server cannot be asked.
    async fn committed(&self) -> Option<bool> {
        let names = &self.session.names;
        match self.kept {
            Some(kept) => {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                    .bind(kept)
                    .fetch_one(&self.session.pool)
                    .await
                    .ok()
            }
            None => sqlx::query_scalar(
                &names
                    .template_vars()
                    .render("SELECT EXISTS (SELECT 1 FROM {{registry}} WHERE id = $1)")
                    .ok()?,
            )
            .bind(self.target.as_str())
            .fetch_one(&self.session.pool)
            .await
            .ok(),
        }
    }
}

/// pg_restore of `sections` (every one when empty) into `dbname`, all or nothing,
/// everything owned by the admin role.
fn restore_args(
    names: &NamingPolicy,
    dbname: &str,
    archive: &Path,
    sections: &[&str],
) -> Vec<OsString> {
    let mut args: Vec<OsString> = sections
        .iter()
        .map(|s| OsString::from(format!("--section={s}")))
        .collect();
    args.extend([
        "--single-transaction".into(),
        "--exit-on-error".into(),
        "--no-owner".into(),
        format!("--role={}", names.admin_role).into(),
        "--verbose".into(),
        "--no-password".into(),
        format!("--dbname={dbname}").into(),
        archive.as_os_str().to_owned(),
    ]);
    args
}

/// The session settings of a connection that any role may set, to put back after a
/// pg_restore script (its header sets search_path, timeouts and the like for the whole
/// session; run as the admin role, it cannot change the others).
async fn session_settings(conn: &mut sqlx::PgConnection) -> Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT name::text, pg_catalog.current_setting(name) FROM pg_catalog.pg_settings
         WHERE context = 'user'",
    )
    .fetch_all(conn)
    .await
    .map_err(Error::db("restore: reading the session's settings"))
}

/// Sets back, for the session, every setting of `saved` that now differs.
async fn put_back(conn: &mut sqlx::PgConnection, saved: &[(String, String)]) -> Result<()> {
    let (names, values): (Vec<&str>, Vec<&str>) =
        saved.iter().map(|(n, v)| (n.as_str(), v.as_str())).unzip();
    sqlx::query(
        "SELECT pg_catalog.count(pg_catalog.set_config(o.name, o.value, false))
         FROM unnest($1::pg_catalog.text[], $2::pg_catalog.text[]) AS o(name, value)
         WHERE pg_catalog.current_setting(o.name, true) IS DISTINCT FROM o.value",
    )
    .bind(names)
    .bind(values)
    .execute(conn)
    .await
    .map_err(Error::db("restore: setting the session's settings back"))?;
    Ok(())
}

fn scope(e: Error, what: &str) -> Error {
    match e {
        Error::Invalid(m) => Error::Invalid(format!("{what}: {m}")),
        Error::Cancelled(m) => Error::Cancelled(format!("{what}: {m}")),
        other => other,
    }
}

async fn drop_side(busy: &mut TenantBusy, session: &Session, side: &str) -> Result<()> {
    let mut tx = busy.begin(session, "restore").await?;
    sqlx::query(
        &SqlVars::new()
            .ident("side", side)
            .render("DROP SCHEMA IF EXISTS {{side}} CASCADE")?,
    )
    .execute(&mut *tx)
    .await
    .map_err(Error::db(format!(
        "restore: dropping the side schema {side}"
    )))?;
    tx.commit().await.map_err(Error::db(format!(
        "restore: dropping the side schema {side}"
    )))
}

enum RoleState {
    Missing,
    /// Made by a restore that has not committed (or died); ours to adopt or drop.
    Pending,
    Taken,
}

async fn role_state(busy: &mut TenantBusy, role: &str) -> Result<RoleState> {
    let row: Option<Option<String>> = sqlx::query_scalar(
        "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1",
    )
    .bind(role)
    .fetch_optional(&mut *busy.conn)
    .await
    .map_err(Error::db(format!("restore: looking for role {role}")))?;
    Ok(match row {
        None => RoleState::Missing,
        Some(Some(c)) if c == PENDING_ROLE => RoleState::Pending,
        Some(_) => RoleState::Taken,
    })
}

async fn create_pending_role(busy: &mut TenantBusy, session: &Session, role: &str) -> Result<()> {
    let mut tx = busy.begin(session, "restore").await?;
    let sql = SqlVars::new()
        .ident("r", role)
        .literal("c", PENDING_ROLE)
        .render(
            "CREATE ROLE {{r}} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS; COMMENT ON ROLE {{r}} IS {{c}}",
        )?;
    crate::session::run_script(&mut tx, &sql)
        .await
        .map_err(Error::db(format!("restore: creating role {role}")))?;
    tx.commit()
        .await
        .map_err(Error::db(format!("restore: creating role {role}")))
}

async fn drop_pending_role(busy: &mut TenantBusy, session: &Session, role: &str) -> Result<()> {
    if !matches!(role_state(busy, role).await?, RoleState::Pending) {
        return Ok(());
    }
    let mut tx = busy.begin(session, "restore").await?;
    sqlx::query(
        &SqlVars::new()
            .ident("role", role)
            .render("DROP ROLE IF EXISTS {{role}}")?,
    )
    .execute(&mut *tx)
    .await
    .map_err(Error::db(format!("restore: dropping role {role}")))?;
    tx.commit()
        .await
        .map_err(Error::db(format!("restore: dropping role {role}")))
}
