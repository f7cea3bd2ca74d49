//! The tenant template (numbered versions under `assets/template/`) and tenant grants.

use super::versions::Template;
use crate::error::{Error, Result};
use crate::names::{NamingPolicy, TenantId};
use crate::sql::SqlVars;
use sqlx::PgConnection;

const GRANTS: &str = include_str!("../../assets/template/grants.sql");
const GRANT_EACH: &str = include_str!("../../assets/template/grant_each.sql");
const GRANT_SEQUENCE: &str = include_str!("../../assets/template/grant_sequence.sql");

/// Every relation of a schema and whether it is a sequence, found through `pg_depend`.
const RELATIONS_SQL: &str = r#"
SELECT c.relname::pg_catalog.text, c.relkind = 'S'
FROM pg_catalog.pg_class c
WHERE c.oid IN (SELECT d.objid FROM pg_catalog.pg_depend d
                WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
                  AND d.refobjid = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $1)
                  AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
  AND c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $1)
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
ORDER BY 1
"#;

/// The tenant-binding policy and the RLS role's grant, for one table.
const BIND: &str = include_str!("../../assets/template/bind.sql");

/// The RLS role may read a security-invoker view: row security applies beneath it.
const GRANT_VIEW: &str = "GRANT SELECT ON {{schema}}.{{table}} TO {{rls}}";

/// One applied version, in the history; the database role is recorded beside the OS user.
const RECORD_HISTORY: &str = "INSERT INTO {{history}} \
    (tenant_id, version, description, file, checksum, applied_by, duration_ms) \
    VALUES ($1, $2, $3, $4, $5, $6 OPERATOR(pg_catalog.||) ' as ' OPERATOR(pg_catalog.||) session_user, $7) \
    ON CONFLICT (tenant_id, version) DO UPDATE SET description = EXCLUDED.description, \
    file = EXCLUDED.file, checksum = EXCLUDED.checksum, applied_at = EXCLUDED.applied_at, \
    applied_by = EXCLUDED.applied_by, duration_ms = EXCLUDED.duration_ms";

/// Name of the policy tenantctl adds to every tenant table.
pub const BINDING_POLICY: &str = "tenantctl_tenant_bound";

/// The relations of a schema are found through `pg_depend` (indexed on the schema), not
/// by filtering `pg_class` on `relnamespace`, which has no index: at thousands of tenants
/// that scan was the largest part of a migration's per-tenant cost.
///
/// What the RLS role may be granted in a schema: tables (to be bound) and views whose
/// `security_invoker` is on. Materialized views, foreign tables and definer views are
/// left out: row security cannot apply to what they return.
const RLS_READABLE_SQL: &str = r#"
SELECT c.relname::pg_catalog.text, c.relkind IN ('r', 'p')
FROM pg_catalog.pg_class c
WHERE c.oid IN (SELECT d.objid FROM pg_catalog.pg_depend d
                WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
                  AND d.refobjid = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $1)
                  AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
  AND c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $1)
  AND (c.relkind IN ('r', 'p')
       OR (c.relkind = 'v' AND EXISTS (
             SELECT 1 FROM pg_catalog.unnest(c.reloptions) o
             WHERE pg_catalog.lower(o) IN ('security_invoker=true', 'security_invoker=on',
                   'security_invoker=yes', 'security_invoker=1', 'security_invoker=t'))))
ORDER BY 1
"#;

/// The newest version of the built-in sample template.
pub fn latest_version() -> i32 {
    Template::builtin().latest()
}

/// Placeholders for one tenant's SQL.
pub(crate) fn tenant_vars(names: &NamingPolicy, id: &TenantId) -> SqlVars {
    let mut vars = names.template_vars();
    vars.ident("schema", &names.schema_of(id))
        .ident("ro", &names.readonly_role_of(id))
        .literal("tenant_id", id.as_str());
    vars
}

/// The placeholders a template version sees, and nothing else of tenantctl's.
fn version_vars(names: &NamingPolicy, id: &TenantId) -> SqlVars {
    let mut vars = SqlVars::new();
    vars.ident("schema", &names.schema_of(id))
        .ident("ro", &names.readonly_role_of(id))
        .literal("tenant_id", id.as_str())
        .ident("admin", &names.admin_role)
        .ident("service", &names.service_role)
        .ident("rls", &names.rls_role);
    vars
}

/// The SQL of one version as it would run for `id`.
pub(crate) fn render_version(
    names: &NamingPolicy,
    id: &TenantId,
    step: &super::versions::TemplateVersion,
) -> Result<String> {
    Ok(version_vars(names, id).render(&step.sql)?)
}

/// Applies template versions `(from, to]` in `schema`, then enables RLS on every table,
/// then (re)applies the grants, keeping a suspended tenant closed to the application roles.
/// The caller holds the transaction.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    session: &crate::session::Session,
    id: &TenantId,
    (from, to): (i32, i32),
    suspended: bool,
    action: &str,
) -> Result<()> {
    let (names, template, applied_by) = (&session.names, &session.template, &session.os_user);
    let vars = tenant_vars(names, id);
    sqlx::query(&vars.render("SET LOCAL search_path = {{schema}}")?)
        .execute(&mut *conn)
        .await
        .map_err(Error::db(format!("{action} {id}: setting search_path")))?;
    let version_vars = version_vars(names, id);
    let record = vars.render(RECORD_HISTORY)?;
    for step in template.steps(from, to) {
        let sql = version_vars.render(&step.sql)?;
        let started = std::time::Instant::now();
        session.run_template_script(conn, &sql).await.map_err(|e| {
            let during = format!(
                "{action} {id}: template version {} ({})",
                step.version, step.file
            );
            match crate::citus::provision::unsupported(session.citus, &e) {
                Some(why) => Error::Invalid(format!("{during}: {why}; nothing was changed")),
                None => Error::db(during)(e),
            }
        })?;
        let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        sqlx::query(&record)
            .bind(id.as_str())
            .bind(step.version)
            .bind(&step.description)
            .bind(&step.file)
            .bind(&step.checksum)
            .bind(applied_by)
            .bind(ms)
            .execute(&mut *conn)
            .await
            .map_err(Error::db(format!(
                "{action} {id}: recording template version {} in the history",
                step.version
            )))?;
    }
    sqlx::query("SELECT pg_catalog.set_config('search_path', $1, true)")
        .bind(crate::connect::PINNED_SEARCH_PATH)
        .execute(&mut *conn)
        .await
        .map_err(Error::db(format!("{action} {id}: resetting search_path")))?;
    apply_model(conn, names, id, suspended, action).await
}

/// What tenantctl applies after every template version (and after a restore or an
/// adoption): RLS on every table, the model's grants and policies, the tenant binding,
/// and a suspended tenant kept closed. Every name is schema-qualified.
pub(crate) async fn apply_model(
    conn: &mut PgConnection,
    names: &NamingPolicy,
    id: &TenantId,
    suspended: bool,
    action: &str,
) -> Result<()> {
    apply_model_at(conn, names, id, &names.schema_of(id), suspended, action).await
}

/// [`apply_model`] on the tenant's objects while they sit in schema `at` (a restore's side
/// copy, before it is renamed to the tenant's schema): the policies still bind to the
/// tenant's schema name, and what is granted on `at` stays with it through the rename.
pub(crate) async fn apply_model_at(
    conn: &mut PgConnection,
    names: &NamingPolicy,
    id: &TenantId,
    at: &str,
    suspended: bool,
    action: &str,
) -> Result<()> {
    let schema = at.to_string();
    let mut vars = tenant_vars(names, id);
    vars.ident("schema", &schema);
    // On Citus the scripts below go one statement at a time (see `citus::script`).
    let citus = crate::citus::provision::has_citus(conn)
        .await
        .map_err(Error::db(format!("{action} {id}: looking for Citus")))?;
    enable_rls_everywhere(conn, &schema, id, action).await?;
    let mut grants = vars.render(GRANTS)?;
    let relations: Vec<(String, bool)> = sqlx::query_as(RELATIONS_SQL)
        .bind(&schema)
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db(format!(
            "{action} {id}: listing the schema's relations"
        )))?;
    for (relation, is_sequence) in relations {
        let mut each = vars.clone();
        each.qualified("table", &schema, &relation);
        grants.push('\n');
        grants.push_str(&each.render(if is_sequence {
            GRANT_SEQUENCE
        } else {
            GRANT_EACH
        })?);
    }
    crate::citus::script::run_script(conn, &grants, citus)
        .await
        .map_err(Error::db(format!("{action} {id}: granting privileges")))?;
    bind_to_tenant(conn, names, &schema, id, action, citus).await?;
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
        "SELECT c.relname::pg_catalog.text FROM pg_catalog.pg_class c
         WHERE c.oid IN (SELECT d.objid FROM pg_catalog.pg_depend d
                         WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
                           AND d.refobjid = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $1)
                           AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
           AND c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $1)
           AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity",
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
    citus: bool,
) -> Result<()> {
    let readable: Vec<(String, bool)> = sqlx::query_as(RLS_READABLE_SQL)
        .bind(schema)
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db(format!(
            "{action} {id}: listing what the RLS role may read"
        )))?;
    let bound_to = names.schema_of(id);
    for (table, is_table) in readable {
        let mut vars = tenant_vars(names, id);
        vars.ident("schema", schema)
            .ident("table", &table)
            .literal("schema_name", &bound_to);
        let sql = vars.render(if is_table { BIND } else { GRANT_VIEW })?;
        crate::citus::script::run_script(conn, &sql, citus)
            .await
            .map_err(Error::db(format!(
                "{action} {id}: binding {table} to its tenant"
            )))?;
        if citus && is_table {
            crate::citus::provision::bind_on_citus(conn, names, schema, &table)
                .await
                .map_err(Error::db(format!(
                    "{action} {id}: binding {table} to its tenant on the Citus workers"
                )))?;
        }
    }
    Ok(())
}
