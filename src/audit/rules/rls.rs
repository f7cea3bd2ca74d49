//! Row-level security: RLS on, the tenant binding in place, no always-true policy for the
//! RLS role, and nothing it reads that skips RLS.

use super::{Ctx, fix};
use crate::audit::acl::Privilege;
use crate::audit::finding::{Draft, Rule, Severity};
use crate::audit::model::{
    BINDING_POLICY, Model, SchemaRole, binding_expression, is_binding_expression,
};
use crate::audit::snapshot::{Policy, RelKind, Relation};

/// The per-table statements of the model: the tenant binding for the RLS role and its
/// grant (tenantctl applies the same after every template version).
const BIND: &str = "DROP POLICY IF EXISTS tenantctl_tenant_bound ON {{object}};
CREATE POLICY tenantctl_tenant_bound ON {{object}} AS RESTRICTIVE FOR ALL TO {{rls}}
    USING (pg_catalog.current_schema() OPERATOR(pg_catalog.=) {{schema_name}}::pg_catalog.name)
    WITH CHECK (pg_catalog.current_schema() OPERATOR(pg_catalog.=) {{schema_name}}::pg_catalog.name);
GRANT SELECT ON {{object}} TO {{rls}};";

const SERVICE_POLICY: &str =
    "CREATE POLICY service_all ON {{object}} TO {{service}} USING (true) WITH CHECK (true);";
const RO_POLICY: &str =
    "CREATE POLICY readonly_all ON {{object}} FOR SELECT TO {{ro}} USING (true);";

/// Whether the RLS role reading `rel` still goes through row-level security and the
/// tenant binding.
pub fn rls_safe(ctx: &Ctx<'_>, rel: &Relation) -> bool {
    match rel.kind {
        RelKind::Table | RelKind::PartitionedTable => rel.rls && is_bound(ctx, rel),
        RelKind::View => rel.security_invoker && ctx.snap.server_version >= 150000,
        RelKind::MaterializedView | RelKind::ForeignTable | RelKind::Sequence => false,
    }
}

/// True when `rel` carries tenantctl's binding, unaltered: its restrictive policy, or, on
/// Citus, inside every permissive policy that lets the RLS role read (Citus creates shard
/// policies without their RESTRICTIVE kind, so there tenantctl folds the binding into the
/// permissive ones; `citus::provision::bind_on_citus`).
pub fn is_bound(ctx: &Ctx<'_>, rel: &Relation) -> bool {
    ctx.bound.contains(&rel.oid) || (ctx.snap.citus && folded(ctx, rel))
}

/// Every permissive policy through which the RLS role reads `rel` ends in `AND <binding>`
/// at its top level. The server parenthesises every operand of AND and OR when it
/// deparses, so the text closing on ` AND (binding))` means the outermost operator is AND
/// and the binding one of its operands.
fn folded(ctx: &Ctx<'_>, rel: &Relation) -> bool {
    let rls = &ctx.model.names.rls_role;
    let mut tail = String::from(" AND ");
    tail.push_str(&binding_expression(&rel.schema));
    tail.push(')');
    ctx.policies_by_relation.get(&rel.oid).is_none_or(|ps| {
        ps.iter()
            .filter(|p| p.permissive && applies_to(p, rls) && matches!(p.command, "*" | "r"))
            .all(|p| {
                p.using
                    .as_deref()
                    .is_some_and(|u| u.starts_with('(') && u.ends_with(&tail))
            })
    })
}

/// True when `p`, on `rel`, is tenantctl's binding for `rel`'s schema, unaltered.
pub fn is_binding(model: &Model, rel: &Relation, p: &Policy) -> bool {
    *p.name == *BINDING_POLICY
        && !p.permissive
        && p.command == "*"
        && p.roles.len() == 1
        && p.roles[0] == model.names.rls_role
        && p.using
            .as_deref()
            .is_some_and(|u| is_binding_expression(u, &rel.schema))
}

fn applies_to(p: &Policy, role: &str) -> bool {
    p.roles.iter().any(|r| r == role || r == "PUBLIC")
}

/// True when the RLS role (or PUBLIC) holds SELECT on `rel` directly.
fn rls_reads(ctx: &Ctx<'_>, rel: &Relation) -> bool {
    let rls = &ctx.model.names.rls_role;
    rel.acl.iter().any(|i| {
        (i.grantee.name() == rls || i.grantee.name() == "PUBLIC")
            && i.privileges.contains(&Privilege::Select)
    })
}

/// Adds the row-level security findings.
pub fn check(ctx: &mut Ctx<'_>) {
    let snap = ctx.snap;
    for rel in &snap.relations {
        match ctx.model.schema_role(&rel.schema) {
            Some(SchemaRole::Tenant(t)) => {
                let (id, ro) = (t.id.clone(), t.ro.clone());
                if rel.kind.is_table() {
                    table(ctx, rel, &id, &ro);
                } else if rel.kind != RelKind::Sequence {
                    view(ctx, rel, &id);
                }
            }
            Some(SchemaRole::Common)
                if rel.kind.is_table()
                    && !rel.rls
                    && ctx.policies_by_relation.contains_key(&rel.oid) =>
            {
                let mut d = Draft::new(
                    Rule::PolicyWithoutRls,
                    Severity::Medium,
                    format!(
                        "{}.{} has row-level policies but row-level security is off: they do nothing",
                        rel.schema, rel.name
                    ),
                );
                d.schema = Some(rel.schema.clone());
                d.object = Some(rel.name.clone());
                ctx.add(d);
            }
            _ => {}
        }
    }
}

/// Permissive policies that let the RLS role read every row.
fn always_true<'p>(policies: &[&'p Policy], rls: &str) -> Vec<&'p Policy> {
    policies
        .iter()
        .copied()
        .filter(|p| p.permissive && applies_to(p, rls) && matches!(p.command, "*" | "r"))
        .filter(|p| p.using.as_deref().map(str::trim) == Some("true"))
        .collect()
}

fn table<'a>(ctx: &mut Ctx<'a>, rel: &Relation, tenant: &str, ro: &str) {
    let policies: Vec<&'a Policy> = ctx
        .policies_by_relation
        .get(&rel.oid)
        .cloned()
        .unwrap_or_default();
    let open = always_true(&policies, &ctx.model.names.rls_role);
    // The common case, every table of every tenant: nothing to say, and nothing to build.
    if rel.rls && is_bound(ctx, rel) && open.is_empty() {
        return;
    }
    let reads = rls_reads(ctx, rel);
    let rls = ctx.model.names.rls_role.clone();
    let service = ctx.model.names.service_role.clone();
    let target = format!("{}.{}", rel.schema, rel.name);
    let mut vars = ctx.vars();
    vars.qualified("object", &rel.schema, &rel.name)
        .literal("schema_name", &rel.schema)
        .ident("ro", ro);
    if !rel.rls {
        // Turning RLS on without the service role's and read-only role's policies would
        // hide every row from them: the fix brings what is missing.
        let mut sql = String::from("ALTER TABLE {{object}} ENABLE ROW LEVEL SECURITY;\n");
        if !policies
            .iter()
            .any(|p| p.permissive && applies_to(p, &service))
        {
            sql.push_str(SERVICE_POLICY);
            sql.push('\n');
        }
        if !policies.iter().any(|p| p.permissive && applies_to(p, ro)) {
            sql.push_str(RO_POLICY);
            sql.push('\n');
        }
        sql.push_str(BIND);
        let mut d = Draft::new(
            Rule::RlsDisabled,
            if reads {
                Severity::Critical
            } else {
                Severity::High
            },
            if reads {
                format!(
                    "row-level security is off on {target}, which the RLS role {rls} can read: every application user reads every row, of this tenant{}",
                    if policies.is_empty() {
                        ""
                    } else {
                        " (its policies do nothing)"
                    }
                )
            } else {
                format!(
                    "row-level security is off on {target}: the model keeps it on for every tenant table, so application users can be given it safely"
                )
            },
        );
        d.schema = Some(rel.schema.clone());
        d.object = Some(rel.name.clone());
        d.role = Some(rls.clone());
        d.tenant = Some(tenant.into());
        d.path = reads.then(|| format!("{rls} → SELECT on {target} (no row-level security)"));
        d.fix = fix(&vars, &sql);
        ctx.add(d);
        return;
    }
    let bound = is_bound(ctx, rel);
    if !bound {
        let mut d = Draft::new(
            Rule::TenantBindingMissing,
            if reads {
                Severity::Critical
            } else {
                Severity::High
            },
            format!(
                "{target} lacks tenantctl's tenant binding (policy {BINDING_POLICY}, or it was altered): an application user routed to another tenant {} it by naming its schema",
                if reads { "reads" } else { "could read" }
            ),
        );
        d.schema = Some(rel.schema.clone());
        d.object = Some(rel.name.clone());
        d.role = Some(rls.clone());
        d.tenant = Some(tenant.into());
        d.path = reads.then(|| format!("{rls} (any tenant's session) → SELECT on {target}"));
        d.fix = fix(&vars, BIND);
        ctx.add(d);
    }
    for p in open {
        let mut pv = vars.clone();
        pv.ident("policy", &p.name);
        let mut d = Draft::new(
            Rule::PolicyAlwaysTrue,
            if bound {
                Severity::High
            } else {
                Severity::Critical
            },
            format!(
                "policy {} on {target} lets the RLS role {rls} read every row{}, past the application's user policies",
                p.name,
                if bound { " of its tenant" } else { "" }
            ),
        );
        d.schema = Some(rel.schema.clone());
        d.object = Some(rel.name.clone());
        d.role = Some(rls.clone());
        d.tenant = Some(tenant.into());
        d.aspect = "policy";
        d.path = Some(format!(
            "{rls} → policy {} USING (true) on {target}",
            p.name
        ));
        d.fix = fix(&pv, "DROP POLICY {{policy}} ON {{object}};");
        ctx.add(d);
    }
}

fn view(ctx: &mut Ctx<'_>, rel: &Relation, tenant: &str) {
    if !rls_reads(ctx, rel) {
        return;
    }
    let invoker_possible = ctx.snap.server_version >= 150000 && rel.kind == RelKind::View;
    if rel.kind == RelKind::View && rel.security_invoker && invoker_possible {
        return;
    }
    let rls = ctx.model.names.rls_role.clone();
    let target = format!("{}.{}", rel.schema, rel.name);
    let mut vars = ctx.vars();
    vars.qualified("object", &rel.schema, &rel.name);
    let why = match rel.kind {
        RelKind::View if invoker_possible => {
            "it runs with its owner's rights, so row-level security never sees the RLS role; make it security_invoker or revoke"
        }
        RelKind::View => {
            "it runs with its owner's rights, and PostgreSQL before 15 cannot make a view security_invoker; revoke it"
        }
        RelKind::MaterializedView => {
            "a materialized view holds a copy of the rows, which row-level security does not guard"
        }
        _ => "row-level security does not apply to foreign tables",
    };
    let mut d = Draft::new(
        Rule::ViewBypassesRls,
        Severity::Critical,
        format!(
            "the RLS role {rls} can read {} {target}, which returns every row: {why}",
            rel.kind.noun()
        ),
    );
    d.schema = Some(rel.schema.clone());
    d.object = Some(rel.name.clone());
    d.role = Some(rls);
    d.tenant = Some(tenant.into());
    d.path = Some(format!(
        "{} → SELECT on {target} (past row-level security)",
        d.role.as_deref().unwrap_or_default()
    ));
    d.privileges = vec![Privilege::Select];
    d.fix = if invoker_possible {
        fix(
            &vars,
            "ALTER VIEW {{object}} SET (security_invoker = true);",
        )
    } else {
        fix(&vars, "REVOKE SELECT ON TABLE {{object}} FROM {{rls}};")
    };
    ctx.add(d);
}
