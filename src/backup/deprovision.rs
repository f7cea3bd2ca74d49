//! `tenant drop`: a verified dump first, then schema, read-only role and registry row in
//! one transaction. The backup stays listed, so the tenant can be restored.

use super::lock::TenantBusy;
use super::{BackupProgress, BackupSettings, BackupStep, report};
use crate::error::{Error, Result};
use crate::journal::{self, Entry};
use crate::names::quote_ident;
use crate::session::Session;
use serde::Serialize;
use std::path::PathBuf;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// A dropped tenant and the backup that holds it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DropReport {
    pub tenant: String,
    pub backup: PathBuf,
}

/// Drops tenant `id` after a verified dump; `confirm` must repeat the id.
pub async fn drop_tenant(
    session: &Session,
    settings: &BackupSettings,
    id: &str,
    confirm: &str,
    progress: UnboundedSender<BackupProgress>,
    cancel: CancellationToken,
) -> Result<DropReport> {
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
    let dumped = super::dump(
        session,
        settings,
        id.as_str(),
        progress.clone(),
        cancel.clone(),
    )
    .await
    .map_err(|e| match e {
        Error::Invalid(m) => Error::Invalid(format!("{m}; tenant {id} was not dropped")),
        other => other,
    })?;
    super::verify(settings, &dumped.path, &cancel).await?;
    if cancel.is_cancelled() {
        return Err(Error::Cancelled(format!(
            "drop {id}: cancelled after the dump; tenant {id} was not dropped"
        )));
    }
    report(&progress, id.as_str(), BackupStep::Drop, 0, 1, "");
    let summary = format!("DROP SCHEMA {schema} CASCADE; DROP ROLE {ro}; DELETE registry row");
    let result: Result<()> = async {
        let mut tx = busy.begin(session, ACTION).await?;
        let deleted = sqlx::query(&format!(
            "DELETE FROM {} WHERE id = $1",
            session.names.registry()
        ))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("drop {id}: deleting the registry row")))?;
        if deleted.rows_affected() == 0 {
            return Err(Error::NoSuchTenant(id.to_string()));
        }
        let sql = format!(
            "DROP SCHEMA IF EXISTS {} CASCADE; DROP ROLE IF EXISTS {}",
            quote_ident(&schema),
            quote_ident(&ro)
        );
        crate::session::run_script(&mut tx, &sql)
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
    match result {
        Ok(()) => {
            report(&progress, id.as_str(), BackupStep::Drop, 1, 1, "");
            Ok(DropReport {
                tenant: id.to_string(),
                backup: dumped.path,
            })
        }
        Err(e @ Error::NoSuchTenant(_)) => Err(e),
        Err(e) => {
            let e = match e {
                Error::Db { during, source } => Error::Db {
                    during: format!(
                        "{during} (tenant {id} was not dropped; its backup {} stays)",
                        dumped.path.display()
                    ),
                    source,
                },
                other => other,
            };
            crate::tenant::failed(session, ACTION, id.as_str(), &summary, e).await
        }
    }
}
