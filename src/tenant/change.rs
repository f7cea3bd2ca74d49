//! `tenant set`, `suspend`, `resume`: registry changes, each one transaction and one log row.

use super::values::{check_name, config_object, masked};
use super::{failed, lock_tenant};
use crate::catalog::{self, TenantRow, TenantStatus};
use crate::error::{Error, Result};
use crate::journal::{self, Entry};
use crate::names::TenantId;
use crate::session::Session;
use sqlx::{Postgres, Transaction};

/// A change of name and config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantChange {
    pub name: Option<String>,
    /// `KEY=VALUE` pairs to set; values are JSON when they parse.
    pub set: Vec<(String, String)>,
    /// Keys to remove.
    pub unset: Vec<String>,
}

impl TenantChange {
    fn is_empty(&self) -> bool {
        self.name.is_none() && self.set.is_empty() && self.unset.is_empty()
    }
}

/// Changes a tenant's name and config.
pub async fn set(session: &Session, id: &str, change: &TenantChange) -> Result<TenantRow> {
    let id = session.names.tenant_id(id)?;
    if change.is_empty() {
        return Err(Error::Invalid(
            "nothing to change: give --name, --set KEY=VALUE or --unset KEY".into(),
        ));
    }
    if let Some(n) = &change.name {
        check_name(n)?;
    }
    let patch = config_object(&change.set)?;
    let summary = format!(
        "UPDATE registry SET{}{}{}",
        if change.name.is_some() { " name" } else { "" },
        if change.set.is_empty() {
            String::new()
        } else {
            format!(" config+{}", change.set.len())
        },
        if change.unset.is_empty() {
            String::new()
        } else {
            format!(" config-{}", change.unset.len())
        },
    );
    let sql = session.names.template_vars().render(
        "UPDATE {{registry}} SET name = coalesce($2, name), config = (config || $3::jsonb) - $4::text[],
                updated_at = now()
         WHERE id = $1",
    )?;
    let name = change.name.as_ref().map(|n| n.trim().to_string());
    let unset = change.unset.clone();
    let detail = serde_json::json!({ "name": name, "set": masked(&patch), "unset": unset });
    let tid = id.to_string();
    run_change(session, &id, "tenant set", &summary, detail, |tx| {
        Box::pin(async move {
            sqlx::query(&sql)
                .bind(&tid)
                .bind(name)
                .bind(&patch)
                .bind(&unset)
                .execute(&mut **tx)
                .await
                .map_err(Error::db(format!("set {tid}: updating the registry")))?;
            Ok(())
        })
    })
    .await
}

/// Holds a tenant at template version `pin` (`migrate` brings it no further), or releases
/// it (`None`). A pin below the tenant's version is refused: versions are not undone.
pub async fn pin(session: &Session, id: &str, pin: Option<i32>) -> Result<TenantRow> {
    let id = session.names.tenant_id(id)?;
    if let Some(p) = pin
        && p < 1
    {
        return Err(Error::Invalid(format!(
            "--pin-version {p}: template versions start at 1"
        )));
    }
    let sql = session.names.template_vars().render(
        "UPDATE {{registry}} SET pinned_version = $2, updated_at = now() WHERE id = $1
         RETURNING template_version",
    )?;
    let summary = match pin {
        Some(p) => format!("UPDATE registry SET pinned_version = {p}"),
        None => "UPDATE registry SET pinned_version = NULL".into(),
    };
    let tid = id.to_string();
    run_change(
        session,
        &id,
        "tenant set",
        &summary,
        serde_json::json!({ "pinned_version": pin }),
        |tx| {
            Box::pin(async move {
                let at: Option<i32> = sqlx::query_scalar(&sql)
                    .bind(&tid)
                    .bind(pin)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(Error::db(format!("set {tid}: updating the registry")))?;
                if let (Some(p), Some(at)) = (pin, at)
                    && p < at
                {
                    return Err(Error::Invalid(format!(
                        "set {tid}: the tenant is at template version {at} already; a pin holds it back, it cannot take it back to {p}; nothing was changed"
                    )));
                }
                Ok(())
            })
        },
    )
    .await
}

/// Records the template version of an adopted tenant that has none yet, so that `migrate`
/// takes it from there. A tenant with a version is refused: only migrations move it.
pub async fn set_version(session: &Session, id: &str, version: i32) -> Result<TenantRow> {
    let id = session.names.tenant_id(id)?;
    let latest = session.template.latest();
    if version < 1 || version > latest {
        return Err(Error::Invalid(format!(
            "--template-version {version}: {} has versions 1 to {latest}",
            session.template.shown()
        )));
    }
    let sql = session.names.template_vars().render(
        "UPDATE {{registry}} SET template_version = $2, updated_at = now()
         WHERE id = $1 AND template_version IS NULL",
    )?;
    let tid = id.to_string();
    run_change(
        session,
        &id,
        "tenant set",
        &format!("UPDATE registry SET template_version = {version} (was none)"),
        serde_json::json!({ "template_version": version }),
        |tx| {
            Box::pin(async move {
                let changed = sqlx::query(&sql)
                    .bind(&tid)
                    .bind(version)
                    .execute(&mut **tx)
                    .await
                    .map_err(Error::db(format!("set {tid}: updating the registry")))?
                    .rows_affected();
                if changed == 0 {
                    return Err(Error::Invalid(format!(
                        "set {tid}: the tenant has a template version already; only `tenant migrate` moves it; nothing was changed"
                    )));
                }
                Ok(())
            })
        },
    )
    .await
}

/// Suspends a tenant: status `suspended`, and every application role (service, RLS and the
/// tenant's read-only role) loses USAGE on its schema.
pub async fn suspend(session: &Session, id: &str) -> Result<TenantRow> {
    status_change(session, id, StatusChange::Suspend).await
}

/// Resumes a tenant: status `active`, and the application roles regain USAGE on its schema.
pub async fn resume(session: &Session, id: &str) -> Result<TenantRow> {
    status_change(session, id, StatusChange::Resume).await
}

/// The two status changes, and what each does to the registry and the service role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusChange {
    Suspend,
    Resume,
}

impl StatusChange {
    fn status(self) -> TenantStatus {
        match self {
            StatusChange::Suspend => TenantStatus::Suspended,
            StatusChange::Resume => TenantStatus::Active,
        }
    }

    fn action(self) -> &'static str {
        match self {
            StatusChange::Suspend => "tenant suspend",
            StatusChange::Resume => "tenant resume",
        }
    }

    /// The statement that closes or reopens the schema to the service role.
    fn acl_sql(self) -> &'static str {
        match self {
            // Every application role: the service role, the RLS role and the tenant's
            // read-only role.
            StatusChange::Suspend => {
                "REVOKE USAGE ON SCHEMA {{schema}} FROM {{service}}, {{rls}}, {{ro}}"
            }
            StatusChange::Resume => {
                "GRANT USAGE ON SCHEMA {{schema}} TO {{service}}, {{rls}}, {{ro}}"
            }
        }
    }
}

async fn status_change(session: &Session, id: &str, change: StatusChange) -> Result<TenantRow> {
    let id = session.names.tenant_id(id)?;
    let action = change.action();
    let status = change.status().as_str();
    let mut vars = session.names.template_vars();
    vars.ident("schema", &session.names.schema_of(&id))
        .ident("ro", &session.names.readonly_role_of(&id));
    let acl = vars.render(change.acl_sql())?;
    let update =
        vars.render("UPDATE {{registry}} SET status = $2, updated_at = now() WHERE id = $1")?;
    let summary = format!("UPDATE registry SET status = '{status}'; {acl}");
    let tid = id.to_string();
    run_change(
        session,
        &id,
        action,
        &summary,
        serde_json::json!({ "status": status }),
        |tx| {
            Box::pin(async move {
                sqlx::query(&update)
                    .bind(&tid)
                    .bind(status)
                    .execute(&mut **tx)
                    .await
                    .map_err(Error::db(format!("{action} {tid}: updating the registry")))?;
                sqlx::query(&acl)
                    .execute(&mut **tx)
                    .await
                    .map_err(Error::db(format!(
                        "{action} {tid}: changing the application roles' USAGE"
                    )))?;
                Ok(())
            })
        },
    )
    .await
}

type Step<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>>;

/// Runs one registry change on an existing tenant: lock, check it exists, apply, log, commit;
/// logs the failure after a rollback.
async fn run_change<F>(
    session: &Session,
    id: &TenantId,
    action: &str,
    summary: &str,
    detail: serde_json::Value,
    apply: F,
) -> Result<TenantRow>
where
    F: for<'t> FnOnce(&'t mut Transaction<'static, Postgres>) -> Step<'t>,
{
    let result: Result<()> = async {
        let mut tx = session.begin_change(action).await?;
        lock_tenant(&mut tx, id.as_str(), action).await?;
        let exists: bool = sqlx::query_scalar(
            &session
                .names
                .template_vars()
                .render("SELECT EXISTS (SELECT 1 FROM {{registry}} WHERE id = $1)")?,
        )
        .bind(id.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| catalog::registry_error(session, e))?;
        if !exists {
            return Err(Error::NoSuchTenant(id.to_string()));
        }
        apply(&mut tx).await?;
        journal::record(
            &mut tx,
            session,
            &Entry {
                action,
                tenant: Some(id.as_str()),
                sql_summary: summary.into(),
                outcome: "ok".into(),
                detail: Some(detail),
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(Error::db(format!("{action} {id}: committing")))
    }
    .await;
    match result {
        Ok(()) => super::read_back(session, id.as_str(), "changed").await,
        Err(e @ Error::NoSuchTenant(_)) | Err(e @ Error::ReadOnly { .. }) => Err(e),
        Err(e) => failed(session, action, id.as_str(), summary, e).await,
    }
}
