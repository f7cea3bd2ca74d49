//! Worker credentials of a login role: Citus opens its connections to the workers as the
//! *current* role, so every role that reads or writes distributed tenant tables through the
//! coordinator must log in to the workers with a password the coordinator knows. `init`
//! does this for the admin and RLS roles; this does it for any other login role: the
//! application's (the service role) and the people granted a tenant's read-only role.

use crate::connect::Secret;
use crate::error::{Error, Result};
use crate::session::Session;
use serde::Serialize;

/// What [`set_worker_login`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerLogin {
    pub role: String,
    /// False when the role already had a `pg_dist_authinfo` row (now replaced).
    pub authinfo_added: bool,
}

const ACTION: &str = "worker-login";

/// Sets `role`'s password on every node (`ALTER ROLE`, which Citus propagates, with a
/// SCRAM verifier made here so the plain password reaches no statement log) and stores the
/// same password for the coordinator's connections to the workers (`pg_dist_authinfo`,
/// readable by superusers only), in one transaction. Refuses a role that cannot log in (a
/// group role such as a tenant's read-only role: its login members are the ones to set),
/// the admin and RLS roles (`init` keeps theirs), a non-superuser session, and a database
/// without Citus.
pub async fn set_worker_login(
    session: &Session,
    role: &str,
    password: &Secret,
) -> Result<WorkerLogin> {
    session.ensure_writable(ACTION)?;
    if !session.citus {
        return Err(Error::Invalid(format!(
            "{ACTION}: this database has no citus extension; worker credentials are for a Citus coordinator only"
        )));
    }
    let names = &session.names;
    if role == names.admin_role || role == names.rls_role {
        return Err(Error::Invalid(format!(
            "{ACTION}: {role:?} is tenantctl's own role, whose worker credentials init keeps (a random password only the coordinator knows); rerun init to renew them; nothing was changed"
        )));
    }
    if password.expose().is_empty() {
        return Err(Error::Invalid(format!(
            "{ACTION}: an empty password; nothing was changed"
        )));
    }
    let mut tx = session
        .pool
        .begin()
        .await
        .map_err(Error::db(format!("{ACTION}: starting")))?;
    let is_super: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user")
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db(format!("{ACTION}: reading the connected role")))?;
    if !is_super {
        return Err(Error::Invalid(format!(
            "{ACTION}: needs a superuser (it writes pg_dist_authinfo, the coordinator's credentials for the workers); {:?} is not one; nothing was changed",
            session.spec.user
        )));
    }
    let found: Option<(bool, bool)> = sqlx::query_as(
        "SELECT r.rolcanlogin,
                EXISTS (SELECT 1 FROM pg_catalog.pg_dist_authinfo a
                        WHERE a.rolename = r.rolname AND a.nodeid = 0)
         FROM pg_catalog.pg_roles r WHERE r.rolname = $1",
    )
    .bind(role)
    .fetch_optional(&mut *tx)
    .await
    .map_err(Error::db(format!("{ACTION}: reading role {role}")))?;
    let Some((can_login, had_authinfo)) = found else {
        return Err(Error::Invalid(format!(
            "{ACTION}: there is no role {role:?}; create it on the coordinator first (CREATE ROLE … LOGIN, which Citus copies to every node); nothing was changed"
        )));
    };
    if !can_login {
        return Err(Error::Invalid(format!(
            "{ACTION}: {role:?} cannot log in: it is a group role (a tenant's read-only role is one); grant it to a login role (GRANT {} TO alice) and run worker-login for that role; nothing was changed",
            crate::names::quote_ident(role)
        )));
    }
    let alter = crate::sql::SqlVars::new()
        .ident("role", role)
        .literal(
            "verifier",
            &crate::bootstrap::scram_verifier(password.expose()),
        )
        .render("ALTER ROLE {{role}} PASSWORD {{verifier}}")?;
    sqlx::query(&alter)
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!(
            "{ACTION}: setting the password of {role} on every node"
        )))?;
    sqlx::query(
        "INSERT INTO pg_catalog.pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, $1, $2)
         ON CONFLICT (rolename, nodeid) DO UPDATE SET authinfo = EXCLUDED.authinfo",
    )
    .bind(role)
    .bind(format!(
        "password={}",
        super::init::conninfo_value(password.expose())
    ))
    .execute(&mut *tx)
    .await
    .map_err(Error::db(format!(
        "{ACTION}: storing the worker credentials of {role} in pg_dist_authinfo"
    )))?;
    let logged: Option<String> = sqlx::query_scalar("SELECT pg_catalog.to_regclass($1)::text")
        .bind(names.log())
        .fetch_one(&mut *tx)
        .await
        .map_err(Error::db(format!("{ACTION}: looking for the console log")))?;
    if logged.is_some() {
        let entry = crate::journal::Entry {
            action: ACTION,
            tenant: None,
            sql_summary: format!(
                "ALTER ROLE {} PASSWORD '<scram verifier>'; pg_dist_authinfo row for it ({})",
                crate::names::quote_ident(role),
                if had_authinfo { "replaced" } else { "added" }
            ),
            outcome: "ok".into(),
            detail: None,
        };
        crate::journal::record(&mut tx, session, &entry).await?;
    }
    tx.commit()
        .await
        .map_err(Error::db(format!("{ACTION}: committing")))?;
    Ok(WorkerLogin {
        role: role.into(),
        authinfo_added: !had_authinfo,
    })
}
