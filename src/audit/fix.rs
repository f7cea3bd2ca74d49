//! Applying the fixes of named findings: one transaction under the lock timeout, logged
//! in the console log, then a fresh audit to say what is left.

use super::{AuditReport, Audited, Finding};
use crate::error::{Error, Result};
use crate::journal;
use crate::session::Session;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// Findings picked for fixing, resolved against a fresh audit.
#[derive(Debug, Clone)]
pub struct FixPlan {
    /// The findings to fix, in the order given.
    pub findings: Vec<Finding>,
    /// The statements, in order.
    pub sql: String,
}

/// What `apply` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixOutcome {
    /// Ids that a fresh audit no longer finds.
    pub fixed: Vec<String>,
    /// Ids still found after the fix (a person must look).
    pub remaining: Vec<String>,
    /// Every finding of the fresh audit, for the summary.
    pub after: AuditReport,
}

/// Finds `ids` in a fresh audit and gathers their fixes. Unknown ids, and findings
/// without a fix, are refused before anything runs.
pub async fn plan(
    session: &Session,
    ids: &[String],
    cancel: &CancellationToken,
) -> Result<FixPlan> {
    if ids.is_empty() {
        return Err(Error::Invalid(
            "name at least one finding id (from `tenantctl audit`)".into(),
        ));
    }
    let report = Audited::read(session, None, cancel).await?.report();
    let mut findings = Vec::new();
    for id in ids {
        let f = report
            .findings
            .iter()
            .find(|f| f.id == *id)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "no finding {id:?} in a fresh audit: it may be fixed already; `tenantctl audit` lists the current ones"
                ))
            })?;
        if f.fix.is_none() {
            return Err(Error::Invalid(format!(
                "finding {id} has no automatic fix: {}",
                f.message
            )));
        }
        if !findings.iter().any(|g: &Finding| g.id == f.id) {
            findings.push(f.clone());
        }
    }
    let sql = findings
        .iter()
        .filter_map(|f| f.fix.as_deref())
        .map(|s| s.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    Ok(FixPlan { findings, sql })
}

/// Applies `plan` in one transaction, as the connected role (role attributes and
/// memberships may need more than the admin role has), under the lock timeout; logs it;
/// then audits again.
pub async fn apply(
    session: &Session,
    plan: &FixPlan,
    cancel: &CancellationToken,
) -> Result<FixOutcome> {
    let action = "audit fix";
    session.ensure_writable(action)?;
    let ids: Vec<&str> = plan.findings.iter().map(|f| f.id.as_str()).collect();
    let entry = journal::Entry {
        action,
        tenant: single_tenant(&plan.findings),
        sql_summary: plan.sql.clone(),
        outcome: "ok".into(),
        detail: Some(serde_json::json!({ "findings": ids })),
    };
    let result: Result<()> = async {
        let mut tx = session
            .pool
            .begin()
            .await
            .map_err(Error::db(format!("{action}: starting a transaction")))?;
        let timeout_ms = format!("{}ms", session.lock_timeout.as_millis());
        sqlx::query("SELECT pg_catalog.set_config('lock_timeout', $1, true)")
            .bind(&timeout_ms)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!("{action}: setting lock_timeout")))?;
        crate::session::run_script(&mut tx, &plan.sql)
            .await
            .map_err(Error::db(format!("{action}: applying {}", ids.join(", "))))?;
        journal::record(&mut tx, session, &entry).await?;
        tx.commit()
            .await
            .map_err(Error::db(format!("{action}: committing")))?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let mut failed = entry.clone();
        failed.outcome = format!("failed: {e}");
        if let Some(log_error) = journal::record_failure(session, &failed).await {
            return Err(Error::Unlogged {
                error: Box::new(e),
                log_error: log_error.to_string(),
            });
        }
        return Err(e);
    }
    let after = Audited::read(session, None, cancel).await?.report();
    let (remaining, fixed): (Vec<String>, Vec<String>) = ids
        .iter()
        .map(|s| s.to_string())
        .partition(|id| after.findings.iter().any(|f| f.id == *id));
    Ok(FixOutcome {
        fixed,
        remaining,
        after,
    })
}

fn single_tenant(findings: &[Finding]) -> Option<&str> {
    let first = findings.first()?.tenant.as_deref()?;
    findings
        .iter()
        .all(|f| f.tenant.as_deref() == Some(first))
        .then_some(first)
}

/// `plan` and `apply` under the long-job contract, for the console: the outcome lands as
/// the one item; a failure is the job's error (nothing was changed, the transaction rolled
/// back).
pub async fn run_job(
    session: &Session,
    ids: &[String],
    progress: &crate::job::ProgressSender<FixOutcome>,
    cancel: &CancellationToken,
) -> Result<crate::job::JobReport<FixOutcome>> {
    let plan = plan(session, ids, cancel).await?;
    let outcome = apply(session, &plan, cancel).await?;
    crate::job::report_progress(
        progress,
        crate::job::Progress {
            done: 1,
            total: 1,
            current: ids.join(", "),
            landed: vec![outcome.clone()],
            failed: Vec::new(),
        },
    );
    Ok(crate::job::JobReport {
        done: vec![outcome],
        ..crate::job::JobReport::default()
    })
}
