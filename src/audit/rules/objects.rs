//! Ownership and privileges of schemas, relations, sequences and columns in the common
//! schema, `public` and every tenant schema.

use super::rls::rls_safe;
use super::{Ctx, fix};
use crate::audit::acl::{AclItem, Privilege};
use crate::audit::finding::{Draft, Rule, Severity};
use crate::audit::model::{Expected, RoleClass, SchemaRole, Status, Tenant};
use crate::audit::snapshot::{RelKind, Relation};
use std::collections::BTreeMap;

/// What one grantee holds on one object, merged over grantors.
#[derive(Debug, Default)]
struct Held {
    privileges: Vec<Privilege>,
    grantable: Vec<Privilege>,
}

/// Merges an ACL by grantee (several grantors may have granted the same role).
fn by_grantee(acl: &[AclItem]) -> BTreeMap<String, Held> {
    let mut out: BTreeMap<String, Held> = BTreeMap::new();
    for item in acl {
        let h = out.entry(item.grantee.name().to_string()).or_default();
        for p in &item.privileges {
            if !h.privileges.contains(p) {
                h.privileges.push(*p);
            }
        }
        for p in &item.grantable {
            if !h.grantable.contains(p) {
                h.grantable.push(*p);
            }
        }
    }
    for h in out.values_mut() {
        h.privileges.sort();
        h.grantable.sort();
    }
    out
}

fn keywords(ps: &[Privilege]) -> Vec<&'static str> {
    ps.iter().map(|p| p.keyword()).collect()
}

fn list(ps: &[Privilege]) -> String {
    keywords(ps).join(", ")
}

/// Who a grantee is, for a message.
fn who(class: &RoleClass, role: &str) -> String {
    match class {
        RoleClass::Public => "every role (PUBLIC)".into(),
        RoleClass::Service => format!("the service role {role}"),
        RoleClass::Rls => format!("the RLS role {role}"),
        RoleClass::ReadOnly(id) => format!("{role}, the read-only role of tenant {id}"),
        RoleClass::Admin => format!("the admin role {role}"),
        RoleClass::Superuser => format!("the superuser {role}"),
        RoleClass::Other => format!("{role}, a role outside the model"),
    }
}

/// Adds the ownership and privilege findings.
pub fn check(ctx: &mut Ctx<'_>) {
    for (object, bad) in &ctx.snap.bad_acls {
        let mut d = Draft::new(
            Rule::UnreadableAcl,
            Severity::Medium,
            format!("the audit cannot read {bad} on {object}, so it cannot vouch for it"),
        );
        d.object = Some(object.clone());
        d.aspect = "acl";
        ctx.add(d);
    }
    let namespaces = &ctx.snap.namespaces;
    for ns in namespaces {
        match ctx.model.schema_role(&ns.name) {
            Some(SchemaRole::Public) => public_schema(ctx, &ns.acl),
            Some(SchemaRole::Common) => {
                let regrants = schema_grants(ctx, None);
                owner(
                    ctx, &ns.name, None, "SCHEMA", "SCHEMA", &ns.owner, None, &regrants,
                );
                schema_privileges(ctx, &ns.name, &ns.owner, &ns.acl, None);
            }
            Some(SchemaRole::Tenant(t)) => {
                let t = t.clone();
                let regrants = schema_grants(ctx, Some(&t));
                owner(
                    ctx,
                    &ns.name,
                    None,
                    "SCHEMA",
                    "SCHEMA",
                    &ns.owner,
                    Some(&t.id),
                    &regrants,
                );
                schema_privileges(ctx, &ns.name, &ns.owner, &ns.acl, Some(&t));
            }
            Some(SchemaRole::Unregistered) | None => {}
        }
    }
    let snap = ctx.snap;
    for rel in &snap.relations {
        relation(ctx, rel);
    }
    columns(ctx);
}

fn public_schema(ctx: &mut Ctx<'_>, acl: &[AclItem]) {
    let public_create = acl
        .iter()
        .any(|i| i.grantee.name() == "PUBLIC" && i.privileges.contains(&Privilege::Create));
    if public_create {
        let mut d = Draft::new(
            Rule::PublicSchemaCreate,
            Severity::High,
            "every role may create objects in schema public, which is on the seed's search_path: a planted function or table there can hijack unqualified names in application and admin sessions".into(),
        );
        d.schema = Some("public".into());
        d.role = Some("PUBLIC".into());
        d.path = Some("every role (PUBLIC) → CREATE on schema public".into());
        d.fix = Some("REVOKE CREATE ON SCHEMA public FROM PUBLIC;".into());
        ctx.add(d);
    }
}

/// A grant the model wants on an object: the owner fix re-grants them, since changing the
/// owner takes the old owner's privileges away with it.
type Regrant = (String, Vec<Privilege>);

/// `kind` is the `ALTER <kind> ... OWNER TO` keyword; `on` the `GRANT ... ON` keyword.
#[allow(clippy::too_many_arguments)]
fn owner(
    ctx: &mut Ctx<'_>,
    schema: &str,
    object: Option<&str>,
    kind: &'static str,
    on: &'static str,
    owner: &str,
    tenant: Option<&str>,
    regrants: &[Regrant],
) {
    if owner == ctx.model.names.admin_role {
        return;
    }
    let admin = ctx.model.names.admin_role.clone();
    let class = ctx.model.classify(owner);
    let severity = if class.is_application() {
        Severity::Critical
    } else {
        Severity::High
    };
    let what = match object {
        Some(o) => format!("{} {schema}.{o}", kind.to_lowercase()),
        None => format!("schema {schema}"),
    };
    let mut vars = ctx.vars();
    vars.keywords("kind", &[kind]);
    match object {
        Some(o) => vars.qualified("object", schema, o),
        None => vars.ident("object", schema),
    };
    let mut d = Draft::new(
        Rule::Owner,
        severity,
        format!(
            "{what} is owned by {}: an owner can drop it, grant anything on it and ignore its row-level security; only the admin role {admin} may own it",
            who(&class, owner)
        ),
    );
    d.schema = Some(schema.into());
    d.object = object.map(String::from);
    d.role = Some(owner.into());
    d.tenant = tenant.map(String::from);
    d.path = Some(format!("{owner} → owner of {what}"));
    let mut sql = String::from("ALTER {{kind}} {{object}} OWNER TO {{admin}};");
    vars.keywords("on", &[on]);
    for (i, (role, privileges)) in regrants.iter().enumerate() {
        if privileges.is_empty() || ctx.snap.role(role).is_none() {
            continue;
        }
        let (p, g) = (format!("privs{i}"), format!("grantee{i}"));
        vars.keywords(&p, &keywords(privileges)).grantee(&g, role);
        sql.push_str("\nGRANT {{");
        sql.push_str(&p);
        sql.push_str("}} ON {{on}} {{object}} TO {{");
        sql.push_str(&g);
        sql.push_str("}};");
    }
    d.fix = fix(&vars, &sql);
    ctx.add(d);
}

/// What the model's roles should hold on a relation, for the owner fix.
fn model_grants(ctx: &Ctx<'_>, rel: &Relation, tenant: Option<&Tenant>) -> Vec<Regrant> {
    let names = &ctx.model.names;
    let mut roles = vec![
        (names.service_role.clone(), RoleClass::Service),
        (names.rls_role.clone(), RoleClass::Rls),
    ];
    if let Some(t) = tenant {
        roles.push((t.ro.clone(), RoleClass::ReadOnly(t.id.clone())));
    }
    roles
        .into_iter()
        .map(|(role, class)| {
            let e = expected(ctx, rel, tenant, &class);
            // Never hand the RLS role a table that is not bound to its tenant.
            let keep = e.required && (class != RoleClass::Rls || rls_safe(ctx, rel));
            (
                role,
                if keep {
                    e.privileges.to_vec()
                } else {
                    Vec::new()
                },
            )
        })
        .collect()
}

/// What the model's roles should hold on a schema, for the owner fix.
fn schema_grants(ctx: &Ctx<'_>, tenant: Option<&Tenant>) -> Vec<Regrant> {
    let names = &ctx.model.names;
    match tenant {
        None => vec![(names.service_role.clone(), vec![Privilege::Usage])],
        Some(t) => [
            (names.service_role.clone(), RoleClass::Service),
            (names.rls_role.clone(), RoleClass::Rls),
            (t.ro.clone(), RoleClass::ReadOnly(t.id.clone())),
        ]
        .into_iter()
        .map(|(role, class)| (role, ctx.model.tenant_schema_privileges(t, &class).to_vec()))
        .collect(),
    }
}

fn schema_privileges(
    ctx: &mut Ctx<'_>,
    schema: &str,
    owner: &str,
    acl: &[AclItem],
    tenant: Option<&Tenant>,
) {
    let held = by_grantee(acl);
    let service = ctx.model.names.service_role.clone();
    let expected_for = |ctx: &Ctx<'_>, class: &RoleClass| -> &'static [Privilege] {
        match tenant {
            Some(t) => ctx.model.tenant_schema_privileges(t, class),
            None if *class == RoleClass::Service => &[Privilege::Usage],
            None => &[],
        }
    };
    for (role, h) in &held {
        if role == owner {
            continue;
        }
        let class = ctx.model.classify(role);
        if matches!(class, RoleClass::Admin | RoleClass::Superuser) {
            continue;
        }
        let allowed = expected_for(ctx, &class);
        let extra: Vec<Privilege> = h
            .privileges
            .iter()
            .copied()
            .filter(|p| !allowed.contains(p))
            .collect();
        grant_option(
            ctx,
            schema,
            None,
            role,
            &class,
            &h.grantable,
            tenant,
            "SCHEMA",
        );
        if extra.is_empty() {
            continue;
        }
        let suspended = tenant.is_some_and(|t| t.status == Status::Suspended);
        let (rule, severity, message) = if extra.contains(&Privilege::Create) {
            (
                Rule::SchemaPrivilege,
                Severity::Critical,
                format!(
                    "{} may create objects in {schema}: a function or table planted there runs in the admin's migrations and the application's sessions (search_path)",
                    who(&class, role)
                ),
            )
        } else if suspended && class.is_application() {
            (
                Rule::SuspendedReachable,
                Severity::High,
                format!(
                    "tenant {} is suspended, yet {} can still reach its schema",
                    tenant.map(|t| t.id.as_str()).unwrap_or_default(),
                    who(&class, role)
                ),
            )
        } else {
            (
                Rule::SchemaPrivilege,
                Severity::High,
                format!(
                    "{} has {} on schema {schema}, which the model does not give it",
                    who(&class, role),
                    list(&extra)
                ),
            )
        };
        let mut vars = ctx.vars();
        vars.keywords("privs", &keywords(&extra))
            .ident("schema", schema)
            .grantee("grantee", role);
        let mut d = Draft::new(rule, severity, message);
        d.schema = Some(schema.into());
        d.role = Some(role.clone());
        d.tenant = tenant.map(|t| t.id.clone());
        d.aspect = "extra";
        d.path = Some(format!("{role} → {} on schema {schema}", list(&extra)));
        d.privileges = extra;
        d.fix = fix(
            &vars,
            "REVOKE {{privs}} ON SCHEMA {{schema}} FROM {{grantee}};",
        );
        ctx.add(d);
    }
    // Missing USAGE: the roles the model expects, checked by name.
    let mut expected_roles: Vec<(String, RoleClass)> = vec![(service.clone(), RoleClass::Service)];
    if let Some(t) = tenant {
        expected_roles.push((ctx.model.names.rls_role.clone(), RoleClass::Rls));
        expected_roles.push((t.ro.clone(), RoleClass::ReadOnly(t.id.clone())));
    }
    for (role, class) in expected_roles {
        let want = expected_for(ctx, &class);
        let have = held
            .get(&role)
            .map(|h| h.privileges.as_slice())
            .unwrap_or(&[]);
        let missing: Vec<Privilege> = want.iter().copied().filter(|p| !have.contains(p)).collect();
        if missing.is_empty() {
            continue;
        }
        if ctx.snap.role(&role).is_none() {
            role_missing(ctx, &role, &class, tenant);
            continue;
        }
        let severity = if matches!(class, RoleClass::ReadOnly(_)) {
            Severity::Medium
        } else {
            Severity::High
        };
        let mut vars = ctx.vars();
        vars.keywords("privs", &keywords(&missing))
            .ident("schema", schema)
            .grantee("grantee", &role);
        let mut d = Draft::new(
            Rule::SchemaPrivilege,
            severity,
            format!(
                "{} lacks {} on schema {schema}: it cannot reach anything in it",
                who(&class, &role),
                list(&missing)
            ),
        );
        d.schema = Some(schema.into());
        d.role = Some(role);
        d.tenant = tenant.map(|t| t.id.clone());
        d.aspect = "missing";
        d.fix = fix(
            &vars,
            "GRANT {{privs}} ON SCHEMA {{schema}} TO {{grantee}};",
        );
        d.privileges = missing;
        ctx.add(d);
    }
}

/// A role of the model that does not exist at all.
fn role_missing(ctx: &mut Ctx<'_>, role: &str, class: &RoleClass, tenant: Option<&Tenant>) {
    let mut d = Draft::new(
        Rule::RoleAttribute,
        if matches!(class, RoleClass::ReadOnly(_)) {
            Severity::Medium
        } else {
            Severity::High
        },
        format!(
            "{} does not exist{}",
            who(class, role),
            if matches!(class, RoleClass::ReadOnly(_)) {
                " (`tenantctl tenant migrate` re-creates a tenant's grants, not its role; re-provision or create it as NOLOGIN)"
            } else {
                " (`tenantctl init` creates it)"
            }
        ),
    );
    d.role = Some(role.into());
    d.tenant = tenant.map(|t| t.id.clone());
    d.aspect = "missing";
    ctx.add(d);
}

#[allow(clippy::too_many_arguments)]
fn grant_option(
    ctx: &mut Ctx<'_>,
    schema: &str,
    object: Option<&str>,
    role: &str,
    class: &RoleClass,
    grantable: &[Privilege],
    tenant: Option<&Tenant>,
    on: &'static str,
) {
    if grantable.is_empty() || matches!(class, RoleClass::Admin | RoleClass::Superuser) {
        return;
    }
    let target = match object {
        Some(o) => format!("{schema}.{o}"),
        None => format!("schema {schema}"),
    };
    let mut vars = ctx.vars();
    vars.keywords("privs", &keywords(grantable))
        .keywords("on", &[on])
        .grantee("grantee", role);
    match object {
        Some(o) => vars.qualified("object", schema, o),
        None => vars.ident("object", schema),
    };
    let mut d = Draft::new(
        Rule::GrantOption,
        Severity::High,
        format!(
            "{} may pass {} on {target} on to any role (WITH GRANT OPTION)",
            who(class, role),
            list(grantable)
        ),
    );
    d.schema = Some(schema.into());
    d.object = object.map(String::from);
    d.role = Some(role.into());
    d.tenant = tenant.map(|t| t.id.clone());
    d.path = Some(format!(
        "{role} → {} WITH GRANT OPTION on {target}",
        list(grantable)
    ));
    d.fix = fix(
        &vars,
        "REVOKE GRANT OPTION FOR {{privs}} ON {{on}} {{object}} FROM {{grantee}};",
    );
    d.privileges = grantable.to_vec();
    ctx.add(d);
}

/// The severity of privileges held beyond the model.
fn extra_severity(class: &RoleClass, extra: &[Privilege]) -> Severity {
    let data = extra.iter().any(|p| p.touches_data());
    let trigger = extra.contains(&Privilege::Trigger);
    match class {
        // TRIGGER lets the role attach code that runs as whoever writes to the table,
        // the admin's migrations included.
        _ if trigger => Severity::High,
        RoleClass::Public | RoleClass::Other | RoleClass::ReadOnly(_) if data => Severity::High,
        RoleClass::Rls if extra.iter().any(|p| p.writes()) => Severity::High,
        RoleClass::Public | RoleClass::Other => Severity::Medium,
        _ => Severity::Medium,
    }
}

fn on_keyword(kind: RelKind) -> &'static str {
    if kind == RelKind::Sequence {
        "SEQUENCE"
    } else {
        "TABLE"
    }
}

fn alter_keyword(kind: RelKind) -> &'static str {
    match kind {
        RelKind::Table | RelKind::PartitionedTable => "TABLE",
        RelKind::View => "VIEW",
        RelKind::MaterializedView => "MATERIALIZED VIEW",
        RelKind::ForeignTable => "FOREIGN TABLE",
        RelKind::Sequence => "SEQUENCE",
    }
}

fn expected(ctx: &Ctx<'_>, rel: &Relation, tenant: Option<&Tenant>, class: &RoleClass) -> Expected {
    match tenant {
        Some(t) => ctx
            .model
            .tenant_relation_privileges(t, rel.kind, class, rls_safe(ctx, rel)),
        None => ctx
            .model
            .common_relation_privileges(&rel.name, rel.kind, class),
    }
}

fn relation(ctx: &mut Ctx<'_>, rel: &Relation) {
    let model = ctx.model;
    let tenant = match model.schema_role(&rel.schema) {
        Some(SchemaRole::Tenant(t)) => Some(t),
        Some(SchemaRole::Common) => None,
        _ => return,
    };
    let tid = tenant.map(|t| t.id.as_str());
    if rel.owner != model.names.admin_role {
        let regrants = model_grants(ctx, rel, tenant);
        owner(
            ctx,
            &rel.schema,
            Some(&rel.name),
            alter_keyword(rel.kind),
            on_keyword(rel.kind),
            &rel.owner,
            tid,
            &regrants,
        );
    }
    let held = by_grantee(&rel.acl);
    let kind = rel.kind;
    let on = on_keyword(kind);
    let rule = if kind == RelKind::Sequence {
        Rule::SequencePrivilege
    } else {
        Rule::TablePrivilege
    };
    let target = format!("{}.{}", rel.schema, rel.name);
    for (role, h) in &held {
        if *role == rel.owner {
            continue;
        }
        let class = ctx.model.classify(role);
        if matches!(class, RoleClass::Admin | RoleClass::Superuser) {
            continue;
        }
        grant_option(
            ctx,
            &rel.schema,
            Some(&rel.name),
            role,
            &class,
            &h.grantable,
            tenant,
            on,
        );
        let allowed = expected(ctx, rel, tenant, &class);
        let mut extra: Vec<Privilege> = h
            .privileges
            .iter()
            .copied()
            .filter(|p| !allowed.privileges.contains(p))
            .collect();
        // The RLS role reading a relation that skips RLS is the RLS rules' finding.
        if class == RoleClass::Rls && !rls_safe(ctx, rel) && tenant.is_some() {
            extra.retain(|p| *p != Privilege::Select);
        }
        if extra.is_empty() {
            continue;
        }
        let cross = match (&class, tenant) {
            (RoleClass::ReadOnly(id), Some(t)) if *id != t.id => {
                format!(" — another tenant's role: cross-tenant reach into {}", t.id)
            }
            (RoleClass::ReadOnly(_), None) => " — a tenant's role reaching common data".into(),
            _ => String::new(),
        };
        let mut vars = ctx.vars();
        vars.keywords("privs", &keywords(&extra))
            .keywords("on", &[on])
            .qualified("object", &rel.schema, &rel.name)
            .grantee("grantee", role);
        let mut d = Draft::new(
            rule,
            extra_severity(&class, &extra),
            format!(
                "{} has {} on {} {target}, beyond the model{cross}",
                who(&class, role),
                list(&extra),
                kind.noun()
            ),
        );
        d.schema = Some(rel.schema.clone());
        d.object = Some(rel.name.clone());
        d.role = Some(role.clone());
        d.tenant = tid.map(String::from);
        d.aspect = "extra";
        d.path = Some(format!("{role} → {} on {target}", list(&extra)));
        d.fix = fix(
            &vars,
            "REVOKE {{privs}} ON {{on}} {{object}} FROM {{grantee}};",
        );
        d.privileges = extra;
        ctx.add(d);
    }
    // Missing: the model's roles, by name.
    let names = &ctx.model.names;
    let mut roles = vec![
        (names.service_role.clone(), RoleClass::Service),
        (names.rls_role.clone(), RoleClass::Rls),
    ];
    if let Some(t) = tenant {
        roles.push((t.ro.clone(), RoleClass::ReadOnly(t.id.clone())));
    }
    for (role, class) in roles {
        let want = expected(ctx, rel, tenant, &class);
        if !want.required || ctx.snap.role(&role).is_none() {
            continue;
        }
        let have = held
            .get(&role)
            .map(|h| h.privileges.as_slice())
            .unwrap_or(&[]);
        let missing: Vec<Privilege> = want
            .privileges
            .iter()
            .copied()
            .filter(|p| !have.contains(p))
            .collect();
        if missing.is_empty() {
            continue;
        }
        // The RLS role gets SELECT only once the table is bound to its tenant; without RLS
        // or the binding that is the RLS rules' finding, and granting it would be wrong.
        if class == RoleClass::Rls && !rls_safe(ctx, rel) {
            continue;
        }
        let (severity, why) = match class {
            RoleClass::Service if kind == RelKind::Sequence => {
                (Severity::High, "inserts that draw from it fail")
            }
            RoleClass::Service => (Severity::High, "the application cannot serve this tenant"),
            RoleClass::Rls => (
                Severity::High,
                "application users cannot read it through their policies",
            ),
            _ => (Severity::Medium, "the tenant's reporting cannot read it"),
        };
        let mut vars = ctx.vars();
        vars.keywords("privs", &keywords(&missing))
            .keywords("on", &[on])
            .qualified("object", &rel.schema, &rel.name)
            .grantee("grantee", &role);
        let mut d = Draft::new(
            rule,
            severity,
            format!(
                "{} lacks {} on {} {target}: {why}",
                who(&class, &role),
                list(&missing),
                kind.noun()
            ),
        );
        d.schema = Some(rel.schema.clone());
        d.object = Some(rel.name.clone());
        d.role = Some(role);
        d.tenant = tid.map(String::from);
        d.aspect = "missing";
        d.fix = fix(
            &vars,
            "GRANT {{privs}} ON {{on}} {{object}} TO {{grantee}};",
        );
        d.privileges = missing;
        ctx.add(d);
    }
}

fn columns(ctx: &mut Ctx<'_>) {
    let cols = &ctx.snap.columns;
    for col in cols {
        let Some(rel) = ctx.relations_by_oid.get(&col.relation).copied() else {
            continue;
        };
        let tenant = match ctx.model.schema_role(&rel.schema) {
            Some(SchemaRole::Tenant(t)) => Some(t.clone()),
            Some(SchemaRole::Common) => None,
            _ => continue,
        };
        for (role, h) in by_grantee(&col.acl) {
            let class = ctx.model.classify(&role);
            if role == rel.owner || matches!(class, RoleClass::Admin | RoleClass::Superuser) {
                continue;
            }
            let allowed = expected(ctx, rel, tenant.as_ref(), &class);
            let extra: Vec<Privilege> = h
                .privileges
                .iter()
                .copied()
                .filter(|p| !allowed.privileges.contains(p))
                .collect();
            if extra.is_empty() {
                continue;
            }
            let shown = extra;
            let target = format!("{}.{}.{}", rel.schema, rel.name, col.column);
            let mut vars = ctx.vars();
            vars.keywords("privs", &keywords(&shown))
                .ident("column", &col.column)
                .qualified("object", &rel.schema, &rel.name)
                .grantee("grantee", &role);
            let mut d = Draft::new(
                Rule::ColumnPrivilege,
                extra_severity(&class, &shown),
                format!(
                    "{} has {} on column {target}, beyond the model (column grants reach data as table grants do)",
                    who(&class, &role),
                    list(&shown)
                ),
            );
            d.schema = Some(rel.schema.clone());
            d.object = Some(format!("{}.{}", rel.name, col.column));
            d.role = Some(role.clone());
            d.tenant = tenant.as_ref().map(|t| t.id.clone());
            d.path = Some(format!("{role} → {} on column {target}", list(&shown)));
            d.fix = fix(
                &vars,
                "REVOKE {{privs}} ({{column}}) ON TABLE {{object}} FROM {{grantee}};",
            );
            d.privileges = shown;
            ctx.add(d);
        }
    }
}
