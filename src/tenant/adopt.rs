//! `tenant adopt`: a schema made elsewhere (by hand, by a framework) brought under
//! management in one transaction: registry row, ownership of the schema and of every
//! object moved to the admin role, the read-only role, the model's grants, RLS and policies.

use super::template;
use super::{failed, lock_tenant};
use crate::catalog;
use crate::error::{Error, Result};
use crate::journal::{self, Entry};
use crate::names::TenantId;
use crate::session::Session;
use serde::Serialize;

/// What to adopt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adoption {
    /// The existing schema.
    pub schema: String,
    /// Tenant id; default: the schema name without the naming policy's prefix.
    pub id: Option<String>,
    /// The template version the schema is at; `None`: unknown, and `migrate` leaves it
    /// alone until one is recorded.
    pub at_version: Option<i32>,
}

/// One object whose owner changes.
#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct OwnerChange {
    /// `TABLE`, `VIEW`, `SEQUENCE`, `FUNCTION`, `TYPE`, …
    pub kind: String,
    /// The object, schema-qualified as the server prints it.
    pub object: String,
    pub owner: String,
}

/// What adopting a schema does (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AdoptPlan {
    pub tenant: String,
    pub schema: String,
    pub at_version: Option<i32>,
    pub readonly_role: String,
    /// The schema's own owner, and every object not owned by the admin role.
    pub owner_changes: Vec<OwnerChange>,
    /// Tables that get RLS on, the model's policies and the tenant binding.
    pub tables: Vec<String>,
}

/// Objects of the schema not owned by `$2` (the admin role). Sequences owned by a column
/// follow their table, and a table's row type its table.
const OBJECTS_SQL: &str = r#"
SELECT kind, object, owner FROM (
    SELECT 'SCHEMA' AS kind, pg_catalog.quote_ident(n.nspname::pg_catalog.text) AS object,
           pg_catalog.pg_get_userbyid(n.nspowner)::pg_catalog.text AS owner, 0 AS ord
    FROM pg_catalog.pg_namespace n
    WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND n.nspowner OPERATOR(pg_catalog.<>) $2::pg_catalog.regrole
  UNION ALL
    SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                          WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                          ELSE 'TABLE' END,
           c.oid::pg_catalog.regclass::pg_catalog.text,
           pg_catalog.pg_get_userbyid(c.relowner)::pg_catalog.text, 1
    FROM pg_catalog.pg_class c
    WHERE c.relnamespace OPERATOR(pg_catalog.=) $1::pg_catalog.regnamespace
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND c.relowner OPERATOR(pg_catalog.<>) $2::pg_catalog.regrole
      AND NOT (c.relkind = 'S' AND EXISTS (
            SELECT 1 FROM pg_catalog.pg_depend d
            WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
              AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
              AND d.deptype IN ('a', 'i')))
  UNION ALL
    SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
           p.oid::pg_catalog.regprocedure::pg_catalog.text,
           pg_catalog.pg_get_userbyid(p.proowner)::pg_catalog.text, 2
    FROM pg_catalog.pg_proc p
    WHERE p.pronamespace OPERATOR(pg_catalog.=) $1::pg_catalog.regnamespace
      AND p.proowner OPERATOR(pg_catalog.<>) $2::pg_catalog.regrole
  UNION ALL
    SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
           t.oid::pg_catalog.regtype::pg_catalog.text,
           pg_catalog.pg_get_userbyid(t.typowner)::pg_catalog.text, 3
    FROM pg_catalog.pg_type t
    WHERE t.typnamespace OPERATOR(pg_catalog.=) $1::pg_catalog.regnamespace
      AND t.typowner OPERATOR(pg_catalog.<>) $2::pg_catalog.regrole
      AND t.typtype IN ('c', 'e', 'd', 'r')
      AND (t.typrelid OPERATOR(pg_catalog.=) 0 OR EXISTS (
            SELECT 1 FROM pg_catalog.pg_class c
            WHERE c.oid OPERATOR(pg_catalog.=) t.typrelid AND c.relkind = 'c'))
) o
ORDER BY ord, object
"#;

/// Hands the schema and every object listed by [`OBJECTS_SQL`] to the admin role. Runs
/// on the server so that each name is quoted there (`quote_ident`, `regclass`/`regprocedure`
/// output), never spliced here: the DO block runs [`OBJECTS_SQL`] itself (one list for the
/// dry run and the change), its two inputs arriving as transaction-local settings.
static TRANSFER_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        r#"
DO $adopt$
DECLARE
    s pg_catalog.text := pg_catalog.current_setting('tenantctl.adopt_schema');
    a pg_catalog.text := pg_catalog.current_setting('tenantctl.adopt_owner');
    r record;
BEGIN
    FOR r IN EXECUTE $objects${OBJECTS_SQL}$objects$ USING s, a
    LOOP
        EXECUTE pg_catalog.format('ALTER %s %s OWNER TO %I', r.kind, r.object, a);
    END LOOP;
END
$adopt$
"#
    )
});

const TABLES_SQL: &str = "SELECT c.relname::pg_catalog.text FROM pg_catalog.pg_class c \
     WHERE c.relnamespace OPERATOR(pg_catalog.=) $1::pg_catalog.regnamespace \
     AND c.relkind IN ('r', 'p') ORDER BY 1";

/// The tenant id of `schema`, refused with the naming rule when it does not fit.
fn id_of(session: &Session, a: &Adoption) -> Result<TenantId> {
    let names = &session.names;
    let prefix = &names.schema_prefix;
    let rule = || {
        format!(
            "tenant schemas are named {prefix}<id>, the id a lowercase letter then lowercase letters, digits or _ (at most {} characters)",
            names.max_tenant_id_len()
        )
    };
    let id = match &a.id {
        Some(id) => names.tenant_id(id)?,
        None => {
            let raw = a.schema.strip_prefix(prefix.as_str()).ok_or_else(|| {
                Error::Invalid(format!(
                    "schema {:?} does not fit the naming policy: {}; rename it (ALTER SCHEMA … RENAME TO {prefix}<id>) and adopt that",
                    a.schema,
                    rule()
                ))
            })?;
            names.tenant_id(raw).map_err(|e| {
                Error::Invalid(format!(
                    "schema {:?} does not fit the naming policy ({e}): {}",
                    a.schema,
                    rule()
                ))
            })?
        }
    };
    if names.schema_of(&id) != a.schema {
        return Err(Error::Invalid(format!(
            "schema {:?} does not fit the naming policy for tenant {id}: {}; rename it to {} first (ALTER SCHEMA … RENAME TO …) and adopt that",
            a.schema,
            rule(),
            names.schema_of(&id)
        )));
    }
    Ok(id)
}

/// What adopting would change; nothing is changed.
pub async fn adopt_plan(session: &Session, a: &Adoption) -> Result<AdoptPlan> {
    let id = id_of(session, a)?;
    check_version(session, a)?;
    let mut conn = session
        .pool
        .acquire()
        .await
        .map_err(Error::db("adopt: connecting"))?;
    preconditions(&mut conn, session, &id, &a.schema).await?;
    plan_on(&mut conn, session, &id, a).await
}

fn check_version(session: &Session, a: &Adoption) -> Result<()> {
    if let Some(v) = a.at_version {
        let latest = session.template.latest();
        if v < 1 || v > latest {
            return Err(Error::Invalid(format!(
                "--at-version {v}: {} has versions 1 to {latest}",
                session.template.shown()
            )));
        }
    }
    Ok(())
}

async fn plan_on(
    conn: &mut sqlx::PgConnection,
    session: &Session,
    id: &TenantId,
    a: &Adoption,
) -> Result<AdoptPlan> {
    let owner_changes: Vec<OwnerChange> = sqlx::query_as(OBJECTS_SQL)
        .bind(&a.schema)
        .bind(&session.names.admin_role)
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db(format!(
            "adopt {id}: listing the schema's objects"
        )))?;
    let tables: Vec<String> = sqlx::query_scalar(TABLES_SQL)
        .bind(&a.schema)
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::db(format!(
            "adopt {id}: listing the schema's tables"
        )))?;
    Ok(AdoptPlan {
        tenant: id.to_string(),
        schema: a.schema.clone(),
        at_version: a.at_version,
        readonly_role: session.names.readonly_role_of(id),
        owner_changes,
        tables,
    })
}

/// Refuses a schema that is missing or registered, and a read-only role that exists.
async fn preconditions(
    conn: &mut sqlx::PgConnection,
    session: &Session,
    id: &TenantId,
    schema: &str,
) -> Result<()> {
    let (registered, schema_exists, role_exists): (bool, bool, bool) =
        sqlx::query_as(&session.names.template_vars().render(
            "SELECT EXISTS (SELECT 1 FROM {{registry}} WHERE id = $1 OR schema = $2),
                    EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $2),
                    EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $3)",
        )?)
        .bind(id.as_str())
        .bind(schema)
        .bind(session.names.readonly_role_of(id))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| catalog::registry_error(session, e))?;
    if !schema_exists {
        return Err(Error::Invalid(format!(
            "adopt {id}: schema {schema:?} does not exist; nothing was changed"
        )));
    }
    if registered {
        return Err(Error::Conflict(format!(
            "adopt {id}: tenant {id} (or schema {schema}) is registered already; nothing was changed"
        )));
    }
    if role_exists {
        return Err(Error::Conflict(format!(
            "adopt {id}: role {} exists already; drop it or adopt under another id; nothing was changed",
            session.names.readonly_role_of(id)
        )));
    }
    Ok(())
}

/// Adopts one schema in one transaction, returning what was changed.
pub async fn adopt(session: &Session, a: &Adoption) -> Result<AdoptPlan> {
    session.ensure_writable("tenant adopt")?;
    let id = id_of(session, a)?;
    check_version(session, a)?;
    let summary = format!(
        "INSERT registry row; ALTER … OWNER TO admin in {}; CREATE ROLE {}; RLS; policies; GRANTs",
        a.schema,
        session.names.readonly_role_of(&id)
    );
    let result = adopt_in_tx(session, &id, a, &summary).await;
    match result {
        Ok(p) => Ok(p),
        Err(e @ Error::ReadOnly { .. }) => Err(e),
        Err(e) => failed(session, "tenant adopt", id.as_str(), &summary, e).await,
    }
}

/// The transaction of [`adopt`].
async fn adopt_in_tx(
    session: &Session,
    id: &TenantId,
    a: &Adoption,
    summary: &str,
) -> Result<AdoptPlan> {
    let mut tx = session.begin_change("tenant adopt").await?;
    lock_tenant(&mut tx, id.as_str(), "adopt").await?;
    preconditions(&mut tx, session, id, &a.schema).await?;
    let plan = plan_on(&mut tx, session, id, a).await?;
    let vars = session.names.template_vars();
    sqlx::query(&vars.render(
        "INSERT INTO {{registry}} (id, name, schema, template_version) VALUES ($1, $1, $2, $3)",
    )?)
    .bind(id.as_str())
    .bind(&a.schema)
    .bind(a.at_version)
    .execute(&mut *tx)
    .await
    .map_err(Error::db(format!("adopt {id}: inserting the registry row")))?;
    // Taking objects from their owners needs the connected role's rights (a
    // superuser, or a member of every owner); the admin role has none over them.
    sqlx::query("RESET ROLE")
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("adopt {id}: leaving the admin role")))?;
    sqlx::query(
        "SELECT pg_catalog.set_config('tenantctl.adopt_schema', $1, true), \
                pg_catalog.set_config('tenantctl.adopt_owner', $2, true)",
    )
    .bind(&a.schema)
    .bind(&session.names.admin_role)
    .execute(&mut *tx)
    .await
    .map_err(Error::db(format!(
        "adopt {id}: preparing the ownership transfer"
    )))?;
    crate::session::run_script(&mut tx, TRANSFER_SQL.as_str())
        .await
        .map_err(|e| match crate::error::sqlstate(&e).as_deref() {
            Some("42501") => Error::Invalid(format!(
                "adopt {id}: {:?} may not take the schema's objects from their owners; run adopt as a superuser; nothing was changed",
                session.spec.user
            )),
            _ => Error::db(format!(
                "adopt {id}: handing the schema's objects to the admin role"
            ))(e),
        })?;
    crate::session::act_as_admin(&mut tx, &session.names)
        .await
        .map_err(Error::db(format!(
            "adopt {id}: switching to the admin role"
        )))?;
    let ro = session.names.readonly_role_of(id);
    let mut rv = vars.clone();
    rv.ident("ro", &ro);
    sqlx::query(&rv.render(
        "CREATE ROLE {{ro}} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
    )?)
    .execute(&mut *tx)
    .await
    .map_err(Error::db(format!("adopt {id}: creating role {ro}")))?;
    // What PUBLIC held (every function's EXECUTE by default) is not in the model.
    let mut sv = vars.clone();
    sv.ident("schema", &a.schema);
    crate::session::run_script(
        &mut tx,
        &sv.render(
            "REVOKE ALL ON ALL TABLES IN SCHEMA {{schema}} FROM PUBLIC;
             REVOKE ALL ON ALL SEQUENCES IN SCHEMA {{schema}} FROM PUBLIC;
             REVOKE ALL ON ALL ROUTINES IN SCHEMA {{schema}} FROM PUBLIC;",
        )?,
    )
    .await
    .map_err(Error::db(format!(
        "adopt {id}: revoking PUBLIC's privileges"
    )))?;
    // No template version runs: only what tenantctl applies after every version.
    let at = a.at_version.unwrap_or(0);
    template::apply(&mut tx, session, id, (at, at), false, "adopt").await?;
    journal::record(
        &mut tx,
        session,
        &Entry {
            action: "tenant adopt",
            tenant: Some(id.as_str()),
            sql_summary: summary.to_string(),
            outcome: "ok".into(),
            detail: serde_json::to_value(&plan).ok(),
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(Error::db(format!("adopt {id}: committing")))?;
    Ok(plan)
}

/// Schemas with the tenant prefix and no registry row, in name order.
pub async fn unregistered_schemas(session: &Session) -> Result<Vec<String>> {
    Ok(catalog::list_tenants(session)
        .await?
        .into_iter()
        .filter(|r| r.drift == catalog::Drift::Unregistered)
        .map(|r| r.schema)
        .collect())
}

/// Adopts `adoptions` one after another, each in its own transaction, under the
/// [`crate::job`] contract: one progress report per schema, a failure kept to its schema,
/// and a cancel stopping before the next one.
pub async fn adopt_job(
    session: &Session,
    adoptions: &[Adoption],
    progress: &crate::job::ProgressSender<AdoptPlan>,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<crate::job::JobReport<AdoptPlan>> {
    use crate::job::{ItemFailure, JobReport, Progress, report_progress};
    session.ensure_writable("tenant adopt")?;
    let mut report = JobReport::default();
    let total = adoptions.len();
    for (n, a) in adoptions.iter().enumerate() {
        if cancel.is_cancelled() {
            report.cancelled = true;
            report
                .not_tried
                .extend(adoptions[n..].iter().map(|a| a.schema.clone()));
            break;
        }
        let (landed, failed) = match adopt(session, a).await {
            Ok(plan) => (vec![plan], Vec::new()),
            Err(e) if e.is_connection_lost() => return Err(e),
            Err(e) => (
                Vec::new(),
                vec![ItemFailure {
                    item: a.schema.clone(),
                    error: e.to_string(),
                }],
            ),
        };
        report.done.extend(landed.iter().cloned());
        report.failed.extend(failed.iter().cloned());
        report_progress(
            progress,
            Progress {
                done: n + 1,
                total,
                current: a.schema.clone(),
                landed,
                failed,
            },
        );
    }
    Ok(report)
}
