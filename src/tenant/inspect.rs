//! One tenant inspected: registry row, tables and sizes, grants, and deviations from the
//! model. Both faces call this; neither assembles a tenant's detail itself.

use crate::catalog::{self, GrantMatrix, SchemaSize, TenantRow, TenantStatus};
use crate::error::{Error, Result};
use crate::policy::{Deviation, policy_deviations};
use crate::session::Session;

/// A tenant schema's tables, grants and deviations, each read or judged on its own so that
/// one failing part is reported while the others still show.
#[derive(Debug)]
pub struct SchemaInspection {
    pub tables: Result<SchemaSize>,
    pub grants: Result<GrantMatrix>,
    /// Judged only when tables and grants were both read; otherwise an error saying which
    /// part is missing, never an empty (clean-looking) list.
    pub deviations: Result<Vec<Deviation>>,
}

/// Everything `tenant show` prints and the console's detail panes draw.
#[derive(Debug, Clone)]
pub struct TenantDetail {
    /// Registry row; its size is the measured one (as `tenant list --exact` gives).
    pub row: TenantRow,
    pub tables: SchemaSize,
    pub grants: GrantMatrix,
    pub deviations: Vec<Deviation>,
}

/// Reads the tables and grants of tenant `id`'s `schema` side by side and judges them.
pub async fn inspect_schema(
    session: &Session,
    id: &str,
    schema: &str,
    status: TenantStatus,
) -> SchemaInspection {
    let (tables, grants) = tokio::join!(
        catalog::schema_tables(session, schema),
        catalog::grant_matrix(session, schema)
    );
    let deviations = match (&tables, &grants) {
        (Ok(t), Ok(g)) => Ok(policy_deviations(&session.names, id, status, g, t)),
        (Err(e), _) => Err(Error::Invalid(format!(
            "grants cannot be judged: the tables could not be read ({e})"
        ))),
        (_, Err(e)) => Err(Error::Invalid(format!(
            "grants cannot be judged: the grants could not be read ({e})"
        ))),
    };
    SchemaInspection {
        tables,
        grants,
        deviations,
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
        inspect_schema(session, &row.id, &schema, row.status),
        catalog::exact_sizes(session, std::slice::from_ref(&schema)),
    );
    // The same measure as `tenant list --exact`, so the two agree.
    if let Some((_, bytes)) = measured?.first() {
        row.size_bytes = Some(*bytes);
        row.size_exact = true;
    }
    Ok(TenantDetail {
        row,
        tables: parts.tables?,
        grants: parts.grants?,
        deviations: parts.deviations?,
    })
}
