//! The pin dialog: the template version to hold the selected tenant at, or empty to
//! release it (`tenant set --pin-version N` / `--unpin`).

use super::{Outcome, centered, field, open_frame};
use crate::catalog::TenantRow;
use crate::tui::app::{ErrorText, Write};
use crate::tui::keymap::{CommandId, Keymap};
use crate::tui::theme::Theme;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_input::Input;

/// State of the pin dialog.
#[derive(Debug, Clone)]
pub struct PinDialog {
    pub id: String,
    /// The tenant's version now (0: not known).
    pub version: i32,
    pub pinned: Option<i32>,
    /// The template's newest version.
    pub latest: i32,
    pub inputs: [Input; 1],
    pub focus: usize,
    pub error: Option<ErrorText>,
    pub busy: bool,
}

impl PinDialog {
    /// A dialog prefilled with `row`'s pin (or its version, the usual thing to hold it at).
    pub fn new(row: &TenantRow, latest: i32) -> PinDialog {
        let start = row
            .pinned_version
            .or((row.template_version > 0).then_some(row.template_version));
        PinDialog {
            id: row.id.clone(),
            version: row.template_version,
            pinned: row.pinned_version,
            latest,
            inputs: [Input::new(start.map(|v| v.to_string()).unwrap_or_default())],
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
        let text = self.inputs[0].value().trim();
        let pin = if text.is_empty() {
            None
        } else {
            match text.parse::<i32>() {
                Ok(v) if v >= 1 => Some(v),
                _ => {
                    self.error = Some(ErrorText::plain(format!(
                        "{text:?} is not a version: type a number from 1, or leave it empty to unpin"
                    )));
                    return Outcome::Stay;
                }
            }
        };
        if pin == self.pinned {
            self.error = Some(ErrorText::plain("nothing to change".into()));
            return Outcome::Stay;
        }
        self.busy = true;
        self.error = None;
        Outcome::Submit(Write::Pin {
            id: self.id.clone(),
            pin,
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
        let rect = centered(area, 64, 7);
        let inner = open_frame(frame, rect, format!(" Pin tenant {} ", self.id), theme);
        let [now, f0, hint, msg] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(inner);
        let at = match self.version {
            0 => "not known".to_string(),
            v => format!("v{v}"),
        };
        let pinned = self
            .pinned
            .map_or("not pinned".to_string(), |p| format!("pinned at {p}"));
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled("  at ", theme.dim()),
                Span::raw(format!("{at}, {pinned}; template newest v{}", self.latest)),
            ])),
            now,
        );
        field::render(
            frame,
            f0,
            "version",
            &self.inputs[0],
            self.focus == 0,
            false,
            theme,
        );
        frame.render_widget(
            Paragraph::new(Span::styled(
                "  migrate takes it no further; empty: unpin",
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
