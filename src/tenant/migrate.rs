//! `tenant migrate`: each tenant to the newest template version, each in its own
//! transaction; a failure stops that tenant only. Follows the [`crate::job`] contract.

use super::template;
use super::{failed, lock_tenant};
use crate::catalog::TenantStatus;
use crate::error::{Error, Result};
use crate::job::{ItemFailure, JobReport, Progress, ProgressSender, report_progress};
use crate::journal::{self, Entry};
use crate::session::Session;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// What migrating one tenant came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MigrateResult {
    /// This run moved it to the target version.
    Migrated,
    /// It was already at the target (before the run, or by another session meanwhile).
    Current,
}

/// One tenant that was tried and did not fail.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MigrateOutcome {
    pub tenant: String,
    pub from_version: i32,
    pub to_version: i32,
    pub result: MigrateResult,
}

/// Progress of a migration: one report per tenant tried.
pub type MigrateProgress = Progress<MigrateOutcome>;

/// The whole run: migrated or current tenants in `done`, failures, and tenants not tried.
pub type MigrateReport = JobReport<MigrateOutcome>;

impl JobReport<MigrateOutcome> {
    /// Tenants whose result was `result`.
    pub fn count(&self, result: MigrateResult) -> usize {
        self.done.iter().filter(|o| o.result == result).count()
    }

    /// One line: how many were migrated, already current, failed and not tried.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "template v{}: {} migrated, {} already current, {} failed",
            template::latest_version(),
            self.count(MigrateResult::Migrated),
            self.count(MigrateResult::Current),
            self.failed.len(),
        );
        if self.cancelled {
            s.push_str(&format!(
                ", {} not tried (cancelled; rerun to continue)",
                self.not_tried.len()
            ));
        }
        s
    }
}

const TENANTS_SQL: &str = "SELECT id, template_version FROM {{registry}} \
     WHERE $1::text[] IS NULL OR id = ANY($1) ORDER BY id";
const VERSION_SQL: &str = "SELECT template_version, status FROM {{registry}} WHERE id = $1";
const RECORD_SQL: &str =
    "UPDATE {{registry}} SET template_version = $2, updated_at = now() WHERE id = $1";

/// Brings `ids` (or every registered tenant) to the newest template version. Resumable:
/// each tenant commits on its own, so a rerun continues where a failure or cancel left off.
pub async fn migrate(
    session: &Session,
    ids: Option<Vec<String>>,
    progress: &ProgressSender<MigrateOutcome>,
    cancel: &CancellationToken,
) -> Result<MigrateReport> {
    session.ensure_writable("tenant migrate")?;
    let target = template::latest_version();
    let vars = session.names.template_vars();
    let rows: Vec<(String, i32)> = sqlx::query_as(&vars.render(TENANTS_SQL)?)
        .bind(&ids)
        .fetch_all(&session.pool)
        .await
        .map_err(|e| crate::catalog::registry_error(session, e))?;
    if let Some(wanted) = &ids {
        for w in wanted {
            session.names.tenant_id(w)?;
            if !rows.iter().any(|(id, _)| id == w) {
                return Err(Error::NoSuchTenant(w.clone()));
            }
        }
    }
    let mut report = MigrateReport::default();
    let total = rows.len();
    let mut rows = rows.into_iter().enumerate();
    for (done, (id, version)) in rows.by_ref() {
        if cancel.is_cancelled() {
            report.cancelled = true;
            report.not_tried.push(id);
            break;
        }
        let outcome = if version >= target {
            Ok(MigrateOutcome {
                tenant: id.clone(),
                from_version: version,
                to_version: version,
                result: MigrateResult::Current,
            })
        } else {
            migrate_one(session, &id, target)
                .await
                .map(|o| o.outcome(&id, target))
        };
        let mut p = Progress {
            done: done + 1,
            total,
            current: id.clone(),
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
                    item: id,
                    error: e.to_string(),
                };
                p.failed.push(f.clone());
                report.failed.push(f);
            }
        }
        report_progress(progress, p);
    }
    report.not_tried.extend(rows.map(|(_, (id, _))| id));
    Ok(report)
}

/// What one tenant's transaction found under its lock.
enum OneResult {
    Migrated {
        from: i32,
    },
    /// Another session brought it to `at` between our read and our lock.
    AlreadyAt {
        at: i32,
    },
}

impl OneResult {
    fn outcome(self, id: &str, target: i32) -> MigrateOutcome {
        match self {
            OneResult::Migrated { from } => MigrateOutcome {
                tenant: id.into(),
                from_version: from,
                to_version: target,
                result: MigrateResult::Migrated,
            },
            OneResult::AlreadyAt { at } => MigrateOutcome {
                tenant: id.into(),
                from_version: at,
                to_version: at,
                result: MigrateResult::Current,
            },
        }
    }
}

/// One tenant in one transaction.
async fn migrate_one(session: &Session, raw_id: &str, target: i32) -> Result<OneResult> {
    const ACTION: &str = "tenant migrate";
    let id = session.names.tenant_id(raw_id)?;
    let summary = format!("template -> v{target}; RLS; GRANTs");
    let vars = session.names.template_vars();
    let result: Result<OneResult> = async {
        let mut tx = session.begin_change(ACTION).await?;
        lock_tenant(&mut tx, id.as_str(), "migrate").await?;
        // Re-read under the lock: another session may have migrated it meanwhile.
        let (from, status): (i32, String) = sqlx::query_as(&vars.render(VERSION_SQL)?)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::db(format!("migrate {id}: reading its version")))?
            .ok_or_else(|| Error::NoSuchTenant(id.to_string()))?;
        if from >= target {
            return Ok(OneResult::AlreadyAt { at: from });
        }
        let status = TenantStatus::from_registry(id.as_str(), &status)?;
        template::apply(
            &mut tx,
            &session.names,
            &id,
            (from, target),
            status == TenantStatus::Suspended,
            "migrate",
        )
        .await?;
        sqlx::query(&vars.render(RECORD_SQL)?)
            .bind(id.as_str())
            .bind(target)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!("migrate {id}: recording the version")))?;
        journal::record(
            &mut tx,
            session,
            &Entry {
                action: ACTION,
                tenant: Some(id.as_str()),
                sql_summary: format!("template v{from} -> v{target}; RLS; GRANTs"),
                outcome: "ok".into(),
                detail: None,
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(Error::db(format!("migrate {id}: committing")))?;
        Ok(OneResult::Migrated { from })
    }
    .await;
    match result {
        Ok(v) => Ok(v),
        Err(e) => failed(session, ACTION, id.as_str(), &summary, e).await,
    }
}
