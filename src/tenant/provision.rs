//! `tenant create`: registry row, schema, template, RLS, grants, read-only role and
//! default privileges, in one transaction.

use super::template;
use super::values::{check_name, config_object, masked};
use super::{failed, lock_tenant};
use crate::catalog::{self, TenantRow};
use crate::error::{Error, Result};
use crate::journal::{self, Entry};
use crate::names::TenantId;
use crate::session::Session;

/// What to provision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewTenant {
    /// Tenant id (validated here).
    pub id: String,
    /// Display name; defaults to the id.
    pub name: Option<String>,
    /// `KEY=VALUE` pairs for the registry's config; values are JSON when they parse.
    pub config: Vec<(String, String)>,
}

/// Provisions a tenant all or nothing; on failure nothing is left and the error names the step.
pub async fn create(session: &Session, new: &NewTenant) -> Result<TenantRow> {
    create_at_version(session, new, session.template.latest()).await
}

/// Provisions a tenant at an older template version (to rehearse a migration).
pub async fn create_at_version(
    session: &Session,
    new: &NewTenant,
    version: i32,
) -> Result<TenantRow> {
    create_checked(session, new, version, true).await
}

/// Refuses, before anything is created, when a template file applied to any tenant has
/// changed since (as `tenant migrate` does): a new tenant would get content its
/// neighbours never ran. Versions in `accept` take the new checksum (logged).
pub async fn check_applied_files(session: &Session, accept: &[i32]) -> Result<()> {
    session.ensure_writable("tenant create")?;
    super::migrate::validate_checksums(session, accept, true, "tenant create").await
}

/// [`create_at_version`]; `check` false when the caller (a bulk run) checked the
/// template's applied files once for all its tenants.
pub(crate) async fn create_checked(
    session: &Session,
    new: &NewTenant,
    version: i32,
    check: bool,
) -> Result<TenantRow> {
    if version < 1 || version > session.template.latest() {
        return Err(Error::Invalid(format!(
            "template version {version} does not exist in {}; versions are 1 to {}",
            session.template.shown(),
            session.template.latest()
        )));
    }
    let names = &session.names;
    let id = names.tenant_id(&new.id)?;
    let name = new.name.clone().unwrap_or_else(|| id.to_string());
    check_name(&name)?;
    let config = config_object(&new.config)?;
    session.ensure_writable("tenant create")?;
    if check {
        super::migrate::validate_checksums(session, &[], false, "tenant create").await?;
    }
    let summary = format!(
        "INSERT registry row; CREATE SCHEMA {}; CREATE ROLE {}; template v1..v{}; RLS; GRANTs; DEFAULT PRIVILEGES",
        names.schema_of(&id),
        names.readonly_role_of(&id),
        version
    );
    match provision(session, &id, &name, &config, &summary, version).await {
        Ok(()) => super::read_back(session, id.as_str(), "created").await,
        Err(e) => failed(session, "tenant create", id.as_str(), &summary, e).await,
    }
}

async fn provision(
    session: &Session,
    id: &TenantId,
    name: &str,
    config: &serde_json::Value,
    summary: &str,
    version: i32,
) -> Result<()> {
    const ACTION: &str = "create";
    let names = &session.names;
    let schema = names.schema_of(id);
    let ro = names.readonly_role_of(id);
    let mut tx = session.begin_change("tenant create").await?;
    lock_tenant(&mut tx, id.as_str(), ACTION).await?;

    let mut vars = names.template_vars();
    vars.ident("schema", &schema).ident("ro", &ro);
    // Two queries: on Citus a query naming the registry (a reference table) is planned as a
    // distributed one, and the pg_roles view in it would be expanded to pg_authid, which the
    // admin role may not read.
    let in_registry: bool = sqlx::query_scalar(
        &vars.render("SELECT EXISTS (SELECT 1 FROM {{registry}} WHERE id = $1)")?,
    )
    .bind(id.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| catalog::registry_error(session, e))?;
    let (schema_exists, role_exists): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
                EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2)",
    )
    .bind(&schema)
    .bind(&ro)
    .fetch_one(&mut *tx)
    .await
    .map_err(Error::db(format!(
        "{ACTION} {id}: looking for its schema and role"
    )))?;
    if in_registry {
        return Err(Error::Conflict(format!(
            "tenant {id} already exists; nothing was changed"
        )));
    }
    if schema_exists {
        return Err(Error::Conflict(format!(
            "create {id}: schema {schema} already exists without a registry row (drift); inspect it, then drop or rename it; nothing was changed"
        )));
    }
    if role_exists {
        return Err(Error::Conflict(format!(
            "create {id}: role {ro} already exists; drop it or choose another id; nothing was changed"
        )));
    }

    let insert = vars.render(
        "INSERT INTO {{registry}} (id, name, schema, config, template_version) VALUES ($1, $2, $3, $4, $5)",
    )?;
    sqlx::query(&insert)
        .bind(id.as_str())
        .bind(name.trim())
        .bind(&schema)
        .bind(config)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(|e| match crate::error::sqlstate(&e).as_deref() {
            Some("23505") => {
                Error::Conflict(format!("tenant {id} already exists; nothing was changed"))
            }
            _ => Error::db(format!("{ACTION} {id}: inserting the registry row"))(e),
        })?;
    // History left by a dropped tenant of the same id is not this tenant's.
    sqlx::query(&vars.render("DELETE FROM {{history}} WHERE tenant_id = $1")?)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("{ACTION} {id}: clearing an old history")))?;
    // On Citus the schema is created distributed: it and the template's tables land whole
    // on one worker, in this same transaction.
    let on_citus = crate::citus::provision::has_citus(&mut tx)
        .await
        .map_err(Error::db(format!("{ACTION} {id}: looking for Citus")))?;
    if on_citus {
        crate::citus::provision::shard_new_schemas(&mut tx)
            .await
            .map_err(Error::db(format!(
                "{ACTION} {id}: turning on Citus schema-based sharding"
            )))?;
    }
    sqlx::query(&vars.render("CREATE SCHEMA {{schema}} AUTHORIZATION {{admin}}")?)
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!(
            "{ACTION} {id}: creating schema {schema}"
        )))?;
    sqlx::query(&vars.render(
        "CREATE ROLE {{ro}} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
    )?)
    .execute(&mut *tx)
    .await
    .map_err(Error::db(format!("{ACTION} {id}: creating role {ro}")))?;
    template::apply(&mut tx, session, id, (0, version), false, ACTION).await?;
    journal::record(
        &mut tx,
        session,
        &Entry {
            action: "tenant create",
            tenant: Some(id.as_str()),
            sql_summary: summary.into(),
            outcome: "ok".into(),
            detail: Some(serde_json::json!({ "name": name.trim(), "config": masked(config) })),
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(Error::db(format!("{ACTION} {id}: committing")))?;
    Ok(())
}
