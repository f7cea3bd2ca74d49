//! `audit who`: every role that can read or write one tenant's data, and how.

use super::acl::Privilege;
use super::members::{Memberships, chain_text};
use super::model::ALL_DATA_ROLES;
use super::snapshot::{RelKind, Snapshot};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One role's reach into the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleReach {
    pub role: String,
    /// Data privileges it can use, e.g. `SELECT`, `INSERT`.
    pub privileges: Vec<String>,
    /// The shortest way it gets them, e.g. `reporter → member of tenant_a_ro → SELECT on
    /// tenant_a.orders`.
    pub path: String,
    /// Every way, when there are several.
    pub paths: Vec<String>,
    /// It reads past row-level security (superuser, BYPASSRLS, owner).
    pub bypasses_rls: bool,
}

/// The answer to "who can reach tenant X's data".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhoReport {
    pub tenant: String,
    pub schema: String,
    /// The table asked about, if any.
    pub table: Option<String>,
    pub roles: Vec<RoleReach>,
}

const DATA: [Privilege; 5] = [
    Privilege::Select,
    Privilege::Insert,
    Privilege::Update,
    Privilege::Delete,
    Privilege::Truncate,
];

/// Who reaches `schema` (all of its tables, or `table`).
pub fn who(
    snap: &Snapshot,
    members: &Memberships,
    tenant: &str,
    schema: &str,
    table: Option<&str>,
) -> WhoReport {
    // What each role holds directly: role → privilege → example object.
    let mut held: HashMap<String, BTreeMap<Privilege, String>> = HashMap::new();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut usage: BTreeSet<String> = BTreeSet::new();
    let mut schema_owner = String::new();
    for ns in snap.namespaces.iter().filter(|n| n.name == schema) {
        schema_owner = ns.owner.clone();
        for item in &ns.acl {
            if item.privileges.contains(&Privilege::Usage) {
                usage.insert(item.grantee.name().to_string());
            }
        }
    }
    let in_scope = |name: &str| table.is_none_or(|t| t == name);
    let mut oids = HashMap::new();
    for rel in snap
        .relations
        .iter()
        .filter(|r| r.schema == schema && r.kind != RelKind::Sequence && in_scope(&r.name))
    {
        oids.insert(rel.oid, rel.name.clone());
        owners
            .entry(rel.owner.clone())
            .or_insert_with(|| format!("{schema}.{}", rel.name));
        for item in rel.acl.iter() {
            for p in item.privileges.iter().filter(|p| DATA.contains(p)) {
                held.entry(item.grantee.name().to_string())
                    .or_default()
                    .entry(*p)
                    .or_insert_with(|| format!("{schema}.{}", rel.name));
            }
        }
    }
    for col in snap.columns.iter() {
        let Some(name) = oids.get(&col.relation) else {
            continue;
        };
        for item in &col.acl {
            for p in item.privileges.iter().filter(|p| DATA.contains(p)) {
                held.entry(item.grantee.name().to_string())
                    .or_default()
                    .entry(*p)
                    .or_insert_with(|| format!("column {schema}.{name}.{}", col.column));
            }
        }
    }
    let mut out = Vec::new();
    for role in &snap.roles {
        let mut privileges: BTreeSet<Privilege> = BTreeSet::new();
        let mut paths: Vec<String> = Vec::new();
        let mut bypasses = false;
        if role.superuser {
            privileges.extend(DATA);
            paths.push(format!("{} → superuser", role.name));
            bypasses = true;
        }
        let reached = members.reach(&role.name);
        let mut acting: Vec<(String, Option<String>)> = vec![(role.name.clone(), None)];
        for r in &reached {
            acting.push((r.role.clone(), Some(chain_text(&role.name, r))));
        }
        let has_usage = role.superuser
            || usage.contains("PUBLIC")
            || acting
                .iter()
                .any(|(a, _)| usage.contains(a) || *a == schema_owner);
        for (actor, chain) in &acting {
            let prefix = chain.clone().unwrap_or_else(|| role.name.clone());
            if let Some(object) = owners.get(actor) {
                privileges.extend(DATA);
                bypasses = true;
                paths.push(format!("{prefix} → owner of {object}"));
            }
            if ALL_DATA_ROLES.contains(&actor.as_str()) && chain.is_some() {
                if actor == "pg_read_all_data" {
                    privileges.insert(Privilege::Select);
                } else {
                    privileges.extend([Privilege::Insert, Privilege::Update, Privilege::Delete]);
                }
                paths.push(format!("{prefix} (every table of the database)"));
                continue;
            }
            if !has_usage {
                continue;
            }
            if let Some(h) = held.get(actor) {
                let mut by_object: BTreeMap<&String, Vec<&'static str>> = BTreeMap::new();
                for (p, object) in h {
                    privileges.insert(*p);
                    by_object.entry(object).or_default().push(p.keyword());
                }
                for (object, ps) in by_object {
                    paths.push(format!("{prefix} → {} on {object}", ps.join(", ")));
                }
            }
        }
        if role.bypassrls && !privileges.is_empty() {
            bypasses = true;
        }
        if privileges.is_empty() {
            continue;
        }
        paths.sort_by_key(|p| p.len());
        paths.dedup();
        out.push(RoleReach {
            role: role.name.clone(),
            privileges: privileges.iter().map(|p| p.keyword().to_string()).collect(),
            path: paths.first().cloned().unwrap_or_default(),
            paths,
            bypasses_rls: bypasses,
        });
    }
    // PUBLIC itself, when it holds anything: every role gets that.
    if let Some(h) = held.get("PUBLIC").filter(|_| usage.contains("PUBLIC")) {
        let mut paths: Vec<String> = h
            .iter()
            .map(|(p, o)| format!("every role (PUBLIC) → {p} on {o}"))
            .collect();
        paths.sort();
        out.push(RoleReach {
            role: "PUBLIC".into(),
            privileges: h.keys().map(|p| p.keyword().to_string()).collect(),
            path: paths.first().cloned().unwrap_or_default(),
            paths,
            bypasses_rls: false,
        });
    }
    out.sort_by(|a, b| a.role.cmp(&b.role));
    WhoReport {
        tenant: tenant.into(),
        schema: schema.into(),
        table: table.map(String::from),
        roles: out,
    }
}
