//! The registry of long jobs: every running job under one id, with its kind and progress.
//! The footer shows the focused job; Esc cancels it. A job's answers
//! ([`Action::JobProgress`](super::Action), `JobDone`) find it by id, so an answer from a
//! job already replaced or cancelled is recognised and dropped.
//!
//! Adding a long job (audit, dump, restore): its core call follows `crate::job`'s
//! contract; here it gets a [`LongJob`] variant (what to do), a [`JobKind`] (label, and
//! whether the operator asked for it), a [`Landed`] variant (what its progress carries)
//! and its arms in `on_job_progress` / `on_job_done`; `tui::jobs` gets one arm naming the
//! core call. Registry, footer, `Esc` and shutdown need nothing new.

use super::{App, Effect, ErrorText, Measure};
use crate::audit::AuditReport;
use crate::audit::fix::FixOutcome;
use crate::backup::{BackupSettings, DropReport, DumpReport, RestoreReport, RestoreRequest};
use crate::citus::nodes::NodeMap;
use crate::citus::ops::{Distributed, MovePlan, Moved, RebalanceStatus, TransferMode};
use crate::tenant::MigrateOutcome;

/// A running job's id, unique for the console's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobId(pub u64);

/// What a long job does, and on what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LongJob {
    /// Measure these schemas exactly.
    Sizes(Vec<String>),
    /// Migrate these tenants (`None`: every tenant).
    Migrate(Option<Vec<String>>),
    /// Dump these tenants into the backup folder.
    Dump {
        ids: Vec<String>,
        settings: BackupSettings,
    },
    /// Audit the whole database.
    Audit,
    /// Apply the fixes of these findings, then audit again.
    AuditFix(Vec<String>),
    /// Read the Citus node map.
    Nodes,
    /// Move a tenant to another Citus node.
    MoveTenant(MovePlan),
    /// Make these local tenants distributed schemas.
    Distribute(Vec<String>),
    /// Start a Citus rebalance and follow it.
    Rebalance(TransferMode),
    /// Adopt a schema without a registry row.
    Adopt(crate::tenant::Adoption),
    /// Restore a backup (beside or in place).
    Restore {
        req: RestoreRequest,
        settings: BackupSettings,
    },
    /// Drop a tenant after a verified dump.
    Drop {
        id: String,
        settings: BackupSettings,
    },
    /// Drop these kept copies.
    Release(Vec<String>),
}

/// The kinds of long job (one per core operation under the job contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    Sizes,
    Migrate,
    Dump,
    Audit,
    AuditFix,
    Nodes,
    Move,
    Distribute,
    Rebalance,
    Adopt,
    Restore,
    Drop,
    Release,
}

impl LongJob {
    /// Its kind.
    pub fn kind(&self) -> JobKind {
        match self {
            LongJob::Sizes(_) => JobKind::Sizes,
            LongJob::Migrate(_) => JobKind::Migrate,
            LongJob::Dump { .. } => JobKind::Dump,
            LongJob::Audit => JobKind::Audit,
            LongJob::AuditFix(_) => JobKind::AuditFix,
            LongJob::Nodes => JobKind::Nodes,
            LongJob::MoveTenant(_) => JobKind::Move,
            LongJob::Distribute(_) => JobKind::Distribute,
            LongJob::Rebalance(_) => JobKind::Rebalance,
            LongJob::Adopt(_) => JobKind::Adopt,
            LongJob::Restore { .. } => JobKind::Restore,
            LongJob::Drop { .. } => JobKind::Drop,
            LongJob::Release(_) => JobKind::Release,
        }
    }
}

impl JobKind {
    /// Started by the operator (not in the background on a load).
    pub fn asked_for(self) -> bool {
        match self {
            JobKind::Sizes => false,
            JobKind::Migrate
            | JobKind::Dump
            | JobKind::Audit
            | JobKind::AuditFix
            | JobKind::Adopt
            | JobKind::Restore
            | JobKind::Drop
            | JobKind::Release
            | JobKind::Nodes
            | JobKind::Move
            | JobKind::Distribute
            | JobKind::Rebalance => true,
        }
    }

    /// What the progress line says it is doing.
    pub fn label(self) -> &'static str {
        match self {
            JobKind::Sizes => "measuring sizes",
            JobKind::Migrate => "migrating",
            JobKind::Dump => "dumping",
            JobKind::Audit => "auditing",
            JobKind::AuditFix => "applying the fix",
            JobKind::Nodes => "reading the nodes",
            JobKind::Move => "moving",
            JobKind::Distribute => "distributing",
            JobKind::Rebalance => "rebalancing",
            JobKind::Adopt => "adopting",
            JobKind::Restore => "restoring",
            JobKind::Drop => "dropping",
            JobKind::Release => "releasing",
        }
    }
}

/// Results that landed with a progress report, by kind of job.
#[derive(Debug, Clone, PartialEq)]
pub enum Landed {
    Sizes(Vec<crate::catalog::Measured>),
    Migrate(Vec<MigrateOutcome>),
    Dump(Vec<DumpReport>),
    Audit(Vec<AuditReport>),
    AuditFix(Vec<FixOutcome>),
    Nodes(Vec<NodeMap>),
    Moved(Vec<Moved>),
    Distributed(Vec<Distributed>),
    Rebalance(Vec<RebalanceStatus>),
    Adopt(Vec<crate::tenant::AdoptPlan>),
    Restore(Vec<RestoreReport>),
    Drop(Vec<DropReport>),
    Release(Vec<String>),
}

/// How a job ended: one line of summary, and why it is not a success, if it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEnd {
    pub summary: String,
    /// Failed and untried items, named; `None` when every item was done.
    pub shortfall: Option<String>,
}

/// One running job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningJob {
    pub id: JobId,
    pub kind: JobKind,
    pub done: usize,
    pub total: usize,
    /// The item last finished.
    pub current: String,
    pub failures: usize,
    /// Esc was pressed; waiting for the job to stop.
    pub cancelling: bool,
}

/// Every running job, oldest first; the newest has focus.
#[derive(Debug, Clone, Default)]
pub struct JobRegistry {
    next: u64,
    pub running: Vec<RunningJob>,
}

impl JobRegistry {
    /// Registers a job of `kind` over `total` items; returns its id.
    pub fn add(&mut self, kind: JobKind, total: usize) -> JobId {
        self.next += 1;
        let id = JobId(self.next);
        self.running.push(RunningJob {
            id,
            kind,
            done: 0,
            total,
            current: String::new(),
            failures: 0,
            cancelling: false,
        });
        id
    }

    /// The job Esc cancels: the newest not already cancelling.
    pub fn focused(&self) -> Option<&RunningJob> {
        self.running.iter().rev().find(|j| !j.cancelling)
    }

    /// The running job of `kind`, if any.
    pub fn of_kind(&self, kind: JobKind) -> Option<&RunningJob> {
        self.running.iter().find(|j| j.kind == kind)
    }

    fn get_mut(&mut self, id: JobId) -> Option<&mut RunningJob> {
        self.running.iter_mut().find(|j| j.id == id)
    }

    /// Removes job `id`, returning it.
    pub fn remove(&mut self, id: JobId) -> Option<RunningJob> {
        let at = self.running.iter().position(|j| j.id == id)?;
        Some(self.running.remove(at))
    }
}

impl App {
    /// Starts `job`, registering it; a job of the same kind already running is cancelled
    /// and forgotten first (a reload measures afresh).
    pub(super) fn start_job(&mut self, job: LongJob, total: usize) -> Vec<Effect> {
        let mut effects = Vec::new();
        if let Some(old) = self.jobs.of_kind(job.kind()).map(|j| j.id) {
            self.jobs.remove(old);
            effects.push(Effect::CancelJob(old));
        }
        let id = self.jobs.add(job.kind(), total);
        if job.kind().asked_for() {
            // The progress of what was just asked for takes the status line; a
            // background measurement waits behind the last message instead.
            self.flash = None;
        }
        effects.push(Effect::StartJob { id, job });
        effects
    }

    /// Cancels the focused job; false when none runs.
    pub(super) fn cancel_focused_job(&mut self) -> Option<Effect> {
        let id = self.jobs.focused()?.id;
        if let Some(j) = self.jobs.get_mut(id) {
            j.cancelling = true;
        }
        Some(Effect::CancelJob(id))
    }

    pub(super) fn on_job_progress(
        &mut self,
        id: JobId,
        done: usize,
        total: usize,
        current: String,
        failed: usize,
        landed: Landed,
    ) -> Vec<Effect> {
        let Some(job) = self.jobs.get_mut(id) else {
            return Vec::new(); // A replaced job's last words.
        };
        job.done = done;
        job.total = total;
        job.current = current;
        job.failures += failed;
        match landed {
            Landed::Sizes(sizes) => self.on_sizes(sizes),
            Landed::Migrate(_)
            | Landed::Dump(_)
            | Landed::Adopt(_)
            | Landed::Restore(_)
            | Landed::Drop(_)
            | Landed::Release(_)
            | Landed::Moved(_)
            | Landed::Distributed(_)
            | Landed::Rebalance(_) => Vec::new(),
            Landed::Nodes(maps) => {
                if let Some(map) = maps.into_iter().next_back() {
                    self.on_node_map(map);
                }
                Vec::new()
            }
            Landed::Audit(reports) => {
                if let Some(report) = reports.into_iter().next_back() {
                    self.on_audit_report(report);
                }
                Vec::new()
            }
            Landed::AuditFix(outcomes) => {
                for outcome in outcomes {
                    let left = if outcome.remaining.is_empty() {
                        String::new()
                    } else {
                        format!("; still found: {}", outcome.remaining.join(", "))
                    };
                    let text = format!(
                        "fixed {} finding(s){left}; audit: {}",
                        outcome.fixed.len(),
                        outcome.after.summary.short()
                    );
                    let error = !outcome.remaining.is_empty();
                    self.on_audit_report(outcome.after);
                    self.flash(text, error);
                }
                Vec::new()
            }
        }
    }

    pub(super) fn on_job_done(
        &mut self,
        id: JobId,
        result: Result<JobEnd, ErrorText>,
    ) -> Vec<Effect> {
        let Some(job) = self.jobs.remove(id) else {
            return Vec::new();
        };
        match (job.kind, result) {
            (
                JobKind::Sizes,
                Ok(JobEnd {
                    shortfall: None, ..
                }),
            ) => Vec::new(),
            (
                JobKind::Sizes,
                Ok(JobEnd {
                    shortfall: Some(s), ..
                }),
            ) => {
                // Cancelled: estimates for the rest; the next reload measures them.
                self.measure = Measure::Missing;
                self.flash(
                    format!("measuring sizes: {s}; estimates shown for the rest"),
                    false,
                );
                self.estimate_pending()
            }
            (JobKind::Sizes, Err(e)) => {
                let mut effects = Vec::new();
                if e.connection {
                    if self.measure == Measure::Nothing {
                        // Finish the measurement once the connection is back.
                        self.measure = Measure::Missing;
                    }
                } else {
                    effects = self.estimate_pending();
                }
                effects.extend(self.fail(e));
                effects
            }
            (JobKind::Migrate, Ok(end)) => {
                match end.shortfall {
                    None => self.flash(format!("migrate: {}", end.summary), false),
                    Some(s) => self.flash(format!("migrate: {}; {s}", end.summary), true),
                }
                self.reload()
            }
            (JobKind::Dump, Ok(end)) => {
                match end.shortfall {
                    None => self.flash(format!("dump: {}", end.summary), false),
                    // A cancelled or failed dump left no file that looks like a backup.
                    Some(s) => self.flash(format!("dump: {s}; no backup was written for it"), true),
                }
                Vec::new()
            }
            (JobKind::Dump, Err(e)) => self.fail(e),
            (JobKind::Adopt, Ok(end)) => {
                match end.shortfall {
                    None => self.flash(format!("adopt: {}", end.summary), false),
                    Some(s) => {
                        self.flash(format!("adopt: {s}; the schema was left as it was"), true)
                    }
                }
                self.reload()
            }
            (JobKind::Adopt, Err(e)) => {
                let mut effects = self.fail(e);
                effects.extend(self.reload());
                effects
            }
            (JobKind::Migrate, Err(e)) => {
                let mut effects = self.fail(e);
                effects.extend(self.reload());
                effects
            }
            (JobKind::Audit, Ok(end)) => {
                if let Some(s) = end.shortfall {
                    // Cancelled: whatever report was shown before stays, marked as such.
                    if matches!(self.audit.report, super::Load::Loading) {
                        self.audit.report = super::Load::Idle;
                    }
                    self.flash(format!("audit: {s}"), true);
                }
                Vec::new()
            }
            (JobKind::Audit, Err(e)) => {
                if matches!(self.audit.report, super::Load::Loading) {
                    self.audit.report = super::Load::Failed(e.clone());
                }
                self.fail(e)
            }
            (JobKind::Restore | JobKind::Drop | JobKind::Release, Ok(end)) => {
                // The summary says what the tenant holds, whichever way it ended.
                let label = job.kind.label();
                match end.shortfall {
                    None => self.flash(end.summary, false),
                    Some(s) => self.flash(format!("{label}: {s}; {}", end.summary), true),
                }
                let mut effects = self.reload();
                effects.push(Effect::LoadBackups(self.backups.clone()));
                effects
            }
            (JobKind::Restore | JobKind::Drop | JobKind::Release, Err(e)) => {
                let mut e = e;
                e.message = format!("{}: {}", job.kind.label(), e.message);
                let mut effects = self.fail(e);
                effects.push(Effect::LoadBackups(self.backups.clone()));
                effects
            }
            (JobKind::AuditFix, Ok(_)) => Vec::new(),
            (JobKind::Nodes, Ok(end)) => {
                if let Some(s) = end.shortfall {
                    if matches!(self.nodes.map, super::Load::Loading) {
                        self.nodes.map = super::Load::Idle;
                    }
                    self.flash(format!("nodes: {s}"), true);
                }
                Vec::new()
            }
            (JobKind::Nodes, Err(e)) => {
                self.nodes.map = super::Load::Failed(e.clone());
                self.fail(e)
            }
            (kind @ (JobKind::Move | JobKind::Distribute | JobKind::Rebalance), Ok(end)) => {
                let what = match kind {
                    JobKind::Move => "move",
                    JobKind::Distribute => "distribute",
                    _ => "rebalance",
                };
                // The map is read again first: its start would clear the message.
                let effects = self.start_job(LongJob::Nodes, 1);
                match end.shortfall {
                    None => self.flash(format!("{what}: {}", end.summary), false),
                    Some(s) => self.flash(format!("{what}: {}; {s}", end.summary), true),
                }
                effects
            }
            (JobKind::Move | JobKind::Distribute | JobKind::Rebalance, Err(e)) => {
                let mut effects = self.start_job(LongJob::Nodes, 1);
                effects.extend(self.fail(e));
                effects
            }
            (JobKind::AuditFix, Err(e)) => {
                let mut e = e;
                e.message = format!("the fix was not applied, nothing changed: {}", e.message);
                self.fail(e)
            }
        }
    }

    /// Shows a fresh node map, keeping the cursors in range.
    fn on_node_map(&mut self, map: NodeMap) {
        self.nodes.node = self.nodes.node.min(map.nodes.len().saturating_sub(1));
        let on = map
            .nodes
            .get(self.nodes.node)
            .map_or(0, |n| map.tenants_on(n).len());
        self.nodes.tenant = self.nodes.tenant.min(on.saturating_sub(1));
        self.nodes.map = super::Load::Ready(map);
    }

    /// Shows a fresh audit report, keeping the cursor in range.
    fn on_audit_report(&mut self, report: AuditReport) {
        self.audit.report = super::Load::Ready(report);
        let n = self.audit.shown().len();
        self.audit.selected = self.audit.selected.min(n.saturating_sub(1));
    }

    /// Estimates for the rows left pending when a measurement stopped short, so that no row
    /// says "pending" with nothing running.
    fn estimate_pending(&self) -> Vec<Effect> {
        if self.totals.pending > 0 {
            vec![Effect::LoadEstimates]
        } else {
            Vec::new()
        }
    }

    /// Gives the rows the sizes that landed, and re-sorts when sorted by size.
    fn on_sizes(&mut self, sizes: Vec<crate::catalog::Measured>) -> Vec<Effect> {
        for m in sizes {
            // By id when the schema has today's prefix; a registered schema made under
            // another prefix is found by its name (rare, so a search is fine), or it would
            // stay "pending" for good.
            let rows = &self.list.rows;
            let at = self
                .names
                .id_from_schema(&m.schema)
                .and_then(|id| self.list.by_id.get(id))
                .copied()
                .filter(|&i| rows.get(i).is_some_and(|r| r.schema == m.schema))
                .or_else(|| rows.iter().position(|r| r.schema == m.schema));
            if let Some(row) = at.and_then(|i| self.list.rows.get_mut(i)) {
                row.size_bytes = Some(m.bytes);
                row.size_exact = true;
                // A row read without sizes has no table count either.
                row.tables = m.tables;
            }
        }
        self.sizes_changed();
        Vec::new()
    }
}
