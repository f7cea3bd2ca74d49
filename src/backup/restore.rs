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

const TRANSFER_READONLY: &str = include_str!("../../assets/backup/transfer_readonly.sql");
const CLOSE_KEPT: &str = include_str!("../../assets/backup/close_kept.sql");
const OLD_NAMES: &str = include_str!("../../assets/backup/old_names.sql");

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

    /// Before the swap, on the side copy (nobody else uses it): statistics for the restored
    /// tables (pg_restore brings none, and a table without them plans as if empty) and the
    /// model's grants and policies for the tenant, so that the swap itself only takes the
    /// live tables' lock. Policies and RLS take ACCESS EXCLUSIVE locks, and autovacuum,
    /// drawn to freshly loaded tables, gives way to a waiting lock only after
    /// deadlock_timeout: done in the swap, they waited behind it. Its own transaction after
    /// the rows' commit, so the analysis also stands in for autovacuum's. The side schema
    /// stays closed (as for a suspended tenant) until the swap opens it.
    async fn prepare(&self, busy: &mut TenantBusy) -> Result<()> {
        let session = self.session;
        let id = self.target;
        let side = self.side;
        self.step(BackupStep::Analyze, 0, 1, "");
        let tables: Vec<String> = sqlx::query_scalar(LIVE_TABLES)
            .bind(side)
            .fetch_all(&mut *busy.conn)
            .await
            .map_err(Error::db(format!(
                "restore {id}: listing the restored tables"
            )))?;
        // The tables are analyzed side by side on the pool's idle connections, up to three
        // (each samples its own table: 0.4 s of the 1 GB restore, done one after the
        // other), or all on this one when none is idle: opening a connection for it would
        // cost a small tenant more than it saves.
        let idle = session.pool.num_idle();
        let width = tables.len().min(idle).min(3);
        if width > 0 {
            let groups: Vec<Vec<&String>> = (0..width)
                .map(|g| tables.iter().skip(g).step_by(width).collect())
                .collect();
            let runs = groups.iter().map(|group| async move {
                let mut conn = session
                    .pool
                    .acquire()
                    .await
                    .map_err(Error::db(format!("restore {id}: connecting to analyze")))?;
                let mut tx = sqlx::Connection::begin(&mut *conn)
                    .await
                    .map_err(Error::db(format!("restore {id}: analyzing {side}")))?;
                crate::session::act_as_admin(&mut tx, &session.names)
                    .await
                    .map_err(Error::db(format!("restore {id}: analyzing {side}")))?;
                analyze(&mut tx, side, group)
                    .await
                    .map_err(Error::db(format!("restore {id}: analyzing {side}")))?;
                tx.commit()
                    .await
                    .map_err(Error::db(format!("restore {id}: analyzing {side}")))
            });
            for r in futures_util::future::join_all(runs).await {
                r?;
            }
        }
        let mut tx = busy.begin(session, "restore").await?;
        if width == 0 && !tables.is_empty() {
            let all: Vec<&String> = tables.iter().collect();
            analyze(&mut tx, side, &all)
                .await
                .map_err(Error::db(format!("restore {id}: analyzing {side}")))?;
        }
        crate::tenant::template::apply_model_at(&mut tx, &session.names, id, side, true, "restore")
            .await?;
        tx.commit().await.map_err(Error::db(format!(
            "restore {id}: committing the analysis and grants of {side}"
        )))?;
        self.step(BackupStep::Analyze, 1, 1, "");
        Ok(())
    }

    /// In the swap (or create): the application roles' way into the restored schema, which
    /// [`Self::prepare`] left closed; a schema privilege, so no table lock.
    async fn open(&self, conn: &mut sqlx::PgConnection, suspended: bool) -> Result<()> {
        if suspended {
            return Ok(());
        }
        let names = &self.session.names;
        let sql = crate::tenant::template::tenant_vars(names, self.target)
            .render("GRANT USAGE ON SCHEMA {{schema}} TO {{service}}, {{rls}}, {{ro}}")?;
        sqlx::query(&sql)
            .execute(&mut *conn)
            .await
            .map_err(Error::db(format!(
                "restore {}: granting the application roles the restored schema",
                self.target
            )))?;
        Ok(())
    }

    /// Restore the backup's schema objects into the scratch database, rename to the side
    /// name, move the read-only role, dump the renamed objects to `out`; the scratch
    /// database is left empty of them. The rows stay out of it (they name no schema) unless
    /// a column's values name objects by schema: then they go through it too, and the
    /// result is true.
    async fn through_scratch(
        &self,
        busy: &mut TenantBusy,
        old_ro: &str,
        new_ro: &str,
        out: &Path,
    ) -> Result<bool> {
        let names = &self.session.names;
        let scratch = scratch_name(&mut busy.conn).await?;
        let mut spec = self.session.spec.clone();
        spec.dbname = scratch.clone();
        let source = &self.m.schema;
        let connect = async {
            let mut conn = sqlx::PgConnection::connect_with(&spec.options())
                .await
                .map_err(|e| match spec.classify(e) {
                    crate::connect::ConnectError::DatabaseMissing { .. } => Error::Invalid(format!(
                        "the scratch database {scratch} does not exist; run `tenantctl init` once as a superuser to create it"
                    )),
                    other => Error::Connect(other),
                })?;
            // Two restores of backups of one tenant would both restore its schema name here.
            let free: bool = sqlx::query_scalar(
                "SELECT pg_try_advisory_lock(hashtextextended('tenantctl:scratch:' || $1, 0))",
            )
            .bind(source)
            .fetch_one(&mut conn)
            .await
            .map_err(Error::db("restore: locking the scratch database"))?;
            if !free {
                return Err(Error::Conflict(format!(
                    "another restore of a backup of {} is using the scratch database {scratch}; retry when it is done",
                    self.m.tenant
                )));
            }
            // Leftovers of a restore that died here.
            clean_scratch(&mut conn, names, source, self.side)
                .await
                .map_err(Error::db(format!(
                    "restore: clearing the scratch database {scratch}"
                )))?;
            Ok(conn)
        };
        // The archive's schema objects as SQL, written while the connection is made.
        let (conn, script) = tokio::join!(
            connect,
            self.script_of(self.archive, &["pre-data", "post-data"])
        );
        let mut conn = conn?;
        let result: Result<bool> = async {
            let total = self.m.tables.len();
            self.step(BackupStep::ScratchRestore, 0, total, "");
            let scratch_err = |e| scope(e, "restore: restoring into the scratch database");
            match script.map_err(scratch_err)? {
                // Over the connection already open, as the admin role, all or nothing: what
                // the archive's DDL can do stays in the scratch database, as with pg_restore.
                Some(script) => {
                    let saved = session_settings(&mut conn).await?;
                    let during = "restore: restoring into the scratch database";
                    let mut tx = conn.begin().await.map_err(Error::db(during))?;
                    crate::session::act_as_admin(&mut tx, names)
                        .await
                        .map_err(Error::db(during))?;
                    crate::session::run_script(&mut tx, &script)
                        .await
                        .map_err(Error::db(during))?;
                    put_back(&mut tx, &saved).await?;
                    tx.commit().await.map_err(Error::db(during))?;
                }
                None => {
                    self.pg_restore(
                        &scratch,
                        self.archive,
                        &["pre-data", "post-data"],
                        BackupStep::ScratchRestore,
                        total,
                    )
                    .await
                    .map_err(scratch_err)?;
                }
            }
            // Values of the reg* types name objects by schema and are resolved when loaded:
            // loaded beside, 'tenant_acme.t' would point into the live tenant. Such rows
            // go through the scratch database too, where the rename rewrites them (the
            // whole archive again: rows loaded after the constraints could fail their order).
            let by_name: bool = sqlx::query_scalar(NAMES_IN_ROWS)
                .bind(source)
                .fetch_one(&mut conn)
                .await
                .map_err(Error::db("restore: reading the column types"))?;
            if by_name {
                clean_scratch(&mut conn, names, source, self.side)
                    .await
                    .map_err(Error::db(format!(
                        "restore: clearing the scratch database {scratch}"
                    )))?;
                self.pg_restore(
                    &scratch,
                    self.archive,
                    &[],
                    BackupStep::ScratchRestore,
                    total,
                )
                .await
                .map_err(scratch_err)?;
            }
            self.check_cancel()?;
            self.step(BackupStep::Rename, 0, 1, "");
            let mut vars = SqlVars::default();
            vars.literal("side", self.side)
                .literal("old_ro", old_ro)
                .literal("new_ro", new_ro);
            let mut tx = conn
                .begin()
                .await
                .map_err(Error::db("restore: renaming in scratch"))?;
            crate::session::act_as_admin(&mut tx, names)
                .await
                .map_err(Error::db("restore: renaming in scratch"))?;
            sqlx::query(
                &SqlVars::new()
                    .ident("from", source)
                    .ident("to", self.side)
                    .render(RENAME_SCHEMA)?,
            )
            .execute(&mut *tx)
            .await
            .map_err(Error::db(
                "restore: renaming the schema in the scratch database",
            ))?;
            if old_ro != new_ro {
                crate::session::run_script(&mut tx, &vars.render(TRANSFER_READONLY)?)
                    .await
                    .map_err(Error::db("restore: moving the read-only role's privileges"))?;
            }
            tx.commit()
                .await
                .map_err(Error::db("restore: renaming in scratch"))?;
            self.step(BackupStep::Rename, 1, 1, "");
            self.step(BackupStep::ScratchDump, 0, total, "");
            let env = ChildEnv::new(&self.session.spec, &scratch)?;
            let mut done = 0;
            let mut args: Vec<OsString> = vec![
                "--format=custom".into(),
                format!("--schema={}", quote_ident(self.side)).into(),
                "--verbose".into(),
                "--no-password".into(),
                {
                    let mut f = OsString::from("--file=");
                    f.push(out);
                    f
                },
            ];
            if !by_name {
                args.push("--schema-only".into());
            }
            child::run(
                &self.tools.pg_dump,
                &args,
                &env,
                false,
                self.cancel,
                |line| {
                    if line.contains("dumping contents of table ") {
                        done += 1;
                        report(
                            self.progress,
                            self.target.as_str(),
                            BackupStep::ScratchDump,
                            done.min(total),
                            total,
                            "",
                        );
                    }
                },
            )
            .await
            .map_err(|e| scope(e, "restore: dumping the renamed copy"))?;
            Ok(by_name)
        }
        .await;
        let cleaned = clean_scratch(&mut conn, names, source, self.side).await;
        let _ = conn.close().await;
        let by_name = result?;
        cleaned.map_err(Error::db(format!(
            "restore: clearing the scratch database {scratch}"
        )))?;
        Ok(by_name)
    }

    /// Streams the backup's data section into the side schema over the restore's own
    /// connection, in one transaction (see [`super::data_load`]).
    /// With `schema`, the side copy's pre-data and post-data scripts (from
    /// [`Self::script_of`]) run around the rows in the same transaction; without, they were
    /// or will be restored by pg_restore.
    async fn load_rows(&self, busy: &mut TenantBusy, schema: Option<(&str, &str)>) -> Result<()> {
        let side = self.side;
        let env = ChildEnv::new(&self.session.spec, self.database)?;
        let args: Vec<OsString> = vec![
            "--data-only".into(),
            "--file=-".into(),
            self.archive.as_os_str().to_owned(),
        ];
        // Started first: it reads the archive while the tables are made.
        let (child, stdout) = child::StreamingChild::spawn(&self.tools.pg_restore, &args, &env)?;
        let saved = match schema {
            Some(_) => session_settings(&mut busy.conn).await?,
            None => Vec::new(),
        };
        let mut tx = busy.begin(self.session, "restore").await?;
        if let Some((pre, _)) = schema {
            crate::session::run_script(&mut tx, pre)
                .await
                .map_err(Error::db(format!("restore: making the tables of {side}")))?;
            put_back(&mut tx, &saved).await?;
        }
        let rels: Vec<(String, i8)> = sqlx::query_as(
            "SELECT c.relname::text, c.relkind::\"char\" FROM pg_class c
             WHERE c.oid IN (SELECT d.objid FROM pg_depend d
                             WHERE d.refclassid = 'pg_namespace'::regclass
                               AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1)
                               AND d.classid = 'pg_class'::regclass)
               AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
               AND c.relkind IN ('r', 'p', 'S')",
        )
        .bind(side)
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::db(format!("restore: listing the tables of {side}")))?;
        let mut targets = data_load::Targets {
            tables: HashMap::new(),
            sequences: HashSet::new(),
            rows: self
                .m
                .tables
                .iter()
                .map(|t| (t.name.clone(), t.rows))
                .collect(),
            // Made in this transaction: COPY may write their rows frozen.
            freeze: schema.is_some(),
        };
        for (name, kind) in rels {
            match kind as u8 {
                b'S' => {
                    targets.sequences.insert(name);
                }
                k => {
                    targets.tables.insert(name, k as char);
                }
            }
        }
        // As pg_restore sets them: a long load is not a slow statement, and a policy must
        // never silently filter rows being restored (with row_security off it errors).
        sqlx::query(
            "SELECT set_config('statement_timeout', '0', true), set_config('row_security', 'off', true)",
        )
        .execute(&mut *tx)
        .await
        .map_err(Error::db("restore: preparing to load the rows"))?;
        let total = self.m.tables.len();
        let mut done = 0;
        let mut ended = false;
        let loaded = data_load::load(
            &mut tx,
            tokio::io::BufReader::with_capacity(1 << 20, stdout),
            &self.m.schema,
            side,
            &targets,
            self.cancel,
            &mut ended,
            |table| {
                done += 1;
                report(
                    self.progress,
                    self.target.as_str(),
                    BackupStep::Restore,
                    done.min(total),
                    total,
                    table,
                );
            },
        )
        .await;
        match loaded {
            Ok(()) => child.wait(&env).await?,
            // The stream ended early: pg_restore's own failure says why, when it failed.
            Err(e) if ended => {
                match tokio::time::timeout(std::time::Duration::from_secs(5), child.wait(&env))
                    .await
                {
                    Ok(Err(child_err)) => return Err(child_err),
                    _ => return Err(e),
                }
            }
            // Dropping the child kills it.
            Err(e) => return Err(e),
        }
        if let Some((_, post)) = schema {
            crate::session::run_script(&mut tx, post)
                .await
                .map_err(Error::db(format!(
                    "restore: indexing and constraining {side}"
                )))?;
            put_back(&mut tx, &saved).await?;
        }
        tx.commit()
            .await
            .map_err(Error::db(format!("restore: committing the rows of {side}")))
    }

    /// The SQL of `sections` of `archive` as pg_restore writes it for psql (`-f -`, the
    /// child connects nowhere), to run over a connection of ours rather than through a
    /// child that opens its own (a tenth of a second each, most of a small tenant's
    /// restore). `None` when it must go through pg_restore after all: text that is not
    /// UTF-8, or in another client encoding (our connections speak UTF-8).
    async fn script_of(&self, archive: &Path, sections: &[&str]) -> Result<Option<String>> {
        let env = ChildEnv::new(&super::verify::no_connection(), "")?;
        let mut args: Vec<OsString> = sections
            .iter()
            .map(|s| OsString::from(format!("--section={s}")))
            .collect();
        args.extend([
            "--no-owner".into(),
            "--file=-".into(),
            archive.as_os_str().to_owned(),
        ]);
        let out = child::run(
            &self.tools.pg_restore,
            &args,
            &env,
            true,
            self.cancel,
            |_| {},
        )
        .await?;
        Ok(psql_script(&out.stdout, out.utf8))
    }

    /// In place: one transaction swaps live -> kept and side -> live, closes the kept copy
    /// to everyone but its owner, and re-applies the model's grants.
    async fn swap(&self, busy: &mut TenantBusy, kept: &str) -> Result<()> {
        let session = self.session;
        let names = &session.names;
        let id = self.target;
        let schema = names.schema_of(id);
        let now = chrono::Utc::now();
        let mut tx = busy.begin(session, "restore").await?;
        let (status, name, config): (String, String, serde_json::Value) =
            sqlx::query_as(&names.template_vars().render(
                "SELECT status, name, config FROM {{registry}} WHERE id = $1 FOR UPDATE",
            )?)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::db(format!("restore {id}: reading the registry row")))?
            .ok_or_else(|| Error::NoSuchTenant(id.to_string()))?;
        let reg = &self.m.registry;
        let (status, name, config) = if self.registry_from_backup {
            (reg.status.clone(), reg.name.clone(), reg.config.clone())
        } else {
            (status, name, config)
        };
        // Writers of the live tables finish first (or the swap gives up after lock_timeout):
        // a transaction writing across the swap would leave half its rows in each copy.
        let tables: Vec<String> = sqlx::query_scalar(LIVE_TABLES)
            .bind(&schema)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::db(format!("restore {id}: listing the live tables")))?;
        if !tables.is_empty() {
            sqlx::query(
                &SqlVars::new()
                    .qualified_list("tables", &schema, &tables)
                    .render("LOCK TABLE {{tables}} IN EXCLUSIVE MODE")?,
            )
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!(
                "restore {id}: waiting for writers of {schema} to finish"
            )))?;
        }
        let sql = SqlVars::new()
            .ident("live", &schema)
            .ident("kept", kept)
            .ident("side", self.side)
            .render("ALTER SCHEMA {{live}} RENAME TO {{kept}}; ALTER SCHEMA {{side}} RENAME TO {{live}}")?;
        crate::session::run_script(&mut tx, &sql)
            .await
            .map_err(Error::db(format!(
                "restore {id}: swapping {schema} and {}",
                self.side
            )))?;
        let mut vars = SqlVars::default();
        vars.literal("kept", kept);
        crate::session::run_script(&mut tx, &vars.render(CLOSE_KEPT)?)
            .await
            .map_err(Error::db(format!(
                "restore {id}: revoking every privilege on {kept}"
            )))?;
        let note = serde_json::json!({
            "tenant": id.as_str(),
            "kept_at": now,
            "restored_from": self.archive,
        });
        sqlx::query(
            &SqlVars::new()
                .ident("kept", kept)
                .literal("note", &note.to_string())
                .render("COMMENT ON SCHEMA {{kept}} IS {{note}}")?,
        )
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("restore {id}: labelling {kept}")))?;
        let version = reg.template_version;
        self.open(&mut tx, status == "suspended").await?;
        sqlx::query(&names.template_vars().render(
            "UPDATE {{registry}} SET name = $2, status = $3, config = $4, template_version = $5, pinned_version = $6, updated_at = now() WHERE id = $1",
        )?)
        .bind(id.as_str())
        .bind(&name)
        .bind(&status)
        .bind(&config)
        .bind(version)
        // The pin goes with the data: the restored objects are at the backup's version.
        .bind(reg.pinned_version)
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("restore {id}: updating the registry row")))?;
        journal::record(
            &mut tx,
            session,
            &Entry {
                action: "restore",
                tenant: Some(id.as_str()),
                sql_summary: format!(
                    "swap {schema} -> {kept}, {} -> {schema}; revoke all on {kept}; model grants",
                    self.side
                ),
                outcome: "ok".into(),
                detail: Some(serde_json::json!({
                    "backup": self.archive, "sha256": self.m.sha256, "kept": kept,
                    "registry_from_backup": self.registry_from_backup,
                })),
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(Error::db(format!("restore {id}: committing the swap")))?;
        Ok(())
    }

    /// Beside (or a dropped tenant again): one transaction makes the side schema a tenant
    /// and proves nothing in it still names the old schema or role.
    async fn create(&self, busy: &mut TenantBusy, old_ro: &str, new_ro: &str) -> Result<()> {
        let session = self.session;
        let names = &session.names;
        let id = self.target;
        let schema = names.schema_of(id);
        let reg = &self.m.registry;
        let mut tx = busy.begin(session, "restore").await?;
        sqlx::query(
            &SqlVars::new()
                .ident("from", self.side)
                .ident("to", &schema)
                .render(RENAME_SCHEMA)?,
        )
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!(
            "restore {id}: renaming {} to {schema}",
            self.side
        )))?;
        sqlx::query(&names.template_vars().render(
            "INSERT INTO {{registry}} (id, name, schema, status, config, template_version, pinned_version) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )?)
        .bind(id.as_str())
        .bind(&reg.name)
        .bind(&schema)
        .bind(&reg.status)
        .bind(&reg.config)
        .bind(reg.template_version)
        .bind(reg.pinned_version)
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("restore {id}: inserting the registry row")))?;
        self.open(&mut tx, reg.status == "suspended").await?;
        sqlx::query(
            &SqlVars::new()
                .ident("role", new_ro)
                .render("COMMENT ON ROLE {{role}} IS NULL")?,
        )
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("restore {id}: adopting role {new_ro}")))?;
        let mut old: Vec<&str> = vec![self.side];
        if self.m.schema != schema {
            old.push(&self.m.schema);
        }
        if old_ro != new_ro {
            old.push(old_ro);
        }
        // Names are validated identifiers ([a-z0-9_]), so they are safe inside the pattern.
        let pattern = format!("(^|[^a-z0-9_$])({})($|[^a-z0-9_$])", old.join("|"));
        let leftovers: Vec<String> = sqlx::query_scalar(OLD_NAMES)
            .bind(&schema)
            .bind(&pattern)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::db(format!("restore {id}: checking for old names")))?;
        if !leftovers.is_empty() {
            return Err(Error::Invalid(format!(
                "restore {id}: the copy still names {} in: {}; tenantctl cannot rewrite those safely (edit them in the source tenant, dump again, and retry)",
                old.join(" / "),
                leftovers.join(", ")
            )));
        }
        journal::record(
            &mut tx,
            session,
            &Entry {
                action: if self.mode == RestoreMode::Beside {
                    "restore beside"
                } else {
                    "restore"
                },
                tenant: Some(id.as_str()),
                sql_summary: format!(
                    "RENAME {} -> {schema}; INSERT registry row; role {new_ro}; model grants",
                    self.side
                ),
                outcome: "ok".into(),
                detail: Some(serde_json::json!({
                    "backup": self.archive, "sha256": self.m.sha256, "from_tenant": self.m.tenant,
                })),
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(Error::db(format!("restore {id}: committing")))?;
        Ok(())
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

/// The SQL of a `pg_restore -f -` script to run over our own connection: without psql's
/// `\restrict KEY` / `\unrestrict KEY` guard lines (meta-commands for psql, which never
/// sees this text; only lines with the script's own random key), and `None` unless it is
/// UTF-8 text declaring the UTF8 client encoding.
pub(crate) fn psql_script(text: &str, utf8: bool) -> Option<String> {
    if !utf8 {
        return None;
    }
    let mut encoding_ok = false;
    for line in text.lines() {
        if let Some(enc) = line
            .strip_prefix("SET client_encoding = '")
            .and_then(|r| r.strip_suffix("';"))
        {
            if enc != "UTF8" {
                return None;
            }
            encoding_ok = true;
        }
    }
    if !encoding_ok {
        return None;
    }
    let key = text.lines().find_map(|l| {
        l.strip_prefix("\\restrict ")
            .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric()))
    });
    let Some(key) = key else {
        return Some(text.to_string());
    };
    let (restrict, unrestrict) = (format!("\\restrict {key}"), format!("\\unrestrict {key}"));
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare != restrict && bare != unrestrict {
            out.push_str(line);
        }
    }
    Some(out)
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

/// ANALYZE of `tables` of `schema`, in one statement.
async fn analyze(
    conn: &mut sqlx::PgConnection,
    schema: &str,
    tables: &[&String],
) -> Result<(), sqlx::Error> {
    let sql = SqlVars::new()
        .qualified_list("tables", schema, tables)
        .render("ANALYZE {{tables}}")
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    sqlx::query(&sql).execute(conn).await?;
    Ok(())
}

/// Drops the tenant's schema and the side schema from the scratch database.
async fn clean_scratch(
    conn: &mut sqlx::PgConnection,
    names: &NamingPolicy,
    source: &str,
    side: &str,
) -> Result<(), sqlx::Error> {
    let sql = SqlVars::new()
        .ident("source", source)
        .ident("side", side)
        .render("DROP SCHEMA IF EXISTS {{source}} CASCADE; DROP SCHEMA IF EXISTS {{side}} CASCADE")
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let mut tx = conn.begin().await?;
    crate::session::act_as_admin(&mut tx, names).await?;
    crate::session::run_script(&mut tx, &sql).await?;
    tx.commit().await
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

#[cfg(test)]
mod tests {
    use super::psql_script;

    #[test]
    fn psqls_guard_lines_are_dropped_and_nothing_else() {
        let text = "--\n-- PostgreSQL database dump\n--\n\n\\restrict Abc123\n\nSET client_encoding = 'UTF8';\nCREATE FUNCTION s.f() RETURNS text LANGUAGE sql AS $$\nSELECT '\\restrict Other'\n$$;\n\n\\unrestrict Abc123\n\n";
        let out = psql_script(text, true).unwrap();
        assert!(!out.contains("\\restrict Abc123"), "{out}");
        assert!(!out.contains("\\unrestrict Abc123"), "{out}");
        // A body that happens to hold such a line with another key is left alone.
        assert!(out.contains("SELECT '\\restrict Other'\n"), "{out}");
        assert_eq!(
            out.len(),
            text.len() - "\\restrict Abc123\n\\unrestrict Abc123\n".len()
        );
        // Without the guard (older pg_restore), the text as it is.
        let plain = "SET client_encoding = 'UTF8';\nCREATE TABLE s.t (i int);\n";
        assert_eq!(psql_script(plain, true).as_deref(), Some(plain));
    }

    #[test]
    fn other_encodings_go_through_pg_restore() {
        assert_eq!(
            psql_script(
                "SET client_encoding = 'LATIN1';\nCREATE TABLE s.t (i int);\n",
                true
            ),
            None
        );
        assert_eq!(psql_script("CREATE TABLE s.t (i int);\n", true), None);
        assert_eq!(
            psql_script(
                "SET client_encoding = 'UTF8';\nCREATE TABLE s.t (i int);\n",
                false
            ),
            None
        );
    }
}
