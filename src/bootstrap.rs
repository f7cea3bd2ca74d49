//! `tenantctl init`: the roles, common schema, registry, console log and grants of the model,
//! versioned so that a second run is a no-op and a newer release upgrades in place.

use crate::connect::Secret;
use crate::error::{Error, Result};
use crate::journal::{self, Entry};
use crate::names::{quote_ident, quote_literal};
use crate::session::Session;
use serde::Serialize;
use sqlx::PgConnection;

/// Bootstrap steps, in order; the last one's number is the current version.
const STEPS: &[(i32, &str)] = &[(1, include_str!("../assets/bootstrap/v1.sql"))];

/// The newest bootstrap version this release knows.
pub fn current_version() -> i32 {
    STEPS.last().map(|(v, _)| *v).unwrap_or(0)
}

/// Serialises concurrent `init`s on one database.
const INIT_LOCK_KEY: i64 = 0x7465_6e61_6e74_0001;

/// What `init` is asked to do beyond the defaults.
#[derive(Debug, Default, Clone)]
pub struct InitOptions {
    /// Makes the admin role LOGIN with this password (stored as a SCRAM verifier).
    pub admin_password: Option<Secret>,
}

/// What `init` did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InitReport {
    pub from_version: i32,
    pub to_version: i32,
    pub roles_created: Vec<String>,
    pub roles_existing: Vec<String>,
    pub admin_login: bool,
    /// The scratch database restores rename schemas in (made here when missing); `None`
    /// when the connected role could not create it (restore beside and in place need it).
    pub scratch_database: Option<String>,
    /// Why the scratch database could not be made.
    pub scratch_problem: Option<String>,
}

impl InitReport {
    /// True when nothing had to be done.
    pub fn was_current(&self) -> bool {
        self.from_version == self.to_version && self.roles_created.is_empty() && !self.admin_login
    }
}

/// Bootstraps (or upgrades) the model on the session's database, in one transaction.
pub async fn init(session: &Session, opts: &InitOptions) -> Result<InitReport> {
    session.ensure_writable("init")?;
    let names = &session.names;
    let mut tx = session
        .pool
        .begin()
        .await
        .map_err(Error::db("init: starting a transaction"))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(INIT_LOCK_KEY)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("init: waiting for another init"))?;

    let (is_super, can_create_role): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db("init: reading the connected role"))?;
    if !is_super && !can_create_role {
        return Err(Error::Invalid(format!(
            "init needs a superuser or a role with CREATEROLE; {:?} is neither",
            session.spec.user
        )));
    }

    let from_version = installed_version(&mut tx, session).await?;
    let to_version = current_version();
    if from_version > to_version {
        return Err(Error::Conflict(format!(
            "the database was bootstrapped by a newer tenantctl (version {from_version}; this one knows {to_version}); upgrade tenantctl"
        )));
    }

    let mut report = InitReport {
        from_version,
        to_version,
        roles_created: Vec::new(),
        roles_existing: Vec::new(),
        admin_login: opts.admin_password.is_some(),
        scratch_database: None,
        scratch_problem: None,
    };
    let roles = [
        (
            names.admin_role.as_str(),
            "NOLOGIN NOSUPERUSER CREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS",
        ),
        (
            names.service_role.as_str(),
            "LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS",
        ),
        (
            names.rls_role.as_str(),
            "NOLOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS",
        ),
    ];
    for (role, attrs) in roles {
        if ensure_role(&mut tx, role, attrs).await? {
            report.roles_created.push(role.into());
        } else {
            report.roles_existing.push(role.into());
        }
    }
    if let Some(pw) = &opts.admin_password {
        let verifier = scram_verifier(pw.expose());
        let sql = format!(
            "ALTER ROLE {} LOGIN PASSWORD {}",
            quote_ident(&names.admin_role),
            quote_literal(&verifier)
        );
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("init: setting the admin role's password"))?;
    }
    if !is_super {
        // A CREATEROLE bootstrapper must be able to act as the admin role it made.
        let member: bool = sqlx::query_scalar("SELECT pg_has_role(current_user, $1, 'MEMBER')")
            .bind(&names.admin_role)
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::db("init: checking membership of the admin role"))?;
        if !member {
            return Err(Error::Invalid(format!(
                "init: {:?} is not a superuser and cannot act as {:?}; run init as a superuser",
                session.spec.user, names.admin_role
            )));
        }
    }
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut *tx)
        .await
        .map_err(Error::db("init: reading the database name"))?;
    let grant = format!(
        "GRANT CREATE, CONNECT ON DATABASE {} TO {}",
        quote_ident(&db),
        quote_ident(&names.admin_role)
    );
    sqlx::query(&grant)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("init: letting the admin role create schemas"))?;

    if from_version < to_version || !report.roles_created.is_empty() || report.admin_login {
        crate::session::act_as_admin(&mut tx, names)
            .await
            .map_err(Error::db("init: switching to the admin role"))?;
        let vars = names.template_vars();
        for (version, template) in STEPS.iter().filter(|(v, _)| *v > from_version) {
            let sql = vars.render(template)?;
            crate::session::run_script(&mut tx, &sql)
                .await
                .map_err(Error::db(format!("init: bootstrap step {version}")))?;
        }
        let meta = format!(
            "INSERT INTO {}.tenantctl_meta (key, value) VALUES ('bootstrap_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            quote_ident(&names.common_schema)
        );
        sqlx::query(&meta)
            .bind(to_version.to_string())
            .execute(&mut *tx)
            .await
            .map_err(Error::db("init: recording the bootstrap version"))?;
        let summary = format!(
            "bootstrap {from_version} -> {to_version}; roles created: {}",
            if report.roles_created.is_empty() {
                "none".into()
            } else {
                report.roles_created.join(", ")
            }
        );
        journal::record(
            &mut tx,
            session,
            &Entry {
                action: "init",
                tenant: None,
                sql_summary: summary,
                outcome: "ok".into(),
                detail: serde_json::to_value(&report).ok(),
            },
        )
        .await?;
    }
    tx.commit().await.map_err(Error::db("init: committing"))?;
    match ensure_scratch_database(session).await {
        Ok(name) => report.scratch_database = Some(name),
        Err(e) => report.scratch_problem = Some(e.to_string()),
    }
    Ok(report)
}

/// Makes this database's scratch database (`tenantctl_scratch_<oid>`), owned by the admin
/// role and closed to PUBLIC: restores rename a tenant's schema there, because pg_restore
/// cannot rename and rewriting a dump's text is unsafe. Giving the admin role CREATEDB
/// instead would widen what a stolen admin password can do; one database made once by a
/// superuser does not. CREATE DATABASE cannot run in a transaction, hence after the commit.
async fn ensure_scratch_database(session: &Session) -> Result<String> {
    let (name, exists): (String, bool) = sqlx::query_as(
        "SELECT 'tenantctl_scratch_' || d.oid::text,
                EXISTS (SELECT 1 FROM pg_database s WHERE s.datname = 'tenantctl_scratch_' || d.oid::text)
         FROM pg_database d WHERE d.datname = current_database()",
    )
    .fetch_one(&session.pool)
    .await
    .map_err(Error::db("init: looking for the scratch database"))?;
    if !exists {
        let sql = format!(
            "CREATE DATABASE {} OWNER {}",
            quote_ident(&name),
            quote_ident(&session.names.admin_role)
        );
        sqlx::query(&sql)
            .execute(&session.pool)
            .await
            .map_err(Error::db(format!(
                "init: creating the scratch database {name}"
            )))?;
    }
    sqlx::query(&format!(
        "REVOKE ALL ON DATABASE {} FROM PUBLIC",
        quote_ident(&name)
    ))
    .execute(&session.pool)
    .await
    .map_err(Error::db(format!(
        "init: closing the scratch database {name} to PUBLIC"
    )))?;
    Ok(name)
}

/// The bootstrap version recorded in the database; 0 when there is none.
async fn installed_version(conn: &mut PgConnection, session: &Session) -> Result<i32> {
    let names = &session.names;
    let schema_exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(&names.common_schema)
            .fetch_one(&mut *conn)
            .await
            .map_err(Error::db("init: looking for the common schema"))?;
    if !schema_exists {
        return Ok(0);
    }
    let meta = format!("{}.tenantctl_meta", quote_ident(&names.common_schema));
    let has_meta: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&meta)
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db("init: looking for tenantctl's bookkeeping"))?;
    if !has_meta {
        return Err(Error::Conflict(format!(
            "schema {:?} exists but was not made by tenantctl; drop it, or name another common_schema in the config's [naming]",
            names.common_schema
        )));
    }
    let v: Option<String> = sqlx::query_scalar(&format!(
        "SELECT value FROM {meta} WHERE key = 'bootstrap_version'"
    ))
    .fetch_optional(&mut *conn)
    .await
    .map_err(Error::db("init: reading the bootstrap version"))?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Creates `role` with `attrs` unless it exists; true when created. An existing role keeps
/// its attributes (the audit reports dangerous ones) so that init never locks anyone out.
async fn ensure_role(conn: &mut PgConnection, role: &str, attrs: &str) -> Result<bool> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(&mut *conn)
            .await
            .map_err(Error::db(format!("init: looking for role {role}")))?;
    if exists {
        return Ok(false);
    }
    sqlx::query(&format!("CREATE ROLE {} {attrs}", quote_ident(role)))
        .execute(&mut *conn)
        .await
        .map_err(Error::db(format!("init: creating role {role}")))?;
    Ok(true)
}

/// A SCRAM-SHA-256 verifier, so that the plain password never reaches the server or its logs.
pub fn scram_verifier(password: &str) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    const ITERATIONS: u32 = 4096;
    let salt: [u8; 16] = rand::random();
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, ITERATIONS, &mut salted);
    let hmac = |key: &[u8], msg: &[u8]| -> Vec<u8> {
        match Hmac::<Sha256>::new_from_slice(key) {
            Ok(mut m) => {
                m.update(msg);
                m.finalize().into_bytes().to_vec()
            }
            // HMAC accepts keys of any length; this arm cannot be reached.
            Err(_) => Vec::new(),
        }
    };
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let server_key = hmac(&salted, b"Server Key");
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "SCRAM-SHA-256${ITERATIONS}:{}${}:{}",
        b64.encode(salt),
        b64.encode(stored_key),
        b64.encode(server_key)
    )
}
