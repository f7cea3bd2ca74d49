//! The expected grants of a tenant schema, and how a schema's actual grants deviate from them.

use crate::catalog::{GrantMatrix, ObjectKind, SchemaSize, TenantStatus};
use crate::names::NamingPolicy;
use serde::Serialize;

/// What a deviation is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeviationObject {
    /// The tenant schema itself.
    Schema,
    /// A table, view, sequence, `table.column` or function of the schema, by name.
    Object(String),
    /// The schema's default privileges for objects of this kind created later.
    DefaultPrivileges(DefaultsFor),
    /// The database's `public` schema (on every tenant's search_path).
    PublicSchema,
}

/// The kinds of object default privileges are checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DefaultsFor {
    Table,
    Sequence,
    Function,
}

impl DeviationObject {
    /// As shown and as written in JSON: `schema`, the object's name, or
    /// `default privileges (table)`.
    pub fn as_str(&self) -> &str {
        match self {
            DeviationObject::Schema => "schema",
            DeviationObject::Object(name) => name,
            DeviationObject::DefaultPrivileges(DefaultsFor::Table) => "default privileges (table)",
            DeviationObject::DefaultPrivileges(DefaultsFor::Sequence) => {
                "default privileges (sequence)"
            }
            DeviationObject::DefaultPrivileges(DefaultsFor::Function) => {
                "default privileges (function)"
            }
            DeviationObject::PublicSchema => "schema public",
        }
    }
}

impl std::fmt::Display for DeviationObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DeviationObject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One difference between the model and what the catalog says.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deviation {
    pub role: String,
    pub object: DeviationObject,
    pub privilege: String,
    /// True when the privilege is expected and absent; false when present and not expected.
    pub missing: bool,
    /// One line saying why it matters.
    pub reason: String,
}

const SERVICE_TABLE: [&str; 4] = ["SELECT", "INSERT", "UPDATE", "DELETE"];

/// Deviations of one tenant schema from the model in `product.md`. A suspended tenant is
/// expected to deny every application role USAGE on its schema.
pub fn policy_deviations(
    names: &NamingPolicy,
    tenant_id: &str,
    status: TenantStatus,
    matrix: &GrantMatrix,
    tables: &SchemaSize,
) -> Vec<Deviation> {
    let suspended = status == TenantStatus::Suspended;
    let ro = match names.tenant_id(tenant_id) {
        Ok(id) => names.readonly_role_of(&id),
        Err(_) => names.readonly_role_pattern.replace("{id}", tenant_id),
    };
    let admin = names.admin_role.as_str();
    let service = names.service_role.as_str();
    let rls = names.rls_role.as_str();
    let schema = matrix.schema.as_str();
    let mut out = Vec::new();
    let mut dev =
        |role: &str, object: DeviationObject, privilege: &str, missing: bool, reason: String| {
            out.push(Deviation {
                role: role.into(),
                object,
                privilege: privilege.into(),
                missing,
                reason,
            })
        };

    // Owners hold every privilege implicitly, including DROP: only the admin role may own.
    for o in matrix.owners.iter().filter(|o| o.owner != admin) {
        let object = if o.kind == ObjectKind::Schema {
            DeviationObject::Schema
        } else {
            DeviationObject::Object(o.object.clone())
        };
        dev(
            &o.owner,
            object,
            "OWNER",
            false,
            format!(
                "owned by {}, who may therefore alter or drop it; only the admin role {admin} may own tenant objects",
                o.owner
            ),
        );
    }
    // What each role may hold; anything else held by a non-owner is a deviation.
    let allowed = |role: &str, kind: ObjectKind, privilege: &str| -> bool {
        match kind {
            ObjectKind::Schema => {
                privilege == "USAGE" && !suspended && (role == service || role == rls || role == ro)
            }
            ObjectKind::Table | ObjectKind::View | ObjectKind::Column => {
                (role == service && SERVICE_TABLE.contains(&privilege))
                    || ((role == rls || role == ro) && privilege == "SELECT")
            }
            ObjectKind::Sequence => role == service && privilege == "USAGE",
            ObjectKind::Function => false,
        }
    };
    // The RLS role is shared by all tenants: what row security cannot filter, it must not read.
    let rls_unsafe = |kind: ObjectKind, object: &str| -> bool {
        let relation = match kind {
            ObjectKind::Column => object.split_once('.').map_or(object, |(r, _)| r),
            ObjectKind::Table | ObjectKind::View => object,
            _ => return false,
        };
        matrix.rls_unsafe.iter().any(|u| u == relation)
    };
    for e in matrix.entries.iter().filter(|e| !e.owner) {
        if e.grantee == rls && rls_unsafe(e.kind, &e.object) {
            dev(
                rls,
                DeviationObject::Object(e.object.clone()),
                &e.privilege,
                false,
                "returns rows with its owner's rights, past row security: the RLS role would read every tenant's rows (a view needs security_invoker = on)".into(),
            );
            continue;
        }
        if allowed(&e.grantee, e.kind, &e.privilege) {
            continue;
        }
        let object = if e.kind == ObjectKind::Schema {
            DeviationObject::Schema
        } else {
            DeviationObject::Object(e.object.clone())
        };
        let reason = if suspended
            && e.kind == ObjectKind::Schema
            && e.privilege == "USAGE"
            && (e.grantee == service || e.grantee == rls || e.grantee == ro)
        {
            format!(
                "the tenant is suspended, yet {} can still reach its schema",
                e.grantee
            )
        } else if e.grantee == "PUBLIC" {
            format!("every role can use this {}", e.kind.as_str())
        } else if e.kind == ObjectKind::Schema && e.privilege == "CREATE" {
            "only the admin role may create objects in a tenant schema".into()
        } else if e.grantee == service {
            format!(
                "the service role gets SELECT/INSERT/UPDATE/DELETE only, never {}",
                e.privilege
            )
        } else if e.grantee == rls || e.grantee == ro {
            format!("{} should hold SELECT only", e.grantee)
        } else if names.tenant_of_readonly_role(&e.grantee).is_some() {
            format!(
                "{} belongs to another tenant: cross-tenant reach",
                e.grantee
            )
        } else {
            format!("{} is not one of this tenant's roles", e.grantee)
        };
        dev(&e.grantee, object, &e.privilege, false, reason);
    }

    let has = |role: &str, kind: ObjectKind, object: &str, privilege: &str| {
        matrix.has(role, kind, object, privilege)
    };
    for role in [service, rls, ro.as_str()] {
        if suspended {
            continue;
        }
        if !has(role, ObjectKind::Schema, schema, "USAGE") {
            let reason = if role == service {
                "the service role cannot reach this active tenant"
            } else {
                "cannot reach the schema, so its SELECT grants are useless"
            };
            dev(role, DeviationObject::Schema, "USAGE", true, reason.into());
        }
    }
    for t in &tables.tables {
        for p in SERVICE_TABLE {
            if !has(service, ObjectKind::Table, &t.name, p) {
                dev(
                    service,
                    DeviationObject::Object(t.name.clone()),
                    p,
                    true,
                    "the service role needs it to serve the tenant".into(),
                );
            }
        }
        for role in [rls, ro.as_str()] {
            if !has(role, ObjectKind::Table, &t.name, "SELECT") {
                dev(
                    role,
                    DeviationObject::Object(t.name.clone()),
                    "SELECT",
                    true,
                    "expected SELECT on every tenant table".into(),
                );
            }
        }
        if !t.tenant_bound {
            dev(
                rls,
                DeviationObject::Object(t.name.clone()),
                "TENANT BINDING",
                true,
                "not bound to its tenant: a session of the RLS role routed to another tenant could read it (tenant migrate adds the binding)".into(),
            );
        }
        if !t.rls_enabled {
            dev(
                rls,
                DeviationObject::Object(t.name.clone()),
                "RLS",
                true,
                "row-level security is off: the RLS role would read every row".into(),
            );
        }
    }
    for seq in matrix
        .entries
        .iter()
        .filter(|e| e.kind == ObjectKind::Sequence && e.owner)
        .map(|e| e.object.clone())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if !has(service, ObjectKind::Sequence, &seq, "USAGE") {
            dev(
                service,
                DeviationObject::Object(seq.clone()),
                "USAGE",
                true,
                "inserts that draw from this sequence would fail".into(),
            );
        }
    }
    let has_default = |object_type: &str, grantee: &str, privilege: &str| {
        matrix.defaults.iter().any(|d| {
            d.in_schema
                && d.owner == admin
                && d.object_type == object_type
                && d.grantee == grantee
                && d.privilege == privilege
        })
    };
    for p in SERVICE_TABLE {
        if !has_default("table", service, p) {
            dev(
                service,
                DeviationObject::DefaultPrivileges(DefaultsFor::Table),
                p,
                true,
                "tables added later would not be granted".into(),
            );
        }
    }
    if let Some(d) = matrix
        .defaults
        .iter()
        .find(|d| d.owner == admin && d.object_type == "table" && d.grantee == rls)
    {
        dev(
            rls,
            DeviationObject::DefaultPrivileges(DefaultsFor::Table),
            &d.privilege,
            false,
            "tables added later would be readable by the RLS role before they are bound to their tenant".into(),
        );
    }
    for role in [ro.as_str()] {
        if !has_default("table", role, "SELECT") {
            dev(
                role,
                DeviationObject::DefaultPrivileges(DefaultsFor::Table),
                "SELECT",
                true,
                "tables added later would not be granted".into(),
            );
        }
    }
    if !has_default("sequence", service, "USAGE") {
        dev(
            service,
            DeviationObject::DefaultPrivileges(DefaultsFor::Sequence),
            "USAGE",
            true,
            "sequences added later would not be granted".into(),
        );
    }
    // Database-wide, but it reaches every tenant: shown with each.
    if matrix.public_schema_create {
        dev(
            "PUBLIC",
            DeviationObject::PublicSchema,
            "CREATE",
            false,
            "every role may create in schema public, which is on the application's search_path: a planted function there could capture its calls".into(),
        );
    }
    let fn_defaults: Vec<_> = matrix
        .defaults
        .iter()
        .filter(|d| !d.in_schema && d.owner == admin && d.object_type == "function")
        .collect();
    if fn_defaults.is_empty() || fn_defaults.iter().any(|d| d.grantee == "PUBLIC") {
        dev(
            "PUBLIC",
            DeviationObject::DefaultPrivileges(DefaultsFor::Function),
            "EXECUTE",
            false,
            "functions the admin role creates would be executable by every role (init revokes this)".into(),
        );
    }
    out.sort();
    out.dedup();
    out
}
