//! Who reaches which tenant's data: direct grants per role and schema, computed once from
//! the snapshot, then combined with the membership closure.

use super::acl::Privilege;
use super::model::{Model, SchemaRole};
use super::snapshot::Snapshot;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Direct data privileges and schema USAGE, per role, over the tenant schemas.
#[derive(Debug, Default)]
pub struct DataReach {
    /// role → tenant schema → one example (`SELECT on tenant_b.orders`).
    data: HashMap<String, BTreeMap<String, String>>,
    /// role → tenant schemas it has USAGE on.
    usage: HashMap<String, HashSet<String>>,
}

impl DataReach {
    /// Indexes the snapshot's tenant schemas.
    pub fn new(snap: &Snapshot, model: &Model) -> DataReach {
        let mut reach = DataReach::default();
        let is_tenant =
            |schema: &str| matches!(model.schema_role(schema), Some(SchemaRole::Tenant(_)));
        for ns in snap.namespaces.iter().filter(|n| is_tenant(&n.name)) {
            for item in &ns.acl {
                if item.privileges.contains(&Privilege::Usage) {
                    reach
                        .usage
                        .entry(item.grantee.name().to_string())
                        .or_default()
                        .insert(ns.name.clone());
                }
            }
        }
        // The example is built only the first time a role meets a schema: a tenant's roles
        // hold the same grants on each of its tables, and this runs for every ACL entry of
        // every tenant table.
        let mut note = |role: &str, schema: &str, example: &dyn Fn() -> String| {
            let schemas = match reach.data.get_mut(role) {
                Some(s) => s,
                None => reach.data.entry(role.to_string()).or_default(),
            };
            if !schemas.contains_key(schema) {
                schemas.insert(schema.to_string(), example());
            }
        };
        let data_keywords = |privileges: &[Privilege]| -> String {
            privileges
                .iter()
                .filter(|p| p.touches_data())
                .map(|p| p.keyword())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let touches_data = |privileges: &[Privilege]| privileges.iter().any(|p| p.touches_data());
        for rel in snap.relations.iter().filter(|r| is_tenant(&r.schema)) {
            for item in rel.acl.iter().filter(|i| touches_data(&i.privileges)) {
                note(item.grantee.name(), &rel.schema, &|| {
                    format!(
                        "{} on {}.{}",
                        data_keywords(&item.privileges),
                        rel.schema,
                        rel.name
                    )
                });
            }
        }
        if snap.columns.is_empty() {
            return reach;
        }
        let by_oid: HashMap<i64, (&str, &str)> = snap
            .relations
            .iter()
            .map(|r| (r.oid, (r.schema.as_str(), r.name.as_str())))
            .collect();
        for col in &snap.columns {
            let Some((schema, table)) = by_oid.get(&col.relation).copied() else {
                continue;
            };
            if !is_tenant(schema) {
                continue;
            }
            for item in col.acl.iter().filter(|i| touches_data(&i.privileges)) {
                note(item.grantee.name(), schema, &|| {
                    format!(
                        "{} on column {schema}.{table}.{}",
                        data_keywords(&item.privileges),
                        col.column
                    )
                });
            }
        }
        reach
    }

    /// The tenant schemas `role` holds data privileges on directly, with an example each.
    pub fn data_of(&self, role: &str) -> impl Iterator<Item = (&String, &String)> {
        self.data.get(role).into_iter().flat_map(|m| m.iter())
    }

    /// True when one of `roles`, or PUBLIC, has USAGE on `schema`.
    pub fn usage_any(&self, roles: &[&str], schema: &str) -> bool {
        roles
            .iter()
            .copied()
            .chain(std::iter::once("PUBLIC"))
            .any(|r| self.usage.get(r).is_some_and(|s| s.contains(schema)))
    }
}
