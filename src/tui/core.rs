//! The console's one door to the core's write operations.
//!
//! `tenant::{create, set, suspend, resume, migrate, policy_deviations}` are being written on
//! `main`; until they are merged, this module mirrors their fixed signatures so that only this
//! file changes when they land. Everything else in `tui/` calls the core through here or
//! through `catalog`/`journal` directly.

use crate::catalog::{GrantMatrix, SchemaSize, TenantRow};
use crate::error::{Error, Result};
use crate::names::NamingPolicy;
use crate::session::Session;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// A tenant to provision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    pub id: String,
    pub name: Option<String>,
    /// Raw `KEY=VALUE` pairs; the core parses a value as JSON, else takes it as a string.
    pub config: Vec<(String, String)>,
}

/// A change to a tenant's name or config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantChange {
    pub name: Option<String>,
    pub set: Vec<(String, String)>,
    pub unset: Vec<String>,
}

/// Progress of a migration, one message per tenant done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateProgress {
    pub done: usize,
    pub total: usize,
    pub tenant: String,
    pub error: Option<String>,
}

/// One way a schema's grants differ from the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    pub role: String,
    pub object: String,
    pub privilege: String,
    /// True when the policy wants the privilege and it is absent; false when it is extra.
    pub missing: bool,
    pub reason: String,
}

fn not_yet(what: &str) -> Error {
    Error::Invalid(format!(
        "{what} is not available in this build of the console yet"
    ))
}

/// Provisions a tenant (`tenant::create`).
pub async fn create(session: &Session, new: &NewTenant) -> Result<TenantRow> {
    session.ensure_writable("create a tenant")?;
    let _ = new;
    Err(not_yet("creating a tenant"))
}

/// Changes a tenant's name or config (`tenant::set`).
pub async fn set(session: &Session, id: &str, change: &TenantChange) -> Result<TenantRow> {
    session.ensure_writable("change a tenant")?;
    let _ = (id, change);
    Err(not_yet("changing a tenant"))
}

/// Suspends a tenant (`tenant::suspend`).
pub async fn suspend(session: &Session, id: &str) -> Result<TenantRow> {
    session.ensure_writable("suspend a tenant")?;
    let _ = id;
    Err(not_yet("suspending a tenant"))
}

/// Resumes a tenant (`tenant::resume`).
pub async fn resume(session: &Session, id: &str) -> Result<TenantRow> {
    session.ensure_writable("resume a tenant")?;
    let _ = id;
    Err(not_yet("resuming a tenant"))
}

/// Brings tenants to the newest template version (`tenant::migrate`); returns a summary line.
pub async fn migrate(
    session: &Session,
    ids: Option<Vec<String>>,
    progress: UnboundedSender<MigrateProgress>,
    cancel: CancellationToken,
) -> Result<String> {
    session.ensure_writable("migrate tenants")?;
    let _ = (ids, progress, cancel);
    Err(not_yet("migrating tenants"))
}

/// Where the schema's grants differ from the policy (`tenant::policy_deviations`).
pub fn policy_deviations(
    names: &NamingPolicy,
    tenant_id: &str,
    matrix: &GrantMatrix,
    tables: &SchemaSize,
) -> Vec<Deviation> {
    let _ = (names, tenant_id, matrix, tables);
    Vec::new()
}
