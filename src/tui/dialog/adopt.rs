//! The adopt dialog: the tenant id (and, if known, the template version) a schema without
//! a registry row is adopted under. Its submission asks the core for the dry run, whose
//! changes the confirmation then shows.

use super::{Outcome, centered, field, open_frame};
use crate::tenant::Adoption;
use crate::tui::app::{ErrorText, Write};
use crate::tui::keymap::{CommandId, Keymap};
use crate::tui::theme::Theme;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_input::Input;

/// Field labels, in Tab order.
pub const FIELDS: [&str; 2] = ["id", "version"];

/// State of the adopt dialog.
#[derive(Debug, Clone)]
pub struct AdoptDialog {
    pub schema: String,
    pub inputs: [Input; 2],
    pub focus: usize,
    pub error: Option<ErrorText>,
    pub busy: bool,
}

impl AdoptDialog {
    /// A dialog for `schema`, the id prefilled with the schema name less the tenant prefix.
    pub fn new(schema: &str, prefix: &str) -> AdoptDialog {
        let id = schema.strip_prefix(prefix).unwrap_or_default();
        AdoptDialog {
            schema: schema.to_string(),
            inputs: [Input::new(id.to_string()), Input::default()],
            focus: 0,
            error: None,
            busy: false,
        }
    }

    /// Handles one key.
    pub fn handle(&mut self, cmd: Option<CommandId>, key: &KeyEvent) -> Outcome {
        if self.busy {
            return Outcome::Stay;
        }
        match field::handle_key(&mut self.inputs, &mut self.focus, cmd, key) {
            field::FormKey::Cancel => Outcome::Cancel,
            field::FormKey::Submit => self.submit(),
            field::FormKey::Edited => {
                self.error = None;
                Outcome::Stay
            }
            field::FormKey::Reveal | field::FormKey::Other => Outcome::Stay,
        }
    }

    fn submit(&mut self) -> Outcome {
        let id = self.inputs[0].value().trim();
        if id.is_empty() {
            self.focus = 0;
            self.error = Some(ErrorText::plain("type the tenant id to adopt it as".into()));
            return Outcome::Stay;
        }
        let text = self.inputs[1].value().trim();
        let at_version = if text.is_empty() {
            None
        } else {
            match text.parse::<i32>() {
                Ok(v) => Some(v),
                Err(_) => {
                    self.focus = 1;
                    self.error = Some(ErrorText::plain(format!(
                        "{text:?} is not a version: type a number, or leave it empty (not known)"
                    )));
                    return Outcome::Stay;
                }
            }
        };
        self.busy = true;
        self.error = None;
        Outcome::Submit(Write::Adopt {
            adoption: Adoption {
                schema: self.schema.clone(),
                id: Some(id.to_string()),
                at_version,
            },
            plan: None,
        })
    }

    /// Draws the dialog centred in `area`.
    pub fn render(
        &self,
        frame: &mut Frame,
        area: Rect,
        theme: &Theme,
        spinner: &str,
        _keys: &Keymap,
    ) {
        let rect = centered(area, 72, 8);
        let inner = open_frame(
            frame,
            rect,
            format!(" Adopt schema {} ", self.schema),
            theme,
        );
        let [about, f0, f1, hint, msg] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(inner);
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                "  bring it under management: the next step shows every change",
                theme.dim(),
            ))),
            about,
        );
        for (i, a) in [(0, f0), (1, f1)] {
            field::render(
                frame,
                a,
                FIELDS[i],
                &self.inputs[i],
                self.focus == i,
                false,
                theme,
            );
        }
        frame.render_widget(
            Paragraph::new(Span::styled(
                "  version: the template version it is at; empty: not known",
                theme.dim(),
            )),
            hint,
        );
        field::render_status(
            frame,
            msg,
            self.busy,
            "reading what would change",
            self.error.as_ref(),
            spinner,
            theme,
        );
    }
}
