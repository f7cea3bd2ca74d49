//! Keys by context: help, the palette, dialogs, the filter line, and the main screens.

use super::{App, DETAIL_DEBOUNCE, Effect, Screen, SortKey};
use crate::catalog::TenantStatus;
use crate::tui::dialog::{ConfirmDialog, Dialog, Pending};
use crate::tui::keymap::{self, Command, Context};
use crossterm::event::{Event, KeyEvent};
use tui_input::backend::crossterm::EventHandler;

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let ctx = self.context();
        let cmd = keymap::lookup(ctx, &key);
        if cmd == Some(Command::Quit) {
            self.quit = true;
            return Vec::new();
        }
        match ctx {
            Context::Help => {
                if matches!(cmd, Some(Command::Cancel | Command::Help)) {
                    self.help = false;
                }
                Vec::new()
            }
            Context::Palette => self.on_palette_key(cmd, key),
            Context::Dialog | Context::Confirm => self.on_dialog_key(cmd, key),
            Context::Filter => {
                match cmd {
                    Some(Command::Submit) => self.filtering = false,
                    Some(Command::Cancel) => {
                        self.filtering = false;
                        self.filter.reset();
                        self.refilter();
                        return self.ensure_detail();
                    }
                    _ => {
                        if self.filter.handle_event(&Event::Key(key)).is_some() {
                            self.refilter();
                            self.detail_due = Some(self.now + DETAIL_DEBOUNCE);
                        }
                    }
                }
                Vec::new()
            }
            Context::Tenants | Context::Detail | Context::Activity => match cmd {
                Some(c) => self.run(c),
                None => Vec::new(),
            },
        }
    }

    fn on_palette_key(&mut self, cmd: Option<Command>, key: KeyEvent) -> Vec<Effect> {
        let Some(p) = self.palette.as_mut() else {
            return Vec::new();
        };
        match cmd {
            Some(Command::Cancel) => {
                self.palette = None;
                Vec::new()
            }
            Some(Command::Complete) => {
                p.complete();
                p.error = None;
                Vec::new()
            }
            Some(Command::Submit) => match p.chosen() {
                Some(chosen) => {
                    self.palette = None;
                    self.run_palette(chosen)
                }
                None => {
                    p.error = Some(format!(
                        "unknown or ambiguous command {:?}; Tab completes",
                        p.input.value()
                    ));
                    Vec::new()
                }
            },
            _ => {
                p.error = None;
                p.input.handle_event(&Event::Key(key));
                Vec::new()
            }
        }
    }

    fn run_palette(&mut self, command: &str) -> Vec<Effect> {
        let sort = |k| {
            move |app: &mut App| {
                app.sort = k;
                app.refresh_view();
                Vec::new()
            }
        };
        match command {
            "tenants" => self.go(Screen::Tenants),
            "activity" => self.run(Command::Activity),
            "audit" => self.go(Screen::Audit),
            "backups" => self.go(Screen::Backups),
            "new" => self.run(Command::New),
            "edit" => self.run(Command::Edit),
            "suspend" | "resume" => {
                if self.refuse_write(command) {
                    return Vec::new();
                }
                let to = if command == "suspend" {
                    TenantStatus::Suspended
                } else {
                    TenantStatus::Active
                };
                self.suspend_resume(Some(to))
            }
            "migrate" => self.run(Command::Migrate),
            "migrate all" => {
                if self.refuse_write("migrate all") {
                    return Vec::new();
                }
                self.dialog = Some(Dialog::Confirm(ConfirmDialog::new(Pending::Migrate(None))));
                Vec::new()
            }
            "sort id" => sort(SortKey::Id)(self),
            "sort name" => sort(SortKey::Name)(self),
            "sort size" => sort(SortKey::Size)(self),
            "sort status" => sort(SortKey::Status)(self),
            "refresh" => self.run(Command::Refresh),
            "help" => self.run(Command::Help),
            "quit" => self.run(Command::Quit),
            _ => Vec::new(),
        }
    }
}
