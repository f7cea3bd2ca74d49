//! The edit dialog: a tenant's name, config keys to set and keys to unset.

use super::{Outcome, centered, field, open_frame, parse_pairs, shown_value};
use crate::catalog::TenantRow;
use crate::tenant::TenantChange;
use crate::tui::app::{ErrorText, Write};
use crate::tui::keymap::{CommandId, Keymap};
use crate::tui::theme::Theme;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use tui_input::Input;

/// Field labels, in Tab order.
pub const FIELDS: [&str; 3] = ["name", "set", "unset"];

/// State of the edit dialog.
#[derive(Debug, Clone)]
pub struct EditDialog {
    pub id: String,
    pub original_name: String,
    /// The current config as `key=value`, secrets masked.
    pub config_shown: String,
    pub inputs: [Input; 3],
    pub focus: usize,
    pub error: Option<ErrorText>,
    pub busy: bool,
    /// Secret-looking config values shown as typed (else masked).
    pub reveal: bool,
}

impl EditDialog {
    /// A dialog prefilled from `row`.
    pub fn new(row: &TenantRow) -> EditDialog {
        let config_shown = match &row.config {
            serde_json::Value::Object(map) if !map.is_empty() => map
                .iter()
                .map(|(k, v)| format!("{k}={}", shown_value(k, v)))
                .collect::<Vec<_>>()
                .join(" "),
            _ => "(empty)".into(),
        };
        EditDialog {
            id: row.id.clone(),
            original_name: row.name.clone(),
            config_shown,
            inputs: [
                Input::new(row.name.clone()),
                Input::default(),
                Input::default(),
            ],
            focus: 0,
            error: None,
            busy: false,
            reveal: false,
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
            field::FormKey::Reveal => {
                self.reveal = !self.reveal;
                Outcome::Stay
            }
            field::FormKey::Other => Outcome::Stay,
        }
    }

    fn submit(&mut self) -> Outcome {
        let set = match parse_pairs(self.inputs[1].value()) {
            Ok(s) => s,
            Err(e) => {
                self.focus = 1;
                self.error = Some(ErrorText::plain(e));
                return Outcome::Stay;
            }
        };
        let name = self.inputs[0].value().trim().to_string();
        let change = TenantChange {
            name: (name != self.original_name).then_some(name),
            set,
            unset: self.inputs[2]
                .value()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        };
        if change == TenantChange::default() {
            self.error = Some(ErrorText::plain("nothing to change".into()));
            return Outcome::Stay;
        }
        self.busy = true;
        self.error = None;
        Outcome::Submit(Write::Set {
            id: self.id.clone(),
            change,
        })
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
        let rect = centered(area, 72, 11);
        let inner = open_frame(frame, rect, format!(" Edit tenant {} ", self.id), theme);
        let [current, f0, f1, f2, hint, msg] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(inner);
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled("  config: ", theme.dim()),
                Span::raw(self.config_shown.as_str()),
            ]))
            .wrap(Wrap { trim: false }),
            current,
        );
        for (i, a) in [(0, f0), (1, f1), (2, f2)] {
            let mask = i == 1 && !self.reveal;
            field::render(
                frame,
                a,
                FIELDS[i],
                &self.inputs[i],
                self.focus == i,
                mask,
                theme,
            );
        }
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!(
                    "  set: KEY=VALUE … (\"quote spaces\")  unset: KEY …  {} secrets",
                    keys.keys_text(CommandId::Reveal)
                ),
                theme.dim(),
            )),
            hint,
        );
        field::render_status(
            frame,
            msg,
            self.busy,
            "saving",
            self.error.as_ref(),
            spinner,
            theme,
        );
    }
}
