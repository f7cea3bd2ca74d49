//! Roles: dangerous attributes of application roles, membership chains that hand them
//! more than the model, and reach into tenants through memberships.

use super::{Ctx, fix};
use crate::audit::finding::{Draft, Rule, Severity};
use crate::audit::members::{Reached, chain_text};
use crate::audit::model::{ALL_DATA_ROLES, RoleClass, SERVER_ROLES, SchemaRole};
use crate::audit::reach::DataReach;
use std::collections::BTreeMap;

/// Adds the role findings.
pub fn check(ctx: &mut Ctx<'_>) {
    attributes(ctx);
    let reach = DataReach::new(ctx.snap, ctx.model);
    let mut app_roles: Vec<(String, RoleClass)> = vec![
        (ctx.model.names.service_role.clone(), RoleClass::Service),
        (ctx.model.names.rls_role.clone(), RoleClass::Rls),
    ];
    for t in ctx.model.tenants.values() {
        app_roles.push((t.ro.clone(), RoleClass::ReadOnly(t.id.clone())));
    }
    app_roles.sort_by(|a, b| a.0.cmp(&b.0));
    // Every other role with memberships: its reach into tenants through them.
    let mut others: Vec<String> = ctx
        .snap
        .roles
        .iter()
        .filter(|r| !r.superuser && ctx.members.has_any(&r.name))
        .map(|r| r.name.clone())
        .filter(|r| matches!(ctx.model.classify(r), RoleClass::Other))
        .collect();
    others.sort();
    for (role, class) in &app_roles {
        if !ctx.members.has_any(role) {
            continue;
        }
        for reached in ctx.members.reach(role) {
            membership(ctx, role, class, &reached);
        }
        if let RoleClass::ReadOnly(own) = class {
            reach_via_others(ctx, &reach, role, Some(own));
        }
    }
    for role in &others {
        reach_via_others(ctx, &reach, role, None);
        several_tenants(ctx, role);
    }
}

fn attributes(ctx: &mut Ctx<'_>) {
    let roles = &ctx.snap.roles;
    for r in roles {
        let class = ctx.model.classify(&r.name);
        if !class.is_application() {
            continue;
        }
        let mut critical: Vec<&'static str> = Vec::new();
        let mut fixes: Vec<&'static str> = Vec::new();
        for (has, word, undo) in [
            (r.superuser, "SUPERUSER", "NOSUPERUSER"),
            (r.bypassrls, "BYPASSRLS", "NOBYPASSRLS"),
            (r.createrole, "CREATEROLE", "NOCREATEROLE"),
            (r.replication, "REPLICATION", "NOREPLICATION"),
        ] {
            if has {
                critical.push(word);
                fixes.push(undo);
            }
        }
        // On Citus the RLS role logs in (with a password only the coordinator holds, in
        // pg_dist_authinfo): the coordinator opens the workers' connections as it.
        let rls_login = class == RoleClass::Rls && r.login && !ctx.snap.citus;
        // Nothing to say of this role: skip building its fix placeholders (10,000 read-only
        // roles made them a fifth of `tenant show`'s CPU).
        if critical.is_empty() && !r.createdb && !rls_login {
            continue;
        }
        let tenant = match &class {
            RoleClass::ReadOnly(id) => Some(id.clone()),
            _ => None,
        };
        let mut vars = ctx.vars();
        vars.ident("role", &r.name);
        if !critical.is_empty() {
            vars.keywords("attrs", &fixes);
            let mut d = Draft::new(
                Rule::RoleAttribute,
                Severity::Critical,
                format!(
                    "application role {} has {}: each reaches every tenant's data past grants and row-level security",
                    r.name,
                    critical.join(", ")
                ),
            );
            d.role = Some(r.name.clone());
            d.tenant = tenant.clone();
            d.aspect = "critical";
            d.fix = fix(&vars, "ALTER ROLE {{role}} {{attrs}};");
            ctx.add(d);
        }
        if r.createdb {
            let mut d = Draft::new(
                Rule::RoleAttribute,
                Severity::Medium,
                format!("application role {} may create databases", r.name),
            );
            d.role = Some(r.name.clone());
            d.tenant = tenant.clone();
            d.aspect = "createdb";
            d.fix = fix(&vars, "ALTER ROLE {{role}} NOCREATEDB;");
            ctx.add(d);
        }
        if rls_login {
            let mut d = Draft::new(
                Rule::RoleAttribute,
                Severity::Medium,
                format!(
                    "the RLS role {} can log in; the model has application sessions switch to it (SET ROLE), so a password for it is one more secret to leak",
                    r.name
                ),
            );
            d.role = Some(r.name.clone());
            d.aspect = "login";
            d.fix = fix(&vars, "ALTER ROLE {{role}} NOLOGIN;");
            ctx.add(d);
        }
    }
}

/// A chain from an application role to a role the model does not let it act as.
fn membership(ctx: &mut Ctx<'_>, role: &str, class: &RoleClass, reached: &Reached) {
    let target = reached.role.as_str();
    let target_class = ctx.model.classify(target);
    let superuser = ctx.snap.role(target).is_some_and(|r| r.superuser);
    let (severity, why) = if target_class == RoleClass::Admin {
        (
            Severity::Critical,
            "the admin role owns every tenant's data and may lift row-level security".to_string(),
        )
    } else if superuser {
        (Severity::Critical, "a superuser reaches everything".into())
    } else if ALL_DATA_ROLES.contains(&target) {
        (
            Severity::Critical,
            "it reads or writes every table of the database, whatever the grants".into(),
        )
    } else if SERVER_ROLES.contains(&target) {
        (
            Severity::Critical,
            "it reaches the server's files or programs".into(),
        )
    } else {
        match (class, &target_class) {
            (RoleClass::ReadOnly(own), RoleClass::ReadOnly(other)) if own != other => (
                Severity::High,
                format!("that is tenant {other}'s read-only role: cross-tenant reach"),
            ),
            (RoleClass::ReadOnly(_), RoleClass::Service | RoleClass::Rls) => (
                Severity::High,
                "that role reaches every tenant: a tenant's reporting role would read them all"
                    .into(),
            ),
            (RoleClass::Rls, RoleClass::Service) | (RoleClass::Rls, RoleClass::ReadOnly(_)) => (
                Severity::Critical,
                "application users would read past their row-level policies".into(),
            ),
            (RoleClass::Service, RoleClass::ReadOnly(_)) => return,
            _ => return,
        }
    };
    let first = reached.chain.first().cloned().unwrap_or_default();
    let mut vars = ctx.vars();
    vars.ident("granted", &first).ident("member", role);
    let path = chain_text(role, reached);
    let mut d = Draft::new(
        Rule::Membership,
        severity,
        format!("{role} can act as {target}: {why}"),
    );
    d.role = Some(role.into());
    d.object = Some(target.into());
    d.tenant = match class {
        RoleClass::ReadOnly(id) => Some(id.clone()),
        _ => None,
    };
    d.path = Some(path);
    d.fix = fix(&vars, "REVOKE {{granted}} FROM {{member}};");
    ctx.add(d);
}

/// Tenants `role` reaches through memberships in roles outside the model.
fn reach_via_others(ctx: &mut Ctx<'_>, reach: &DataReach, role: &str, own: Option<&str>) {
    let reached = ctx.members.reach(role);
    let mut by_tenant: BTreeMap<String, (String, String)> = BTreeMap::new();
    for r in &reached {
        if !matches!(ctx.model.classify(&r.role), RoleClass::Other) {
            continue;
        }
        let roles: Vec<&str> = std::iter::once(role)
            .chain(reached.iter().map(|x| x.role.as_str()))
            .collect();
        for (schema, example) in reach.data_of(&r.role) {
            let Some(SchemaRole::Tenant(t)) = ctx.model.schema_role(schema) else {
                continue;
            };
            if own == Some(t.id.as_str()) || !reach.usage_any(&roles, schema) {
                continue;
            }
            by_tenant
                .entry(t.id.clone())
                .or_insert_with(|| (chain_text(role, r), example.clone()));
        }
    }
    for (tenant, (chain, example)) in by_tenant {
        let schema = ctx
            .model
            .tenants
            .values()
            .find(|t| t.id == tenant)
            .map(|t| t.schema.clone());
        let first = reached
            .iter()
            .find(|r| chain.contains(&r.role))
            .and_then(|r| r.chain.first().cloned())
            .unwrap_or_default();
        let mut vars = ctx.vars();
        vars.ident("granted", &first).ident("member", role);
        let mut d = Draft::new(
            Rule::CrossTenantReach,
            Severity::High,
            format!(
                "{role} reaches tenant {tenant}'s data through a role outside the model{}",
                if own.is_some() {
                    ": a tenant's read-only role must reach its own tenant only"
                } else {
                    ""
                }
            ),
        );
        d.role = Some(role.into());
        d.schema = schema;
        d.tenant = Some(tenant);
        d.path = Some(format!("{chain} → {example}"));
        d.fix = fix(&vars, "REVOKE {{granted}} FROM {{member}};");
        ctx.add(d);
    }
}

/// A role outside the model that is a member of several tenants' read-only roles.
fn several_tenants(ctx: &mut Ctx<'_>, role: &str) {
    let mut tenants: Vec<(String, String)> = ctx
        .members
        .reach(role)
        .into_iter()
        .filter_map(|r| match ctx.model.classify(&r.role) {
            RoleClass::ReadOnly(id) => Some((id, chain_text(role, &r))),
            _ => None,
        })
        .collect();
    if tenants.len() < 2 {
        return;
    }
    tenants.sort();
    let ids: Vec<&str> = tenants.iter().map(|t| t.0.as_str()).collect();
    let mut d = Draft::new(
        Rule::CrossTenantReach,
        Severity::High,
        format!(
            "{role} is a member of {} tenants' read-only roles ({}): one credential reads several tenants",
            ids.len(),
            shorten(&ids)
        ),
    );
    d.role = Some(role.into());
    d.aspect = "several";
    d.path = Some(
        tenants
            .into_iter()
            .map(|t| t.1)
            .collect::<Vec<_>>()
            .join("; "),
    );
    ctx.add(d);
}

fn shorten(ids: &[&str]) -> String {
    let mut s = ids.iter().take(10).copied().collect::<Vec<_>>().join(", ");
    if ids.len() > 10 {
        s.push_str(&format!(" and {} more", ids.len() - 10));
    }
    s
}
