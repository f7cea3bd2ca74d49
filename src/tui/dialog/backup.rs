//! The dialogs of backups: restore (beside under a new id, or in place), drop a tenant, and
//! release a kept copy. Each spells out what happens and wants something typed before it
//! runs: the new id, the tenant's id, or the word `release`.

use super::{Outcome, centered, field};
use crate::names::NamingPolicy;
use crate::tui::app::{ErrorText, Write};
use crate::tui::keymap::{CommandId, Context, Keymap};
use crate::tui::theme::Theme;
use crossterm::event::{Event, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use std::path::PathBuf;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// The word that releases a kept copy.
pub const RELEASE_WORD: &str = "release";

/// What the dialog asks about.
#[derive(Debug, Clone, PartialEq)]
pub enum BackupAsk {
    Restore {
        tenant: String,
        backup: PathBuf,
        /// The tenant exists (in place swaps it; otherwise it is re-created).
        registered: bool,
        /// Beside under a new id (else in place).
        beside: bool,
    },
    Drop(String),
    Release {
        name: String,
        tenant: Option<String>,
    },
}

/// A backup dialog with one typed line.
#[derive(Debug, Clone)]
pub struct TypedDialog {
    pub ask: BackupAsk,
    pub input: Input,
    /// Why Enter did nothing (the typed text does not match).
    pub note: Option<String>,
    pub error: Option<ErrorText>,
    pub busy: bool,
}

impl TypedDialog {
    fn new(ask: BackupAsk) -> TypedDialog {
        TypedDialog {
            ask,
            input: Input::default(),
            note: None,
            error: None,
            busy: false,
        }
    }

    /// Restore `backup` of `tenant`; starts beside when the tenant exists (the safe choice).
    pub fn restore(tenant: String, backup: PathBuf, registered: bool) -> TypedDialog {
        TypedDialog::new(BackupAsk::Restore {
            tenant,
            backup,
            registered,
            beside: registered,
        })
    }

    /// Drop tenant `id`.
    pub fn drop(id: String) -> TypedDialog {
        TypedDialog::new(BackupAsk::Drop(id))
    }

    /// Release kept copy `name`.
    pub fn release(name: String, tenant: Option<String>) -> TypedDialog {
        TypedDialog::new(BackupAsk::Release { name, tenant })
    }

    /// Handles one key: Tab switches a restore between beside and in place; Enter runs only
    /// when the typed line is what the dialog asks for.
    pub fn handle(
        &mut self,
        cmd: Option<CommandId>,
        key: &KeyEvent,
        names: &NamingPolicy,
    ) -> Outcome {
        if self.busy {
            return Outcome::Stay;
        }
        match cmd {
            Some(CommandId::Cancel) => return Outcome::Cancel,
            Some(CommandId::NextField | CommandId::PrevField) => {
                if let BackupAsk::Restore { beside, .. } = &mut self.ask {
                    *beside = !*beside;
                    self.input.reset();
                    self.note = None;
                }
                return Outcome::Stay;
            }
            Some(CommandId::Submit) => {
                let typed = self.input.value().trim().to_string();
                return match self.submitted(&typed, names) {
                    Ok(write) => {
                        self.busy = true;
                        self.note = None;
                        self.error = None;
                        Outcome::Submit(write)
                    }
                    Err(note) => {
                        self.note = Some(note);
                        Outcome::Stay
                    }
                };
            }
            _ => {}
        }
        if self.input.handle_event(&Event::Key(*key)).is_some() {
            self.note = None;
        }
        Outcome::Stay
    }

    /// The write the typed line allows, or why it does not.
    fn submitted(&self, typed: &str, names: &NamingPolicy) -> Result<Write, String> {
        match &self.ask {
            BackupAsk::Restore {
                tenant,
                backup,
                beside: true,
                ..
            } => {
                let new = names.tenant_id(typed).map_err(|e| e.to_string())?;
                Ok(Write::Restore {
                    id: tenant.clone(),
                    backup: backup.clone(),
                    as_id: Some(new.to_string()),
                })
            }
            BackupAsk::Restore { tenant, backup, .. } if typed == tenant => Ok(Write::Restore {
                id: tenant.clone(),
                backup: backup.clone(),
                as_id: None,
            }),
            BackupAsk::Drop(id) if typed == id => Ok(Write::Drop(id.clone())),
            BackupAsk::Release { name, .. } if typed == RELEASE_WORD => {
                Ok(Write::Release(name.clone()))
            }
            _ => Err(format!("type {} to go on", self.expected())),
        }
    }

    /// What must be typed, in words.
    fn expected(&self) -> String {
        match &self.ask {
            BackupAsk::Restore { beside: true, .. } => "the new tenant's id".into(),
            BackupAsk::Restore { tenant, .. } | BackupAsk::Drop(tenant) => tenant.clone(),
            BackupAsk::Release { .. } => RELEASE_WORD.into(),
        }
    }

    /// Title, consequences, and the label of the typed line.
    fn text(&self, keys: &Keymap) -> (String, Vec<String>, &'static str) {
        let tab = keys.keys_text_in(CommandId::NextField, Context::Dialog);
        match &self.ask {
            BackupAsk::Restore {
                tenant,
                backup,
                registered,
                beside,
            } => {
                let file = backup.file_name().map_or_else(
                    || backup.display().to_string(),
                    |f| f.to_string_lossy().into_owned(),
                );
                let mut body = vec![format!("Backup: {file}"), String::new()];
                if *beside {
                    body.extend([
                        "Beside: the backup becomes a NEW tenant with its own schema,".to_string(),
                        "read-only role and registry row (pin included). Tenant".to_string(),
                        format!("{tenant} is not renamed, locked or changed at any moment."),
                        format!("{tab}: restore in place instead."),
                    ]);
                    (format!("Restore {tenant}'s backup beside"), body, "new id")
                } else if *registered {
                    body.extend([
                        format!("In place: {tenant}'s current contents are swapped out in one"),
                        "transaction and KEPT (closed to every application role) until".to_string(),
                        "released. The tenant holds its current data or the backup's,".to_string(),
                        "never a mix. Template version and pin come from the backup;".to_string(),
                        "name, status and config stay.".to_string(),
                        format!("Type {tenant} to confirm.   {tab}: beside instead."),
                    ]);
                    (format!("Restore {tenant} IN PLACE"), body, "type id")
                } else {
                    body.extend([
                        format!("Tenant {tenant} does not exist (dropped): it is re-created"),
                        "from the backup, with its registry row and pin.".to_string(),
                        format!("Type {tenant} to confirm.   {tab}: beside instead."),
                    ]);
                    (format!("Re-create {tenant}"), body, "type id")
                }
            }
            BackupAsk::Drop(id) => (
                format!("Drop tenant {id}"),
                vec![
                    format!("{id} is dumped and the dump verified first; then its schema,"),
                    "read-only role and registry row are dropped in one transaction.".into(),
                    "The backup stays listed: restoring it brings the tenant back.".into(),
                    format!("Type {id} to confirm."),
                ],
                "type id",
            ),
            BackupAsk::Release { name, tenant } => (
                format!("Release kept copy {name}"),
                vec![
                    format!(
                        "The previous contents of {} kept by an in-place restore are",
                        tenant.as_deref().unwrap_or("a tenant")
                    ),
                    "dropped for good. A kept copy is not a backup: nothing brings".into(),
                    "it back.".into(),
                    format!("Type {RELEASE_WORD} to confirm."),
                ],
                "confirm",
            ),
        }
    }

    /// Draws the dialog centred in `area`.
    pub fn render(
        &self,
        frame: &mut Frame,
        area: Rect,
        theme: &Theme,
        spinner: &str,
        keys: &Keymap,
    ) {
        let (title, body, label) = self.text(keys);
        let height = (body.len() as u16).saturating_add(6);
        let rect = centered(area, 74, height);
        frame.render_widget(Clear, rect);
        let block = Block::bordered()
            .title(Span::styled(format!(" ! {title} "), theme.title()))
            .border_style(theme.focus_border());
        let inner = block.inner(rect);
        frame.render_widget(block, rect);
        let [text, _, input, status] = Layout::vertical([
            Constraint::Length(body.len() as u16),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(inner);
        let lines: Vec<Line> = body.into_iter().map(Line::from).collect();
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text);
        field::render(frame, input, label, &self.input, !self.busy, false, theme);
        let line = if self.busy {
            Line::from(format!("{spinner} working…"))
        } else if let Some(e) = &self.error {
            e.line(theme)
        } else if let Some(n) = &self.note {
            Line::from(Span::styled(n.clone(), theme.bad()))
        } else {
            Line::from(vec![
                Span::styled(
                    keys.keys_text_in(CommandId::Submit, Context::Dialog),
                    theme.key(),
                ),
                Span::raw(" go   "),
                Span::styled(
                    keys.keys_text_in(CommandId::Cancel, Context::Dialog),
                    theme.key(),
                ),
                Span::raw(" cancel"),
            ])
        };
        frame.render_widget(Paragraph::new(line), status);
    }
}
