//! One consistent read of everything the audit judges: roles, memberships, and the ACLs,
//! owners, policies and default privileges of the common schema, `public` and every tenant
//! schema. A handful of set-based queries in one read-only REPEATABLE READ transaction,
//! whatever the tenant count; the rules then decide in memory.

use super::acl::{AclItem, BadAcl, parse_acl};
use super::model::{BINDING_POLICY, binding_expression};
use super::tree;
use crate::error::{Error, Result};
use crate::session::Session;
use futures_util::TryStreamExt;
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

/// A role and the attributes the audit cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub superuser: bool,
    pub createrole: bool,
    pub createdb: bool,
    pub replication: bool,
    pub bypassrls: bool,
    pub login: bool,
}

/// `member` was granted `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberGrant {
    pub role: String,
    pub member: String,
    /// The member uses the role's privileges without SET ROLE (per grant on PostgreSQL 16+,
    /// per member role before).
    pub inherit: bool,
    /// The member may SET ROLE to it (always before PostgreSQL 16).
    pub set: bool,
    /// The member may grant the role on, itself included.
    pub admin: bool,
}

/// Which kind of relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RelKind {
    Table,
    PartitionedTable,
    View,
    MaterializedView,
    ForeignTable,
    Sequence,
}

impl RelKind {
    fn from_relkind(c: &str) -> Option<RelKind> {
        Some(match c {
            "r" => RelKind::Table,
            "p" => RelKind::PartitionedTable,
            "v" => RelKind::View,
            "m" => RelKind::MaterializedView,
            "f" => RelKind::ForeignTable,
            "S" => RelKind::Sequence,
            _ => return None,
        })
    }

    /// The noun a person and `ALTER ... OWNER TO` use.
    pub fn noun(self) -> &'static str {
        match self {
            RelKind::Table | RelKind::PartitionedTable => "table",
            RelKind::View => "view",
            RelKind::MaterializedView => "materialized view",
            RelKind::ForeignTable => "foreign table",
            RelKind::Sequence => "sequence",
        }
    }

    /// True for relations that hold rows RLS can guard.
    pub fn is_table(self) -> bool {
        matches!(self, RelKind::Table | RelKind::PartitionedTable)
    }
}

/// A schema in the audit's scope.
#[derive(Debug, Clone)]
pub struct Namespace {
    pub oid: i64,
    pub name: String,
    pub owner: String,
    pub acl: Vec<AclItem>,
}

/// A table, view, sequence, … in a schema of the scope.
#[derive(Debug, Clone)]
pub struct Relation {
    pub oid: i64,
    pub schema: String,
    pub name: String,
    pub kind: RelKind,
    pub owner: String,
    pub acl: Vec<AclItem>,
    pub rls: bool,
    pub force_rls: bool,
    /// `security_invoker` set on a view (PostgreSQL 15+).
    pub security_invoker: bool,
}

/// Column-level grants of one column.
#[derive(Debug, Clone)]
pub struct ColumnAcl {
    pub relation: i64,
    pub column: String,
    pub acl: Vec<AclItem>,
}

/// A function or procedure in a schema of the scope.
#[derive(Debug, Clone)]
pub struct Function {
    pub schema: String,
    pub name: String,
    /// Identity arguments, as `pg_get_function_identity_arguments` prints them.
    pub args: String,
    pub procedure: bool,
    pub owner: String,
    pub acl: Vec<AclItem>,
    pub security_definer: bool,
    /// `search_path` is set on the function itself (`ALTER FUNCTION ... SET search_path`).
    pub pinned_search_path: bool,
}

impl Function {
    /// `name(args)` as people read it.
    pub fn signature(&self) -> String {
        let mut s = String::with_capacity(self.name.len() + self.args.len() + 2);
        s.push_str(&self.name);
        s.push('(');
        s.push_str(&self.args);
        s.push(')');
        s
    }
}

/// What kind of objects a default privilege entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DefaultObject {
    Tables,
    Sequences,
    Functions,
    Types,
    Schemas,
}

impl DefaultObject {
    fn from_objtype(c: &str) -> Option<DefaultObject> {
        Some(match c {
            "r" => DefaultObject::Tables,
            "S" => DefaultObject::Sequences,
            "f" => DefaultObject::Functions,
            "T" => DefaultObject::Types,
            "n" => DefaultObject::Schemas,
            _ => return None,
        })
    }

    /// The keyword `ALTER DEFAULT PRIVILEGES ... ON` takes.
    pub fn keyword(self) -> &'static str {
        match self {
            DefaultObject::Tables => "TABLES",
            DefaultObject::Sequences => "SEQUENCES",
            DefaultObject::Functions => "FUNCTIONS",
            DefaultObject::Types => "TYPES",
            DefaultObject::Schemas => "SCHEMAS",
        }
    }
}

/// One `pg_default_acl` entry.
#[derive(Debug, Clone)]
pub struct DefaultAcl {
    /// The role whose new objects get it (`FOR ROLE`).
    pub role: String,
    /// The schema, or `None` for the database-wide entry.
    pub schema: Option<String>,
    pub object: DefaultObject,
    pub acl: Vec<AclItem>,
}

/// A row-level security policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub relation: i64,
    pub name: String,
    pub permissive: bool,
    /// Role names; `PUBLIC` when it applies to every role.
    pub roles: Vec<String>,
    /// `*` (ALL), `r` (SELECT), `a`, `w`, `d`.
    pub command: String,
    /// The USING expression, read only for policies that apply to the RLS role and read
    /// no column (the rules ask only whether it is the binding or `true`).
    pub using: Option<String>,
}

/// A registry row, as far as the audit needs it.
#[derive(Debug, Clone)]
pub struct RegistryRow {
    pub id: String,
    pub schema: String,
    pub status: String,
}

/// Everything the rules look at, read at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// `server_version_num`, e.g. 150018.
    pub server_version: i32,
    /// The database has the `citus` extension: tenantctl folds the tenant binding into the
    /// permissive policies there, and the RLS role logs in to reach the workers.
    pub citus: bool,
    pub roles: Vec<Role>,
    pub memberships: Vec<MemberGrant>,
    pub namespaces: Vec<Namespace>,
    pub relations: Vec<Relation>,
    pub columns: Vec<ColumnAcl>,
    pub functions: Vec<Function>,
    pub defaults: Vec<DefaultAcl>,
    pub policies: Vec<Policy>,
    pub registry: Vec<RegistryRow>,
    /// ACL entries that could not be parsed, with the object they sit on.
    pub bad_acls: Vec<(String, BadAcl)>,
    /// Triggers on the console log table: name, enabled.
    pub log_triggers: Vec<(String, bool)>,
    /// The console log's hash chain, checked (whole-database audits only).
    pub log_chain: Option<crate::journal::ChainReport>,
    /// Position of each role in `roles`: rules look roles up per object, and a scan of
    /// 10,000 read-only roles for each of 100,000 objects is what made the audit grow
    /// faster than the tenant count.
    role_index: HashMap<String, usize>,
}

impl Snapshot {
    /// A role by name.
    pub fn role(&self, name: &str) -> Option<&Role> {
        match self.role_index.get(name).and_then(|&i| self.roles.get(i)) {
            Some(r) if r.name == name => Some(r),
            // A snapshot built or changed by hand has no (or a stale) index.
            _ => self.roles.iter().find(|r| r.name == name),
        }
    }
}

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
       OR n.nspname::pg_catalog.text OPERATOR(pg_catalog.=) $3::pg_catalog.text
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
JOIN rels c ON c.oid OPERATOR(pg_catalog.=) a.attrelid
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
    JOIN rels c ON c.oid OPERATOR(pg_catalog.=) p.polrelid
)
SELECT pol.oid::pg_catalog.int8, pol.polrelid::pg_catalog.int8, pol.polname::pg_catalog.text,
       pol.polpermissive, pol.polroles::pg_catalog.int8[], pol.polcmd::pg_catalog.text,
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

const REGISTRY_SQL: &str = "SELECT r.id, r.schema, r.status FROM {{commons}}.{{tenants}} r";

const LOG_TRIGGERS_SQL: &str = r#"
SELECT t.tgname::pg_catalog.text, t.tgenabled OPERATOR(pg_catalog.<>) 'D'::"char"
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
WHERE n.nspname OPERATOR(pg_catalog.=) $1::pg_catalog.name
  AND c.relname OPERATOR(pg_catalog.=) $2::pg_catalog.name
  AND NOT t.tgisinternal
"#;

type RelRow = (
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
type RoleRow = (i64, String, bool, bool, bool, bool, bool, bool);
type FnRow = (
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
type PolicyRow = (i64, i64, String, bool, Vec<i64>, String, Option<String>);

/// The raw rows, before names are resolved.
#[derive(Default)]
struct Raw {
    version: i32,
    citus: bool,
    roles: Vec<RoleRow>,
    members: Vec<(i64, i64, bool, bool, bool)>,
    namespaces: Vec<(i64, String, i64, Vec<String>)>,
    relations: Vec<RelRow>,
    columns: Vec<(i64, String, Vec<String>)>,
    functions: Vec<FnRow>,
    defaults: Vec<(i64, i64, String, Vec<String>)>,
    policies: Vec<PolicyRow>,
    /// The USING text of each binding-named policy, by policy oid.
    binding_text: HashMap<i64, String>,
    registry: Vec<(String, String, String)>,
    log_triggers: Vec<(String, bool)>,
}

/// Reads the snapshot of every schema in scope, or of `only` (one tenant's schema, with
/// `public`: roles, memberships and the registry are still read whole). `cancel` stops it promptly (the
/// server is told to cancel).
pub async fn read(
    session: &Session,
    only: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Snapshot> {
    let names = &session.names;
    let vars = names.template_vars();
    let scoped = |sql: &str| -> Result<String> {
        let mut text = vars.render(SCOPE)?;
        text.push_str(sql);
        Ok(text)
    };
    let queries = [
        scoped(NAMESPACES_SQL)?,
        scoped(RELATIONS_SQL)?,
        scoped(COLUMNS_SQL)?,
        scoped(FUNCTIONS_SQL)?,
        scoped(DEFAULTS_SQL)?,
        scoped(POLICIES_SQL)?,
        vars.render(REGISTRY_SQL)?,
    ];
    let commons = names.common_schema.clone();
    let prefix = names.schema_prefix.clone();
    let rls = names.rls_role.clone();
    let log_table = names.log_table.clone();
    let only = only.map(String::from);
    let raw = session
        .cancellable(cancel, "reading the catalog for the audit", move |conn| {
            Box::pin(async move {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                let [ns, rel, col, fun, def, pol, reg] = &queries;
                let mut raw = Raw {
                    version: sqlx::query_scalar(
                        "SELECT pg_catalog.current_setting('server_version_num')::pg_catalog.int4",
                    )
                    .fetch_one(&mut *tx)
                    .await?,
                    ..Raw::default()
                };
                raw.citus = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension e
                                    WHERE e.extname OPERATOR(pg_catalog.=) 'citus')",
                )
                .fetch_one(&mut *tx)
                .await?;
                raw.roles = sqlx::query_as(ROLES_SQL).fetch_all(&mut *tx).await?;
                raw.members = sqlx::query_as(MEMBERS_SQL).fetch_all(&mut *tx).await?;
                raw.namespaces = sqlx::query_as(ns)
                    .bind(&commons)
                    .bind(&prefix)
                    .bind(&only)
                    .fetch_all(&mut *tx)
                    .await?;
                raw.relations = sqlx::query_as(rel)
                    .bind(&commons)
                    .bind(&prefix)
                    .bind(&only)
                    .fetch_all(&mut *tx)
                    .await?;
                raw.columns = sqlx::query_as(col)
                    .bind(&commons)
                    .bind(&prefix)
                    .bind(&only)
                    .fetch_all(&mut *tx)
                    .await?;
                raw.functions = sqlx::query_as(fun)
                    .bind(&commons)
                    .bind(&prefix)
                    .bind(&only)
                    .fetch_all(&mut *tx)
                    .await?;
                raw.defaults = sqlx::query_as(def)
                    .bind(&commons)
                    .bind(&prefix)
                    .bind(&only)
                    .fetch_all(&mut *tx)
                    .await?;
                // Streamed: each binding's tree (half a kilobyte) is cut as it arrives and
                // dropped, so 100,000 of them never sit in memory together.
                let mut trees = Bindings::default();
                {
                    let mut rows = sqlx::query_as::<_, PolicyWire>(pol)
                        .bind(&commons)
                        .bind(&prefix)
                        .bind(&only)
                        .bind(&rls)
                        .bind(BINDING_POLICY)
                        .bind(raw.citus)
                        .fetch(&mut *tx);
                    while let Some((oid, rel, name, permissive, roles, cmd, expr, tree)) =
                        rows.try_next().await?
                    {
                        if let Some(tree) = tree {
                            trees.add(oid, &tree);
                        }
                        raw.policies
                            .push((oid, rel, name, permissive, roles, cmd, expr));
                    }
                }
                raw.binding_text = trees.deparsed(&mut tx).await?;
                raw.registry = sqlx::query_as(reg).fetch_all(&mut *tx).await?;
                raw.log_triggers = sqlx::query_as(LOG_TRIGGERS_SQL)
                    .bind(&commons)
                    .bind(&log_table)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(raw)
            })
        })
        .await
        .map_err(|e| match e {
            Error::Db { source, .. } => crate::catalog::registry_error(session, source),
            other => other,
        })?;
    Ok(resolve(raw))
}

/// A policy row as it arrives: [`PolicyRow`] and, for bindings, the stored USING tree.
type PolicyWire = (
    i64,
    i64,
    String,
    bool,
    Vec<i64>,
    String,
    Option<String>,
    Option<String>,
);

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

/// Turns oids into names and ACL text into entries.
fn resolve(raw: Raw) -> Snapshot {
    let role_name: HashMap<i64, String> = raw.roles.iter().map(|r| (r.0, r.1.clone())).collect();
    let name_of = |oid: i64| -> String {
        if oid == 0 {
            return "PUBLIC".into();
        }
        role_name
            .get(&oid)
            .cloned()
            .unwrap_or_else(|| format!("(dropped role {oid})"))
    };
    let mut bad_acls = Vec::new();
    let mut acl = |object: String, items: &[String]| -> Vec<AclItem> {
        let (ok, bad) = parse_acl(items);
        bad_acls.extend(bad.into_iter().map(|b| (object.clone(), b)));
        ok
    };
    let namespaces: Vec<Namespace> = raw
        .namespaces
        .into_iter()
        .map(|(oid, name, owner, items)| Namespace {
            oid,
            owner: name_of(owner),
            acl: acl(name.clone(), &items),
            name,
        })
        .collect();
    let ns_name: HashMap<i64, String> =
        namespaces.iter().map(|n| (n.oid, n.name.clone())).collect();
    let schema_of = |oid: i64| ns_name.get(&oid).cloned().unwrap_or_default();
    let relations: Vec<Relation> = raw
        .relations
        .into_iter()
        .filter_map(
            |(oid, nsp, name, kind, owner, items, rls, force_rls, options)| {
                let schema = schema_of(nsp);
                Some(Relation {
                    oid,
                    kind: RelKind::from_relkind(&kind)?,
                    owner: name_of(owner),
                    acl: acl(format!("{schema}.{name}"), &items),
                    rls,
                    force_rls,
                    security_invoker: options.iter().any(|o| {
                        matches!(
                            o.to_ascii_lowercase().as_str(),
                            "security_invoker=true"
                                | "security_invoker=on"
                                | "security_invoker=yes"
                                | "security_invoker=t"
                                | "security_invoker=1"
                        )
                    }),
                    schema,
                    name,
                })
            },
        )
        .collect();
    let columns = raw
        .columns
        .into_iter()
        .map(|(relation, column, items)| ColumnAcl {
            relation,
            acl: acl(column.clone(), &items),
            column,
        })
        .collect();
    let functions = raw
        .functions
        .into_iter()
        .map(
            |(nsp, name, args, procedure, owner, items, secdef, config)| {
                let schema = schema_of(nsp);
                Function {
                    acl: acl(format!("{schema}.{name}({args})"), &items),
                    owner: name_of(owner),
                    security_definer: secdef,
                    pinned_search_path: config
                        .iter()
                        .any(|c| c.to_ascii_lowercase().starts_with("search_path=")),
                    schema,
                    name,
                    args,
                    procedure,
                }
            },
        )
        .collect();
    let defaults = raw
        .defaults
        .into_iter()
        .filter_map(|(role, nsp, objtype, items)| {
            Some(DefaultAcl {
                role: name_of(role),
                schema: (nsp != 0).then(|| schema_of(nsp)),
                object: DefaultObject::from_objtype(&objtype)?,
                acl: acl(format!("default privileges of {}", name_of(role)), &items),
            })
        })
        .collect();
    let mut binding_text = raw.binding_text;
    let policies = raw
        .policies
        .into_iter()
        .map(
            |(oid, relation, name, permissive, roles, command, using)| Policy {
                relation,
                name,
                permissive,
                roles: roles.into_iter().map(name_of).collect(),
                command,
                using: using.or_else(|| binding_text.remove(&oid)),
            },
        )
        .collect();
    let memberships = raw
        .members
        .into_iter()
        .map(|(role, member, inherit, set, admin)| MemberGrant {
            role: name_of(role),
            member: name_of(member),
            inherit,
            set,
            admin,
        })
        .collect();
    let roles: Vec<Role> = raw
        .roles
        .into_iter()
        .map(
            |(_, name, superuser, createrole, createdb, replication, bypassrls, login)| Role {
                name,
                superuser,
                createrole,
                createdb,
                replication,
                bypassrls,
                login,
            },
        )
        .collect();
    let role_index = roles
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.clone(), i))
        .collect();
    Snapshot {
        server_version: raw.version,
        citus: raw.citus,
        roles,
        memberships,
        namespaces,
        relations,
        columns,
        functions,
        defaults,
        policies,
        registry: raw
            .registry
            .into_iter()
            .map(|(id, schema, status)| RegistryRow { id, schema, status })
            .collect(),
        bad_acls,
        log_triggers: raw.log_triggers,
        log_chain: None,
        role_index,
    }
}
