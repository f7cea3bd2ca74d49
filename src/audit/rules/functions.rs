//! Functions in the common and tenant schemas: owner, SECURITY DEFINER hygiene, EXECUTE.

use super::{Ctx, fix};
use crate::audit::acl::Privilege;
use crate::audit::finding::{Draft, Rule, Severity};
use crate::audit::model::{RoleClass, SchemaRole};

/// Adds the function findings.
pub fn check(ctx: &mut Ctx<'_>) {
    let functions = &ctx.snap.functions;
    for f in functions {
        let tenant = match ctx.model.schema_role(&f.schema) {
            Some(SchemaRole::Tenant(t)) => Some(t.clone()),
            Some(SchemaRole::Common) => None,
            _ => continue,
        };
        let tid = tenant.as_ref().map(|t| t.id.clone());
        let kind: &'static str = if f.procedure { "PROCEDURE" } else { "FUNCTION" };
        let object = f.signature();
        let target = format!("{}.{}", f.schema, object);
        let mut vars = ctx.vars();
        vars.qualified("name", &f.schema, &f.name)
            .deparsed("args", &f.args)
            .keywords("kind", &[kind]);
        let admin = ctx.model.names.admin_role.clone();
        if f.owner != admin {
            let class = ctx.model.classify(&f.owner);
            let mut d = Draft::new(
                Rule::Owner,
                if class.is_application() || f.security_definer {
                    Severity::Critical
                } else {
                    Severity::High
                },
                format!(
                    "{} {target} is owned by {}, not the admin role {admin}{}",
                    kind.to_lowercase(),
                    f.owner,
                    if f.security_definer {
                        ": it is SECURITY DEFINER, so it runs with that role's rights"
                    } else {
                        ""
                    }
                ),
            );
            d.schema = Some(f.schema.clone());
            d.object = Some(object.clone());
            d.role = Some(f.owner.clone());
            d.tenant = tid.clone();
            d.path = Some(format!("{} → owner of {target}", f.owner));
            d.fix = fix(
                &vars,
                "ALTER {{kind}} {{name}}({{args}}) OWNER TO {{admin}};",
            );
            ctx.add(d);
        }
        if f.security_definer && !f.pinned_search_path {
            let mut d = Draft::new(
                Rule::SecurityDefinerSearchPath,
                Severity::High,
                format!(
                    "{target} is SECURITY DEFINER without its own search_path: whoever can put an object on the caller's search_path runs code as {}; pin it (ALTER {} ... SET search_path = pg_catalog, pg_temp) after checking its body qualifies every name",
                    f.owner, kind
                ),
            );
            d.schema = Some(f.schema.clone());
            d.object = Some(object.clone());
            d.role = Some(f.owner.clone());
            d.tenant = tid.clone();
            ctx.add(d);
        }
        for item in &f.acl {
            let grantee = item.grantee.name().to_string();
            if grantee == f.owner || !item.privileges.contains(&Privilege::Execute) {
                continue;
            }
            let class = ctx.model.classify(&grantee);
            let allowed = match &class {
                RoleClass::Admin | RoleClass::Superuser | RoleClass::Service | RoleClass::Rls => {
                    true
                }
                RoleClass::ReadOnly(id) => tenant.as_ref().is_some_and(|t| t.id == *id),
                RoleClass::Public | RoleClass::Other => false,
            };
            if allowed {
                continue;
            }
            let mut v = vars.clone();
            v.grantee("grantee", &grantee);
            let mut d = Draft::new(
                Rule::FunctionExecute,
                if f.security_definer {
                    Severity::Critical
                } else {
                    Severity::Medium
                },
                format!(
                    "{} may execute {target}{}",
                    if grantee == "PUBLIC" {
                        "every role (PUBLIC)".to_string()
                    } else {
                        format!("{grantee}, a role the model does not give it to,")
                    },
                    if f.security_definer {
                        format!(", which runs as {} (SECURITY DEFINER)", f.owner)
                    } else {
                        String::new()
                    }
                ),
            );
            d.schema = Some(f.schema.clone());
            d.object = Some(object.clone());
            d.role = Some(grantee.clone());
            d.tenant = tid.clone();
            d.path = Some(format!("{grantee} → EXECUTE on {target}"));
            d.fix = fix(
                &v,
                "REVOKE EXECUTE ON {{kind}} {{name}}({{args}}) FROM {{grantee}};",
            );
            ctx.add(d);
        }
    }
}
