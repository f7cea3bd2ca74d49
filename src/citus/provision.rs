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
    // Citus 13.2 deparses a policy to send it to the workers and fails on a subquery.
    (citus && db.message().contains("non-SELECT command in SubLink")).then(|| {
        "Citus cannot propagate a row-level security policy whose expression holds a subquery \
         (Citus 13.2: \"unexpected non-SELECT command in SubLink\"); rewrite that policy without \
         a subquery in the template (e.g. call a function), or create tenants at an earlier \
         template version"
            .to_string()
    })
}
