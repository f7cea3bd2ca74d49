//! The console's one door to the core's write operations and policy check.
//!
//! Everything in `tui/` that changes the database goes through here, so the face's needs
//! of the core are listed in one file. Reads call `catalog`/`journal` directly.

use crate::catalog::TenantRow;
use crate::error::Result;
use crate::session::Session;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

pub use crate::policy::{Deviation, policy_deviations};
pub use crate::tenant::{MigrateProgress, NewTenant, TenantChange};

/// Provisions a tenant.
pub async fn create(session: &Session, new: &NewTenant) -> Result<TenantRow> {
    crate::tenant::create(session, new).await
}

/// Changes a tenant's name or config.
pub async fn set(session: &Session, id: &str, change: &TenantChange) -> Result<TenantRow> {
    crate::tenant::set(session, id, change).await
}

/// Suspends a tenant.
pub async fn suspend(session: &Session, id: &str) -> Result<TenantRow> {
    crate::tenant::suspend(session, id).await
}

/// Resumes a tenant.
pub async fn resume(session: &Session, id: &str) -> Result<TenantRow> {
    crate::tenant::resume(session, id).await
}

/// Brings tenants to the newest template version; returns a one-line summary.
pub async fn migrate(
    session: &Session,
    ids: Option<Vec<String>>,
    progress: UnboundedSender<MigrateProgress>,
    cancel: CancellationToken,
) -> Result<String> {
    let report = crate::tenant::migrate(session, ids, progress, cancel).await?;
    let count = |r: &str| report.outcomes.iter().filter(|o| o.result == r).count();
    let mut line = format!(
        "to v{}: {} migrated, {} already current, {} failed",
        report.target_version,
        count("migrated"),
        count("current"),
        report.failures()
    );
    if report.cancelled {
        line.push_str(" (cancelled)");
    }
    Ok(line)
}
