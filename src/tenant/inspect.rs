//! One tenant inspected: registry row, tables and sizes, grants, and the audit's findings
//! about it. Both faces call this; neither assembles a tenant's detail itself.

use crate::audit::{self, Finding};
use crate::catalog::{self, GrantMatrix, SchemaSize, TenantRow};
use crate::error::{Error, Result};
use crate::session::Session;
use tokio_util::sync::CancellationToken;

/// A tenant schema's tables, grants and findings, each read on its own so that one failing
/// part is reported while the others still show.
#[derive(Debug)]
pub struct SchemaInspection {
    pub tables: Result<SchemaSize>,
    pub grants: Result<GrantMatrix>,
    /// The audit of this tenant ([`audit::run`] scoped to it); when it could not run, an
    /// error saying so, never an empty (clean-looking) list.
    pub findings: Result<Vec<Finding>>,
}

/// Everything `tenant show` prints and the console's detail panes draw.
#[derive(Debug, Clone)]
pub struct TenantDetail {
    /// Registry row; its size is the measured one (as `tenant list --exact` gives).
    pub row: TenantRow,
    pub tables: SchemaSize,
    pub grants: GrantMatrix,
    pub findings: Vec<Finding>,
}

/// Reads the tables and grants of tenant `id`'s `schema` and audits the tenant, side by
/// side.
pub async fn inspect_schema(session: &Session, id: &str, schema: &str) -> SchemaInspection {
    let cancel = CancellationToken::new();
    let (tables, grants, report) = tokio::join!(
        catalog::schema_tables(session, schema),
        catalog::grant_matrix(session, schema),
        audit::run(session, Some(id), &cancel),
    );
    let findings = report.map(|r| r.findings).map_err(|e| {
        Error::Invalid(format!(
            "grants cannot be judged: the audit could not read the catalog ({e})"
        ))
    });
    SchemaInspection {
        tables,
        grants,
        findings,
    }
}

/// Inspects tenant `id`: every part must be read, or the call fails with the first error.
pub async fn inspect(session: &Session, id: &str) -> Result<TenantDetail> {
    let id = session.names.tenant_id(id)?;
    let mut row = catalog::tenant_row(session, id.as_str())
        .await?
        .ok_or_else(|| Error::NoSuchTenant(id.to_string()))?;
    let schema = row.schema.clone();
    let (parts, measured) = tokio::join!(
        inspect_schema(session, &row.id, &schema),
        catalog::exact_sizes(session, std::slice::from_ref(&schema)),
    );
    // The same measure as `tenant list --exact`, so the two agree.
    if let Some(m) = measured?.first() {
        row.size_bytes = Some(m.bytes);
        row.size_exact = true;
    }
    Ok(TenantDetail {
        row,
        tables: parts.tables?,
        grants: parts.grants?,
        findings: parts.findings?,
    })
}
