//! `tenant drop`: a verified dump first, then schema, read-only role and registry row in
//! one transaction. The backup stays listed, so the tenant can be restored.

use super::lock::TenantBusy;
use super::{BackupSettings, BackupStep, report};
use crate::error::{Error, Result};
use crate::job::{ItemFailure, JobReport, ProgressSender};
use crate::journal::{self, Entry};
use crate::session::Session;
use serde::Serialize;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// A dropped tenant and the backup that holds it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DropReport {
    pub tenant: String,
    pub backup: PathBuf,
}

const KEPT_POLICIES: &str = include_str!("../../assets/backup/kept_policies.sql");
const DELETE_ROW: &str = "DELETE FROM {{registry}} WHERE id = $1";
const DROP_SQL: &str = "DROP SCHEMA IF EXISTS {{schema}} CASCADE; DROP ROLE IF EXISTS {{ro}}";
/// What the console log records.
const DROP_SUMMARY: &str =
    "DROP SCHEMA {{schema}} CASCADE; DROP ROLE {{ro}}; DELETE FROM {{registry}} (its row)";

/// Drops tenant `id` after a verified dump; `confirm` must repeat the id. On the long-job
/// contract: `Err` when it could not start (wrong confirmation, read-only, busy); otherwise
/// `done` holds the drop exactly when the tenant is gone, and a failed or cancelled step
/// (dump, verify, drop) left it in place.
pub async fn drop_tenant(
    session: &Session,
    settings: &BackupSettings,
    id: &str,
    confirm: &str,
    progress: &ProgressSender<DropReport>,
    cancel: &CancellationToken,
) -> Result<JobReport<DropReport>> {
    const ACTION: &str = "tenant drop";
    let id = session.names.tenant_id(id)?;
    if confirm != id.as_str() {
        return Err(Error::Invalid(format!(
            "--confirm {confirm:?} does not match the tenant id {id}; repeat the id to drop it; nothing was changed"
        )));
    }
    session.ensure_writable(ACTION)?;
    let schema = session.names.schema_of(&id);
    let ro = session.names.readonly_role_of(&id);
    let mut busy = TenantBusy::hold(session, &id, &format!("tenantctl drop {id}")).await?;
    let item = |step: BackupStep| format!("{id}: {}", step.label());
    let stopped = |step: BackupStep, e: Option<Error>, backup: Option<&PathBuf>| {
        let kept = match backup {
            Some(p) => format!("; its backup {} stays", p.display()),
            None => String::new(),
        };
        let later: Vec<String> = STEPS
            .iter()
            .skip_while(|s| **s != step)
            .skip(usize::from(e.is_some()))
            .map(|s| item(*s))
            .collect();
        let mut r = JobReport {
            not_tried: later,
            cancelled: e.is_none(),
            ..JobReport::default()
        };
        if let Some(e) = e {
            r.failed.push(ItemFailure {
                item: item(step),
                error: format!("{e}; tenant {id} was not dropped{kept}"),
            });
        }
        r
    };
    let dumped = match super::dump_tenant(session, settings, id.as_str(), progress, cancel).await {
        Ok(d) => d,
        Err(Error::Cancelled(_)) => return Ok(stopped(BackupStep::Dump, None, None)),
        Err(e) => return Ok(stopped(BackupStep::Dump, Some(e), None)),
    };
    if let Err(e) = super::verify(settings, &dumped.path, cancel).await {
        let e = match e {
            Error::Cancelled(_) => None,
            e => Some(e),
        };
        return Ok(stopped(BackupStep::Verify, e, Some(&dumped.path)));
    }
    if cancel.is_cancelled() {
        return Ok(stopped(BackupStep::Drop, None, Some(&dumped.path)));
    }
    report(progress, id.as_str(), BackupStep::Drop, 0, 1, "");
    let vars = {
        let mut v = session.names.template_vars();
        v.ident("schema", &schema).ident("ro", &ro);
        v
    };
    let drop_sql = vars.render(DROP_SQL)?;
    let kept_sql = {
        let mut v = crate::sql::SqlVars::default();
        v.literal("kept_prefix", &format!("{}{id}_", super::KEPT_PREFIX))
            .literal("ro_name", &ro);
        v.render(KEPT_POLICIES)?
    };
    let summary = vars.render(DROP_SUMMARY)?;
    let result: Result<()> = async {
        let mut tx = busy.begin(session, ACTION).await?;
        let deleted = sqlx::query(&vars.render(DELETE_ROW)?)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!("drop {id}: deleting the registry row")))?;
        if deleted.rows_affected() == 0 {
            return Err(Error::NoSuchTenant(id.to_string()));
        }
        crate::session::run_script(&mut tx, &kept_sql)
            .await
            .map_err(Error::db(format!(
                "drop {id}: clearing its kept copies' policies on {ro}"
            )))?;
        crate::session::run_script(&mut tx, &drop_sql)
            .await
            .map_err(Error::db(format!("drop {id}: dropping schema and role")))?;
        journal::record(
            &mut tx,
            session,
            &Entry {
                action: ACTION,
                tenant: Some(id.as_str()),
                sql_summary: summary.clone(),
                outcome: "ok".into(),
                detail: Some(serde_json::json!({
                    "backup": dumped.path, "sha256": dumped.manifest.sha256
                })),
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(Error::db(format!("drop {id}: committing")))
    }
    .await;
    drop(busy);
    let done = DropReport {
        tenant: id.to_string(),
        backup: dumped.path.clone(),
    };
    match result {
        Ok(()) => {
            report(progress, id.as_str(), BackupStep::Drop, 1, 1, "");
            Ok(JobReport {
                done: vec![done],
                ..JobReport::default()
            })
        }
        Err(e @ Error::NoSuchTenant(_)) => Err(e),
        Err(e) => {
            // A connection lost at COMMIT leaves the outcome to be asked on a fresh one.
            let gone = sqlx::query_scalar::<_, bool>(
                "SELECT NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            )
            .bind(&schema)
            .fetch_one(&session.pool)
            .await;
            if let Ok(true) = gone {
                return Ok(JobReport {
                    done: vec![done],
                    failed: vec![ItemFailure {
                        item: item(BackupStep::Drop),
                        error: format!(
                            "{e}; the drop did commit: tenant {id} is gone, its backup is {}",
                            dumped.path.display()
                        ),
                    }],
                    ..JobReport::default()
                });
            }
            let e = crate::tenant::failed::<()>(session, ACTION, id.as_str(), &summary, e)
                .await
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            Ok(JobReport {
                failed: vec![ItemFailure {
                    item: item(BackupStep::Drop),
                    error: format!(
                        "{e}; tenant {id} was not dropped; its backup {} stays",
                        dumped.path.display()
                    ),
                }],
                ..JobReport::default()
            })
        }
    }
}

/// The steps of a drop, in order (the items of its job report).
const STEPS: [BackupStep; 3] = [BackupStep::Dump, BackupStep::Verify, BackupStep::Drop];
