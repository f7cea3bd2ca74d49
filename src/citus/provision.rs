//! Provisioning on Citus: a new tenant schema is created as a distributed schema, so that it
//! and every table the template makes in it live whole on one worker.

use sqlx::PgConnection;

/// True when the connected database has the `citus` extension.
pub async fn has_citus(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus')",
    )
    .fetch_one(conn)
    .await
}

/// Makes schemas created later in this transaction distributed schemas (Citus 12+).
pub async fn shard_new_schemas(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_catalog.set_config('citus.enable_schema_based_sharding', 'on', true)")
        .execute(conn)
        .await?;
    Ok(())
}

/// What Citus cannot do in a template script, said with what would be needed; `None` for
/// any other error.
pub fn unsupported(citus: bool, e: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    // Citus 13.2 refuses a policy with a subquery on a distributed table, in words that
    // depend on where it notices ("Subqueries are not supported in policies ...", or the
    // deparser's "unexpected non-SELECT command in SubLink").
    let policy_subquery = db.message().contains("non-SELECT command in SubLink")
        || (db.message() == "cannot create policy"
            && db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .and_then(|p| p.detail())
                .is_some_and(|d| d.contains("Subqueries")));
    (citus && policy_subquery).then(|| {
        "Citus cannot propagate a row-level security policy whose expression holds a subquery; \
         give that version a Citus variant (V<n>__<description>.citus.sql beside it, run instead \
         on a Citus coordinator) whose policy calls a function holding the subquery, as the \
         built-in template's v2.citus.sql does, or create tenants at an earlier template version"
            .to_string()
    })
}

/// The tenant binding on Citus. Citus 13.2 creates every policy on the shards as PERMISSIVE
/// (`CreatePolicyCommandForPolicy` drops `AS RESTRICTIVE`), so the model's restrictive
/// binding policy would, on the workers, *grant* the RLS role every row of the tenant and
/// leave the template's own policies working across tenants. Instead the binding goes into
/// every permissive policy the RLS role passes (ALTER POLICY propagates), and the
/// restrictive policy is dropped. Runs after the model's policies were (re)created.
pub async fn bind_on_citus(
    conn: &mut PgConnection,
    names: &crate::names::NamingPolicy,
    schema: &str,
    table: &str,
) -> Result<(), sqlx::Error> {
    let render = |vars: &mut crate::sql::SqlVars, sql: &str| {
        vars.render(sql)
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))
    };
    let mut vars = crate::sql::SqlVars::new();
    vars.qualified("table", schema, table)
        .ident("binding", crate::tenant::BINDING_POLICY)
        .literal("schema_name", schema);
    sqlx::query(&render(
        &mut vars,
        "DROP POLICY IF EXISTS {{binding}} ON {{table}}",
    )?)
    .execute(&mut *conn)
    .await?;
    let qualified = render(&mut vars, "{{table}}")?;
    let policies: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT p.polname::text, pg_catalog.pg_get_expr(p.polqual, p.polrelid),
                pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)
         FROM pg_catalog.pg_policy p
         WHERE p.polrelid = $1::regclass AND p.polpermissive
           AND (0::oid = ANY (p.polroles)
                OR (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = $2) = ANY (p.polroles))",
    )
    .bind(&qualified)
    .bind(&names.rls_role)
    .fetch_all(&mut *conn)
    .await?;
    let marker = format!("{}::name", crate::names::quote_literal(schema));
    let bound = |e: &str| e.contains("current_schema") && e.contains(&marker);
    for (policy, using, check) in policies {
        let mut parts = Vec::new();
        // The expressions are the server's own deparse of policies already in the catalog
        // (pg_get_expr), spliced back as expressions: ALTER POLICY takes no parameters.
        const BINDING: &str =
            "pg_catalog.current_schema() OPERATOR(pg_catalog.=) {{schema_name}}::pg_catalog.name";
        let binding = render(&mut vars, BINDING)?;
        if let Some(u) = using.as_deref().filter(|u| !bound(u)) {
            parts.push(format!("USING (({u}) AND {binding})"));
        }
        if let Some(c) = check.as_deref().filter(|c| !bound(c)) {
            parts.push(format!("WITH CHECK (({c}) AND {binding})"));
        }
        if parts.is_empty() {
            continue;
        }
        let mut each = vars.clone();
        each.ident("policy", &policy);
        let head = render(&mut each, "ALTER POLICY {{policy}} ON {{table}}")?;
        sqlx::query(&format!("{head} {}", parts.join(" ")))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
