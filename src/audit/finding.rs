//! Findings: what the audit reports, with a stable id, a severity, a path and a fix.

use super::acl::Privilege;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// How bad a finding is, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A path to the admin role, past row-level security, or to every tenant's data.
    Critical,
    /// A path from one tenant's data to another tenant, PUBLIC or an unknown role; or the
    /// application breaks.
    High,
    /// Hygiene that widens what a mistake or a compromise could reach.
    Medium,
    /// Hygiene without a path to data.
    Low,
    /// Worth knowing; nothing to fix.
    Info,
}

impl Severity {
    /// Every severity, worst first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The lowercase word.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// True when `self` is as bad as `threshold` or worse.
    pub fn at_least(self, threshold: Severity) -> bool {
        self <= threshold
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!("{s:?} is not a severity: use critical, high, medium, low or info")
            })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rules of the audit. Each variant's doc says what it checks and why its findings
/// weigh what they weigh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A registry row whose schema is missing: the application routes to nothing (high).
    RegistrySchemaMissing,
    /// A schema with the tenant prefix and no registry row: unmanaged, never audited as a
    /// tenant, invisible to provisioning (medium).
    UnregisteredSchema,
    /// A suspended tenant an application role can still reach (high: suspension is the
    /// operator's promise that nobody gets in).
    SuspendedReachable,
    /// An object owned by someone other than the admin role. An owner can drop it and grant
    /// anything on it: an application role as owner is critical (it can lift RLS), any
    /// other role high.
    Owner,
    /// Schema privileges that differ from the model: missing USAGE breaks the application
    /// (high); CREATE for anyone but the admin is a path to the admin's session through
    /// `search_path` (critical); USAGE beyond the model is reach (high).
    SchemaPrivilege,
    /// Table privileges that differ from the model: missing grants break the application
    /// (high); reach by PUBLIC, an unknown role or another tenant's role is high; extra
    /// rights of a model role are medium, TRIGGER (code run by whoever writes) high.
    TablePrivilege,
    /// Column-level grants: counted as reach like table grants.
    ColumnPrivilege,
    /// Sequence privileges: the service role needs USAGE for its inserts (high if missing);
    /// others hold nothing (medium).
    SequencePrivilege,
    /// A grant option held by an application role: it can hand the privilege to anyone
    /// (high).
    GrantOption,
    /// The admin role's default privileges in a tenant or the common schema, which make
    /// the tables a migration adds match the model: missing is high (the next migration
    /// breaks the application), extra is medium.
    DefaultPrivilege,
    /// Default privileges set by a role other than the admin in a tenant schema: they apply
    /// to objects that role creates, never to migrations (low).
    DefaultPrivilegeForeignRole,
    /// The admin's database-wide default still lets PUBLIC execute new functions (medium).
    FunctionDefaultExecute,
    /// PUBLIC may create in `public`, which is on the seed's `search_path`: a planted
    /// function or table there hijacks unqualified names (high).
    PublicSchemaCreate,
    /// A table the RLS role can read without row-level security (critical: every row of
    /// the tenant, past the application's user policies), or a tenant table without RLS
    /// at all (high).
    RlsDisabled,
    /// A table without tenantctl's restrictive tenant-binding policy for the RLS role: an
    /// application user routed to another tenant can read it by naming its schema
    /// (critical).
    TenantBindingMissing,
    /// A permissive policy that is always true for the RLS role: it reads every row
    /// (critical).
    PolicyAlwaysTrue,
    /// Policies on a table whose RLS is off: they do nothing, which someone may not know
    /// (medium).
    PolicyWithoutRls,
    /// A view, materialized view or foreign table the RLS role can read that does not go
    /// through row-level security (critical).
    ViewBypassesRls,
    /// A SECURITY DEFINER function without a pinned `search_path`: whoever can create an
    /// object on its path runs code as its owner (high).
    SecurityDefinerSearchPath,
    /// A function in a tenant or the common schema executable by PUBLIC or a role outside
    /// the model: critical for SECURITY DEFINER (it runs as its owner), medium otherwise.
    FunctionExecute,
    /// SUPERUSER, BYPASSRLS, CREATEROLE or REPLICATION on an application role is critical
    /// (each reaches every tenant's data); CREATEDB is medium; LOGIN where the model says
    /// NOLOGIN is medium.
    RoleAttribute,
    /// A membership chain that hands an application role the admin role, a superuser, a
    /// predefined all-data role (critical) or another tenant's role (high).
    Membership,
    /// A role that reaches tenants' data beyond the model through its memberships
    /// (high): only the service and RLS roles reach every tenant.
    CrossTenantReach,
    /// An ACL entry the audit could not read (medium: it cannot vouch for that object).
    UnreadableAcl,
    /// The console log's protection: its append-only triggers missing or disabled, or its
    /// hash chain broken (an edited or deleted row). High: the trail of every change is
    /// what a security review relies on.
    LogTamper,
    /// A Citus worker whose grants on a tenant schema, table or shard differ from the
    /// coordinator's (high: the worker's grants are the ones the application's queries
    /// meet, and the coordinator's catalog does not show them).
    WorkerGrantDrift,
    /// A Citus worker whose row-level security or policies on a tenant table or shard
    /// differ from the coordinator's (critical when RLS is off there, high otherwise).
    WorkerPolicyDrift,
    /// A Citus worker the audit could not read (medium: it cannot vouch for the grants of
    /// the tenants placed there).
    WorkerUnreachable,
}

impl Rule {
    /// True for the database-wide rules whose findings reach every tenant (an object
    /// planted in `public`, a function executable by everyone): each tenant's findings
    /// include them.
    pub fn reaches_every_tenant(self) -> bool {
        matches!(
            self,
            Rule::PublicSchemaCreate | Rule::FunctionDefaultExecute
        )
    }

    /// The snake_case name used in JSON and ids.
    pub fn name(self) -> &'static str {
        match self {
            Rule::RegistrySchemaMissing => "registry_schema_missing",
            Rule::UnregisteredSchema => "unregistered_schema",
            Rule::SuspendedReachable => "suspended_reachable",
            Rule::Owner => "owner",
            Rule::SchemaPrivilege => "schema_privilege",
            Rule::TablePrivilege => "table_privilege",
            Rule::ColumnPrivilege => "column_privilege",
            Rule::SequencePrivilege => "sequence_privilege",
            Rule::GrantOption => "grant_option",
            Rule::DefaultPrivilege => "default_privilege",
            Rule::DefaultPrivilegeForeignRole => "default_privilege_foreign_role",
            Rule::FunctionDefaultExecute => "function_default_execute",
            Rule::PublicSchemaCreate => "public_schema_create",
            Rule::RlsDisabled => "rls_disabled",
            Rule::TenantBindingMissing => "tenant_binding_missing",
            Rule::PolicyAlwaysTrue => "policy_always_true",
            Rule::PolicyWithoutRls => "policy_without_rls",
            Rule::ViewBypassesRls => "view_bypasses_rls",
            Rule::SecurityDefinerSearchPath => "security_definer_search_path",
            Rule::FunctionExecute => "function_execute",
            Rule::RoleAttribute => "role_attribute",
            Rule::Membership => "membership",
            Rule::CrossTenantReach => "cross_tenant_reach",
            Rule::UnreadableAcl => "unreadable_acl",
            Rule::LogTamper => "log_tamper",
            Rule::WorkerGrantDrift => "worker_grant_drift",
            Rule::WorkerPolicyDrift => "worker_policy_drift",
            Rule::WorkerUnreachable => "worker_unreachable",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One deviation from the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable for the same problem on the same object: `<rule>-<8 hex>` from the rule, the
    /// schema, the object, the role and the aspect (never from oids or times).
    pub id: String,
    pub rule: Rule,
    pub severity: Severity,
    pub schema: Option<String>,
    pub object: Option<String>,
    pub role: Option<String>,
    /// The tenant the finding concerns, when there is one.
    pub tenant: Option<String>,
    pub message: String,
    /// How the role gets there, e.g. `tenant_a_ro → member of tenant_b_ro → SELECT on
    /// tenant_b.orders`.
    pub path: Option<String>,
    /// SQL that fixes it; `None` where a person must decide.
    pub fix: Option<String>,
    /// With `--baseline`: true when the baseline does not have this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<bool>,
    /// The privileges held beyond the model or missing, where the finding is about
    /// privileges: the Grants pane marks those cells. Not in JSON (the message names them).
    #[serde(skip)]
    pub privileges: Vec<Privilege>,
}

impl Finding {
    /// True when the finding concerns `tenant`: about its schema, objects or roles, or
    /// database-wide and reaching every tenant.
    pub fn concerns(&self, tenant: &str) -> bool {
        self.tenant.as_deref() == Some(tenant) || self.rule.reaches_every_tenant()
    }
}

/// Builds findings with their ids.
#[derive(Debug, Clone)]
pub struct Draft {
    pub rule: Rule,
    pub severity: Severity,
    pub schema: Option<String>,
    pub object: Option<String>,
    pub role: Option<String>,
    pub tenant: Option<String>,
    /// What distinguishes two findings of one rule on one object and role (e.g. `missing`
    /// vs `extra`); part of the id, never shown.
    pub aspect: &'static str,
    pub message: String,
    pub path: Option<String>,
    pub fix: Option<String>,
    /// See [`Finding::privileges`].
    pub privileges: Vec<Privilege>,
}

impl Draft {
    /// A draft with only the rule and severity set.
    pub fn new(rule: Rule, severity: Severity, message: String) -> Draft {
        Draft {
            rule,
            severity,
            schema: None,
            object: None,
            role: None,
            tenant: None,
            aspect: "",
            message,
            path: None,
            fix: None,
            privileges: Vec::new(),
        }
    }

    /// The finding, with its stable id.
    pub fn finish(self) -> Finding {
        Finding {
            id: finding_id(
                self.rule,
                self.schema.as_deref(),
                self.object.as_deref(),
                self.role.as_deref(),
                self.aspect,
            ),
            rule: self.rule,
            severity: self.severity,
            schema: self.schema,
            object: self.object,
            role: self.role,
            tenant: self.tenant,
            message: self.message,
            path: self.path,
            fix: self.fix,
            new: None,
            privileges: self.privileges,
        }
    }
}

/// The stable id of a finding: the rule's name and 8 hex digits of a hash of what it is
/// about. Fields are separated by a byte no identifier holds, so `a`+`bc` ≠ `ab`+`c`.
pub fn finding_id(
    rule: Rule,
    schema: Option<&str>,
    object: Option<&str>,
    role: Option<&str>,
    aspect: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        rule.name(),
        schema.unwrap_or(""),
        object.unwrap_or(""),
        role.unwrap_or(""),
        aspect,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut id = String::with_capacity(rule.name().len() + 9);
    id.push_str(rule.name());
    id.push('-');
    for b in &digest[..4] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}
