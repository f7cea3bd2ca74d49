//! `tenant migrate`: tenants to a template version, each in its own transaction, over
//! several connections; a failure stops that tenant only (a failed canary stops the run).
//! Applied files are checked against their recorded checksums first. Follows the
//! [`crate::job`] contract.

use super::template;
use super::versions::Template;
use super::{failed, lock_tenant};
use crate::catalog::TenantStatus;
use crate::error::{Error, Result};
use crate::job::{ItemFailure, JobReport, Progress, ProgressSender, report_progress};
use crate::journal::{self, Entry};
use crate::session::Session;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// What migrating one tenant came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MigrateResult {
    /// This run moved it to its target version.
    Migrated,
    /// It was already at the target (before the run, or by another session meanwhile).
    Current,
    /// Held by a pin below the run's target (`tenant set --pin-version`).
    Pinned,
    /// Adopted without a known version: left alone until one is set.
    Unversioned,
}

/// One tenant that was tried and did not fail.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MigrateOutcome {
    pub tenant: String,
    pub from_version: i32,
    pub to_version: i32,
    /// The run's target (a pinned tenant stops below it).
    pub target_version: i32,
    pub result: MigrateResult,
}

/// Progress of a migration: one report per tenant tried.
pub type MigrateProgress = Progress<MigrateOutcome>;

/// The whole run: migrated, current or pinned tenants in `done`, failures, and tenants not
/// tried.
pub type MigrateReport = JobReport<MigrateOutcome>;

impl JobReport<MigrateOutcome> {
    /// Tenants whose result was `result`.
    pub fn count(&self, result: MigrateResult) -> usize {
        self.done.iter().filter(|o| o.result == result).count()
    }

    /// One line: how many were migrated, already current, pinned, failed and not tried.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        if let Some(t) = self.done.iter().map(|o| o.target_version).max() {
            s.push_str(&format!("template v{t}: "));
        }
        s.push_str(&format!(
            "{} migrated, {} already current, {} pinned, {} failed",
            self.count(MigrateResult::Migrated),
            self.count(MigrateResult::Current),
            self.count(MigrateResult::Pinned),
            self.failed.len(),
        ));
        let unversioned = self.count(MigrateResult::Unversioned);
        if unversioned > 0 {
            s.push_str(&format!(
                ", {unversioned} without a version (adopt --at-version first)"
            ));
        }
        if !self.not_tried.is_empty() {
            s.push_str(&format!(", {} not tried", self.not_tried.len()));
            if self.cancelled {
                s.push_str(" (cancelled; rerun to continue)");
            }
        }
        s
    }
}

/// What to migrate and how.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrateOptions {
    /// Tenants to migrate; `None`: every registered tenant.
    pub ids: Option<Vec<String>>,
    /// Target version; `None`: the template's newest.
    pub to: Option<i32>,
    /// Tenants migrated at once, each on its own connection (capped by what
    /// `max_connections` leaves free).
    pub jobs: usize,
    /// Migrated first, alone; its failure stops the run.
    pub canary: Option<String>,
    /// Versions whose changed file is accepted: the history takes the new checksum.
    pub accept_checksums: Vec<i32>,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            ids: None,
            to: None,
            jobs: 4,
            canary: None,
            accept_checksums: Vec::new(),
        }
    }
}

/// One version of a dry run: how many tenants it touches and its SQL for the first.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlannedVersion {
    pub version: i32,
    pub file: String,
    pub tenants: usize,
    pub first_tenant: String,
    pub first_sql: String,
}

/// What a run would do, without doing it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MigratePlan {
    pub target_version: i32,
    /// Parallel connections the run would use.
    pub jobs: usize,
    pub versions: Vec<PlannedVersion>,
    /// Tenants at their target already, held by a pin, or without a version.
    pub current: Vec<String>,
    pub pinned: Vec<String>,
    pub unversioned: Vec<String>,
}

/// A registry row as migrate sees it.
#[derive(Debug, Clone)]
struct Candidate {
    id: String,
    version: Option<i32>,
    pin: Option<i32>,
}

const TENANTS_SQL: &str = "SELECT id, template_version, pinned_version FROM {{registry}} \
     WHERE $1::text[] IS NULL OR id = ANY($1) ORDER BY id";
const VERSION_SQL: &str =
    "SELECT template_version, pinned_version, status FROM {{registry}} WHERE id = $1";
const RECORD_SQL: &str =
    "UPDATE {{registry}} SET template_version = $2, updated_at = now() WHERE id = $1";

/// Applied checksums of registered tenants that differ from the template's now (or whose
/// version it no longer has), per version and checksum; backfilled rows (`$3`) apart.
/// Filtered on the server: a run at thousands of tenants reads only what is wrong.
const APPLIED_SQL: &str = "SELECT h.version, h.checksum, min(h.file), \
     array_agg(h.tenant_id ORDER BY h.tenant_id), h.applied_by = $3 \
     FROM {{history}} h JOIN {{registry}} r ON r.id = h.tenant_id \
     WHERE NOT EXISTS (SELECT 1 FROM unnest($1::int[], $2::text[]) t(v, c) \
                       WHERE t.v = h.version AND t.c = h.checksum) \
     GROUP BY h.version, h.checksum, h.applied_by = $3 ORDER BY 1, 2";

/// Whether any history row could differ from the template: per version, the smallest and
/// largest recorded checksum (two index probes each on `(version, checksum)`), and the
/// highest version recorded. False, the usual answer, costs under a millisecond at 10,000
/// tenants where [`APPLIED_SQL`] reads the whole history; true runs [`APPLIED_SQL`] for
/// the details (it may then find nothing: a dropped tenant's rows count here only).
const MAYBE_CHANGED_SQL: &str = "SELECT coalesce(bool_or(lo <> c OR hi <> c), false) \
     OR coalesce((SELECT max(version) FROM {{history}}) > $3, false) \
     FROM (SELECT t.c, \
                  (SELECT min(h.checksum) FROM {{history}} h WHERE h.version = t.v) AS lo, \
                  (SELECT max(h.checksum) FROM {{history}} h WHERE h.version = t.v) AS hi \
           FROM unnest($1::int[], $2::text[]) t(v, c)) x";

/// Connections left to ordinary roles: max_connections less the reserved ones and those
/// in use (ours included).
const FREE_CONNECTIONS_SQL: &str = "SELECT pg_catalog.current_setting('max_connections')::int \
     - pg_catalog.current_setting('superuser_reserved_connections')::int \
     - (SELECT count(*)::int FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend')";

/// Brings `ids` (or every registered tenant) to the newest template version with the
/// default options. See [`migrate_with`].
pub async fn migrate(
    session: &Session,
    ids: Option<Vec<String>>,
    progress: &ProgressSender<MigrateOutcome>,
    cancel: &CancellationToken,
) -> Result<MigrateReport> {
    let opts = MigrateOptions {
        ids,
        ..MigrateOptions::default()
    };
    migrate_with(session, &opts, progress, cancel).await
}

/// The target version of `opts`, checked against the template.
fn target_of(template: &Template, opts: &MigrateOptions) -> Result<i32> {
    let latest = template.latest();
    match opts.to {
        None => Ok(latest),
        Some(v) if v >= 1 && v <= latest => Ok(v),
        Some(v) => Err(Error::Invalid(format!(
            "--to {v}: {} has versions 1 to {latest}",
            template.shown()
        ))),
    }
}

/// The registry rows to migrate, in id order, with every named tenant checked.
async fn candidates(session: &Session, opts: &MigrateOptions) -> Result<Vec<Candidate>> {
    let mut ids = opts.ids.clone();
    if let (Some(list), Some(c)) = (&mut ids, &opts.canary)
        && !list.contains(c)
    {
        list.push(c.clone());
    }
    if let Some(list) = &ids {
        for w in list {
            session.names.tenant_id(w)?;
        }
    }
    if let Some(c) = &opts.canary {
        session.names.tenant_id(c)?;
    }
    let vars = session.names.template_vars();
    let rows: Vec<(String, Option<i32>, Option<i32>)> = sqlx::query_as(&vars.render(TENANTS_SQL)?)
        .bind(&ids)
        .fetch_all(&session.pool)
        .await
        .map_err(|e| crate::catalog::registry_error(session, e))?;
    let known = |w: &String| rows.iter().any(|(id, _, _)| id == w);
    for w in ids.iter().flatten().chain(opts.canary.iter()) {
        if !known(w) {
            return Err(Error::NoSuchTenant(w.clone()));
        }
    }
    Ok(rows
        .into_iter()
        .map(|(id, version, pin)| Candidate { id, version, pin })
        .collect())
}

/// Refuses when a version applied somewhere has a different checksum from its file now
/// (or is no longer in the template), naming file, version and tenants; versions in
/// `accept` take the new checksum instead, in one transaction, logged. `action` names the
/// command in messages (`tenant migrate`, `tenant create`); nothing of it has run yet.
pub(crate) async fn validate_checksums(
    session: &Session,
    accept: &[i32],
    apply_accept: bool,
    action: &str,
) -> Result<()> {
    let vars = session.names.template_vars();
    let template = &session.template;
    let (known, sums): (Vec<i32>, Vec<String>) = template
        .versions
        .iter()
        .map(|v| (v.version, v.checksum.clone()))
        .unzip();
    let read_error = |e: sqlx::Error| match crate::error::sqlstate(&e).as_deref() {
        Some("42P01") | Some("3F000") | Some("42703") => crate::catalog::registry_error(session, e),
        _ => Error::db(format!("{action}: reading the template history"))(e),
    };
    let maybe: bool = sqlx::query_scalar(&vars.render(MAYBE_CHANGED_SQL)?)
        .bind(&known)
        .bind(&sums)
        .bind(template.latest())
        .fetch_one(&session.pool)
        .await
        .map_err(read_error)?;
    if !maybe {
        return Ok(());
    }
    let applied: Vec<(i32, String, String, Vec<String>, bool)> =
        sqlx::query_as(&vars.render(APPLIED_SQL)?)
            .bind(&known)
            .bind(&sums)
            .bind(crate::bootstrap::BACKFILLED_BY)
            .fetch_all(&session.pool)
            .await
            .map_err(read_error)?;
    let mut problems = Vec::new();
    let mut accepted = Vec::new();
    for (version, sum, file, tenants, backfilled) in applied {
        let shown = shown_tenants(&tenants);
        match template.version(version) {
            None => problems.push(format!(
                "version {version} ({file}) was applied to {shown} but is not in {}",
                template.shown()
            )),
            Some(v) if v.checksum != sum => {
                if accept.contains(&version) {
                    accepted.push(v);
                } else if backfilled {
                    problems.push(format!(
                        "version {version} of {shown} was applied by a tenantctl older than the history, from its built-in template ({file}), not from {} (history backfilled by init)",
                        v.file
                    ));
                } else {
                    problems.push(format!(
                        "{} (version {version}) changed since it was applied to {shown}",
                        v.file
                    ));
                }
            }
            Some(_) => {}
        }
    }
    let nothing = match action {
        "tenant create" => "nothing was created",
        _ => "nothing was migrated",
    };
    if !problems.is_empty() {
        return Err(Error::Invalid(format!(
            "{action}: {}; {nothing}. Restore the file, or accept the new content with --accept-checksum VERSION (on tenant create or tenant migrate; the history then records the new checksum; tenants keep what the old file did)",
            problems.join("; ")
        )));
    }
    accepted.dedup_by_key(|v| v.version);
    if accepted.is_empty() || !apply_accept {
        return Ok(());
    }
    let mut tx = session.begin_change(action).await?;
    let update =
        vars.render("UPDATE {{history}} SET checksum = $2, file = $3 WHERE version = $1")?;
    for v in &accepted {
        sqlx::query(&update)
            .bind(v.version)
            .bind(&v.checksum)
            .bind(&v.file)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!(
                "{action}: accepting the new checksum of version {}",
                v.version
            )))?;
    }
    let versions: Vec<String> = accepted.iter().map(|v| v.version.to_string()).collect();
    journal::record(
        &mut tx,
        session,
        &Entry {
            action,
            tenant: None,
            sql_summary: format!(
                "accepted new checksums of template versions {}",
                versions.join(", ")
            ),
            outcome: "ok".into(),
            detail: Some(serde_json::json!(
                accepted
                    .iter()
                    .map(|v| serde_json::json!({"version": v.version, "file": v.file, "checksum": v.checksum}))
                    .collect::<Vec<_>>()
            )),
        },
    )
    .await?;
    tx.commit().await.map_err(Error::db(format!(
        "{action}: committing the accepted checksums"
    )))?;
    Ok(())
}

fn shown_tenants(t: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s = format!(
        "{} tenant(s) ({}",
        t.len(),
        t.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ")
    );
    if t.len() > SHOWN {
        s.push_str(&format!(", and {} more", t.len() - SHOWN));
    }
    s.push(')');
    s
}

/// What a tenant's run would be, from its registry row.
fn decide(c: &Candidate, target: i32) -> Decision {
    // 0 is no version too: tenantctl creates tenants at 1 or later, and a restored copy
    // of an adopted tenant without a version may carry 0.
    let Some(version) = c.version.filter(|v| *v >= 1) else {
        return Decision::Skip(MigrateResult::Unversioned, 0);
    };
    let goal = c.pin.map_or(target, |p| p.min(target));
    if version < goal {
        Decision::Migrate {
            from: version,
            to: goal,
        }
    } else if c.pin.is_some_and(|p| p < target) {
        Decision::Skip(MigrateResult::Pinned, version)
    } else {
        Decision::Skip(MigrateResult::Current, version)
    }
}

enum Decision {
    Migrate { from: i32, to: i32 },
    Skip(MigrateResult, i32),
}

/// Parallel connections for a run: `jobs`, at most what the server has free.
async fn usable_jobs(session: &Session, jobs: usize) -> Result<usize> {
    let free: i32 = sqlx::query_scalar(FREE_CONNECTIONS_SQL)
        .fetch_one(&session.pool)
        .await
        .map_err(Error::db("tenant migrate: reading free connections"))?;
    // Connections our pool holds already count as used, yet are ours to use.
    let ours = session.pool.size() as i32;
    let room = usize::try_from((free + ours).max(1)).unwrap_or(1);
    // One connection of the pool stays for everything else the session does (the
    // console's refreshes while a migration runs).
    let pool = session.pool.options().get_max_connections() as usize;
    Ok(jobs.clamp(1, room.min(pool.saturating_sub(1)).max(1)))
}

/// What `migrate_with` would do: per version, the tenants touched and the SQL of the
/// first. Checks the checksums as the run would (accepted ones count as accepted).
pub async fn plan(session: &Session, opts: &MigrateOptions) -> Result<MigratePlan> {
    let target = target_of(&session.template, opts)?;
    let rows = candidates(session, opts).await?;
    validate_checksums(session, &opts.accept_checksums, false, "tenant migrate").await?;
    let jobs = usable_jobs(session, opts.jobs).await?;
    let mut plan = MigratePlan {
        target_version: target,
        jobs,
        versions: Vec::new(),
        current: Vec::new(),
        pinned: Vec::new(),
        unversioned: Vec::new(),
    };
    for c in &rows {
        match decide(c, target) {
            Decision::Skip(MigrateResult::Pinned, _) => plan.pinned.push(c.id.clone()),
            Decision::Skip(MigrateResult::Unversioned, _) => plan.unversioned.push(c.id.clone()),
            Decision::Skip(_, _) => plan.current.push(c.id.clone()),
            Decision::Migrate { from, to } => {
                for step in session.template.steps(from, to) {
                    match plan.versions.iter_mut().find(|p| p.version == step.version) {
                        Some(p) => p.tenants += 1,
                        None => {
                            let id = session.names.tenant_id(&c.id)?;
                            let sql = template::render_version(&session.names, &id, step)?;
                            plan.versions.push(PlannedVersion {
                                version: step.version,
                                file: step.file.clone(),
                                tenants: 1,
                                first_tenant: c.id.clone(),
                                first_sql: sql,
                            });
                        }
                    }
                }
            }
        }
    }
    plan.versions.sort_by_key(|p| p.version);
    Ok(plan)
}

/// Brings tenants to the target version, `opts.jobs` at a time. Resumable: each tenant
/// commits on its own, so a rerun continues where a failure, a cancel or a kill left off.
pub async fn migrate_with(
    session: &Session,
    opts: &MigrateOptions,
    progress: &ProgressSender<MigrateOutcome>,
    cancel: &CancellationToken,
) -> Result<MigrateReport> {
    session.ensure_writable("tenant migrate")?;
    let target = target_of(&session.template, opts)?;
    let rows = candidates(session, opts).await?;
    validate_checksums(session, &opts.accept_checksums, true, "tenant migrate").await?;
    let jobs = usable_jobs(session, opts.jobs).await?;
    let total = rows.len();
    let mut report = MigrateReport::default();
    let mut done = 0;
    let mut queue: VecDeque<Candidate> = rows.into();

    let canary = opts
        .canary
        .as_ref()
        .and_then(|id| queue.iter().position(|c| &c.id == id))
        .and_then(|pos| queue.remove(pos));
    if let Some(c) = canary {
        let outcome = run_one(session, &c, target).await;
        let canary_failed = outcome.is_err();
        done += 1;
        land(&mut report, progress, done, total, &c.id, outcome);
        if canary_failed {
            report.not_tried.extend(queue.into_iter().map(|c| c.id));
            return Ok(report);
        }
    }

    let queue = Arc::new(Mutex::new(queue));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..jobs {
        let queue = queue.clone();
        let tx = tx.clone();
        let session = session.clone();
        let cancel = cancel.clone();
        workers.spawn(async move {
            loop {
                if cancel.is_cancelled() {
                    break;
                }
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some(c) = next else { break };
                let outcome = run_one(&session, &c, target).await;
                if tx.send((c.id, outcome)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    while let Some((id, outcome)) = rx.recv().await {
        done += 1;
        land(&mut report, progress, done, total, &id, outcome);
    }
    while workers.join_next().await.is_some() {}
    if let Ok(mut q) = queue.lock()
        && !q.is_empty()
    {
        report.cancelled = true;
        report.not_tried.extend(q.drain(..).map(|c| c.id));
    }
    report.done.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    report.failed.sort_by(|a, b| a.item.cmp(&b.item));
    Ok(report)
}

/// Adds one tenant's outcome to the report and to the progress.
fn land(
    report: &mut MigrateReport,
    progress: &ProgressSender<MigrateOutcome>,
    done: usize,
    total: usize,
    id: &str,
    outcome: Result<MigrateOutcome>,
) {
    let mut p = Progress {
        done,
        total,
        current: id.to_string(),
        landed: Vec::new(),
        failed: Vec::new(),
    };
    match outcome {
        Ok(o) => {
            p.landed.push(o.clone());
            report.done.push(o);
        }
        Err(e) => {
            let f = ItemFailure {
                item: id.to_string(),
                error: e.to_string(),
            };
            p.failed.push(f.clone());
            report.failed.push(f);
        }
    }
    report_progress(progress, p);
}

/// One tenant: skipped from its registry row, or migrated in its own transaction.
async fn run_one(session: &Session, c: &Candidate, target: i32) -> Result<MigrateOutcome> {
    let outcome = |from, to, result| MigrateOutcome {
        tenant: c.id.clone(),
        from_version: from,
        to_version: to,
        target_version: target,
        result,
    };
    match decide(c, target) {
        Decision::Skip(result, at) => Ok(outcome(at, at, result)),
        Decision::Migrate { .. } => match migrate_one(session, &c.id, target).await? {
            OneResult::Migrated { from, to } => Ok(outcome(from, to, MigrateResult::Migrated)),
            OneResult::Skipped { result, at } => Ok(outcome(at, at, result)),
        },
    }
}

/// What one tenant's transaction found under its lock.
enum OneResult {
    Migrated {
        from: i32,
        to: i32,
    },
    /// Another session changed it between our read and our lock.
    Skipped {
        result: MigrateResult,
        at: i32,
    },
}

/// One tenant in one transaction, its version and pin re-read under the tenant lock.
async fn migrate_one(session: &Session, raw_id: &str, target: i32) -> Result<OneResult> {
    const ACTION: &str = "tenant migrate";
    let id = session.names.tenant_id(raw_id)?;
    let summary = format!("template -> v{target}; RLS; policies; GRANTs");
    let vars = session.names.template_vars();
    let result: Result<OneResult> = async {
        let mut tx = session.begin_change(ACTION).await?;
        lock_tenant(&mut tx, id.as_str(), "migrate").await?;
        let (version, pin, status): (Option<i32>, Option<i32>, String) =
            sqlx::query_as(&vars.render(VERSION_SQL)?)
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(Error::db(format!("migrate {id}: reading its version")))?
                .ok_or_else(|| Error::NoSuchTenant(id.to_string()))?;
        let c = Candidate {
            id: id.to_string(),
            version,
            pin,
        };
        let (from, to) = match decide(&c, target) {
            Decision::Skip(result, at) => return Ok(OneResult::Skipped { result, at }),
            Decision::Migrate { from, to } => (from, to),
        };
        let status = TenantStatus::from_registry(id.as_str(), &status)?;
        template::apply(
            &mut tx,
            session,
            &id,
            (from, to),
            status == TenantStatus::Suspended,
            "migrate",
        )
        .await?;
        sqlx::query(&vars.render(RECORD_SQL)?)
            .bind(id.as_str())
            .bind(to)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!("migrate {id}: recording the version")))?;
        // Last before the commit: the log's chain lock serialises writers until commit.
        journal::record(
            &mut tx,
            session,
            &Entry {
                action: ACTION,
                tenant: Some(id.as_str()),
                sql_summary: format!("template v{from} -> v{to}; RLS; policies; GRANTs"),
                outcome: "ok".into(),
                detail: None,
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(Error::db(format!("migrate {id}: committing")))?;
        Ok(OneResult::Migrated { from, to })
    }
    .await;
    match result {
        Ok(v) => Ok(v),
        Err(e) => failed(session, ACTION, id.as_str(), &summary, e).await,
    }
}
