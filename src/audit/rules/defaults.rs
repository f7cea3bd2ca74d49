//! Default privileges: what the tables and sequences a migration adds will get.

use super::{Ctx, fix};
use crate::audit::acl::{AclItem, Privilege};
use crate::audit::finding::{Draft, Rule, Severity};
use crate::audit::model::{RoleClass, SERVICE_TABLE, SchemaRole};
use crate::audit::snapshot::{DefaultAcl, DefaultObject};
use std::collections::HashMap;

/// Adds the default-privilege findings.
pub fn check(ctx: &mut Ctx<'_>) {
    let admin = ctx.model.names.admin_role.clone();
    let defaults = &ctx.snap.defaults;
    function_execute(ctx, &admin, defaults);
    // Indexed once: a scan of every schema's entries for each of 10,000 schemas was most
    // of the audit's own time at that size.
    let mut by_schema: HashMap<&str, Vec<&DefaultAcl>> = HashMap::new();
    for d in defaults {
        if let Some(schema) = d.schema.as_deref() {
            by_schema.entry(schema).or_default().push(d);
        }
    }
    let snap = ctx.snap;
    for schema in snap.namespaces.iter().map(|n| &n.name) {
        let (tenant_id, ro) = match ctx.model.schema_role(schema) {
            Some(SchemaRole::Tenant(t)) => (Some(t.id.clone()), Some(t.ro.clone())),
            Some(SchemaRole::Common) => (None, None),
            _ => continue,
        };
        let service = ctx.model.names.service_role.clone();
        let mut want: Vec<(DefaultObject, String, Vec<Privilege>)> = vec![
            (
                DefaultObject::Tables,
                service.clone(),
                SERVICE_TABLE.to_vec(),
            ),
            (
                DefaultObject::Sequences,
                service.clone(),
                if tenant_id.is_some() {
                    vec![Privilege::Usage]
                } else {
                    vec![Privilege::Select, Privilege::Usage]
                },
            ),
        ];
        if let Some(ro) = &ro {
            want.push((DefaultObject::Tables, ro.clone(), vec![Privilege::Select]));
        }
        let in_schema: Vec<&DefaultAcl> = by_schema.remove(schema.as_str()).unwrap_or_default();
        for d in &in_schema {
            if d.role != admin {
                foreign_role(ctx, schema, tenant_id.as_deref(), d);
            }
        }
        let admin_entries: Vec<&DefaultAcl> =
            in_schema.into_iter().filter(|d| d.role == admin).collect();
        let held = |object: DefaultObject, grantee: &str| -> Vec<Privilege> {
            admin_entries
                .iter()
                .filter(|d| d.object == object)
                .flat_map(|d| d.acl.iter())
                .filter(|i| i.grantee.name() == grantee)
                .flat_map(|i| i.privileges.iter().copied())
                .collect()
        };
        for (object, grantee, privileges) in &want {
            let have = held(*object, grantee);
            let missing: Vec<Privilege> = privileges
                .iter()
                .copied()
                .filter(|p| !have.contains(p))
                .collect();
            if missing.is_empty() || ctx.snap.role(grantee).is_none() {
                continue;
            }
            let severity = if *grantee == service {
                Severity::High
            } else {
                Severity::Medium
            };
            let tenant = tenant_id.as_deref();
            let change = DefaultChange::Missing;
            default_finding(
                ctx, schema, tenant, *object, grantee, &missing, severity, change,
            );
        }
        // Extra: anything the admin's entries give beyond `want`.
        for entry in &admin_entries {
            for item in &entry.acl {
                let grantee = item.grantee.name();
                if grantee == admin {
                    continue;
                }
                let allowed: Vec<Privilege> = want
                    .iter()
                    .filter(|(o, g, _)| *o == entry.object && g == grantee)
                    .flat_map(|(_, _, p)| p.iter().copied())
                    .collect();
                let extra: Vec<Privilege> = item
                    .privileges
                    .iter()
                    .copied()
                    .filter(|p| !allowed.contains(p))
                    .collect();
                if extra.is_empty() {
                    continue;
                }
                extra_default(
                    ctx,
                    schema,
                    tenant_id.as_deref(),
                    entry.object,
                    item,
                    &extra,
                );
            }
        }
    }
}

fn extra_default(
    ctx: &mut Ctx<'_>,
    schema: &str,
    tenant: Option<&str>,
    object: DefaultObject,
    item: &AclItem,
    extra: &[Privilege],
) {
    let grantee = item.grantee.name();
    let class = ctx.model.classify(grantee);
    let data = extra.iter().any(|p| p.touches_data());
    let severity = match class {
        RoleClass::Public | RoleClass::Other | RoleClass::ReadOnly(_) if data => Severity::High,
        // The RLS role must get each table only once it is bound to its tenant.
        RoleClass::Rls if data => Severity::High,
        _ => Severity::Medium,
    };
    let change = DefaultChange::Extra;
    default_finding(
        ctx, schema, tenant, object, grantee, extra, severity, change,
    );
}

/// Whether the admin's default privileges lack what the model wants, or give more.
#[derive(Clone, Copy)]
enum DefaultChange {
    Missing,
    Extra,
}

/// One default-privilege finding: new `object`s in `schema` will not give `grantee` the
/// `privileges` the model wants (`Missing`), or will give it ones beyond it (`Extra`).
#[allow(clippy::too_many_arguments)]
fn default_finding(
    ctx: &mut Ctx<'_>,
    schema: &str,
    tenant: Option<&str>,
    object: DefaultObject,
    grantee: &str,
    privileges: &[Privilege],
    severity: Severity,
    change: DefaultChange,
) {
    let words: Vec<&'static str> = privileges.iter().map(|p| p.keyword()).collect();
    let mut vars = ctx.vars();
    vars.ident("schema", schema)
        .keywords("privs", &words)
        .keywords("objects", &[object.keyword()])
        .grantee("grantee", grantee);
    let objects = object.keyword().to_lowercase();
    let list = words.join(", ");
    let (message, aspect, template) = match change {
        DefaultChange::Missing => (
            format!(
                "new {objects} in {schema} will not give {grantee} {list}: the next migration's objects break the model"
            ),
            "missing",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA {{schema}} GRANT {{privs}} ON {{objects}} TO {{grantee}};",
        ),
        DefaultChange::Extra => (
            format!("new {objects} in {schema} will give {grantee} {list}, beyond the model"),
            "extra",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA {{schema}} REVOKE {{privs}} ON {{objects}} FROM {{grantee}};",
        ),
    };
    let mut d = Draft::new(Rule::DefaultPrivilege, severity, message);
    d.schema = Some(schema.into());
    d.object = Some(format!("default privileges on {objects}"));
    d.role = Some(grantee.into());
    d.tenant = tenant.map(String::from);
    d.aspect = aspect;
    d.fix = fix(&vars, template);
    ctx.add(d);
}

fn foreign_role(ctx: &mut Ctx<'_>, schema: &str, tenant: Option<&str>, entry: &DefaultAcl) {
    let mut d = Draft::new(
        Rule::DefaultPrivilegeForeignRole,
        Severity::Low,
        format!(
            "default privileges on {} in {schema} are set for role {}, not the admin role: they apply only to objects that role creates, never to tenantctl's migrations",
            entry.object.keyword().to_lowercase(),
            entry.role
        ),
    );
    d.schema = Some(schema.into());
    d.object = Some(format!(
        "default privileges on {}",
        entry.object.keyword().to_lowercase()
    ));
    d.role = Some(entry.role.clone());
    d.tenant = tenant.map(String::from);
    ctx.add(d);
}

/// The admin's database-wide default for functions: without an entry, or with PUBLIC in
/// it, every function the admin creates is executable by every role.
fn function_execute(ctx: &mut Ctx<'_>, admin: &str, defaults: &[DefaultAcl]) {
    let global = defaults
        .iter()
        .find(|d| d.schema.is_none() && d.role == admin && d.object == DefaultObject::Functions);
    let public_executes = match global {
        None => true,
        Some(d) => d
            .acl
            .iter()
            .any(|i| i.grantee.name() == "PUBLIC" && i.privileges.contains(&Privilege::Execute)),
    };
    if !public_executes || ctx.snap.role(admin).is_none() {
        return;
    }
    let mut d = Draft::new(
        Rule::FunctionDefaultExecute,
        Severity::Medium,
        format!(
            "functions the admin role {admin} creates are executable by every role (PostgreSQL's default); `tenantctl init` revokes that database-wide"
        ),
    );
    d.role = Some("PUBLIC".into());
    d.object = Some("default privileges on functions".into());
    d.fix = fix(
        &ctx.vars(),
        "ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;",
    );
    ctx.add(d);
}
