//! The tenant template (numbered versions under `assets/template/`) and tenant grants.

use crate::error::{Error, Result};
use crate::names::{NamingPolicy, SqlVars, TenantId, quote_ident};
use sqlx::PgConnection;

/// Template versions, in order.
const VERSIONS: &[(i32, &str)] = &[
    (1, include_str!("../../assets/template/v1.sql")),
    (2, include_str!("../../assets/template/v2.sql")),
];

const GRANTS: &str = include_str!("../../assets/template/grants.sql");

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
/// then (re)applies the grants, keeping a suspended tenant closed to the service role.
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
    sqlx::query(&format!("SET LOCAL search_path = {}", quote_ident(&schema)))
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
    if suspended {
        let revoke = format!(
            "REVOKE USAGE ON SCHEMA {} FROM {}",
            quote_ident(&schema),
            quote_ident(&names.service_role)
        );
        sqlx::query(&revoke)
            .execute(&mut *conn)
            .await
            .map_err(Error::db(format!(
                "{action} {id}: keeping the suspended tenant closed"
            )))?;
    }
    sqlx::query("SET LOCAL search_path = DEFAULT")
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
        // Through pg_depend, which is indexed on the schema; pg_class.relnamespace is not.
        "SELECT c.relname::text FROM pg_namespace n
         JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid
             AND d.classid = 'pg_class'::regclass
         JOIN pg_class c ON c.oid = d.objid AND c.relnamespace = n.oid
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .map_err(Error::db(format!(
        "{action} {id}: listing tables without RLS"
    )))?;
    for table in unprotected {
        let sql = format!(
            "ALTER TABLE {} ENABLE ROW LEVEL SECURITY",
            crate::names::qualified(schema, &table)
        );
        sqlx::query(&sql)
            .execute(&mut *conn)
            .await
            .map_err(Error::db(format!("{action} {id}: enabling RLS on {table}")))?;
    }
    Ok(())
}
