//! Dialogs: keys while one is open, what its submission starts, and the answer to a write.

use super::{App, Effect, ErrorText, Write};
use crate::catalog::TenantRow;
use crate::tui::dialog::{Dialog, Outcome};
use crate::tui::keymap::CommandId;
use crossterm::event::KeyEvent;

impl App {
    pub(super) fn on_dialog_key(&mut self, cmd: Option<CommandId>, key: KeyEvent) -> Vec<Effect> {
        let names = &self.names;
        let outcome = match self.dialog.as_mut() {
            Some(Dialog::Provision(d)) => d.handle(cmd, &key, names),
            Some(Dialog::Edit(d)) => d.handle(cmd, &key),
            Some(Dialog::Pin(d)) => d.handle(cmd, &key),
            Some(Dialog::Adopt(d)) => d.handle(cmd, &key),
            Some(Dialog::Confirm(d)) => d.handle(cmd),
            Some(Dialog::Typed(d)) => d.handle(cmd, &key, names),
            Some(Dialog::MoveTarget(d)) => d.handle(cmd, &key),
            None => Outcome::Stay,
        };
        match outcome {
            Outcome::Stay => Vec::new(),
            Outcome::Cancel => {
                self.dialog = None;
                Vec::new()
            }
            Outcome::Submit(write) => self.submit(write),
        }
    }

    /// The adopt dry run came back: its changes go to the confirmation, or its error to
    /// the dialog that asked.
    pub(super) fn on_adopt_plan(
        &mut self,
        adoption: crate::tenant::Adoption,
        result: Result<crate::tenant::AdoptPlan, ErrorText>,
    ) -> Vec<Effect> {
        match result {
            Ok(plan) => {
                if matches!(self.dialog, Some(Dialog::Adopt(_))) {
                    self.dialog = Some(Dialog::Confirm(crate::tui::dialog::ConfirmDialog::new(
                        Write::Adopt {
                            adoption,
                            plan: Some(plan),
                        },
                    )));
                }
                Vec::new()
            }
            Err(e) => match self.dialog.as_mut() {
                Some(d) => {
                    d.fail(e.clone());
                    if e.connection {
                        self.fail(e)
                    } else {
                        Vec::new()
                    }
                }
                None => self.fail(e),
            },
        }
    }

    pub(super) fn on_saved(
        &mut self,
        command: CommandId,
        result: Result<TenantRow, ErrorText>,
    ) -> Vec<Effect> {
        match result {
            Ok(row) => {
                self.dialog = None;
                let id = row.id.clone();
                let verb = Write::done_verb(command);
                self.flash(format!("{verb} tenant {id}"), false);
                let mut row = [row];
                self.carry_exact_sizes(&mut row);
                let [row] = row;
                match self.list.by_id.get(&id) {
                    Some(&i) => {
                        if let Some(slot) = self.list.rows.get_mut(i) {
                            *slot = row;
                        }
                    }
                    None => {
                        self.list.by_id.insert(id.clone(), self.list.rows.len());
                        self.list.rows.push(row);
                    }
                }
                self.index_rows();
                self.recount();
                self.refresh_view();
                self.select_id(Some(&id));
                self.load_detail()
            }
            Err(e) => match self.dialog.as_mut() {
                // The dialog stays open with its input, showing the core's error.
                Some(d) => {
                    d.fail(e.clone());
                    if e.connection {
                        self.fail(e)
                    } else {
                        Vec::new()
                    }
                }
                None => self.fail(e),
            },
        }
    }
}
