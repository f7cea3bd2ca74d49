//! Tenant ids, the naming policy, and the one place identifiers and literals are quoted.

use serde::{Deserialize, Serialize};
use std::fmt;

/// PostgreSQL's identifier limit in bytes (NAMEDATALEN - 1).
pub const MAX_IDENT_BYTES: usize = 63;

/// Bytes kept free after every derived schema name for names the product derives later
/// (a restore's side schema, `tenant_<id>_r20261126221800`).
pub const DERIVED_SUFFIX_BYTES: usize = 16;

/// Errors of names: a bad tenant id or a bad naming policy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("tenant id {shown} is not valid: {rule}")]
    BadTenantId { shown: String, rule: String },
    #[error("naming policy: {0}")]
    BadPolicy(String),
}

/// Quotes an identifier for SQL: `a"b` becomes `"a""b"`. The only way names reach SQL text.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for ch in name.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// Quotes a string literal for SQL text where bind parameters cannot go (utility statements).
/// Uses the `E''`-free standard form, which is safe with `standard_conforming_strings = on`.
pub fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for ch in value.chars() {
        if ch == '\'' {
            out.push('\'');
        }
        out.push(ch);
    }
    out.push('\'');
    out
}

/// A qualified name `"schema"."object"`.
pub fn qualified(schema: &str, object: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(object))
}

/// The names every deployment may rename; defaults are the seed's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NamingPolicy {
    /// Schema holding cross-tenant data and the registry.
    pub common_schema: String,
    /// Schema of tenantctl's own bookkeeping (bootstrap version, template history); kept
    /// out of the common schema, whose default privileges hand new tables to the service role.
    pub meta_schema: String,
    /// Registry table inside the common schema.
    pub registry_table: String,
    /// Console log table inside the common schema.
    pub log_table: String,
    /// Prefix of every tenant schema: `tenant_` gives `tenant_<id>`.
    pub schema_prefix: String,
    /// Admin (DBA) role that owns everything.
    pub admin_role: String,
    /// The microservice's login role.
    pub service_role: String,
    /// Template role for row-level security.
    pub rls_role: String,
    /// Per-tenant read-only role; `{id}` is replaced by the tenant id.
    pub readonly_role_pattern: String,
}

impl Default for NamingPolicy {
    fn default() -> Self {
        NamingPolicy {
            common_schema: "commons".into(),
            meta_schema: "tenantctl".into(),
            registry_table: "tenants".into(),
            log_table: "admin_log".into(),
            schema_prefix: "tenant_".into(),
            admin_role: "marvin".into(),
            service_role: "user_tenant_owner".into(),
            rls_role: "tenant_user".into(),
            readonly_role_pattern: "tenant_{id}_ro".into(),
        }
    }
}

impl NamingPolicy {
    /// Checks every name is a usable identifier and the pattern holds `{id}` once.
    pub fn validate(&self) -> Result<(), NameError> {
        let fields = [
            ("common_schema", &self.common_schema),
            ("meta_schema", &self.meta_schema),
            ("registry_table", &self.registry_table),
            ("log_table", &self.log_table),
            ("admin_role", &self.admin_role),
            ("service_role", &self.service_role),
            ("rls_role", &self.rls_role),
        ];
        for (key, value) in fields {
            check_plain_ident(key, value)?;
        }
        if self.schema_prefix.is_empty() {
            return Err(NameError::BadPolicy(
                "schema_prefix must not be empty: tenant schemas need a recognisable prefix".into(),
            ));
        }
        check_plain_ident("schema_prefix", &self.schema_prefix)?;
        if self.readonly_role_pattern.matches("{id}").count() != 1 {
            return Err(NameError::BadPolicy(
                "readonly_role_pattern must contain `{id}` exactly once, e.g. \"tenant_{id}_ro\""
                    .into(),
            ));
        }
        check_plain_ident(
            "readonly_role_pattern",
            &self.readonly_role_pattern.replace("{id}", "x"),
        )?;
        if self.meta_schema == self.common_schema
            || self.meta_schema.starts_with(&self.schema_prefix)
        {
            return Err(NameError::BadPolicy(format!(
                "meta_schema {:?} must differ from common_schema and not start with schema_prefix",
                self.meta_schema
            )));
        }
        let roles = [&self.admin_role, &self.service_role, &self.rls_role];
        for (i, a) in roles.iter().enumerate() {
            if roles[i + 1..].contains(a) {
                return Err(NameError::BadPolicy(format!(
                    "role name {a:?} is used for two roles; admin, service and RLS roles must differ"
                )));
            }
        }
        if self.max_tenant_id_len() < 3 {
            return Err(NameError::BadPolicy(
                "schema_prefix or readonly_role_pattern is so long that tenant ids would be under 3 characters".into(),
            ));
        }
        Ok(())
    }

    /// Longest tenant id for which every derived identifier fits in 63 bytes.
    pub fn max_tenant_id_len(&self) -> usize {
        let by_schema =
            MAX_IDENT_BYTES.saturating_sub(self.schema_prefix.len() + DERIVED_SUFFIX_BYTES);
        let fixed_ro = self
            .readonly_role_pattern
            .len()
            .saturating_sub("{id}".len());
        let by_role = MAX_IDENT_BYTES.saturating_sub(fixed_ro);
        by_schema.min(by_role)
    }

    /// Parses and checks a tenant id under this policy.
    pub fn tenant_id(&self, raw: &str) -> Result<TenantId, NameError> {
        TenantId::parse(raw, self.max_tenant_id_len())
    }

    /// Schema of a tenant: `tenant_<id>`.
    pub fn schema_of(&self, id: &TenantId) -> String {
        format!("{}{}", self.schema_prefix, id.as_str())
    }

    /// Read-only role of a tenant: `tenant_<id>_ro`.
    pub fn readonly_role_of(&self, id: &TenantId) -> String {
        self.readonly_role_pattern.replace("{id}", id.as_str())
    }

    /// The tenant id a role name would be the read-only role of, if it fits the pattern.
    pub fn tenant_of_readonly_role<'a>(&self, role: &'a str) -> Option<&'a str> {
        let (prefix, suffix) = self.readonly_role_pattern.split_once("{id}")?;
        let id = role.strip_prefix(prefix)?.strip_suffix(suffix)?;
        (!id.is_empty()).then_some(id)
    }

    /// The tenant id a schema name would belong to, if it carries the prefix.
    pub fn id_from_schema<'a>(&self, schema: &'a str) -> Option<&'a str> {
        schema.strip_prefix(self.schema_prefix.as_str())
    }

    /// Registry table, qualified and quoted.
    pub fn registry(&self) -> String {
        qualified(&self.common_schema, &self.registry_table)
    }

    /// Console log table, qualified and quoted.
    pub fn log(&self) -> String {
        qualified(&self.common_schema, &self.log_table)
    }

    /// Placeholders for SQL templates under `assets/`, every value quoted.
    pub fn template_vars(&self) -> SqlVars {
        let mut vars = SqlVars::default();
        vars.ident("commons", &self.common_schema)
            .ident("meta", &self.meta_schema)
            .qualified("history", &self.meta_schema, "template_history")
            .ident("tenants", &self.registry_table)
            .ident("admin_log", &self.log_table)
            .qualified("registry", &self.common_schema, &self.registry_table)
            .qualified("log", &self.common_schema, &self.log_table)
            .ident("admin", &self.admin_role)
            .ident("service", &self.service_role)
            .ident("rls", &self.rls_role)
            .literal("schema_prefix", &self.schema_prefix)
            .number("max_id_len", self.max_tenant_id_len() as i64);
        vars
    }
}

fn check_plain_ident(key: &str, value: &str) -> Result<(), NameError> {
    if value.is_empty() || value.len() > MAX_IDENT_BYTES {
        return Err(NameError::BadPolicy(format!(
            "{key} must be 1 to {MAX_IDENT_BYTES} bytes, got {:?}",
            value
        )));
    }
    let mut chars = value.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !first_ok
        || !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(NameError::BadPolicy(format!(
            "{key} = {value:?}: use lowercase letters, digits and underscores, starting with a letter or underscore"
        )));
    }
    if value.starts_with("pg_") {
        return Err(NameError::BadPolicy(format!(
            "{key} = {value:?}: names starting with pg_ are reserved by PostgreSQL"
        )));
    }
    Ok(())
}

/// A validated tenant id: `^[a-z][a-z0-9_]*$`, short enough for every derived name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// Validates `raw` against the slug rule and the length limit.
    pub fn parse(raw: &str, max_len: usize) -> Result<TenantId, NameError> {
        let rule = format!(
            "use 1 to {max_len} characters: a lowercase letter first, then lowercase letters, digits or _"
        );
        let shown = shown(raw);
        let bad = |rule: String| NameError::BadTenantId {
            shown: shown.clone(),
            rule,
        };
        if raw.is_empty() {
            return Err(bad(format!("it is empty; {rule}")));
        }
        if raw.len() > max_len {
            return Err(bad(format!("it is {} characters long; {rule}", raw.len())));
        }
        let mut chars = raw.chars();
        if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) {
            return Err(bad(rule));
        }
        if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(bad(rule));
        }
        Ok(TenantId(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shows user input safely in a message: quoted, control characters escaped, long input cut.
fn shown(raw: &str) -> String {
    let cut: String = raw.chars().take(48).collect();
    let mut out = format!("{cut:?}");
    if raw.chars().count() > 48 {
        out.push('…');
    }
    out
}

// The renderer lives in `sql`; the old paths stay for code written against them.
pub use crate::sql::{MissingVar, SqlVars};
