//! One consistent read of everything the audit judges: roles, memberships, and the ACLs,
//! owners, policies and default privileges of the common schema, `public` and every tenant
//! schema. A handful of set-based queries in one read-only REPEATABLE READ transaction,
//! whatever the tenant count; the rules then decide in memory.

use super::acl::{AclItem, BadAcl, parse_acl};
use crate::error::Result;
use crate::session::Session;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

mod read;

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
    pub acl: Arc<[AclItem]>,
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
    pub name: Arc<str>,
    pub permissive: bool,
    /// Role names; `PUBLIC` when it applies to every role.
    pub roles: Arc<[String]>,
    /// `*` (ALL), `r` (SELECT), `a`, `w`, `d`.
    pub command: &'static str,
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
    /// Rows in the registry when a one-tenant read kept only its own row in `registry`;
    /// `None` when `registry` is the whole registry.
    pub registry_total: Option<usize>,
    /// ACL entries that could not be parsed, with the object they sit on.
    pub bad_acls: Vec<(String, BadAcl)>,
    /// Triggers on the console log table: name, enabled.
    pub log_triggers: Vec<(String, bool)>,
    /// The console log's hash chain, checked (whole-database audits only).
    pub log_chain: Option<crate::journal::ChainReport>,
    /// The one schema read, for a one-tenant audit: the other tenants' schemas were not
    /// read, so their absence says nothing.
    pub only: Option<String>,
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

/// Reads the snapshot of every schema in scope, or of `only` (one tenant's schema, with
/// `public`, its registry row, and the roles it can name; memberships are read whole). `cancel` stops it
/// promptly (the server is told to cancel).
pub async fn read(
    session: &Session,
    only: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Snapshot> {
    let mut snap = resolve(read::raw(session, only, cancel).await?);
    snap.only = only.map(String::from);
    Ok(snap)
}

/// Turns oids into names and ACL text into entries.
fn resolve(mut raw: read::Raw) -> Snapshot {
    // A whole-database read ships every column ACL and policy (see `read::Queries::new`);
    // only those on the relations read are in scope.
    let in_scope: std::collections::HashSet<i64> = raw.relations.iter().map(|r| r.0).collect();
    raw.columns.retain(|c| in_scope.contains(&c.0));
    raw.policies.retain(|p| in_scope.contains(&p.relation));
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
    let mut acl = |object: &dyn Fn() -> String, items: &[String]| -> Vec<AclItem> {
        let (ok, bad) = parse_acl(items);
        if !bad.is_empty() {
            let object = object();
            bad_acls.extend(bad.into_iter().map(|b| (object.clone(), b)));
        }
        ok
    };
    // Relation ACLs repeat: every table of a tenant has the same grants. Each distinct
    // one is parsed once and shared (100,000 tables, 10,000 distinct ACLs at 10,000
    // tenants); one with an unreadable entry is parsed apart, so the finding names its
    // object.
    let mut relation_acls: HashMap<Vec<String>, Arc<[AclItem]>> = HashMap::new();
    let namespaces: Vec<Namespace> = raw
        .namespaces
        .into_iter()
        .map(|(oid, name, owner, items)| Namespace {
            oid,
            owner: name_of(owner),
            acl: acl(&|| name.clone(), &items),
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
                    acl: match relation_acls.get(&items) {
                        Some(shared) => shared.clone(),
                        None => {
                            let (ok, bad) = parse_acl(&items);
                            if bad.is_empty() {
                                let shared: Arc<[AclItem]> = ok.into();
                                relation_acls.insert(items, shared.clone());
                                shared
                            } else {
                                acl(&|| format!("{schema}.{name}"), &items).into()
                            }
                        }
                    },
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
            acl: acl(&|| column.clone(), &items),
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
                    acl: acl(&|| format!("{schema}.{name}({args})"), &items),
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
                acl: acl(
                    &|| format!("default privileges of {}", name_of(role)),
                    &items,
                ),
            })
        })
        .collect();
    let mut binding_text = raw.binding_text;
    // One resolved list per distinct role list, shared like the oids it came from.
    let mut role_lists: HashMap<*const [i64], Arc<[String]>> = HashMap::new();
    let policies = raw
        .policies
        .into_iter()
        .map(|p| Policy {
            relation: p.relation,
            roles: role_lists
                .entry(Arc::as_ptr(&p.roles))
                .or_insert_with(|| p.roles.iter().map(|&r| name_of(r)).collect())
                .clone(),
            name: p.name,
            permissive: p.permissive,
            command: p.command,
            using: p.using.or_else(|| binding_text.remove(&p.oid)),
        })
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
        registry_total: raw.registry_total,
        bad_acls,
        log_triggers: raw.log_triggers,
        log_chain: None,
        only: None,
        role_index,
    }
}
