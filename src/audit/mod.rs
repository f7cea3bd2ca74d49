//! The permission audit: the expected model, the rules, findings with paths and fixes,
//! `who`, reports, and applying fixes.
//!
//! One pass over the catalog ([`snapshot::read`]: a few set-based queries in one
//! transaction), then every decision in memory, the membership closure included, so the
//! cost grows with the catalog, not with roles × objects.

pub mod acl;
pub mod finding;
pub mod fix;
pub mod members;
pub mod model;
pub mod reach;
pub mod report;
mod rules;
pub mod snapshot;
mod tree;
pub mod who;
pub mod workers;

pub use finding::{Finding, Rule, Severity};
pub use who::{RoleReach, WhoReport};

use crate::error::{Error, Result};
use crate::job::{JobReport, Progress, ProgressSender, report_progress};
use crate::session::Session;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// Counts of findings by severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
    pub total: usize,
    /// Tenants in the registry when the audit ran.
    pub tenants: usize,
    /// With a baseline: findings it does not have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<usize>,
}

impl Summary {
    /// Counts `findings`.
    pub fn of(findings: &[Finding], tenants: usize) -> Summary {
        let mut s = Summary {
            tenants,
            total: findings.len(),
            ..Summary::default()
        };
        for f in findings {
            *s.slot(f.severity) += 1;
        }
        if findings.iter().any(|f| f.new.is_some()) {
            s.new = Some(findings.iter().filter(|f| f.new == Some(true)).count());
        }
        s
    }

    fn slot(&mut self, severity: Severity) -> &mut usize {
        match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        }
    }

    /// The worst severity present, if any.
    pub fn worst(&self) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| match s {
            Severity::Critical => self.critical > 0,
            Severity::High => self.high > 0,
            Severity::Medium => self.medium > 0,
            Severity::Low => self.low > 0,
            Severity::Info => self.info > 0,
        })
    }

    /// `2 high, 1 medium`, or `clean`.
    pub fn short(&self) -> String {
        let parts: Vec<String> = [
            (self.critical, "critical"),
            (self.high, "high"),
            (self.medium, "medium"),
            (self.low, "low"),
            (self.info, "info"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
        if parts.is_empty() {
            "clean".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The audit's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

impl AuditReport {
    /// True when a finding (a new one, with a baseline) is at `threshold` or worse.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings
            .iter()
            .filter(|f| f.new != Some(false))
            .any(|f| f.severity.at_least(threshold))
    }

    /// Marks each finding new or not against a previous report, by id.
    pub fn compare_with(&mut self, baseline: &AuditReport) {
        let known: std::collections::HashSet<&str> =
            baseline.findings.iter().map(|f| f.id.as_str()).collect();
        for f in &mut self.findings {
            f.new = Some(!known.contains(f.id.as_str()));
        }
        self.summary = Summary::of(&self.findings, self.summary.tenants);
    }

    /// Only the findings that concern `tenant` ([`Finding::concerns`]).
    pub fn for_tenant(&self, tenant: &str) -> AuditReport {
        let findings: Vec<Finding> = self
            .findings
            .iter()
            .filter(|f| f.concerns(tenant))
            .cloned()
            .collect();
        AuditReport {
            summary: Summary::of(&findings, self.summary.tenants),
            findings,
        }
    }
}

/// Everything the audit read and derived, for `run`, `who` and `fix` alike.
pub struct Audited {
    pub snapshot: snapshot::Snapshot,
    pub model: model::Model,
    pub members: members::Memberships,
    /// Findings on Citus workers ([`workers`]); empty without Citus.
    pub workers: Vec<Finding>,
}

impl Audited {
    /// Reads the catalog once: every schema, or only `schema` (one tenant's).
    pub async fn read(
        session: &Session,
        schema: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<Audited> {
        // Three independent reads, side by side: the log's chain and the workers are not
        // part of the catalog snapshot, and each would otherwise wait for the others.
        let chain = async {
            match schema {
                None => crate::journal::verify(session).await.map(Some),
                Some(_) => Ok(None),
            }
        };
        // Joined, not raced: a read dropped half-way would leave its connection mid-query.
        let (snapshot, log_chain, workers) = tokio::join!(
            snapshot::read(session, schema, cancel),
            chain,
            workers::audit(session, schema, cancel),
        );
        let mut snapshot = snapshot?;
        snapshot.log_chain = log_chain?;
        let workers = workers?;
        let model = model::Model::new(&session.names, &snapshot);
        let members = members::Memberships::new(&snapshot.memberships);
        Ok(Audited {
            snapshot,
            model,
            members,
            workers,
        })
    }

    /// Every finding.
    pub fn report(&self) -> AuditReport {
        let mut findings = rules::run(&self.snapshot, &self.model, &self.members);
        findings.extend(self.workers.iter().cloned());
        AuditReport {
            summary: Summary::of(
                &findings,
                self.snapshot
                    .registry_total
                    .unwrap_or(self.model.tenants.len()),
            ),
            findings,
        }
    }

    /// Who reaches `tenant`'s data.
    pub fn who(&self, tenant: &str, table: Option<&str>) -> Result<WhoReport> {
        let t = self
            .model
            .tenants
            .values()
            .find(|t| t.id == tenant)
            .ok_or_else(|| Error::NoSuchTenant(tenant.into()))?;
        if let Some(table) = table {
            let exists = self.snapshot.relations.iter().any(|r| {
                r.schema == t.schema && r.name == table && r.kind != snapshot::RelKind::Sequence
            });
            if !exists {
                return Err(Error::Invalid(format!(
                    "tenant {tenant} has no table {table:?} (schema {})",
                    t.schema
                )));
            }
        }
        Ok(who::who(
            &self.snapshot,
            &self.members,
            &t.id,
            &t.schema,
            table,
        ))
    }
}

/// Audits the database (or one tenant of it): one read of the catalog, then the rules.
pub async fn run(
    session: &Session,
    tenant: Option<&str>,
    cancel: &CancellationToken,
) -> Result<AuditReport> {
    let schema = match tenant {
        Some(id) => Some(session.names.schema_of(&session.names.tenant_id(id)?)),
        None => None,
    };
    let audited = Audited::read(session, schema.as_deref(), cancel).await?;
    let wanted = tenant.map(String::from);
    // Judged on a blocking thread: the rules are tens of milliseconds of CPU at 10,000
    // tenants, and on the caller's task they would stall whatever it runs beside the audit
    // (`tenant show` queued its other reads behind them on an idle connection).
    let (report, tenant_known) = tokio::task::spawn_blocking(move || {
        let report = audited.report();
        let known = wanted
            .as_deref()
            .is_none_or(|id| audited.model.tenants.values().any(|t| t.id == id));
        free_in_background(audited);
        (report, known)
    })
    .await
    .map_err(|e| Error::Invalid(format!("the audit stopped while judging the catalog: {e}")))?;
    match tenant {
        Some(id) => {
            if !tenant_known {
                return Err(Error::NoSuchTenant(id.into()));
            }
            Ok(report.for_tenant(id))
        }
        None => Ok(report),
    }
}

/// Frees what the audit read on a thread of its own: at 10,000 tenants that is a few
/// hundred thousand allocations, 8 % of the audit's CPU time, and nobody needs to wait
/// for it (a command line run exits without).
fn free_in_background<T: Send + 'static>(value: T) {
    // If no thread can be had, the closure and the value are dropped here instead.
    let _ = std::thread::Builder::new()
        .name("audit-free".into())
        .spawn(move || drop(value));
}

/// The audit under the long-job contract ([`crate::job`]): two steps (read the catalog,
/// judge it), the report landing with the second. Cancelled while reading, nothing lands
/// and the report says so.
pub async fn run_job(
    session: &Session,
    tenant: Option<&str>,
    progress: &ProgressSender<AuditReport>,
    cancel: &CancellationToken,
) -> Result<JobReport<AuditReport>> {
    let step = |done: usize, current: &str, landed: Vec<AuditReport>| Progress {
        done,
        total: 2,
        current: current.into(),
        landed,
        failed: Vec::new(),
    };
    report_progress(progress, step(0, "reading the catalog", Vec::new()));
    match run(session, tenant, cancel).await {
        Ok(report) => {
            report_progress(progress, step(2, "judged", vec![report.clone()]));
            Ok(JobReport {
                done: vec![report],
                ..JobReport::default()
            })
        }
        Err(Error::Cancelled(_)) => Ok(JobReport {
            not_tried: vec!["the audit".into()],
            cancelled: true,
            ..JobReport::default()
        }),
        Err(e) => Err(e),
    }
}

/// Who can read or write `tenant`'s data (or one table's), and how.
pub async fn who(
    session: &Session,
    tenant: &str,
    table: Option<&str>,
    cancel: &CancellationToken,
) -> Result<WhoReport> {
    let schema = session.names.schema_of(&session.names.tenant_id(tenant)?);
    Audited::read(session, Some(&schema), cancel)
        .await?
        .who(tenant, table)
}
