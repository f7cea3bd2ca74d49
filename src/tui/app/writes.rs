//! Every change the console can ask the core for. A write belongs to one row of the command
//! table ([`Write::command`]), whose `writes` flag is the read-only gate for keys, palette
//! and dialogs alike; its core call is [`Write::run`]; its confirmation text, if it asks
//! first, is [`Write::describe`].

use crate::catalog::TenantRow;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::tenant::{self, NewTenant, TenantChange};
use crate::tui::keymap::CommandId;

/// A change waiting to be confirmed or run.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Create(NewTenant),
    Set {
        id: String,
        change: TenantChange,
    },
    Suspend(String),
    Resume(String),
    /// Hold the tenant at a template version; `None` releases it.
    Pin {
        id: String,
        pin: Option<i32>,
    },
    /// Adopt a schema without a registry row. Without `plan` it asks the core for the dry
    /// run (whose changes the confirmation shows); with it, it runs as a long job.
    Adopt {
        adoption: tenant::Adoption,
        plan: Option<tenant::AdoptPlan>,
    },
    /// `None`: every tenant. Runs as a long job.
    Migrate(Option<Vec<String>>),
    /// Apply one audit finding's fix (shown in the confirmation). Runs as a long job that
    /// audits again afterwards.
    AuditFix {
        id: String,
        sql: String,
    },
    /// Restore `backup` of tenant `id`: beside as `as_id`, or in place. A long job.
    Restore {
        id: String,
        backup: std::path::PathBuf,
        as_id: Option<String>,
    },
    /// Drop a tenant after a verified dump. A long job.
    Drop(String),
    /// Drop a kept copy. A long job.
    Release(String),
    /// Move a tenant to another Citus node (checked against the node map). Long job.
    MoveTenant(crate::citus::ops::MovePlan),
    /// Distribute these local tenants. Long job.
    Distribute(Vec<String>),
    /// Start a rebalance and follow it. Long job.
    Rebalance(crate::citus::ops::TransferMode),
}

impl Write {
    /// The command table row this write belongs to.
    pub fn command(&self) -> CommandId {
        match self {
            Write::Create(_) => CommandId::New,
            Write::Set { .. } => CommandId::Edit,
            Write::Suspend(_) => CommandId::Suspend,
            Write::Resume(_) => CommandId::Resume,
            Write::Pin { .. } => CommandId::Pin,
            Write::Adopt { .. } => CommandId::Adopt,
            Write::Migrate(Some(_)) => CommandId::Migrate,
            Write::Migrate(None) => CommandId::MigrateAll,
            Write::AuditFix { .. } => CommandId::Fix,
            Write::Restore { .. } => CommandId::Restore,
            Write::Drop(_) => CommandId::Drop,
            Write::Release(_) => CommandId::Release,
            Write::MoveTenant(plan) => match plan.mode {
                crate::citus::ops::TransferMode::BlockWrites => CommandId::NodeMoveBlocking,
                _ => CommandId::NodeMove,
            },
            Write::Distribute(_) => CommandId::Distribute,
            Write::Rebalance(_) => CommandId::Rebalance,
        }
    }

    /// The core call, for the writes that answer with the changed row.
    pub async fn run(self, session: &Session) -> Result<TenantRow> {
        match self {
            Write::Create(new) => tenant::create(session, &new).await,
            Write::Set { id, change } => tenant::set(session, &id, &change).await,
            Write::Suspend(id) => tenant::suspend(session, &id).await,
            Write::Resume(id) => tenant::resume(session, &id).await,
            Write::Pin { id, pin } => tenant::pin(session, &id, pin).await,
            Write::Migrate(_)
            | Write::AuditFix { .. }
            | Write::Adopt { .. }
            | Write::Restore { .. }
            | Write::Drop(_)
            | Write::Release(_)
            | Write::MoveTenant(_)
            | Write::Distribute(_)
            | Write::Rebalance(_) => Err(Error::Invalid(
                "this runs as a long job, not as a single write".into(),
            )),
        }
    }

    /// The verb of the flash after success.
    pub fn done_verb(command: CommandId) -> &'static str {
        match command {
            CommandId::New => "created",
            CommandId::Suspend => "suspended",
            CommandId::Resume => "resumed",
            _ => "saved",
        }
    }

    /// Title and explanation of its confirmation.
    pub fn describe(&self) -> (String, Vec<String>) {
        match self {
            Write::Suspend(id) => (
                format!("Suspend tenant {id}?"),
                vec![
                    "The service role loses USAGE on its schema: the application".into(),
                    "can no longer reach this tenant's data until it is resumed.".into(),
                ],
            ),
            Write::Resume(id) => (
                format!("Resume tenant {id}?"),
                vec!["The service role gets USAGE on its schema back.".into()],
            ),
            Write::Migrate(Some(ids)) => (
                format!("Migrate {}?", ids.join(", ")),
                vec!["Applies the newest template version; each tenant is all-or-nothing.".into()],
            ),
            Write::Migrate(None) => (
                "Migrate every tenant?".into(),
                vec![
                    "Applies the newest template version to every tenant, one by one;".into(),
                    "each is all-or-nothing; it can be cancelled between tenants.".into(),
                ],
            ),
            Write::AuditFix { id, sql } => {
                let mut lines =
                    vec!["In one transaction, logged, then the audit runs again:".into()];
                lines.extend(sql.lines().map(|l| format!("  {l}")));
                (format!("Apply the fix of {id}?"), lines)
            }
            Write::Restore { id, as_id, .. } => match as_id {
                Some(new) => (format!("Restore {id}'s backup as {new}?"), Vec::new()),
                None => (format!("Restore {id} in place?"), Vec::new()),
            },
            Write::Drop(id) => (format!("Drop tenant {id}?"), Vec::new()),
            Write::Release(name) => (format!("Drop kept copy {name}?"), Vec::new()),
            Write::MoveTenant(plan) => (
                format!("Move tenant {} to {}?", plan.tenant, plan.to),
                vec![
                    format!(
                        "Copies its {} from {} to {}, then switches over.",
                        crate::units::human_bytes(plan.bytes),
                        plan.from,
                        plan.to
                    ),
                    "If it fails or is cancelled (Esc), the tenant stays where it was.".into(),
                    format!("Mode {}: {}.", plan.mode.as_sql(), plan.mode.consequence()),
                ],
            ),
            Write::Distribute(ids) => (
                format!("Distribute {} local tenant(s)?", ids.len()),
                vec![
                    "Each schema's tables move from the coordinator to a worker Citus".into(),
                    "picks, one tenant at a time; its writes wait while it copies.".into(),
                    "Cancel stops between tenants; the one in flight is rolled back.".into(),
                ],
            ),
            Write::Rebalance(mode) => (
                "Rebalance tenants across the nodes?".into(),
                vec![
                    "Citus moves tenants between workers until their sizes are even,".into(),
                    "one at a time, in the background; Esc stops it (moves done stay).".into(),
                    format!("Mode {}: {}.", mode.as_sql(), mode.consequence()),
                ],
            ),
            Write::Create(new) => (format!("Create tenant {}?", new.id), Vec::new()),
            Write::Set { id, .. } => (format!("Change tenant {id}?"), Vec::new()),
            Write::Pin { id, pin: Some(p) } => (format!("Pin tenant {id} at {p}?"), Vec::new()),
            Write::Pin { id, pin: None } => (format!("Unpin tenant {id}?"), Vec::new()),
            Write::Adopt { adoption, plan } => describe_adopt(adoption, plan.as_ref()),
        }
    }
}

/// The adopt confirmation: what the dry run found would change.
fn describe_adopt(a: &tenant::Adoption, plan: Option<&tenant::AdoptPlan>) -> (String, Vec<String>) {
    /// Owner changes listed one a line; the rest are counted.
    const SHOWN: usize = 8;
    let Some(p) = plan else {
        return (format!("Adopt schema {}?", a.schema), Vec::new());
    };
    let mut lines = vec![format!(
        "As tenant {}, in one transaction, logged; data untouched:",
        p.tenant
    )];
    if p.owner_changes.is_empty() {
        lines.push("  every object is the admin role's already".into());
    }
    for c in p.owner_changes.iter().take(SHOWN) {
        lines.push(format!(
            "  owner {} → admin: {} {}",
            c.owner, c.kind, c.object
        ));
    }
    if p.owner_changes.len() > SHOWN {
        lines.push(format!(
            "  … and {} more owner change(s)",
            p.owner_changes.len() - SHOWN
        ));
    }
    lines.push(format!(
        "  RLS, policies and tenant binding on {} table(s); role {}",
        p.tables.len(),
        p.readonly_role
    ));
    lines.push(match p.at_version {
        Some(v) => format!("  recorded at template version {v}"),
        None => "  version not known: migrate leaves it alone until one is set".into(),
    });
    (format!("Adopt schema {} as {}?", p.schema, p.tenant), lines)
}
