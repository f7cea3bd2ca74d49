//! Provisioning and lifecycle of tenants: create, set, suspend, resume, migrate.
//! Every change is one transaction under the admin role and writes one console-log row.

mod adopt;
mod bulk;
mod change;
mod inspect;
mod migrate;
mod provision;
pub(crate) mod template;
mod values;
mod versions;

pub use adopt::{
    AdoptPlan, Adoption, OwnerChange, adopt, adopt_job, adopt_plan, unregistered_schemas,
};
pub use bulk::{BulkOutcome, BulkReport, BulkResult, BulkRow, create_many, parse_bulk};
pub use change::{TenantChange, pin, resume, set, set_version, suspend};
pub use inspect::{SchemaInspection, TenantDetail, inspect, inspect_schema};
pub use migrate::{
    MigrateOptions, MigrateOutcome, MigratePlan, MigrateProgress, MigrateReport, MigrateResult,
    PlannedVersion, migrate, migrate_with, plan,
};
pub use provision::{NewTenant, check_applied_files, create, create_at_version};
pub use template::{BINDING_POLICY, latest_version};
pub use values::{
    MASK, check_name, is_secret_key, masked, parse_config_value, parse_pair, parse_pairs,
};
pub use versions::{PLACEHOLDERS, Template, TemplateSource, TemplateVersion, checksum};

use crate::catalog::{self, TenantRow};
use crate::error::{Error, Result};
use crate::journal::{self, Entry};
use crate::session::Session;

/// Serialises changes to one tenant id across sessions (advisory lock key).
pub(crate) async fn lock_tenant(
    conn: &mut sqlx::PgConnection,
    id: &str,
    action: &str,
) -> Result<()> {
    // A restore or drop of this tenant holds its busy lock for minutes: refuse at once,
    // naming it, instead of waiting out lock_timeout.
    let free: bool = sqlx::query_scalar(&format!(
        "SELECT pg_try_advisory_xact_lock_shared({})",
        crate::backup::BUSY_KEY
    ))
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .map_err(Error::db(format!("{action} {id}: taking the tenant lock")))?;
    if !free {
        let who = crate::backup::holder_of(&mut *conn, id).await;
        return Err(Error::Conflict(format!(
            "{action} {id}: a restore or drop of this tenant is running (held by {who}); nothing was changed; retry when it is done"
        )));
    }
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('tenantctl:tenant:' || $1, 0))")
        .bind(id)
        .execute(conn)
        .await
        .map_err(|e| match crate::error::sqlstate(&e).as_deref() {
            Some("55P03") => Error::Conflict(format!(
                "{action} {id}: another session is changing this tenant (lock not granted within lock_timeout); nothing was changed"
            )),
            _ => Error::db(format!("{action} {id}: taking the tenant lock"))(e),
        })?;
    Ok(())
}

/// The registry row after a committed change; a failure to read it says the change was made.
pub(crate) async fn read_back(session: &Session, id: &str, done: &str) -> Result<TenantRow> {
    let done = || format!("tenant {id} was {done}");
    match catalog::tenant_row(session, id).await {
        Ok(Some(row)) => Ok(row),
        Ok(None) => Err(Error::Committed {
            done: done(),
            cause: Box::new(Error::NoSuchTenant(id.into())),
        }),
        Err(e) => Err(Error::Committed {
            done: done(),
            cause: Box::new(e),
        }),
    }
}

/// Logs a failed change after its rollback and returns the original error; if the log
/// itself cannot be written, the error says so too.
pub(crate) async fn failed<T>(
    session: &Session,
    action: &str,
    tenant: &str,
    summary: &str,
    err: Error,
) -> Result<T> {
    let entry = Entry {
        action,
        tenant: Some(tenant),
        sql_summary: summary.into(),
        outcome: format!("failed: {err}"),
        detail: None,
    };
    match journal::record_failure(session, &entry).await {
        None => Err(err),
        Some(log_error) => Err(Error::Unlogged {
            error: Box::new(err),
            log_error: log_error.to_string(),
        }),
    }
}
