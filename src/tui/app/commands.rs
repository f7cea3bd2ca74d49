//! Commands of the main screens (tenants, detail, activity), with the read-only guard.

use super::{App, Effect, JobKind, Load, Measure, Pane, Screen};
use crate::catalog::TenantStatus;
use crate::tui::dialog::{ConfirmDialog, Dialog, EditDialog, Palette, Pending, ProvisionDialog};
use crate::tui::keymap::{self, Command};

impl App {
    pub(super) fn go(&mut self, screen: Screen) -> Vec<Effect> {
        self.screen = screen;
        Vec::new()
    }

    /// Refuses a write in a read-only console, with a message; true when refused.
    pub(super) fn refuse_write(&mut self, what: &str) -> bool {
        if self.read_only {
            self.flash(
                format!("read-only console: {what} is not allowed (started with --read-only)"),
                true,
            );
        }
        self.read_only
    }

    /// Carries out a command of the main screens.
    pub(super) fn run(&mut self, cmd: Command) -> Vec<Effect> {
        let writes = keymap::BINDINGS
            .iter()
            .any(|b| b.command == cmd && b.writes);
        if writes {
            let label = keymap::BINDINGS
                .iter()
                .find(|b| b.command == cmd)
                .map_or("that", |b| b.label);
            if self.refuse_write(label) {
                return Vec::new();
            }
        }
        let page = self.page.get().max(1);
        let on_list = self.screen == Screen::Tenants && self.focus == Pane::Tenants;
        match cmd {
            Command::Up
            | Command::Down
            | Command::PageUp
            | Command::PageDown
            | Command::Top
            | Command::Bottom => {
                // One movement, aimed at whatever has focus: the log, the list, or a pane.
                if self.screen == Screen::Activity {
                    let len = self.activity.ready().map_or(0, Vec::len);
                    let cur = self.activity_selected;
                    self.activity_selected = step(cmd, cur, len, page);
                } else if on_list {
                    let to = step(cmd, self.selected, self.visible.len(), page);
                    self.move_selection(to);
                } else {
                    let i = if self.focus == Pane::Grants { 1 } else { 0 };
                    let cur = self.pane_scroll[i] as usize;
                    self.pane_scroll[i] = step(cmd, cur, 500, page) as u16;
                }
            }
            Command::NextPane | Command::PrevPane => {
                const ORDER: [Pane; 3] = [Pane::Tenants, Pane::Schema, Pane::Grants];
                let at = ORDER.iter().position(|p| *p == self.focus).unwrap_or(0);
                let next = if cmd == Command::NextPane {
                    at + 1
                } else {
                    at + 2
                };
                self.focus = ORDER[next % 3];
                if self.screen == Screen::Detail && self.focus == Pane::Tenants {
                    self.focus = ORDER[(next + 1) % 3];
                }
            }
            Command::Open => {
                if self.selected_row().is_some() {
                    self.screen = Screen::Detail;
                    self.focus = Pane::Schema;
                    return self.ensure_detail();
                }
            }
            Command::Back => {
                if self.migrate.is_some() {
                    return vec![Effect::Cancel(JobKind::Migrate)];
                }
                if self.screen != Screen::Tenants {
                    self.screen = Screen::Tenants;
                    self.focus = Pane::Tenants;
                } else if !self.filter.value().is_empty() {
                    self.filter.reset();
                    self.refilter();
                    return self.ensure_detail();
                } else if self.sizes.is_some() {
                    self.sizes = None;
                    return vec![Effect::Cancel(JobKind::Sizes)];
                }
            }
            Command::Filter => {
                self.filtering = true;
                self.focus = Pane::Tenants;
            }
            Command::Sort => {
                self.sort = self.sort.next();
                self.refresh_view();
            }
            Command::Palette => self.palette = Some(Palette::default()),
            Command::Help => self.help = true,
            Command::New => {
                self.dialog = Some(Dialog::Provision(ProvisionDialog::new(&self.names)));
            }
            Command::Edit => match self.selected_row() {
                Some(row) if row.status != TenantStatus::Unregistered => {
                    self.dialog = Some(Dialog::Edit(EditDialog::new(row)));
                }
                Some(row) => {
                    let msg = format!("{} has no registry row to edit", row.schema);
                    self.flash(msg, true);
                }
                None => self.flash("no tenant selected".into(), true),
            },
            Command::SuspendResume => return self.suspend_resume(None),
            Command::Migrate => {
                if self.migrate.is_some() {
                    self.flash(
                        "a migration is already running (Esc cancels it)".into(),
                        true,
                    );
                    return Vec::new();
                }
                // Never widened to every tenant: that is `:migrate all`, asked for by name.
                let pending = match self.selected_row() {
                    Some(row) if row.status != TenantStatus::Unregistered => {
                        Pending::Migrate(Some(vec![row.id.clone()]))
                    }
                    _ => {
                        self.flash(
                            "no registered tenant selected; use :migrate all".into(),
                            true,
                        );
                        return Vec::new();
                    }
                };
                self.dialog = Some(Dialog::Confirm(ConfirmDialog::new(pending)));
            }
            Command::Refresh => {
                self.flash = None;
                let mut effects = self.reload();
                // Asked for: measure every size again (the detail reloads with the registry).
                self.measure = Measure::All;
                effects.push(Effect::LoadServer);
                return effects;
            }
            Command::Activity => {
                self.screen = Screen::Activity;
                self.activity = Load::Loading;
                self.activity_selected = 0;
                return vec![Effect::LoadActivity];
            }
            Command::Quit => self.quit = true,
            Command::Submit
            | Command::NextField
            | Command::PrevField
            | Command::Cancel
            | Command::Complete
            | Command::Confirm => {}
        }
        Vec::new()
    }
}

impl App {
    /// Asks to suspend or resume the selected tenant. `to` is the status asked for by
    /// name (`:suspend`, `:resume`), refused when the tenant is already there; `None`
    /// (`S`) toggles.
    pub(super) fn suspend_resume(&mut self, to: Option<TenantStatus>) -> Vec<Effect> {
        let Some(row) = self.selected_row() else {
            self.flash("no tenant selected".into(), true);
            return Vec::new();
        };
        let refusal = match (row.status, to) {
            (TenantStatus::Unregistered, _) => format!("{} has no registry row", row.schema),
            (TenantStatus::Active, None | Some(TenantStatus::Suspended)) => {
                let pending = Pending::Suspend(row.id.clone());
                self.dialog = Some(Dialog::Confirm(ConfirmDialog::new(pending)));
                return Vec::new();
            }
            (TenantStatus::Suspended, None | Some(TenantStatus::Active)) => {
                let pending = Pending::Resume(row.id.clone());
                self.dialog = Some(Dialog::Confirm(ConfirmDialog::new(pending)));
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

/// A list position after a movement command.
fn step(cmd: Command, cur: usize, len: usize, page: usize) -> usize {
    let last = len.saturating_sub(1);
    match cmd {
        Command::Up => cur.saturating_sub(1),
        Command::Down => (cur + 1).min(last),
        Command::PageUp => cur.saturating_sub(page),
        Command::PageDown => (cur + page).min(last),
        Command::Top => 0,
        Command::Bottom => last,
        _ => cur,
    }
}
