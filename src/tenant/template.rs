//! The tenant template (numbered versions under `assets/template/`) and tenant grants.

use crate::error::{Error, Result};
use crate::names::{NamingPolicy, TenantId};
use crate::sql::SqlVars;
use sqlx::PgConnection;

/// Template versions, in order.
const VERSIONS: &[(i32, &str)] = &[
    (1, include_str!("../../assets/template/v1.sql")),
    (2, include_str!("../../assets/template/v2.sql")),
    (3, include_str!("../../assets/template/v3.sql")),
];

const GRANTS: &str = include_str!("../../assets/template/grants.sql");

/// The tenant-binding policy and the RLS role's grant, for one table.
const BIND: &str = include_str!("../../assets/template/bind.sql");

/// The RLS role may read a security-invoker view: row security applies beneath it.
const GRANT_VIEW: &str = "GRANT SELECT ON {{schema}}.{{table}} TO {{rls}}";

/// Name of the policy tenantctl adds to every tenant table.
pub const BINDING_POLICY: &str = "tenantctl_tenant_bound";

/// What the RLS role may be granted in a schema: tables (to be bound) and views whose
/// `security_invoker` is on. Materialized views, foreign tables and definer views are
/// left out: row security cannot apply to what they return.
const RLS_READABLE_SQL: &str = r#"
SELECT c.relname::pg_catalog.text, c.relkind IN ('r', 'p')
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1
  AND (c.relkind IN ('r', 'p')
       OR (c.relkind = 'v' AND EXISTS (
             SELECT 1 FROM pg_catalog.unnest(c.reloptions) o
             WHERE pg_catalog.lower(o) IN ('security_invoker=true', 'security_invoker=on',
                   'security_invoker=yes', 'security_invoker=1', 'security_invoker=t'))))
ORDER BY 1
"#;

/// The newest template version.
pub fn latest_version() -> i32 {
    VERSIONS.last().map(|(v, _)| *v).unwrap_or(0)
}

/// Placeholders for one tenant's SQL.
pub(crate) fn tenant_vars(names: &NamingPolicy, id: &TenantId) -> SqlVars {
    let mut vars = names.template_vars();
    vars.ident("schema", &names.schema_of(id))
        .ident("ro", &names.readonly_role_of(id));
    vars
}

/// Applies template versions `(from, to]` in `schema`, then enables RLS on every table,
/// then (re)applies the grants, keeping a suspended tenant closed to the application roles.
/// The caller holds the transaction.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    names: &NamingPolicy,
    id: &TenantId,
    (from, to): (i32, i32),
    suspended: bool,
    action: &str,
) -> Result<()> {
    let schema = names.schema_of(id);
    let vars = tenant_vars(names, id);
    sqlx::query(&vars.render("SET LOCAL search_path = {{schema}}")?)
        .execute(&mut *conn)
        .await
        .map_err(Error::db(format!("{action} {id}: setting search_path")))?;
    let steps: Vec<(i32, &str)> = VERSIONS
        .iter()
        .copied()
        .filter(|(v, _)| *v > from && *v <= to)
        .collect();
    for (version, sql) in steps {
        let sql = vars.render(sql)?;
        crate::session::run_script(conn, &sql)
            .await
            .map_err(Error::db(format!(
                "{action} {id}: template version {version}"
            )))?;
    }
    enable_rls_everywhere(conn, &schema, id, action).await?;
    let grants = vars.render(GRANTS)?;
    crate::session::run_script(conn, &grants)
        .await
        .map_err(Error::db(format!("{action} {id}: granting privileges")))?;
    bind_to_tenant(conn, names, &schema, id, action).await?;
    if suspended {
        // A suspended tenant stays closed to every application role.
        let revoke =
            vars.render("REVOKE USAGE ON SCHEMA {{schema}} FROM {{service}}, {{rls}}, {{ro}}")?;
        sqlx::query(&revoke)
            .execute(&mut *conn)
            .await
            .map_err(Error::db(format!(
                "{action} {id}: keeping the suspended tenant closed"
            )))?;
    }
    sqlx::query("SELECT pg_catalog.set_config('search_path', $1, true)")
        .bind(crate::connect::PINNED_SEARCH_PATH)
        .execute(&mut *conn)
        .await
        .map_err(Error::db(format!("{action} {id}: resetting search_path")))?;
    Ok(())
}

/// A table a template version forgot to protect still gets RLS: the RLS role may read
/// only tables with RLS on.
async fn enable_rls_everywhere(
    conn: &mut PgConnection,
    schema: &str,
    id: &TenantId,
    action: &str,
) -> Result<()> {
    let unprotected: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .map_err(Error::db(format!(
        "{action} {id}: listing tables without RLS"
    )))?;
    for table in unprotected {
        let sql = SqlVars::new()
            .qualified("table", schema, &table)
            .render("ALTER TABLE {{table}} ENABLE ROW LEVEL SECURITY")?;
        sqlx::query(&sql)
            .execute(&mut *conn)
            .await
            .map_err(Error::db(format!("{action} {id}: enabling RLS on {table}")))?;
    }
    Ok(())
}

/// Binds every table of the schema to its tenant for the RLS role and grants it SELECT
/// table by table, after RLS is on: whatever the template's own policies say, a session
/// routed elsewhere reads nothing. Runs after every template version, so tables added by
/// a migration or by hand are bound on the next run.
async fn bind_to_tenant(
    conn: &mut PgConnection,
    names: &NamingPolicy,
    schema: &str,
    id: &TenantId,
    action: &str,
) -> Result<()> {
    let readable: Vec<(String, bool)> = sqlx::query_as(RLS_READABLE_SQL)
        .bind(schema)
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db(format!(
            "{action} {id}: listing what the RLS role may read"
        )))?;
    for (table, is_table) in readable {
        let mut vars = tenant_vars(names, id);
        vars.ident("table", &table).literal("schema_name", schema);
        let sql = vars.render(if is_table { BIND } else { GRANT_VIEW })?;
        crate::session::run_script(conn, &sql)
            .await
            .map_err(Error::db(format!(
                "{action} {id}: binding {table} to its tenant"
            )))?;
    }
    Ok(())
}
