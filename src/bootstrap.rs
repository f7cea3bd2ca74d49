//! `tenantctl init`: the roles, common schema, registry, console log and grants of the model,
//! versioned so that a second run is a no-op and a newer release upgrades in place.

use crate::connect::Secret;
use crate::error::{Error, Result};
use crate::journal::{self, Entry};
use crate::session::Session;
use crate::sql::SqlVars;
use serde::Serialize;
use sqlx::PgConnection;

/// Bootstrap steps, in order; the last one's number is the current version.
const STEPS: &[(i32, &str)] = &[
    (1, include_str!("../assets/bootstrap/v1.sql")),
    (2, include_str!("../assets/bootstrap/v2.sql")),
    (3, include_str!("../assets/bootstrap/v3.sql")),
    (4, include_str!("../assets/bootstrap/v4.sql")),
];

/// The newest bootstrap version this release knows.
pub fn current_version() -> i32 {
    STEPS.last().map(|(v, _)| *v).unwrap_or(0)
}

/// `applied_by` of the history rows init backfills for tenants made before the history
/// (bootstrap step 4): their versions came from the built-in template of an older release,
/// whose file bytes were never recorded. Checksum validation names them as such.
pub const BACKFILLED_BY: &str = "tenantctl init: backfilled (applied by a release before the history; checksum of this release's built-in file)";

/// The bootstrap step that brought the template history.
const HISTORY_STEP: i32 = 4;

/// History rows for every registered tenant with a version and no history, one per
/// built-in version up to its own, marked [`BACKFILLED_BY`]. One statement.
const BACKFILL_SQL: &str = "WITH added AS (INSERT INTO {{history}} \
     (tenant_id, version, description, file, checksum, applied_at, applied_by, duration_ms) \
     SELECT r.id, t.version, t.description, t.file, t.checksum, r.created_at, $5, 0 \
     FROM {{registry}} r \
     CROSS JOIN unnest($1::int[], $2::text[], $3::text[], $4::text[]) t(version, description, file, checksum) \
     WHERE t.version OPERATOR(pg_catalog.<=) r.template_version \
       AND NOT EXISTS (SELECT 1 FROM {{history}} h WHERE h.tenant_id OPERATOR(pg_catalog.=) r.id) \
     RETURNING tenant_id) \
     SELECT count(DISTINCT tenant_id) FROM added";

/// Serialises concurrent `init`s on one database.
pub(crate) const INIT_LOCK_KEY: i64 = 0x7465_6e61_6e74_0001;

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
    /// PUBLIC could create in schema `public` and init revoked it.
    pub public_create_revoked: bool,
    /// The non-superuser bootstrapper, when init granted it `SET ROLE` on the admin role.
    pub granted_admin_to: Option<String>,
    /// On a Citus coordinator: what init set up for the workers (see README, "Citus").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citus: Option<crate::citus::init::CitusPrepared>,
    /// On a Citus coordinator: the registry was made a reference table now.
    pub registry_made_reference: bool,
    /// On a Citus coordinator: what it is, e.g. `Citus 13.2 · 2 workers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citus_label: Option<String>,
    /// Tenants made before the template history whose versions init recorded as
    /// backfilled (upgrading across bootstrap step 4).
    pub history_backfilled: u64,
}

impl InitReport {
    /// True when nothing had to be done.
    pub fn was_current(&self) -> bool {
        self.from_version == self.to_version
            && self.roles_created.is_empty()
            && !self.admin_login
            && self.granted_admin_to.is_none()
            && !self.public_create_revoked
            && !self.registry_made_reference
            && self.citus.as_ref().is_none_or(|c| *c == Default::default())
    }
}

/// The model's roles and the attributes a new one gets.
pub(crate) fn model_roles(names: &crate::names::NamingPolicy) -> [(&str, &'static str); 3] {
    [
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
    ]
}

/// Bootstraps (or upgrades) the model on the session's database, in one transaction (on a
/// Citus coordinator, after a first one that readies the roles for the workers, undone if
/// the main one fails).
pub async fn init(session: &Session, opts: &InitOptions) -> Result<InitReport> {
    session.ensure_writable("init")?;
    let mut conn = session
        .pool
        .acquire()
        .await
        .map_err(Error::db("init: connecting"))?;
    let citus = crate::citus::detect::detect(&mut conn)
        .await
        .map_err(Error::db("init: looking for the citus extension"))?;
    drop(conn);
    let Some(citus) = citus else {
        return init_main(session, opts, None).await;
    };
    let prepared = crate::citus::init::prepare(session, opts).await?;
    match init_main(session, opts, Some(prepared.clone())).await {
        Ok(mut report) => {
            report.citus_label = Some(citus.label());
            Ok(report)
        }
        Err(e) => Err(crate::citus::init::undo(session, &prepared, e).await),
    }
}

async fn init_main(
    session: &Session,
    opts: &InitOptions,
    citus: Option<crate::citus::init::CitusPrepared>,
) -> Result<InitReport> {
    let mut tx = session
        .pool
        .begin()
        .await
        .map_err(Error::db("init: starting a transaction"))?;
    // Rolled back here, not left to Drop: a dropped transaction only queues its ROLLBACK
    // until its connection is used again, and meanwhile it holds init's advisory lock, so
    // the next init on another pool connection waited forever (seen in CI).
    let mut report = match init_in_tx(session, opts, citus, &mut tx).await {
        Ok(report) => report,
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(e);
        }
    };
    tx.commit().await.map_err(Error::db("init: committing"))?;
    match ensure_scratch_database(session).await {
        Ok(name) => report.scratch_database = Some(name),
        Err(e) => report.scratch_problem = Some(e.to_string()),
    }
    Ok(report)
}

/// Everything `init` does inside its transaction.
async fn init_in_tx(
    session: &Session,
    opts: &InitOptions,
    citus: Option<crate::citus::init::CitusPrepared>,
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
) -> Result<InitReport> {
    let names = &session.names;
    let tx: &mut PgConnection = tx;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(INIT_LOCK_KEY)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("init: waiting for another init"))?;
    let timeout_ms = format!("{}ms", session.lock_timeout.as_millis());
    sqlx::query("SELECT pg_catalog.set_config('lock_timeout', $1, true)")
        .bind(&timeout_ms)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("init: setting lock_timeout"))?;

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

    let from_version = installed_version(&mut *tx, session).await?;
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
        public_create_revoked: false,
        granted_admin_to: None,
        citus: citus.clone(),
        registry_made_reference: false,
        citus_label: None,
        history_backfilled: 0,
    };
    if let Some(c) = &citus {
        // The roles were created (and committed) by the Citus preparation.
        report
            .roles_existing
            .retain(|r| !c.roles_created.contains(r));
        report.roles_created.extend(c.roles_created.iter().cloned());
    }
    refuse_dangerous_roles(&mut *tx, names).await?;
    for (role, attrs) in model_roles(names) {
        if ensure_role(&mut *tx, role, attrs).await? {
            report.roles_created.push(role.into());
        } else if !report.roles_created.iter().any(|r| r == role) {
            report.roles_existing.push(role.into());
        }
    }
    if let Some(pw) = &opts.admin_password {
        let verifier = scram_verifier(pw.expose());
        let sql = names
            .template_vars()
            .literal("verifier", &verifier)
            .render("ALTER ROLE {{admin}} LOGIN PASSWORD {{verifier}}")?;
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("init: setting the admin role's password"))?;
    }
    if !is_super && !can_act_as(&mut *tx, &names.admin_role).await? {
        // Creating a role gives a CREATEROLE creator ADMIN OPTION on it and nothing else since
        // PostgreSQL 16 (no membership before): to act as the admin role it grants itself
        // SET, and INHERIT so that tenantctl's reads work for it as they did before 16 (it
        // could SET ROLE to every right it inherits anyway).
        grant_set_on_admin(&mut *tx, session).await?;
        report.granted_admin_to = Some(session.spec.user.clone());
    }
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut *tx)
        .await
        .map_err(Error::db("init: reading the database name"))?;
    let grant = names
        .template_vars()
        .ident("db", &db)
        .render("GRANT CREATE, CONNECT ON DATABASE {{db}} TO {{admin}}")?;
    sqlx::query(&grant)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("init: letting the admin role create schemas"))?;

    report.public_create_revoked = close_public_schema(&mut *tx).await?;

    if from_version < to_version
        || !report.roles_created.is_empty()
        || report.admin_login
        || report.public_create_revoked
        || report.granted_admin_to.is_some()
    {
        crate::session::act_as_admin(&mut *tx, names)
            .await
            .map_err(Error::db("init: switching to the admin role"))?;
        let vars = names.template_vars();
        for (version, template) in STEPS.iter().filter(|(v, _)| *v > from_version) {
            let sql = vars.render(template)?;
            crate::session::run_script(&mut *tx, &sql)
                .await
                .map_err(Error::db(format!("init: bootstrap step {version}")))?;
        }
        if (1..HISTORY_STEP).contains(&from_version) {
            report.history_backfilled = backfill_history(&mut *tx, session).await?;
        }
        let meta = vars.render(
            "INSERT INTO {{meta}}.tenantctl_meta (key, value) VALUES ('bootstrap_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )?;
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
            &mut *tx,
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
    if citus.is_some() {
        crate::session::act_as_admin(&mut *tx, names)
            .await
            .map_err(Error::db("init: switching to the admin role"))?;
        report.registry_made_reference =
            crate::citus::init::reference_registry(&mut *tx, names).await?;
    }
    Ok(report)
}

/// Records the built-in template's versions as applied, marked backfilled, for tenants an
/// older release made (they have a version and no history); returns how many tenants.
async fn backfill_history(conn: &mut PgConnection, session: &Session) -> Result<u64> {
    let builtin = crate::tenant::Template::builtin();
    let v = &builtin.versions;
    let tenants: i64 = sqlx::query_scalar(&session.names.template_vars().render(BACKFILL_SQL)?)
        .bind(v.iter().map(|v| v.version).collect::<Vec<_>>())
        .bind(v.iter().map(|v| v.description.clone()).collect::<Vec<_>>())
        .bind(v.iter().map(|v| v.file.clone()).collect::<Vec<_>>())
        .bind(v.iter().map(|v| v.checksum.clone()).collect::<Vec<_>>())
        .bind(BACKFILLED_BY)
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db("init: backfilling the template history"))?;
    Ok(u64::try_from(tenants).unwrap_or(0))
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
        let sql = crate::sql::SqlVars::new()
            .ident("scratch", &name)
            .ident("admin", &session.names.admin_role)
            .render("CREATE DATABASE {{scratch}} OWNER {{admin}}")?;
        sqlx::query(&sql)
            .execute(&session.pool)
            .await
            .map_err(Error::db(format!(
                "init: creating the scratch database {name}"
            )))?;
    }
    let revoke = crate::sql::SqlVars::new()
        .ident("scratch", &name)
        .render("REVOKE ALL ON DATABASE {{scratch}} FROM PUBLIC")?;
    sqlx::query(&revoke)
        .execute(&session.pool)
        .await
        .map_err(Error::db(format!(
            "init: closing the scratch database {name} to PUBLIC"
        )))?;
    Ok(name)
}

/// On PostgreSQL 14 and older every role may create in `public`, which is on the seed's
/// `search_path`: a planted function there could capture the application's calls.
/// Revokes it; true when there was something to revoke. Refuses when it cannot.
async fn close_public_schema(conn: &mut PgConnection) -> Result<bool> {
    const OPEN: &str = "SELECT coalesce((SELECT pg_catalog.has_schema_privilege('public', n.oid, 'CREATE')
                                        FROM pg_catalog.pg_namespace n WHERE n.nspname = 'public'), false)";
    let open: bool = sqlx::query_scalar(OPEN)
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db("init: checking schema public"))?;
    if !open {
        return Ok(false);
    }
    sqlx::query("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        .execute(&mut *conn)
        .await
        .map_err(Error::db(
            "init: revoking CREATE on schema public from PUBLIC",
        ))?;
    let still: bool = sqlx::query_scalar(OPEN)
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db("init: checking schema public"))?;
    if still {
        return Err(Error::Invalid(
            "init: every role may create in schema public and the connected role cannot revoke it; run init as a superuser or as the owner of schema public; nothing was changed".into(),
        ));
    }
    Ok(true)
}

/// What makes an application role dangerous, as attribute checks.
const DANGEROUS_ROLES_SQL: &str = r#"
SELECT r.rolname::pg_catalog.text, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
       r.rolreplication,
       ARRAY(SELECT pg_catalog.quote_ident(g.rolname::pg_catalog.text)
             FROM pg_catalog.pg_auth_members m
             JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
             WHERE m.member = r.oid
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles t
                           WHERE t.rolname OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.text[])
                             AND pg_catalog.pg_has_role(g.oid, t.oid, 'MEMBER'))
             ORDER BY 1)
FROM pg_catalog.pg_roles r
WHERE r.rolname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[])
ORDER BY 1
"#;

/// Refuses to bootstrap over an application role that could read or change more than the
/// model allows, with the SQL that repairs it.
pub(crate) async fn refuse_dangerous_roles(
    conn: &mut PgConnection,
    names: &crate::names::NamingPolicy,
) -> Result<()> {
    type Row = (String, bool, bool, bool, bool, bool, Vec<String>);
    let app_roles = vec![names.service_role.clone(), names.rls_role.clone()];
    let powerful = vec![
        names.admin_role.clone(),
        "pg_read_all_data".to_string(),
        "pg_write_all_data".to_string(),
    ];
    let rows: Vec<Row> = sqlx::query_as(DANGEROUS_ROLES_SQL)
        .bind(&app_roles)
        .bind(&powerful)
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db("init: checking the application roles"))?;
    let mut problems = Vec::new();
    let mut repair = Vec::new();
    for (role, sup, bypass, createrole, createdb, replication, via) in rows {
        let attrs: Vec<&str> = [
            (sup, "SUPERUSER"),
            (bypass, "BYPASSRLS"),
            (createrole, "CREATEROLE"),
            (createdb, "CREATEDB"),
            (replication, "REPLICATION"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, a)| a)
        .collect();
        if attrs.is_empty() && via.is_empty() {
            continue;
        }
        let mut what: Vec<String> = attrs.iter().map(|a| a.to_string()).collect();
        what.extend(via.iter().map(|g| format!("member of {g}")));
        problems.push(format!(
            "{} ({})",
            crate::names::quote_ident(&role),
            what.join(", ")
        ));
        if !attrs.is_empty() {
            let no: Vec<String> = attrs.iter().map(|a| format!("NO{a}")).collect();
            repair.push(format!(
                "ALTER ROLE {} {};",
                crate::names::quote_ident(&role),
                no.join(" ")
            ));
        }
        for g in via {
            repair.push(format!(
                "REVOKE {g} FROM {};",
                crate::names::quote_ident(&role)
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "init: application roles that would reach past the model: {}; nothing was changed. Repair with: {}",
        problems.join("; "),
        repair.join(" ")
    )))
}

/// True when the connected role may `SET ROLE` to `role` (on 16+ the grant's SET option, before
/// any membership).
async fn can_act_as(conn: &mut PgConnection, role: &str) -> Result<bool> {
    sqlx::query_scalar(
        "SELECT pg_has_role(current_user, $1,
                CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END)",
    )
    .bind(role)
    .fetch_one(&mut *conn)
    .await
    .map_err(Error::db("init: checking membership of the admin role"))
}

/// Grants the (non-superuser, CREATEROLE) connected role `SET ROLE` on the admin role.
async fn grant_set_on_admin(conn: &mut PgConnection, session: &Session) -> Result<()> {
    let admin = &session.names.admin_role;
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::db("init: reading the server version"))?;
    let template = if version >= 160000 {
        "GRANT {{admin}} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE"
    } else {
        "GRANT {{admin}} TO CURRENT_USER"
    };
    let sql = session.names.template_vars().render(template)?;
    match sqlx::query(&sql).execute(&mut *conn).await {
        Ok(_) => Ok(()),
        Err(e) if crate::error::sqlstate(&e).as_deref() == Some("42501") => {
            Err(Error::Invalid(format!(
                "init: {:?} is not a superuser and may not act as {admin:?} (it did not create that role); run init as a superuser or as the role that created {admin:?}",
                session.spec.user
            )))
        }
        Err(e) => Err(Error::db(
            "init: letting the bootstrapper act as the admin role",
        )(e)),
    }
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
    // Since bootstrap 4 the bookkeeping is in the meta schema; before, in commons.
    let mut found = None;
    for schema in [&names.meta_schema, &names.common_schema] {
        let table = SqlVars::new()
            .qualified("t", schema, "tenantctl_meta")
            .render("{{t}}")?;
        // The name as a value for to_regclass (bound), and the same name in the query.
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(&table)
            .fetch_one(&mut *conn)
            .await
            .map_err(Error::db("init: looking for tenantctl's bookkeeping"))?;
        if exists {
            found = Some((schema.clone(), table));
            break;
        }
    }
    let has_meta = found.is_some();
    if !has_meta {
        return Err(Error::Conflict(format!(
            "schema {:?} exists but was not made by tenantctl; drop it, or name another common_schema in the config's [naming]",
            names.common_schema
        )));
    }
    let Some((meta_schema, meta)) = found else {
        return Ok(0);
    };
    let v: Option<String> = sqlx::query_scalar(
        &SqlVars::new()
            .qualified("meta", &meta_schema, "tenantctl_meta")
            .render("SELECT value FROM {{meta}} WHERE key = 'bootstrap_version'")?,
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(Error::db("init: reading the bootstrap version"))?;
    match v {
        None => Err(Error::Conflict(format!(
            "{meta} exists but records no bootstrap version; init will not guess (rerunning step 1 could undo later steps); restore the row (key 'bootstrap_version')"
        ))),
        Some(v) => v.trim().parse().map_err(|_| {
            Error::Conflict(format!(
                "the bootstrap version recorded in {meta} is {v:?}, not a number; init will not guess (rerunning step 1 on a bootstrapped database could undo later steps); fix the row (key 'bootstrap_version')"
            ))
        }),
    }
}

/// Creates `role` with `attrs` unless it exists; true when created. An existing role keeps
/// its attributes (the audit reports dangerous ones) so that init never locks anyone out.
pub(crate) async fn ensure_role(
    conn: &mut PgConnection,
    role: &str,
    attrs: &'static str,
) -> Result<bool> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(&mut *conn)
            .await
            .map_err(Error::db(format!("init: looking for role {role}")))?;
    if exists {
        return Ok(false);
    }
    let sql = SqlVars::new()
        .ident("role", role)
        .keyword("attrs", attrs)
        .render("CREATE ROLE {{role}} {{attrs}}")?;
    sqlx::query(&sql)
        .execute(&mut *conn)
        .await
        .map_err(Error::db(format!("init: creating role {role}")))?;
    Ok(true)
}

/// A SCRAM-SHA-256 verifier, so that the plain password never reaches the server or its
/// logs. postgres-protocol applies SASLprep as libpq and the server do, so a non-ASCII
/// password verifies against what a client sends.
pub fn scram_verifier(password: &str) -> String {
    postgres_protocol::password::scram_sha_256(password.as_bytes())
}
