//! The Backups view's state (backups in the folder, kept copies in the database, per tenant
//! or overall) and the restore, drop and release commands, each asked in a dialog that
//! wants something typed, then run as a long job.

use super::{App, Effect, ErrorText, Load, Screen, Write};
use crate::backup::{BackupEntry, KeptCopy};
use crate::catalog::TenantStatus;
use crate::tui::dialog::{Dialog, TypedDialog};
use std::cell::Cell;

/// What the Backups view reads: manifests in the folder, kept copies in the database.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BackupsData {
    pub entries: Vec<BackupEntry>,
    pub kept: Vec<KeptCopy>,
}

/// The Backups view.
#[derive(Debug, Default)]
pub struct BackupsView {
    pub data: Load<BackupsData>,
    /// Only this tenant's backups and kept copies; `None`: every tenant's.
    pub tenant: Option<String>,
    pub selected: usize,
    /// First visible row (adjusted while drawing).
    pub offset: Cell<usize>,
}

/// One selectable row of the view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BackupRow<'a> {
    Backup(&'a BackupEntry),
    Kept(&'a KeptCopy),
}

impl BackupsView {
    /// The rows shown, backups (newest first) then kept copies.
    pub fn rows(&self) -> Vec<BackupRow<'_>> {
        let Load::Ready(d) = &self.data else {
            return Vec::new();
        };
        let mine = |t: Option<&str>| self.tenant.as_deref().is_none_or(|want| t == Some(want));
        d.entries
            .iter()
            .filter(|e| mine(Some(e.tenant.as_str())))
            .map(BackupRow::Backup)
            .chain(
                d.kept
                    .iter()
                    .filter(|k| mine(k.tenant.as_deref()))
                    .map(BackupRow::Kept),
            )
            .collect()
    }

    /// The selected row.
    pub fn selected_row(&self) -> Option<BackupRow<'_>> {
        self.rows().get(self.selected).copied()
    }
}

impl App {
    /// Opens the Backups view (the selected tenant's), or toggles it between the tenant's
    /// and every tenant's when it is already open; reads it afresh.
    pub(super) fn open_backups(&mut self) -> Vec<Effect> {
        if self.screen == Screen::Backups {
            self.backups_view.tenant = match self.backups_view.tenant {
                Some(_) => None,
                None => self.selected_row().map(|r| r.id.clone()),
            };
        } else {
            self.screen = Screen::Backups;
            self.backups_view.tenant = self.selected_row().map(|r| r.id.clone());
        }
        self.backups_view.selected = 0;
        self.backups_view.data = Load::Loading;
        vec![Effect::LoadBackups(self.backups.clone())]
    }

    pub(super) fn on_backups(&mut self, r: Result<BackupsData, ErrorText>) -> Vec<Effect> {
        match r {
            Ok(d) => {
                self.backups_view.data = Load::Ready(d);
                let n = self.backups_view.rows().len();
                self.backups_view.selected = self.backups_view.selected.min(n.saturating_sub(1));
                Vec::new()
            }
            Err(e) => {
                self.backups_view.data = Load::Failed(e.clone());
                if e.connection {
                    self.fail(e)
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// `r`: asks how to restore the selected backup.
    pub(super) fn ask_restore(&mut self) {
        let registered = |app: &App, id: &str| {
            app.list
                .by_id
                .get(id)
                .and_then(|&i| app.list.rows.get(i))
                .is_some_and(|r| r.status != TenantStatus::Unregistered)
        };
        match self.backups_view.selected_row() {
            Some(BackupRow::Backup(e)) if !e.verifiable => {
                let why = e.problem.clone().unwrap_or_default();
                self.flash(format!("that backup cannot be verified ({why})"), true);
            }
            Some(BackupRow::Backup(e)) => {
                let d = TypedDialog::restore(
                    e.tenant.clone(),
                    e.path.clone(),
                    registered(self, &e.tenant),
                );
                self.dialog = Some(Dialog::Typed(d));
            }
            Some(BackupRow::Kept(_)) => {
                self.flash("a kept copy is not a backup: select a backup".into(), true)
            }
            None => self.flash("no backup selected".into(), true),
        }
    }

    /// `x`: asks to drop the selected kept copy.
    pub(super) fn ask_release(&mut self) {
        match self.backups_view.selected_row() {
            Some(BackupRow::Kept(k)) => {
                let d = TypedDialog::release(k.name.clone(), k.tenant.clone());
                self.dialog = Some(Dialog::Typed(d));
            }
            _ => self.flash("select a kept copy to release".into(), true),
        }
    }

    /// `X`: asks to drop the selected tenant.
    pub(super) fn ask_drop(&mut self) {
        match self.selected_row() {
            Some(row) if row.status != TenantStatus::Unregistered => {
                let d = TypedDialog::drop(row.id.clone());
                self.dialog = Some(Dialog::Typed(d));
            }
            _ => self.flash("no registered tenant selected to drop".into(), true),
        }
    }

    /// Starts a restore, drop or release behind a progress line (the read-only gate was passed).
    pub(super) fn start_backup_write(&mut self, write: Write) -> Vec<Effect> {
        self.dialog = None;
        let settings = self.backups.clone();
        let job = match (write, settings) {
            (Write::Release(name), _) => super::LongJob::Release(vec![name]),
            (Write::Restore { id, backup, as_id }, Some(settings)) => super::LongJob::Restore {
                req: crate::backup::RestoreRequest {
                    id,
                    backup,
                    as_id,
                    registry_from_backup: false,
                },
                settings,
            },
            (Write::Drop(id), Some(settings)) => super::LongJob::Drop { id, settings },
            (_, None) => {
                self.flash(
                    "no backup folder: set backup_dir in the config or TENANTCTL_BACKUP_DIR".into(),
                    true,
                );
                return Vec::new();
            }
            (other, _) => return vec![Effect::Write(other)],
        };
        if self.jobs.of_kind(job.kind()).is_some() {
            self.flash(format!("{} is already running", job.kind().label()), true);
            return Vec::new();
        }
        let total = match &job {
            super::LongJob::Restore { .. } => 6,
            super::LongJob::Drop { .. } => 3,
            _ => 1,
        };
        self.start_job(job, total)
    }
}
