//! The catalog read behind [`super::Snapshot`]: a handful of set-based queries in one
//! read-only REPEATABLE READ snapshot. A whole-database audit splits them over three
//! connections that share the snapshot (`pg_export_snapshot`): at 10,000 tenants the
//! relation and policy reads are each a second of server time, and one connection runs
//! them one after the other on one core while the client waits.

use super::super::model::{BINDING_POLICY, binding_expression};
use super::super::tree;
use crate::error::{Error, Result};
use crate::names::NamingPolicy;
use crate::session::Session;
use futures_util::TryStreamExt;
use sqlx::PgConnection;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// The schemas in scope: the common schema, `public`, every schema with the tenant prefix,
/// and every schema the registry names; or, when `$3` names one schema, that one and
/// `public` (on every tenant's `search_path`, so its state is part of each tenant's).
/// Repeated in each query (cheap) so each stays one statement the planner sees whole.
const SCOPE: &str = r#"
WITH reg AS (SELECT r.schema FROM {{commons}}.{{tenants}} r),
ns AS (
    SELECT n.oid, n.nspname, n.nspowner, n.nspacl
    FROM pg_catalog.pg_namespace n
    WHERE ($3::pg_catalog.text IS NULL AND (
              n.nspname OPERATOR(pg_catalog.=) $1::pg_catalog.name
           OR n.nspname OPERATOR(pg_catalog.=) 'public'::pg_catalog.name
           OR pg_catalog.starts_with(n.nspname::pg_catalog.text, $2::pg_catalog.text)
           OR n.nspname::pg_catalog.text IN (SELECT reg.schema FROM reg)))
       OR n.nspname OPERATOR(pg_catalog.=) $3::pg_catalog.name
       OR ($3::pg_catalog.text IS NOT NULL
           AND n.nspname OPERATOR(pg_catalog.=) 'public'::pg_catalog.name)
),
-- The relations in scope. The catalog has no index on pg_class.relnamespace, so one
-- tenant's audit (`tenant show`) finds its relations through their pg_depend rows on the
-- schema (indexed) instead of scanning every relation of every tenant; the whole-database
-- audit scans once.
rels AS (
    SELECT c.oid, c.relnamespace, c.relname, c.relkind, c.relowner, c.relacl,
           c.relrowsecurity, c.relforcerowsecurity, c.reloptions
    FROM pg_catalog.pg_class c
    JOIN ns ON c.relnamespace OPERATOR(pg_catalog.=) ns.oid
    WHERE $3::pg_catalog.text IS NULL
    UNION ALL
    SELECT c.oid, c.relnamespace, c.relname, c.relkind, c.relowner, c.relacl,
           c.relrowsecurity, c.relforcerowsecurity, c.reloptions
    FROM ns
    JOIN pg_catalog.pg_depend d
      ON d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
     AND d.refobjid OPERATOR(pg_catalog.=) ns.oid
     AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
     AND d.objsubid OPERATOR(pg_catalog.=) 0
    JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.objid
    WHERE $3::pg_catalog.text IS NOT NULL
)
"#;

const ROLES_SQL: &str = r#"
SELECT r.oid::pg_catalog.int8, r.rolname::pg_catalog.text, r.rolsuper, r.rolcreaterole,
       r.rolcreatedb, r.rolreplication, r.rolbypassrls, r.rolcanlogin
FROM pg_catalog.pg_roles r
"#;

/// One tenant's read (`$3` set): the roles its snapshot can name, not the 10,000 read-only
/// roles of the other tenants (their decoding and the rules' walk over them were most of
/// `tenant show`'s client time). A role is named when it owns or is granted (or granted
/// by) anything read, is in a policy read, is in any membership (the closure and `who`
/// follow those), is a superuser, or is one of `$4` (the model's roles and this tenant's
/// read-only role). No other role can hold a privilege in this tenant, so no rule about
/// it concerns this tenant.
const ROLES_SCOPED_SQL: &str = r#"
, held AS (
    SELECT ns.nspowner AS owner, ns.nspacl AS acl FROM ns
    UNION ALL
    SELECT c.relowner, c.relacl FROM rels c
    UNION ALL
    SELECT p.proowner, p.proacl
    FROM pg_catalog.pg_proc p JOIN ns ON p.pronamespace OPERATOR(pg_catalog.=) ns.oid
    UNION ALL
    SELECT d.defaclrole, d.defaclacl
    FROM pg_catalog.pg_default_acl d
    WHERE d.defaclnamespace OPERATOR(pg_catalog.=) 0::pg_catalog.oid
       OR d.defaclnamespace IN (SELECT ns.oid FROM ns)
    UNION ALL
    SELECT NULL::pg_catalog.oid, a.attacl
    FROM pg_catalog.pg_attribute a JOIN rels c ON c.oid OPERATOR(pg_catalog.=) a.attrelid
    WHERE a.attacl IS NOT NULL
),
named AS (
    SELECT held.owner AS oid FROM held
    UNION SELECT x.grantee FROM held, pg_catalog.aclexplode(held.acl) x
    UNION SELECT x.grantor FROM held, pg_catalog.aclexplode(held.acl) x
    UNION SELECT pg_catalog.unnest(p.polroles)
          FROM pg_catalog.pg_policy p JOIN rels c ON c.oid OPERATOR(pg_catalog.=) p.polrelid
    UNION SELECT m.roleid FROM pg_catalog.pg_auth_members m
    UNION SELECT m.member FROM pg_catalog.pg_auth_members m
)
SELECT r.oid::pg_catalog.int8, r.rolname::pg_catalog.text, r.rolsuper, r.rolcreaterole,
       r.rolcreatedb, r.rolreplication, r.rolbypassrls, r.rolcanlogin
FROM pg_catalog.pg_roles r
WHERE r.rolsuper OR r.rolname OPERATOR(pg_catalog.=) ANY ($4::pg_catalog.name[])
-- The named roles by index, not `OR r.oid IN (...)` nor a join: the planner guesses the
-- named set at hundreds of thousands of rows, then rescans it once per role or hashes
-- every role.
UNION
SELECT r.oid::pg_catalog.int8, r.rolname::pg_catalog.text, r.rolsuper, r.rolcreaterole,
       r.rolcreatedb, r.rolreplication, r.rolbypassrls, r.rolcanlogin
FROM pg_catalog.pg_roles r
WHERE r.oid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT named.oid FROM named))
"#;

/// `inherit_option` and `set_option` exist from PostgreSQL 16; read through `to_jsonb` so
/// one text runs on every version, with the older per-role rule as the fallback.
const MEMBERS_SQL: &str = r#"
SELECT m.roleid::pg_catalog.int8, m.member::pg_catalog.int8,
       coalesce((pg_catalog.to_jsonb(m) OPERATOR(pg_catalog.->>) 'inherit_option')::pg_catalog.bool, r.rolinherit),
       coalesce((pg_catalog.to_jsonb(m) OPERATOR(pg_catalog.->>) 'set_option')::pg_catalog.bool, true),
       m.admin_option
FROM pg_catalog.pg_auth_members m
JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) m.member
"#;

const NAMESPACES_SQL: &str = r#"
SELECT ns.oid::pg_catalog.int8, ns.nspname::pg_catalog.text, ns.nspowner::pg_catalog.int8,
       coalesce(ns.nspacl, pg_catalog.acldefault('n'::"char", ns.nspowner))::pg_catalog.text[]
FROM ns
"#;

const RELATIONS_SQL: &str = r#"
SELECT c.oid::pg_catalog.int8, c.relnamespace::pg_catalog.int8, c.relname::pg_catalog.text,
       c.relkind::pg_catalog.text, c.relowner::pg_catalog.int8,
       coalesce(c.relacl, pg_catalog.acldefault(
           CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S'::"char" THEN 's'::"char" ELSE 'r'::"char" END,
           c.relowner))::pg_catalog.text[],
       c.relrowsecurity, c.relforcerowsecurity,
       coalesce(c.reloptions, '{}'::pg_catalog.text[])
FROM rels c
WHERE c.relkind IN ('r'::"char", 'p'::"char", 'v'::"char", 'm'::"char", 'f'::"char", 'S'::"char")
"#;

const COLUMNS_SQL: &str = r#"
SELECT a.attrelid::pg_catalog.int8, a.attname::pg_catalog.text, a.attacl::pg_catalog.text[]
FROM pg_catalog.pg_attribute a
/*in scope*/
WHERE a.attacl IS NOT NULL AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
"#;

const FUNCTIONS_SQL: &str = r#"
SELECT p.pronamespace::pg_catalog.int8, p.proname::pg_catalog.text,
       pg_catalog.pg_get_function_identity_arguments(p.oid),
       p.prokind OPERATOR(pg_catalog.=) 'p'::"char",
       p.proowner::pg_catalog.int8,
       coalesce(p.proacl, pg_catalog.acldefault('f'::"char", p.proowner))::pg_catalog.text[],
       p.prosecdef,
       coalesce(p.proconfig, '{}'::pg_catalog.text[])
FROM pg_catalog.pg_proc p
JOIN ns ON p.pronamespace OPERATOR(pg_catalog.=) ns.oid
LEFT JOIN pg_catalog.pg_depend d
       ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'::"char"
WHERE d.objid IS NULL
"#;

const DEFAULTS_SQL: &str = r#"
SELECT d.defaclrole::pg_catalog.int8, d.defaclnamespace::pg_catalog.int8,
       d.defaclobjtype::pg_catalog.text, d.defaclacl::pg_catalog.text[]
FROM pg_catalog.pg_default_acl d
WHERE d.defaclnamespace OPERATOR(pg_catalog.=) 0::pg_catalog.oid
   OR d.defaclnamespace IN (SELECT ns.oid FROM ns)
"#;

/// Only two questions are asked of a policy's USING expression, both for policies that
/// apply to the RLS role (or PUBLIC): is it tenantctl's binding, unaltered, and is it the
/// constant `true`. `pg_get_expr` is the costly part at scale, so it runs here only on the
/// boolean constants; the bindings come back as their stored trees, which
/// [`super::tree`] compares so that one per distinct shape is deparsed ([`DEPARSE_SQL`]).
const POLICIES_SQL: &str = r#"
, pol AS (
    SELECT p.*,
           0::pg_catalog.oid OPERATOR(pg_catalog.=) ANY (p.polroles)
           OR (SELECT r.oid FROM pg_catalog.pg_roles r
               WHERE r.rolname OPERATOR(pg_catalog.=) $4::pg_catalog.name)
              OPERATOR(pg_catalog.=) ANY (p.polroles) AS for_rls
    FROM pg_catalog.pg_policy p
    /*in scope*/
)
SELECT pol.oid::pg_catalog.int8, pol.polrelid::pg_catalog.int8, pol.polname::pg_catalog.text,
       pol.polpermissive, pol.polroles::pg_catalog.text, pol.polcmd,
       CASE WHEN pol.for_rls AND pol.polname OPERATOR(pg_catalog.<>) $5::pg_catalog.name
                 AND pg_catalog.starts_with(pol.polqual::pg_catalog.text, '{CONST :consttype 16 ')
            THEN pg_catalog.pg_get_expr(pol.polqual, pol.polrelid)
            -- On Citus the binding lives inside the permissive policies (see is_binding).
            WHEN pol.for_rls AND $6::pg_catalog.bool AND pol.polpermissive
            THEN pg_catalog.pg_get_expr(pol.polqual, pol.polrelid) END,
       CASE WHEN pol.for_rls AND pol.polname OPERATOR(pg_catalog.=) $5::pg_catalog.name
            THEN pol.polqual::pg_catalog.text END
FROM pol
"#;

/// The deparsed USING expressions of the policies whose oids are `$1`.
const DEPARSE_SQL: &str = r#"
SELECT p.oid::pg_catalog.int8, pg_catalog.pg_get_expr(p.polqual, p.polrelid)
FROM pg_catalog.pg_policy p
WHERE p.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[])
"#;

const REGISTRY_SQL: &str =
    "SELECT r.id, r.schema, r.status, 0::pg_catalog.int8 FROM {{commons}}.{{tenants}} r";

/// One tenant's read: its own registry row (by schema or id) and the count of all rows,
/// which the report's summary gives; one row with no tenant when the registry lacks it.
const REGISTRY_SCOPED_SQL: &str = r#"
SELECT r.id, r.schema, r.status, t.n
FROM (SELECT pg_catalog.count(*) AS n FROM {{commons}}.{{tenants}}) t
LEFT JOIN {{commons}}.{{tenants}} r
       ON r.schema OPERATOR(pg_catalog.=) $1::pg_catalog.text
       OR r.id OPERATOR(pg_catalog.=) $2::pg_catalog.text
"#;

const LOG_TRIGGERS_SQL: &str = r#"
SELECT t.tgname::pg_catalog.text, t.tgenabled OPERATOR(pg_catalog.<>) 'D'::"char"
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
WHERE n.nspname OPERATOR(pg_catalog.=) $1::pg_catalog.name
  AND c.relname OPERATOR(pg_catalog.=) $2::pg_catalog.name
  AND NOT t.tgisinternal
"#;

pub(super) type RelRow = (
    i64,
    i64,
    String,
    String,
    i64,
    Vec<String>,
    bool,
    bool,
    Vec<String>,
);
/// id, schema, status (absent on a one-tenant read's row when the registry lacks the
/// tenant), and the registry's row count (one-tenant reads only).
type RegistryReadRow = (Option<String>, Option<String>, Option<String>, i64);
pub(super) type RoleRow = (i64, String, bool, bool, bool, bool, bool, bool);
pub(super) type FnRow = (
    i64,
    String,
    String,
    bool,
    i64,
    Vec<String>,
    bool,
    Vec<String>,
);
/// oid, table, name, permissive, roles, command, deparsed USING (boolean constants only).
/// A policy as read. Its name and role list are shared with every policy that has the
/// same (400,000 policies at 10,000 tenants have a handful of names and one role list per
/// tenant), and its command is one of five constants.
pub(super) struct PolicyRow {
    pub oid: i64,
    pub relation: i64,
    pub name: Arc<str>,
    pub permissive: bool,
    pub roles: Arc<[i64]>,
    pub command: &'static str,
    /// `pg_get_expr` of the USING expression, when read (see [`POLICIES_SQL`]).
    pub using: Option<String>,
}

/// The raw rows, before names are resolved.
#[derive(Default)]
pub(super) struct Raw {
    pub version: i32,
    pub citus: bool,
    pub roles: Vec<RoleRow>,
    pub members: Vec<(i64, i64, bool, bool, bool)>,
    pub namespaces: Vec<(i64, String, i64, Vec<String>)>,
    pub relations: Vec<RelRow>,
    pub columns: Vec<(i64, String, Vec<String>)>,
    pub functions: Vec<FnRow>,
    pub defaults: Vec<(i64, i64, String, Vec<String>)>,
    pub policies: Vec<PolicyRow>,
    /// The USING text of each binding-named policy, by policy oid.
    pub binding_text: HashMap<i64, String>,
    pub registry: Vec<(String, String, String)>,
    /// Rows in the registry, when a one-tenant read kept only its own.
    pub registry_total: Option<usize>,
    pub log_triggers: Vec<(String, bool)>,
}

/// The statements and their arguments, rendered once for the configured names.
struct Queries {
    namespaces: String,
    relations: String,
    columns: String,
    functions: String,
    defaults: String,
    policies: String,
    registry: String,
    roles: String,
    /// The model's roles and the tenant's read-only role (a one-tenant read's `$4`).
    model_roles: Vec<String>,
    commons: String,
    prefix: String,
    rls: String,
    log_table: String,
    only: Option<String>,
    /// The database has Citus (asked when the session opened; not asked again per read).
    citus: bool,
}

impl Queries {
    fn new(names: &NamingPolicy, only: Option<&str>, citus: bool) -> Result<Queries> {
        let vars = names.template_vars();
        let scoped = |sql: &str| -> Result<String> {
            let mut text = vars.render(SCOPE)?;
            text.push_str(sql);
            Ok(text)
        };
        // A whole-database audit reads every column ACL and policy and keeps those of the
        // relations it read: nearly all are in scope, and the join that would sort them
        // out costs more than the rows (at 10,000 tenants the policy join hashed all
        // 400,000 policies, trees and all: 2.5 s against 0.7 s for the plain scan). One
        // tenant's read joins, so that it reads one tenant's rows.
        let in_scope = |sql: &str, key: &str| -> Result<String> {
            let join = match only {
                Some(_) => format!("JOIN rels c ON c.oid OPERATOR(pg_catalog.=) {key}"),
                None => String::new(),
            };
            scoped(&sql.replace("/*in scope*/", &join))
        };
        Ok(Queries {
            namespaces: scoped(NAMESPACES_SQL)?,
            relations: scoped(RELATIONS_SQL)?,
            columns: in_scope(COLUMNS_SQL, "a.attrelid")?,
            functions: scoped(FUNCTIONS_SQL)?,
            defaults: scoped(DEFAULTS_SQL)?,
            policies: in_scope(POLICIES_SQL, "p.polrelid")?,
            registry: vars.render(match only {
                Some(_) => REGISTRY_SCOPED_SQL,
                None => REGISTRY_SQL,
            })?,
            roles: match only {
                Some(_) => scoped(ROLES_SCOPED_SQL)?,
                None => ROLES_SQL.to_string(),
            },
            model_roles: {
                let mut r = vec![
                    names.admin_role.clone(),
                    names.service_role.clone(),
                    names.rls_role.clone(),
                ];
                if let Some(id) = only
                    .and_then(|s| names.id_from_schema(s))
                    .and_then(|id| names.tenant_id(id).ok())
                {
                    r.push(names.readonly_role_of(&id));
                }
                r
            },
            commons: names.common_schema.clone(),
            prefix: names.schema_prefix.clone(),
            rls: names.rls_role.clone(),
            log_table: names.log_table.clone(),
            only: only.map(String::from),
            citus,
        })
    }

    /// Roles, memberships, schemas, functions, default privileges, the registry and the
    /// log's triggers: small, whatever the tenant count.
    async fn small(&self, tx: &mut PgConnection, raw: &mut Raw) -> sqlx::Result<()> {
        raw.version = simple_scalar(
            tx,
            "SELECT pg_catalog.current_setting('server_version_num')::pg_catalog.int4",
        )
        .await?;
        raw.citus = self.citus;
        raw.roles = match &self.only {
            Some(_) => {
                self.scoped(&self.roles)
                    .bind(&self.model_roles)
                    .fetch_all(&mut *tx)
                    .await?
            }
            None => sqlx::query_as(&self.roles).fetch_all(&mut *tx).await?,
        };
        raw.members = sqlx::Executor::fetch_all(&mut *tx, MEMBERS_SQL)
            .await?
            .iter()
            .map(sqlx::FromRow::from_row)
            .collect::<sqlx::Result<_>>()?;
        raw.namespaces = self.scoped(&self.namespaces).fetch_all(&mut *tx).await?;
        raw.functions = self.scoped(&self.functions).fetch_all(&mut *tx).await?;
        raw.defaults = self.scoped(&self.defaults).fetch_all(&mut *tx).await?;
        let registry: Vec<RegistryReadRow> = match &self.only {
            Some(schema) => {
                let id = schema.strip_prefix(self.prefix.as_str()).unwrap_or(schema);
                sqlx::query_as(&self.registry)
                    .bind(schema)
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?
            }
            None => sqlx::query_as(&self.registry).fetch_all(&mut *tx).await?,
        };
        if self.only.is_some() {
            raw.registry_total = registry.first().map(|r| r.3.max(0) as usize);
        }
        raw.registry = registry
            .into_iter()
            .filter_map(|(id, schema, status, _)| Some((id?, schema?, status?)))
            .collect();
        raw.log_triggers = sqlx::query_as(LOG_TRIGGERS_SQL)
            .bind(&self.commons)
            .bind(&self.log_table)
            .fetch_all(&mut *tx)
            .await?;
        Ok(())
    }

    /// Every relation with its ACL, and every column ACL: one row per table, view and
    /// sequence of every tenant.
    async fn relations(&self, tx: &mut PgConnection, raw: &mut Raw) -> sqlx::Result<()> {
        // The catalog's estimate of the schemas in scope is off by half, and the planner
        // then sorts all of pg_class (external sort at 10,000 tenants) to merge-join it:
        // hashing the schemas and scanning pg_class once is 3x faster. One tenant's read
        // goes through pg_depend, by index, and keeps the planner's choice.
        let whole = self.only.is_none();
        if whole {
            sqlx::query("SET LOCAL enable_mergejoin = off")
                .execute(&mut *tx)
                .await?;
            sqlx::query("SET LOCAL enable_nestloop = off")
                .execute(&mut *tx)
                .await?;
        }
        raw.relations = self.scoped(&self.relations).fetch_all(&mut *tx).await?;
        if whole {
            sqlx::query("RESET enable_mergejoin")
                .execute(&mut *tx)
                .await?;
            sqlx::query("RESET enable_nestloop")
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    /// Column-level grants.
    async fn columns(&self, tx: &mut PgConnection, raw: &mut Raw) -> sqlx::Result<()> {
        raw.columns = self.scoped(&self.columns).fetch_all(&mut *tx).await?;
        Ok(())
    }

    /// Every policy, and the USING text of the bindings (see [`Bindings`]).
    async fn policies(&self, tx: &mut PgConnection, raw: &mut Raw) -> sqlx::Result<()> {
        let citus = self.citus;
        // Streamed: each binding's tree (half a kilobyte) is cut as it arrives and
        // dropped, so 100,000 of them never sit in memory together.
        let mut trees = Bindings::default();
        {
            let mut rows = sqlx::query(&self.policies)
                .bind(&self.commons)
                .bind(&self.prefix)
                .bind(&self.only)
                .bind(&self.rls)
                .bind(BINDING_POLICY)
                .bind(citus)
                .fetch(&mut *tx);
            let mut shared = Shared::default();
            // Decoded by hand, borrowing: the 400,000 rows of 10,000 tenants were a third
            // of the audit's own CPU time as owned tuples (two strings and a vector each).
            while let Some(row) = rows.try_next().await? {
                let oid: i64 = row.try_get(0)?;
                let tree: Option<&str> = row.try_get(7)?;
                if let Some(tree) = tree {
                    trees.add(oid, tree);
                }
                raw.policies.push(PolicyRow {
                    oid,
                    relation: row.try_get(1)?,
                    name: shared.name(row.try_get(2)?),
                    permissive: row.try_get(3)?,
                    roles: shared.roles(row.try_get(4)?)?,
                    command: command(row.try_get(5)?)?,
                    using: row.try_get(6)?,
                });
            }
        }
        raw.binding_text = trees.deparsed(tx).await?;
        Ok(())
    }

    /// A scoped statement with its three arguments: common schema, prefix, one schema.
    fn scoped<'q, O>(
        &'q self,
        sql: &'q str,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        sqlx::query_as(sql)
            .bind(&self.commons)
            .bind(&self.prefix)
            .bind(&self.only)
    }
}

/// A parameterless one-value read in one round trip: the simple protocol skips the
/// parse-and-describe exchange a prepared statement costs on a fresh connection.
async fn simple_scalar<T>(conn: &mut PgConnection, sql: &str) -> sqlx::Result<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    sqlx::Executor::fetch_one(conn, sql).await?.try_get(0)
}

const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL jit = off";

/// Opens the read's transaction. JIT off: it compiled 41 functions for the policy scan,
/// and catalog scans of a few hundred thousand rows never earn that back.
async fn begin(conn: &mut PgConnection) -> sqlx::Result<()> {
    // One round trip for both (the simple protocol takes several statements at once).
    sqlx::Executor::execute(conn, BEGIN).await.map(drop)
}

/// Reads the raw rows of every schema in scope, or of `only` (one tenant's schema, with
/// `public`, its registry row and the roles it can name; memberships are read whole). `cancel` stops it
/// promptly (the server is told to cancel).
pub(super) async fn raw(
    session: &Session,
    only: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Raw> {
    let queries = std::sync::Arc::new(Queries::new(&session.names, only, session.citus)?);
    // One tenant's read is a few milliseconds: a second and third connection would cost
    // more than they save, and `tenant show` must not hold three of the console's pool.
    let pool = session.pool.options().get_max_connections();
    let read = if only.is_none() && pool >= 3 {
        split(session, queries, cancel).await
    } else {
        whole(session, queries, cancel).await
    };
    read.map_err(|e| match e {
        Error::Db { source, .. } => crate::catalog::registry_error(session, source),
        other => other,
    })
}

/// Everything on one connection.
async fn whole(
    session: &Session,
    queries: std::sync::Arc<Queries>,
    cancel: &CancellationToken,
) -> Result<Raw> {
    session
        .cancellable(cancel, "reading the catalog for the audit", move |conn| {
            Box::pin(async move {
                begin(conn).await?;
                let mut raw = Raw::default();
                let read = async {
                    queries.small(conn, &mut raw).await?;
                    queries.relations(conn, &mut raw).await?;
                    queries.columns(conn, &mut raw).await?;
                    queries.policies(conn, &mut raw).await
                }
                .await;
                end(conn, read).await?;
                Ok(raw)
            })
        })
        .await
}

/// Commits after a good read, rolls back after a failed one: explicitly, because a
/// connection that goes back to the pool inside a transaction would hand the next user
/// this read-only snapshot.
async fn end(conn: &mut PgConnection, read: sqlx::Result<()>) -> sqlx::Result<()> {
    match read {
        Ok(()) => sqlx::Executor::execute(conn, "COMMIT").await.map(drop),
        Err(e) => {
            let _ = sqlx::Executor::execute(conn, "ROLLBACK").await;
            Err(e)
        }
    }
}

/// The three reads on three connections, at one instant: the first exports its snapshot
/// and the other two import it, so the audit never judges a relation against roles or
/// policies from a different moment. The first keeps its transaction open until both have
/// imported (an exported snapshot lives only as long as its transaction).
async fn split(
    session: &Session,
    queries: std::sync::Arc<Queries>,
    cancel: &CancellationToken,
) -> Result<Raw> {
    // A failure on one connection stops the others instead of letting them read on.
    let stop = cancel.child_token();
    let (id_tx, id_rx) = tokio::sync::watch::channel(None::<String>);
    let (rel_ack, rel_acked) = oneshot::channel::<()>();
    let (pol_ack, pol_acked) = oneshot::channel::<()>();
    let during = "reading the catalog for the audit";
    let first = {
        let q = queries.clone();
        session.cancellable(&stop, during, move |conn| {
            Box::pin(async move {
                begin(conn).await?;
                let mut raw = Raw::default();
                let read = async {
                    let id: String = sqlx::query_scalar("SELECT pg_catalog.pg_export_snapshot()")
                        .fetch_one(&mut *conn)
                        .await?;
                    let _ = id_tx.send(Some(id));
                    q.small(conn, &mut raw).await?;
                    q.columns(conn, &mut raw).await?;
                    // A sender dropped without acking gave up; its own error is reported.
                    let _ = rel_acked.await;
                    let _ = pol_acked.await;
                    Ok(())
                }
                .await;
                end(conn, read).await?;
                Ok(raw)
            })
        })
    };
    let importer = |ack: oneshot::Sender<()>, which: Part| {
        let q = queries.clone();
        let mut id_rx = id_rx.clone();
        session.cancellable(&stop, during, move |conn| {
            Box::pin(async move {
                let id = id_rx
                    .wait_for(Option::is_some)
                    .await
                    .map_err(|_| sqlx::Error::Protocol("the snapshot was never exported".into()))?
                    .clone()
                    .unwrap_or_default();
                begin(conn).await?;
                let mut raw = Raw::default();
                let read = async {
                    import(conn, &id).await?;
                    let _ = ack.send(());
                    match which {
                        Part::Relations => q.relations(conn, &mut raw).await,
                        Part::Policies => q.policies(conn, &mut raw).await,
                    }
                }
                .await;
                end(conn, read).await?;
                Ok(raw)
            })
        })
    };
    let stopper = |r: Result<Raw>| {
        if r.is_err() {
            stop.cancel();
        }
        r
    };
    let (first, rels, pols) = tokio::join!(
        async { stopper(first.await) },
        async { stopper(importer(rel_ack, Part::Relations).await) },
        async { stopper(importer(pol_ack, Part::Policies).await) },
    );
    // The error that started it, not the cancels it caused in the others.
    let results = [first, rels, pols];
    if results
        .iter()
        .any(|r| matches!(r, Err(e) if !matches!(e, Error::Cancelled(_))))
    {
        let cause = results
            .into_iter()
            .filter_map(Result::err)
            .find(|e| !matches!(e, Error::Cancelled(_)));
        return Err(
            cause.unwrap_or_else(|| Error::Invalid("the audit's catalog read failed".into()))
        );
    }
    let [first, rels, pols] = results;
    let mut raw = first?;
    let rels = rels?;
    let pols = pols?;
    raw.relations = rels.relations;
    raw.policies = pols.policies;
    raw.binding_text = pols.binding_text;
    Ok(raw)
}

/// Which share of the read an importing connection takes.
#[derive(Clone, Copy)]
enum Part {
    Relations,
    Policies,
}

/// `SET TRANSACTION SNAPSHOT` takes no parameter; the id is the server's own
/// (`00000003-0000001B-1`), checked to be only that, then quoted as a literal.
async fn import(conn: &mut PgConnection, id: &str) -> sqlx::Result<()> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(sqlx::Error::Protocol(format!(
            "unexpected snapshot id {id:?} from pg_export_snapshot"
        )));
    }
    let sql = crate::sql::SqlVars::new()
        .literal("id", id)
        .render("SET TRANSACTION SNAPSHOT {{id}}")
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    sqlx::query(&sql).execute(conn).await.map(drop)
}

/// The names and role lists seen so far, each kept once.
#[derive(Default)]
struct Shared {
    names: HashSet<Arc<str>>,
    roles: HashMap<String, Arc<[i64]>>,
}

impl Shared {
    fn name(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.names.get(name) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        self.names.insert(n.clone());
        n
    }

    /// `polroles` in its text form, `{10,16385}`.
    fn roles(&mut self, text: &str) -> sqlx::Result<Arc<[i64]>> {
        if let Some(r) = self.roles.get(text) {
            return Ok(r.clone());
        }
        let body = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .ok_or_else(|| sqlx::Error::Protocol(format!("unexpected polroles {text:?}")))?;
        let oids = body
            .split(',')
            .filter(|o| !o.is_empty())
            .map(|o| o.parse::<i64>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| sqlx::Error::Protocol(format!("unexpected polroles {text:?}")))?;
        let r: Arc<[i64]> = oids.into();
        self.roles.insert(text.to_string(), r.clone());
        Ok(r)
    }
}

/// `polcmd` as the rules spell it.
fn command(c: i8) -> sqlx::Result<&'static str> {
    Ok(match c as u8 {
        b'*' => "*",
        b'r' => "r",
        b'a' => "a",
        b'w' => "w",
        b'd' => "d",
        other => {
            return Err(sqlx::Error::Protocol(format!(
                "unexpected polcmd {:?}",
                other as char
            )));
        }
    })
}

/// The trees of every policy named as tenantctl's binding, cut (see [`super::tree`]) and
/// kept compact: a shape is stored once, each tree as its shape and its schema constant.
#[derive(Default)]
struct Bindings {
    /// Shape text → index into `firsts`.
    shapes: HashMap<String, usize>,
    /// The first policy of each shape: the one deparsed for all.
    firsts: Vec<(i64, Option<String>)>,
    /// Each binding: its shape and the schema its one constant names, or `None` when it
    /// does not cut that way (it is deparsed itself).
    members: Vec<(i64, Option<(usize, String)>)>,
}

impl Bindings {
    fn add(&mut self, oid: i64, text: &str) {
        let Some(cut) = tree::cut(text) else {
            self.members.push((oid, None));
            return;
        };
        let name = match cut.constants.as_slice() {
            [only] => tree::name_constant(only),
            _ => None,
        };
        let next = self.firsts.len();
        let shape = *self.shapes.entry(cut.shape).or_insert(next);
        if shape == next {
            self.firsts.push((oid, name.clone()));
        }
        self.members.push((oid, name.map(|n| (shape, n))));
    }

    /// The USING text of every binding, by oid: a shape whose first tree deparses as the
    /// binding for the schema its constant names stands for every tree of that shape, each
    /// the binding for the schema *its* constant names. Every other tree is deparsed itself.
    async fn deparsed(
        self,
        tx: &mut sqlx::PgConnection,
    ) -> std::result::Result<HashMap<i64, String>, sqlx::Error> {
        let firsts: Vec<i64> = self.firsts.iter().map(|f| f.0).collect();
        let mut text = deparse(tx, &firsts).await?;
        let reads_as_binding: Vec<bool> = self
            .firsts
            .iter()
            .map(|(oid, name)| match (name, text.get(oid)) {
                (Some(schema), Some(deparsed)) => *deparsed == binding_expression(schema),
                _ => false,
            })
            .collect();
        let mut rest = Vec::new();
        for (oid, cut) in self.members {
            if text.contains_key(&oid) {
                continue;
            }
            match cut {
                Some((shape, schema)) if reads_as_binding.get(shape) == Some(&true) => {
                    text.insert(oid, binding_expression(&schema));
                }
                _ => rest.push(oid),
            }
        }
        text.extend(deparse(tx, &rest).await?);
        Ok(text)
    }
}

/// `pg_get_expr` of the USING expressions of `oids`.
async fn deparse(
    tx: &mut sqlx::PgConnection,
    oids: &[i64],
) -> std::result::Result<HashMap<i64, String>, sqlx::Error> {
    if oids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, Option<String>)> = sqlx::query_as(DEPARSE_SQL)
        .bind(oids)
        .fetch_all(&mut *tx)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(oid, text)| Some((oid, text?)))
        .collect())
}
