//! The expected state: the model of `product.md` under the configured names, plus the
//! hardening (per-table RLS grants, the tenant-binding policy, no PUBLIC EXECUTE, no PUBLIC
//! CREATE on `public`). The rules compare the snapshot with what this module says.

use super::acl::Privilege;
use super::snapshot::{RelKind, Snapshot};
use crate::names::NamingPolicy;
use std::collections::HashMap;

/// The name of tenantctl's restrictive tenant-binding policy on every tenant table.
pub const BINDING_POLICY: &str = "tenantctl_tenant_bound";

/// How the server deparses the binding's USING clause for `schema`.
pub fn binding_expression(schema: &str) -> String {
    let mut s = String::from("(\"current_schema\"() = ");
    s.push_str(&crate::names::quote_literal(schema));
    s.push_str("::name)");
    s
}

/// `text == binding_expression(schema)`, without building the expected text: the audit
/// asks it of every tenant table.
pub fn is_binding_expression(text: &str, schema: &str) -> bool {
    let Some(rest) = text.strip_prefix("(\"current_schema\"() = '") else {
        return false;
    };
    let Some(rest) = rest.strip_suffix("'::name)") else {
        return false;
    };
    // Each quote of the schema name is doubled in the literal.
    let mut parts = schema.split('\'');
    let Some(mut rest) = parts.next().and_then(|first| rest.strip_prefix(first)) else {
        return false;
    };
    for part in parts {
        match rest.strip_prefix("''").and_then(|r| r.strip_prefix(part)) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    rest.is_empty()
}

/// The service role's table privileges: data, never DDL, never TRUNCATE.
pub const SERVICE_TABLE: [Privilege; 4] = [
    Privilege::Select,
    Privilege::Insert,
    Privilege::Update,
    Privilege::Delete,
];

/// Roles that read or write every table of the database, whatever the grants.
pub const ALL_DATA_ROLES: [&str; 2] = ["pg_read_all_data", "pg_write_all_data"];

/// Predefined roles that reach the server's files or programs: the admin's reach and more.
pub const SERVER_ROLES: [&str; 3] = [
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
];

/// What a role is in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleClass {
    Admin,
    Service,
    Rls,
    /// The read-only role of this tenant id (registered or not).
    ReadOnly(String),
    Public,
    /// A superuser outside the model (e.g. `postgres`): reaches everything by design.
    Superuser,
    /// Anyone else.
    Other,
}

impl RoleClass {
    /// True for the roles the application logs in as or acts through.
    pub fn is_application(&self) -> bool {
        matches!(
            self,
            RoleClass::Service | RoleClass::Rls | RoleClass::ReadOnly(_)
        )
    }
}

/// A tenant's status as the audit reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Suspended,
}

/// A registered tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub schema: String,
    pub status: Status,
    /// The tenant's read-only role name.
    pub ro: String,
}

/// Which part of the model a schema is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaRole<'a> {
    Common,
    Public,
    Tenant(&'a Tenant),
    /// Has the tenant prefix but no registry row.
    Unregistered,
}

/// The model, resolved against one snapshot.
#[derive(Debug, Clone)]
pub struct Model {
    pub names: NamingPolicy,
    /// Registered tenants by schema name.
    pub tenants: HashMap<String, Tenant>,
    superusers: std::collections::HashSet<String>,
}

impl Model {
    /// The model for `names` and the snapshot's registry.
    pub fn new(names: &NamingPolicy, snap: &Snapshot) -> Model {
        let tenants = snap
            .registry
            .iter()
            .map(|r| {
                let ro = match names.tenant_id(&r.id) {
                    Ok(id) => names.readonly_role_of(&id),
                    Err(_) => names.readonly_role_pattern.replace("{id}", &r.id),
                };
                let status = if r.status == "suspended" {
                    Status::Suspended
                } else {
                    Status::Active
                };
                (
                    r.schema.clone(),
                    Tenant {
                        id: r.id.clone(),
                        schema: r.schema.clone(),
                        status,
                        ro,
                    },
                )
            })
            .collect();
        Model {
            names: names.clone(),
            tenants,
            superusers: snap
                .roles
                .iter()
                .filter(|r| r.superuser)
                .map(|r| r.name.clone())
                .collect(),
        }
    }

    /// What `role` is in the model.
    pub fn classify(&self, role: &str) -> RoleClass {
        let n = &self.names;
        if role == "PUBLIC" {
            RoleClass::Public
        } else if role == n.admin_role {
            RoleClass::Admin
        } else if role == n.service_role {
            RoleClass::Service
        } else if role == n.rls_role {
            RoleClass::Rls
        } else if let Some(id) = n.tenant_of_readonly_role(role) {
            RoleClass::ReadOnly(id.to_string())
        } else if self.superusers.contains(role) {
            RoleClass::Superuser
        } else {
            RoleClass::Other
        }
    }

    /// Which part of the model `schema` is, if any.
    pub fn schema_role(&self, schema: &str) -> Option<SchemaRole<'_>> {
        if schema == self.names.common_schema {
            Some(SchemaRole::Common)
        } else if let Some(t) = self.tenants.get(schema) {
            Some(SchemaRole::Tenant(t))
        } else if schema == "public" {
            Some(SchemaRole::Public)
        } else if schema.starts_with(&self.names.schema_prefix) {
            Some(SchemaRole::Unregistered)
        } else {
            None
        }
    }

    /// The tenant whose schema this is.
    pub fn tenant(&self, schema: &str) -> Option<&Tenant> {
        self.tenants.get(schema)
    }

    /// Privileges `role` should hold on the tenant schema itself.
    pub fn tenant_schema_privileges(
        &self,
        tenant: &Tenant,
        role: &RoleClass,
    ) -> &'static [Privilege] {
        if tenant.status == Status::Suspended {
            return &[];
        }
        match role {
            RoleClass::Service | RoleClass::Rls => &[Privilege::Usage],
            RoleClass::ReadOnly(id) if *id == tenant.id => &[Privilege::Usage],
            _ => &[],
        }
    }

    /// Privileges `role` may hold on a relation of a tenant schema (`required` says whether
    /// missing ones are a finding).
    pub fn tenant_relation_privileges(
        &self,
        tenant: &Tenant,
        kind: RelKind,
        role: &RoleClass,
        rls_safe: bool,
    ) -> Expected {
        let own_ro = matches!(role, RoleClass::ReadOnly(id) if *id == tenant.id);
        match (kind, role) {
            (RelKind::Sequence, RoleClass::Service) => Expected::required(&[Privilege::Usage]),
            (RelKind::Sequence, _) => Expected::none(),
            (k, RoleClass::Service) if k.is_table() => Expected::required(&SERVICE_TABLE),
            (_, RoleClass::Service) => Expected::allowed(&SERVICE_TABLE),
            (k, RoleClass::Rls) if k.is_table() => Expected::required(&[Privilege::Select]),
            // A view the RLS role may read must go through RLS (security_invoker).
            (_, RoleClass::Rls) if rls_safe => Expected::allowed(&[Privilege::Select]),
            (k, _) if own_ro && k.is_table() => Expected::required(&[Privilege::Select]),
            (_, _) if own_ro => Expected::allowed(&[Privilege::Select]),
            _ => Expected::none(),
        }
    }

    /// Privileges `role` may hold on a relation of the common schema. The registry is read
    /// by the service role, never written; the console log and tenantctl's bookkeeping are
    /// nobody's but the admin's; other common tables get the seed's grants.
    pub fn common_relation_privileges(
        &self,
        name: &str,
        kind: RelKind,
        role: &RoleClass,
    ) -> Expected {
        let n = &self.names;
        let bookkeeping = name == n.log_table || name == "tenantctl_meta";
        match role {
            RoleClass::Service if name == n.registry_table => {
                Expected::required(&[Privilege::Select])
            }
            RoleClass::Service if bookkeeping => Expected::none(),
            RoleClass::Service if kind == RelKind::Sequence => {
                Expected::allowed(&[Privilege::Usage, Privilege::Select])
            }
            RoleClass::Service => Expected::allowed(&SERVICE_TABLE),
            _ => Expected::none(),
        }
    }
}

/// What a role may hold on an object, and whether it must.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    pub privileges: &'static [Privilege],
    /// Missing ones break the model (a finding); otherwise they are merely allowed.
    pub required: bool,
}

impl Expected {
    fn required(p: &'static [Privilege]) -> Expected {
        Expected {
            privileges: p,
            required: true,
        }
    }
    fn allowed(p: &'static [Privilege]) -> Expected {
        Expected {
            privileges: p,
            required: false,
        }
    }
    fn none() -> Expected {
        Expected {
            privileges: &[],
            required: false,
        }
    }
}
