//! What each command of the table does, behind the one read-only gate: a command whose
//! table row says it writes is refused in a read-only console before its handler runs,
//! whether it came from a key, the palette or a dialog.

use super::{App, Effect, Load, Measure, Pane, Screen, SortKey, Write};
use crate::catalog::TenantStatus;
use crate::tui::dialog::{
    AdoptDialog, ConfirmDialog, Dialog, EditDialog, MoveTargetDialog, Palette, PinDialog,
    ProvisionDialog,
};
use crate::tui::keymap::{self, CommandId};

impl App {
    /// Refuses `command` in a read-only console when the table says it writes, with a
    /// message; true when refused. The only read-only check of the console.
    pub(super) fn refused(&mut self, command: CommandId) -> bool {
        let spec = keymap::spec(command);
        // A command without a row is treated as a write: forgetting the row never opens a door.
        if self.read_only && spec.is_none_or(|s| s.writes) {
            let what = spec.map_or("that", |s| s.palette.unwrap_or(s.name));
            self.flash(
                format!("read-only console: {what} is not allowed (started with --read-only)"),
                true,
            );
            return true;
        }
        false
    }

    /// Starts `write` (from a dialog or a confirmation): gated by its command's row.
    pub(super) fn submit(&mut self, write: Write) -> Vec<Effect> {
        if self.refused(write.command()) {
            self.dialog = None;
            return Vec::new();
        }
        match write {
            Write::Migrate(ids) => {
                // Migration is long: it runs behind a progress line, not inside the dialog.
                self.dialog = None;
                let total = ids.as_ref().map_or(self.totals.tenants, Vec::len);
                self.start_job(super::LongJob::Migrate(ids), total)
            }
            Write::AuditFix { id, .. } => {
                self.dialog = None;
                self.start_job(super::LongJob::AuditFix(vec![id]), 1)
            }
            Write::MoveTenant(plan) => {
                self.dialog = None;
                self.start_job(super::LongJob::MoveTenant(plan), 1)
            }
            Write::Distribute(ids) => {
                self.dialog = None;
                let n = ids.len();
                self.start_job(super::LongJob::Distribute(ids), n)
            }
            Write::Rebalance(mode) => {
                self.dialog = None;
                self.start_job(super::LongJob::Rebalance(mode), 0)
            }
            // The dialog stays (busy) until the dry run answers with what would change.
            Write::Adopt {
                adoption,
                plan: None,
            } => vec![Effect::PlanAdopt(adoption)],
            Write::Adopt {
                adoption,
                plan: Some(_),
            } => {
                self.dialog = None;
                self.start_job(super::LongJob::Adopt(adoption), 1)
            }
            w @ (Write::Restore { .. } | Write::Drop(_) | Write::Release(_)) => {
                self.start_backup_write(w)
            }
            other => vec![Effect::Write(other)],
        }
    }

    fn confirm(&mut self, write: Write) {
        self.dialog = Some(Dialog::Confirm(ConfirmDialog::new(write)));
    }

    /// Carries out a command; writes are refused first when read-only.
    pub(super) fn run(&mut self, cmd: CommandId) -> Vec<Effect> {
        if self.refused(cmd) {
            return Vec::new();
        }
        let page = self.list.page.get().max(1);
        let on_list = self.screen == Screen::Tenants && self.focus == Pane::Tenants;
        let sort = |app: &mut App, key| {
            app.list.sort = key;
            app.refresh_view();
            Vec::new()
        };
        match cmd {
            CommandId::Up
            | CommandId::Down
            | CommandId::PageUp
            | CommandId::PageDown
            | CommandId::Top
            | CommandId::Bottom => {
                // One movement, aimed at whatever has focus: the log, the list, or a pane.
                if self.screen == Screen::Activity {
                    let len = self.activity.entries.ready().map_or(0, Vec::len);
                    let cur = self.activity.selected;
                    self.activity.selected = step(cmd, cur, len, page);
                } else if self.screen == Screen::Audit {
                    let len = self.audit.shown().len();
                    self.audit.selected = step(cmd, self.audit.selected, len, page);
                } else if self.screen == Screen::Backups {
                    let len = self.backups_view.rows().len();
                    let cur = self.backups_view.selected;
                    self.backups_view.selected = step(cmd, cur, len, page);
                } else if self.screen == Screen::Nodes {
                    self.move_in_nodes(cmd, page);
                } else if on_list {
                    let to = step(cmd, self.list.selected, self.list.visible.len(), page);
                    self.move_selection(to);
                } else {
                    let scroll = if self.focus == Pane::Grants {
                        &mut self.grants_scroll
                    } else {
                        &mut self.schema_scroll
                    };
                    *scroll = step(cmd, *scroll as usize, 500, page) as u16;
                }
            }
            CommandId::NextPane | CommandId::PrevPane if self.screen == Screen::Nodes => {
                self.nodes.on_tenants = !self.nodes.on_tenants;
            }
            CommandId::NextPane | CommandId::PrevPane => {
                const ORDER: [Pane; 3] = [Pane::Tenants, Pane::Schema, Pane::Grants];
                let at = ORDER.iter().position(|p| *p == self.focus).unwrap_or(0);
                let next = if cmd == CommandId::NextPane {
                    at + 1
                } else {
                    at + 2
                };
                self.focus = ORDER[next % 3];
                if self.screen == Screen::Detail && self.focus == Pane::Tenants {
                    self.focus = ORDER[(next + 1) % 3];
                }
            }
            CommandId::Open => {
                if self.selected_row().is_some() {
                    self.screen = Screen::Detail;
                    self.focus = Pane::Schema;
                    return self.ensure_detail();
                }
            }
            CommandId::Back => {
                // A running job is what Esc stops first: it is what the footer shows.
                if let Some(effect) = self.cancel_focused_job() {
                    return vec![effect];
                }
                if self.screen != Screen::Tenants {
                    self.screen = Screen::Tenants;
                    self.focus = Pane::Tenants;
                } else if !self.list.filter.value().is_empty() {
                    self.list.filter.reset();
                    self.refilter();
                    return self.ensure_detail();
                }
            }
            CommandId::Filter => {
                self.screen = Screen::Tenants;
                self.list.filtering = true;
                self.focus = Pane::Tenants;
            }
            CommandId::Sort => {
                let next = self.list.sort.next();
                return sort(self, next);
            }
            CommandId::SortId => return sort(self, SortKey::Id),
            CommandId::SortName => return sort(self, SortKey::Name),
            CommandId::SortSize => return sort(self, SortKey::Size),
            CommandId::SortStatus => return sort(self, SortKey::Status),
            CommandId::Palette => self.palette = Some(Palette::new(self.context(), self.read_only)),
            CommandId::Help => {
                self.help = true;
                self.help_scroll = 0;
            }
            CommandId::Tenants => {
                self.screen = Screen::Tenants;
                self.focus = Pane::Tenants;
            }
            CommandId::New => {
                self.dialog = Some(Dialog::Provision(ProvisionDialog::new(&self.names)));
            }
            CommandId::Edit => match self.selected_row() {
                Some(row) if row.status != TenantStatus::Unregistered => {
                    self.dialog = Some(Dialog::Edit(EditDialog::new(row)));
                }
                Some(row) => {
                    let msg = format!("{} has no registry row to edit", row.schema);
                    self.flash(msg, true);
                }
                None => self.flash("no tenant selected".into(), true),
            },
            CommandId::Pin => match self.selected_row() {
                Some(row) if row.status != TenantStatus::Unregistered => {
                    let latest = self.latest_version;
                    self.dialog = Some(Dialog::Pin(PinDialog::new(row, latest)));
                }
                Some(row) => {
                    let msg = format!("{} has no registry row to pin; adopt it first", row.schema);
                    self.flash(msg, true);
                }
                None => self.flash("no tenant selected".into(), true),
            },
            CommandId::Adopt => match self.selected_row() {
                Some(row) if row.status == TenantStatus::Unregistered => {
                    let d = AdoptDialog::new(&row.schema, &self.names.schema_prefix);
                    self.dialog = Some(Dialog::Adopt(d));
                }
                Some(row) => {
                    let msg = format!(
                        "{} is registered already; adopt takes a schema marked unregistered",
                        row.id
                    );
                    self.flash(msg, true);
                }
                None => self.flash("no schema selected".into(), true),
            },
            CommandId::Suspend => return self.suspend_resume(None),
            CommandId::Resume => return self.suspend_resume(Some(TenantStatus::Active)),
            CommandId::Migrate | CommandId::MigrateAll => {
                if self.jobs.of_kind(super::JobKind::Migrate).is_some() {
                    let back = self.keymap.keys_text(CommandId::Back);
                    self.flash(
                        format!("a migration is already running ({back} cancels it)"),
                        true,
                    );
                    return Vec::new();
                }
                if cmd == CommandId::MigrateAll {
                    self.confirm(Write::Migrate(None));
                    return Vec::new();
                }
                // Never widened to every tenant: that is `:migrate all`, asked for by name.
                match self.selected_row() {
                    Some(row) if row.status != TenantStatus::Unregistered => {
                        let ids = vec![row.id.clone()];
                        self.confirm(Write::Migrate(Some(ids)));
                    }
                    _ => self.flash(
                        "no registered tenant selected; use :migrate all".into(),
                        true,
                    ),
                }
            }
            CommandId::Dump => {
                // Starting a second dump would cancel the first (one job per kind).
                if self.jobs.of_kind(super::JobKind::Dump).is_some() {
                    let back = self.keymap.keys_text(CommandId::Back);
                    self.flash(
                        format!("a dump is already running ({back} cancels it)"),
                        true,
                    );
                    return Vec::new();
                }
                let Some(settings) = self.backups.clone() else {
                    self.flash(
                        "no backup folder: set backup_dir in the config or TENANTCTL_BACKUP_DIR"
                            .into(),
                        true,
                    );
                    return Vec::new();
                };
                match self.selected_row() {
                    Some(row) if row.status != TenantStatus::Unregistered => {
                        let ids = vec![row.id.clone()];
                        return self.start_job(super::LongJob::Dump { ids, settings }, 1);
                    }
                    _ => self.flash("no registered tenant selected to dump".into(), true),
                }
            }
            CommandId::Refresh => {
                self.flash = None;
                // Asked for: measure every size again (the detail reloads with the registry).
                self.measure = Measure::All;
                let mut effects = self.reload();
                effects.push(Effect::LoadServer);
                if self.screen == Screen::Backups {
                    effects.push(Effect::LoadBackups(self.backups.clone()));
                }
                return effects;
            }
            CommandId::Activity => {
                self.screen = Screen::Activity;
                self.activity.entries = Load::Loading;
                self.activity.selected = 0;
                return vec![Effect::LoadActivity];
            }
            CommandId::Audit => {
                self.screen = Screen::Audit;
                if self.jobs.of_kind(super::JobKind::Audit).is_some() {
                    return Vec::new();
                }
                // The last report stays on screen while the new one is read.
                if !matches!(self.audit.report, Load::Ready(_)) {
                    self.audit.report = Load::Loading;
                }
                return self.start_job(super::LongJob::Audit, 2);
            }
            CommandId::AuditSeverity => {
                use crate::audit::Severity;
                self.audit.min = match self.audit.min {
                    Severity::Info => Severity::Medium,
                    Severity::Medium | Severity::Low => Severity::High,
                    Severity::High => Severity::Critical,
                    Severity::Critical => Severity::Info,
                };
                self.audit.selected = 0;
            }
            CommandId::Fix => {
                if self.jobs.of_kind(super::JobKind::AuditFix).is_some() {
                    self.flash("a fix is already being applied".into(), true);
                    return Vec::new();
                }
                match self.audit.selected_finding() {
                    Some(f) => match &f.fix {
                        Some(sql) => {
                            let write = Write::AuditFix {
                                id: f.id.clone(),
                                sql: sql.clone(),
                            };
                            self.confirm(write);
                        }
                        None => {
                            let msg =
                                format!("{} has no automatic fix: a person must decide", f.id);
                            self.flash(msg, true);
                        }
                    },
                    None => self.flash("no finding selected".into(), true),
                }
            }
            CommandId::Backups => return self.open_backups(),
            CommandId::Restore => self.ask_restore(),
            CommandId::Release => self.ask_release(),
            CommandId::Drop => self.ask_drop(),
            CommandId::Nodes => {
                self.screen = Screen::Nodes;
                if self.jobs.of_kind(super::JobKind::Nodes).is_some() {
                    return Vec::new();
                }
                if !matches!(self.nodes.map, Load::Ready(_)) {
                    self.nodes.map = Load::Loading;
                }
                return self.start_job(super::LongJob::Nodes, 1);
            }
            CommandId::NodeMove | CommandId::NodeMoveBlocking => {
                let mode = if cmd == CommandId::NodeMove {
                    crate::citus::ops::TransferMode::Auto
                } else {
                    crate::citus::ops::TransferMode::BlockWrites
                };
                self.ask_move(mode);
            }
            CommandId::Distribute => {
                let local: Vec<String> = self
                    .nodes
                    .map
                    .ready()
                    .map(|m| m.local().map(|p| p.tenant.clone()).collect())
                    .unwrap_or_default();
                if local.is_empty() {
                    self.flash(
                        "no local tenant: every tenant schema is distributed".into(),
                        true,
                    );
                } else {
                    self.confirm(Write::Distribute(local));
                }
            }
            CommandId::Rebalance => {
                if self.jobs.of_kind(super::JobKind::Rebalance).is_some() {
                    self.flash("a rebalance is already running".into(), true);
                } else {
                    self.confirm(Write::Rebalance(crate::citus::ops::TransferMode::Auto));
                }
            }
            CommandId::Quit => self.quit = true,
            // Keys of dialogs, the filter and the palette: handled where they apply.
            CommandId::Submit
            | CommandId::NextField
            | CommandId::PrevField
            | CommandId::Cancel
            | CommandId::Complete
            | CommandId::Confirm
            | CommandId::Reveal => {}
        }
        Vec::new()
    }
}

impl App {
    /// Asks to suspend or resume the selected tenant. `to` is the status asked for by
    /// name (`:resume`), refused when the tenant is already there; `None` (`S`,
    /// `:suspend`) toggles.
    pub(super) fn suspend_resume(&mut self, to: Option<TenantStatus>) -> Vec<Effect> {
        let Some(row) = self.selected_row() else {
            self.flash("no tenant selected".into(), true);
            return Vec::new();
        };
        let refusal = match (row.status, to) {
            (TenantStatus::Unregistered, _) => format!("{} has no registry row", row.schema),
            (TenantStatus::Active, None | Some(TenantStatus::Suspended)) => {
                let write = Write::Suspend(row.id.clone());
                self.confirm(write);
                return Vec::new();
            }
            (TenantStatus::Suspended, None | Some(TenantStatus::Active)) => {
                let write = Write::Resume(row.id.clone());
                self.confirm(write);
                return Vec::new();
            }
            (TenantStatus::Active, Some(_)) => {
                format!("tenant {} is not suspended; nothing to resume", row.id)
            }
            (TenantStatus::Suspended, Some(_)) => {
                format!("tenant {} is already suspended", row.id)
            }
        };
        self.flash(refusal, true);
        Vec::new()
    }
}

impl App {
    /// Moves the cursor of the Nodes view: in the node list, or in the node's tenants.
    fn move_in_nodes(&mut self, cmd: CommandId, page: usize) {
        let Some(map) = self.nodes.map.ready() else {
            return;
        };
        if self.nodes.on_tenants {
            let len = self
                .nodes
                .selected_node()
                .map_or(0, |n| map.tenants_on(n).len());
            self.nodes.tenant = step(cmd, self.nodes.tenant, len, page);
        } else {
            self.nodes.node = step(cmd, self.nodes.node, map.nodes.len(), page);
            self.nodes.tenant = 0;
            self.nodes.offset.set(0);
        }
    }

    /// Asks where to move the selected tenant, in `mode`: every active worker that takes
    /// data and does not hold it, the emptiest chosen first.
    fn ask_move(&mut self, mode: crate::citus::ops::TransferMode) {
        if self.jobs.of_kind(super::JobKind::Move).is_some() {
            self.flash("a move is already running".into(), true);
            return;
        }
        let Some(map) = self.nodes.map.ready() else {
            self.flash("the node map is not loaded".into(), true);
            return;
        };
        let Some(tenant) = self.nodes.selected_tenant() else {
            self.flash("no tenant selected: Tab to a node's tenants".into(), true);
            return;
        };
        let from = tenant.group_id.unwrap_or(0);
        let mut first_refusal = None;
        let targets: Vec<crate::tui::dialog::move_target::Target> = map
            .nodes
            .iter()
            .filter(|n| n.group_id != from && n.active)
            .filter(|n| n.role == crate::citus::nodes::NodeRole::Worker && n.should_have_shards)
            .filter_map(|n| {
                match crate::citus::ops::plan_move(&self.names, map, &tenant.tenant, &n.addr, mode)
                {
                    Ok(plan) => Some(MoveTargetDialog::target(n, plan)),
                    Err(e) => {
                        first_refusal.get_or_insert(e.to_string());
                        None
                    }
                }
            })
            .collect();
        if targets.is_empty() {
            let why = first_refusal.unwrap_or_else(|| "no other active worker to move to".into());
            self.flash(why, true);
            return;
        }
        let emptiest = map.emptiest_other(from).map(|n| n.addr.clone());
        self.dialog = Some(Dialog::MoveTarget(MoveTargetDialog::new(
            targets,
            emptiest.as_ref(),
        )));
    }
}

fn step(cmd: CommandId, cur: usize, len: usize, page: usize) -> usize {
    let last = len.saturating_sub(1);
    match cmd {
        CommandId::Up => cur.saturating_sub(1),
        CommandId::Down => (cur + 1).min(last),
        CommandId::PageUp => cur.saturating_sub(page),
        CommandId::PageDown => (cur + page).min(last),
        CommandId::Top => 0,
        CommandId::Bottom => last,
        _ => cur,
    }
}
