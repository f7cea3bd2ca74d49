//! Registry ↔ catalog: rows without a schema, tenant-looking schemas without a row.

use super::Ctx;
use crate::audit::finding::{Draft, Rule, Severity};
use crate::audit::model::SchemaRole;
use std::collections::HashSet;

/// Adds the drift findings.
pub fn check(ctx: &mut Ctx<'_>) {
    let present: HashSet<&str> = ctx
        .snap
        .namespaces
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    let mut missing: Vec<(String, String)> = ctx
        .model
        .tenants
        .values()
        // A one-tenant audit read one schema: the others are not missing, only unread (at
        // 10,000 tenants, 9,999 findings built and thrown away by `tenant show`).
        .filter(|t| ctx.snap.only.as_deref().is_none_or(|s| s == t.schema))
        .filter(|t| !present.contains(t.schema.as_str()))
        .map(|t| (t.id.clone(), t.schema.clone()))
        .collect();
    missing.sort();
    for (id, schema) in missing {
        let mut d = Draft::new(
            Rule::RegistrySchemaMissing,
            Severity::High,
            format!(
                "tenant {id} is in the registry but its schema {schema} does not exist: the application routes it to nothing"
            ),
        );
        d.schema = Some(schema);
        d.tenant = Some(id);
        ctx.add(d);
    }
    let unregistered: Vec<String> = ctx
        .snap
        .namespaces
        .iter()
        .filter(|n| ctx.model.schema_role(&n.name) == Some(SchemaRole::Unregistered))
        .map(|n| n.name.clone())
        .collect();
    for schema in unregistered {
        let mut d = Draft::new(
            Rule::UnregisteredSchema,
            Severity::Medium,
            format!(
                "schema {schema} looks like a tenant's but has no registry row: tenantctl neither manages nor audits it as a tenant (bring it in with `tenantctl tenant adopt`, or drop it)"
            ),
        );
        d.schema = Some(schema);
        ctx.add(d);
    }
}
