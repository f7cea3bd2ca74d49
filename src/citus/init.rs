//! What `init` adds on a Citus coordinator, before its main transaction.
//!
//! Citus runs distributed DDL over its own connections to the workers, opened as the
//! *current* role: after `SET ROLE` that is the admin role. So the admin role must exist on
//! the workers (committed, since those are other connections), be able to log in there, and
//! the coordinator must know a password for it. That is done here in a first transaction,
//! as the connected superuser; if the main transaction then fails it is undone.

use crate::bootstrap::{INIT_LOCK_KEY, InitOptions, ensure_role, model_roles, scram_verifier};
use crate::connect::Secret;
use crate::error::{Error, Result};
use crate::session::Session;
use serde::Serialize;

/// What the Citus preparation changed (so that a failed `init` can undo it).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CitusPrepared {
    /// Roles created (and propagated to every node).
    pub roles_created: Vec<String>,
    /// NOLOGIN roles made LOGIN here (with a password only the coordinator knows).
    pub logins_set: Vec<String>,
    /// Roles a `pg_dist_authinfo` row was written for.
    pub authinfo_added: Vec<String>,
    /// CREATE, CONNECT on the database was granted to the admin role here.
    pub database_grant_added: bool,
    /// `citus.propagate_set_commands = 'local'` was made the database's default here.
    pub set_local_propagated: bool,
}

/// Quotes a libpq connection-string value.
pub(crate) fn conninfo_value(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Creates the model's roles, lets the admin and RLS roles log in to the workers with a
/// password kept in `pg_dist_authinfo` (readable by superusers only), and grants it CREATE on the
/// database (Citus propagates the grant), in one committed transaction.
pub async fn prepare(session: &Session, opts: &InitOptions) -> Result<CitusPrepared> {
    let names = &session.names;
    let mut tx = session
        .pool
        .begin()
        .await
        .map_err(Error::db("init: starting the Citus preparation"))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(INIT_LOCK_KEY)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("init: waiting for another init"))?;
    let is_super: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db("init: reading the connected role"))?;
    if !is_super {
        return Err(Error::Invalid(format!(
            "init on a Citus coordinator needs a superuser (it writes pg_dist_authinfo, the coordinator's credentials for the workers); {:?} is not one; nothing was changed",
            session.spec.user
        )));
    }
    crate::bootstrap::refuse_dangerous_roles(&mut tx, names).await?;
    let mut done = CitusPrepared::default();
    for (role, attrs) in model_roles(names) {
        if ensure_role(&mut tx, role, attrs).await? {
            done.roles_created.push(role.into());
        }
    }
    let admin = &names.admin_role;
    let (db, had_create): (String, bool) = sqlx::query_as(
        "SELECT current_database()::text, has_database_privilege($1, current_database(), 'CREATE')",
    )
    .bind(admin)
    .fetch_one(&mut *tx)
    .await
    .map_err(Error::db("init: reading the database name"))?;
    if !had_create {
        let grant = names
            .template_vars()
            .ident("db", &db)
            .render("GRANT CREATE, CONNECT ON DATABASE {{db}} TO {{admin}}")?;
        sqlx::query(&grant)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(
                "init: letting the admin role create schemas on every node",
            ))?;
        done.database_grant_added = true;
    }
    // The tenant binding policy compares current_schema() with the tenant's schema, and the
    // application's policies read app.user_id: on the workers, where the shards are read,
    // neither is the client's unless Citus passes the transaction's SET LOCALs on.
    let propagates: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting s
                        JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
                        WHERE d.datname = current_database() AND s.setrole = 0
                          AND 'citus.propagate_set_commands=local' = ANY (s.setconfig))",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(Error::db("init: reading the database's settings"))?;
    if !propagates {
        let sql = crate::sql::SqlVars::new()
            .ident("db", &db)
            .render("ALTER DATABASE {{db}} SET citus.propagate_set_commands = 'local'")?;
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(
                "init: letting Citus pass SET LOCAL (search_path, app.user_id) on to the workers",
            ))?;
        done.set_local_propagated = true;
    }
    // The admin role runs tenantctl's DDL, the RLS role the application's tenant-bound
    // queries: Citus reaches the workers as either, after SET ROLE.
    for role in [admin, &names.rls_role] {
        let given = if role == admin {
            opts.admin_password.as_ref()
        } else {
            None
        };
        let (can_login, has_authinfo): (bool, bool) = sqlx::query_as(
            "SELECT r.rolcanlogin,
                    EXISTS (SELECT 1 FROM pg_catalog.pg_dist_authinfo a
                            WHERE a.rolename = r.rolname AND a.nodeid = 0)
             FROM pg_roles r WHERE r.rolname = $1",
        )
        .bind(role)
        .fetch_one(&mut *tx)
        .await
        .map_err(Error::db(format!(
            "init: reading the Citus credentials of {role}"
        )))?;
        if given.is_none() && can_login && has_authinfo {
            continue;
        }
        // The operator's password when given (the admin then logs in anyway); else a
        // random one nobody is shown: superusers, who alone can read it, can become the
        // role anyway.
        let password = given.cloned().unwrap_or_else(Secret::random);
        let sql = crate::sql::SqlVars::new()
            .ident("role", role)
            .literal("verifier", &scram_verifier(password.expose()))
            .render("ALTER ROLE {{role}} LOGIN PASSWORD {{verifier}}")?;
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(format!(
                "init: letting {role} log in to the workers"
            )))?;
        if !can_login {
            done.logins_set.push(role.clone());
        }
        sqlx::query(
            "INSERT INTO pg_catalog.pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, $1, $2)
             ON CONFLICT (rolename, nodeid) DO UPDATE SET authinfo = EXCLUDED.authinfo",
        )
        .bind(role)
        .bind(format!("password={}", conninfo_value(password.expose())))
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!(
            "init: storing the worker credentials of {role} in pg_dist_authinfo"
        )))?;
        if !has_authinfo {
            done.authinfo_added.push(role.clone());
        }
    }
    tx.commit()
        .await
        .map_err(Error::db("init: committing the Citus preparation"))?;
    Ok(done)
}

/// Undoes [`prepare`] after the main transaction failed with `cause`; the error says whether
/// the database is back as it was.
pub async fn undo(session: &Session, done: &CitusPrepared, cause: Error) -> Error {
    if *done == CitusPrepared::default() {
        return cause;
    }
    match undo_inner(session, done).await {
        Ok(()) => cause,
        Err(e) => Error::Invalid(format!(
            "{cause}; undoing the Citus preparation failed too ({e}): roles {:?}, LOGIN on {:?} and pg_dist_authinfo rows for {:?} may be left; rerun init, or drop them",
            done.roles_created, done.logins_set, done.authinfo_added
        )),
    }
}

const UNDOING: &str = "init: undoing the Citus preparation";

async fn undo_inner(session: &Session, done: &CitusPrepared) -> Result<()> {
    let names = &session.names;
    let mut tx = session
        .pool
        .begin()
        .await
        .map_err(Error::db("init: undoing the Citus preparation"))?;
    for role in &done.authinfo_added {
        sqlx::query("DELETE FROM pg_catalog.pg_dist_authinfo WHERE rolename = $1 AND nodeid = 0")
            .bind(role)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(UNDOING))?;
    }
    if done.set_local_propagated {
        let db: String = sqlx::query_scalar("SELECT current_database()::text")
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db(UNDOING))?;
        let sql = crate::sql::SqlVars::new()
            .ident("db", &db)
            .render("ALTER DATABASE {{db}} RESET citus.propagate_set_commands")?;
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(UNDOING))?;
    }
    if done.database_grant_added {
        let db: String = sqlx::query_scalar("SELECT current_database()::text")
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db(UNDOING))?;
        let sql = names
            .template_vars()
            .ident("db", &db)
            .render("REVOKE CREATE, CONNECT ON DATABASE {{db}} FROM {{admin}}")?;
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(UNDOING))?;
    }
    for role in done
        .logins_set
        .iter()
        .filter(|r| !done.roles_created.contains(r))
    {
        let sql = crate::sql::SqlVars::new()
            .ident("role", role)
            .render("ALTER ROLE {{role}} NOLOGIN PASSWORD NULL")?;
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(UNDOING))?;
    }
    for role in done.roles_created.iter().rev() {
        let sql = crate::sql::SqlVars::new()
            .ident("role", role)
            .render("DROP ROLE {{role}}")?;
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .map_err(Error::db(UNDOING))?;
    }
    tx.commit().await.map_err(Error::db(UNDOING))?;
    Ok(())
}

/// Makes the registry a reference table (a copy on every node, written in one distributed
/// transaction), unless it is one. Runs as the admin role, in init's main transaction.
pub async fn reference_registry(
    conn: &mut sqlx::PgConnection,
    names: &crate::names::NamingPolicy,
) -> Result<bool> {
    let registry = crate::sql::SqlVars::new()
        .qualified("t", &names.common_schema, &names.registry_table)
        .render("{{t}}")?;
    let is_reference: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
                        WHERE logicalrelid = $1::regclass AND partmethod = 'n' AND repmodel = 't')",
    )
    .bind(&registry)
    .fetch_one(&mut *conn)
    .await
    .map_err(Error::db("init: checking the registry's Citus table type"))?;
    if is_reference {
        return Ok(false);
    }
    sqlx::query("SELECT create_reference_table($1::regclass)")
        .bind(&registry)
        .execute(&mut *conn)
        .await
        .map_err(Error::db(
            "init: making the registry a Citus reference table",
        ))?;
    Ok(true)
}
