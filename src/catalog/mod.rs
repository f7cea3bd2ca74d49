//! Read-only, set-based catalog queries: the registry with sizes, one tenant's tables and
//! grants, and drift between registry and schemas. One query each, whatever the tenant count.

mod exact;
mod grants;
mod registry;
mod tables;

pub use exact::{EXACT_CHUNK, Measured, SizeProgress, exact_sizes, measure_sizes, next_batch};
pub use grants::{
    DefaultPrivilege, GrantEntry, GrantMatrix, Membership, ObjectKind, ObjectOwner, grant_matrix,
};
pub(crate) use registry::registry_error;
pub use registry::{
    Drift, ServerSummary, TenantRow, TenantStatus, list_tenants, list_unsized, server_summary,
    tenant_row,
};
pub use tables::{SchemaSize, TableInfo, schema_tables};
