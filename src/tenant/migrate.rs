//! `tenant migrate`: each tenant to the newest template version, each in its own
//! transaction; a failure stops that tenant only.

use super::template;
use super::{failed, lock_tenant};
use crate::error::{Error, Result};
use crate::journal::{self, Entry};
use crate::session::Session;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// Progress after each tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrateProgress {
    pub done: usize,
    pub total: usize,
    pub tenant: String,
    /// The failure of this tenant, if it failed.
    pub error: Option<String>,
}

/// What happened to one tenant.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MigrateOutcome {
    pub tenant: String,
    pub from_version: i32,
    pub to_version: i32,
    /// `migrated`, `current` or `failed`.
    pub result: String,
    pub error: Option<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct MigrateReport {
    pub target_version: i32,
    pub outcomes: Vec<MigrateOutcome>,
    /// True when cancelled before every tenant was tried.
    pub cancelled: bool,
}

impl MigrateReport {
    /// Tenants whose result was `result` (`migrated`, `current` or `failed`).
    pub fn count(&self, result: &str) -> usize {
        self.outcomes.iter().filter(|o| o.result == result).count()
    }

    /// Tenants that failed.
    pub fn failures(&self) -> usize {
        self.count("failed")
    }

    /// One line: how many were migrated, already current and failed.
    pub fn summary(&self) -> String {
        format!(
            "template v{}: {} migrated, {} already current, {} failed{}",
            self.target_version,
            self.count("migrated"),
            self.count("current"),
            self.failures(),
            if self.cancelled {
                " (cancelled; rerun to continue)"
            } else {
                ""
            }
        )
    }
}

/// Brings `ids` (or every registered tenant) to the newest template version. Resumable:
/// each tenant commits on its own, so a rerun continues where a failure or cancel left off.
pub async fn migrate(
    session: &Session,
    ids: Option<Vec<String>>,
    progress: UnboundedSender<MigrateProgress>,
    cancel: CancellationToken,
) -> Result<MigrateReport> {
    session.ensure_writable("tenant migrate")?;
    let target = template::latest_version();
    let rows: Vec<(String, i32)> = sqlx::query_as(&format!(
        "SELECT id, template_version FROM {} WHERE $1::text[] IS NULL OR id = ANY($1) ORDER BY id",
        session.names.registry()
    ))
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
    let mut report = MigrateReport {
        target_version: target,
        ..MigrateReport::default()
    };
    let total = rows.len();
    for (done, (id, version)) in rows.into_iter().enumerate() {
        if cancel.is_cancelled() {
            report.cancelled = true;
            break;
        }
        let outcome = if version >= target {
            MigrateOutcome {
                tenant: id.clone(),
                from_version: version,
                to_version: version,
                result: "current".into(),
                error: None,
            }
        } else {
            match migrate_one(session, &id, target).await {
                Ok(from) => MigrateOutcome {
                    tenant: id.clone(),
                    from_version: from,
                    to_version: target,
                    result: "migrated".into(),
                    error: None,
                },
                Err(e) => MigrateOutcome {
                    tenant: id.clone(),
                    from_version: version,
                    to_version: version,
                    result: "failed".into(),
                    error: Some(e.to_string()),
                },
            }
        };
        let _ = progress.send(MigrateProgress {
            done: done + 1,
            total,
            tenant: id,
            error: outcome.error.clone(),
        });
        report.outcomes.push(outcome);
    }
    Ok(report)
}

/// One tenant in one transaction; returns the version it came from.
async fn migrate_one(session: &Session, raw_id: &str, target: i32) -> Result<i32> {
    const ACTION: &str = "tenant migrate";
    let id = session.names.tenant_id(raw_id)?;
    let summary = format!("template -> v{target}; RLS; GRANTs");
    let result: Result<i32> = async {
        let mut tx = session.begin_change(ACTION).await?;
        lock_tenant(&mut tx, id.as_str(), "migrate").await?;
        // Re-read under the lock: another session may have migrated it meanwhile.
        let (from, status): (i32, String) = sqlx::query_as(&format!(
            "SELECT template_version, status FROM {} WHERE id = $1",
            session.names.registry()
        ))
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(Error::db(format!("migrate {id}: reading its version")))?
        .ok_or_else(|| Error::NoSuchTenant(id.to_string()))?;
        if from >= target {
            return Ok(from);
        }
        let suspended = status == "suspended";
        template::apply(
            &mut tx,
            &session.names,
            &id,
            (from, target),
            suspended,
            "migrate",
        )
        .await?;
        sqlx::query(&format!(
            "UPDATE {} SET template_version = $2, updated_at = now() WHERE id = $1",
            session.names.registry()
        ))
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
        Ok(from)
    }
    .await;
    match result {
        Ok(v) => Ok(v),
        Err(e) => failed(session, ACTION, id.as_str(), &summary, e).await,
    }
}
