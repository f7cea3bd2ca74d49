//! One tenant's tables: sizes split into heap, indexes and TOAST, row estimates, RLS.

use crate::error::{Error, Result};
use crate::session::Session;
use serde::Serialize;

/// One table of a tenant schema.
#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct TableInfo {
    pub name: String,
    /// `pg_class.reltuples`; `None` before the first ANALYZE.
    pub row_estimate: Option<i64>,
    pub table_bytes: i64,
    pub index_bytes: i64,
    pub toast_bytes: i64,
    pub total_bytes: i64,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    pub policies: i64,
    /// Carries tenantctl's tenant-binding policy for the RLS role, unaltered.
    pub tenant_bound: bool,
}

/// A tenant schema's size and its tables, largest first.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct SchemaSize {
    pub schema: String,
    pub table_bytes: i64,
    pub index_bytes: i64,
    pub toast_bytes: i64,
    pub total_bytes: i64,
    pub tables: Vec<TableInfo>,
}

/// Tables found through their dependency on the schema (`pg_depend` is indexed on the
/// referenced object; `pg_class.relnamespace` is not, and would cost a catalog scan).
const TABLES_SQL: &str = r#"
SELECT c.relname::text AS name,
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS row_estimate,
       size.tbl - toast.bytes AS table_bytes,
       size.idx AS index_bytes,
       toast.bytes AS toast_bytes,
       size.tbl + size.idx AS total_bytes,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
       EXISTS (
           SELECT 1 FROM pg_policy p
           WHERE p.polrelid = c.oid AND p.polname = $2 AND NOT p.polpermissive
             AND p.polcmd = '*'
             AND p.polroles = ARRAY(SELECT oid FROM pg_roles WHERE rolname = $3)
             AND pg_get_expr(p.polqual, p.polrelid) = format('("current_schema"() = %L::name)', n.nspname)
             AND pg_get_expr(p.polwithcheck, p.polrelid) = format('("current_schema"() = %L::name)', n.nspname)
       ) AS tenant_bound
FROM pg_namespace n
JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid
    AND d.classid = 'pg_class'::regclass
JOIN pg_class c ON c.oid = d.objid AND c.relnamespace = n.oid
-- The total is table plus indexes, as pg_total_relation_size computes it: asking for it
-- as well would measure every file of the table a second time.
CROSS JOIN LATERAL (SELECT pg_table_size(c.oid) AS tbl, pg_indexes_size(c.oid) AS idx) size
CROSS JOIN LATERAL (
    SELECT CASE WHEN c.reltoastrelid = 0 THEN 0
                ELSE pg_total_relation_size(c.reltoastrelid) END AS bytes
) toast
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
ORDER BY total_bytes DESC, name
"#;

/// Tables of `schema`, measured exactly (one schema is cheap), largest first.
pub async fn schema_tables(session: &Session, schema: &str) -> Result<SchemaSize> {
    let tables: Vec<TableInfo> = sqlx::query_as(TABLES_SQL)
        .bind(schema)
        .bind(crate::tenant::BINDING_POLICY)
        .bind(&session.names.rls_role)
        .fetch_all(&session.pool)
        .await
        .map_err(Error::db(format!("reading the tables of {schema}")))?;
    let sum = |f: fn(&TableInfo) -> i64| tables.iter().map(f).sum::<i64>();
    Ok(SchemaSize {
        schema: schema.into(),
        table_bytes: sum(|t| t.table_bytes),
        index_bytes: sum(|t| t.index_bytes),
        toast_bytes: sum(|t| t.toast_bytes),
        total_bytes: sum(|t| t.total_bytes),
        tables,
    })
}
