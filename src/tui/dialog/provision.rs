//! The new-tenant dialog: id (validated as you type, with the rule shown), name, config.

use super::{Outcome, centered, field, open_frame, parse_pairs};
use crate::names::NamingPolicy;
use crate::tenant::NewTenant;
use crate::tui::app::{ErrorText, Write};
use crate::tui::keymap::{CommandId, Keymap};
use crate::tui::theme::Theme;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Paragraph, Wrap};
use tui_input::Input;

/// Field labels, in Tab order.
pub const FIELDS: [&str; 3] = ["id", "name", "config"];

/// State of the new-tenant dialog.
#[derive(Debug, Clone)]
pub struct ProvisionDialog {
    pub inputs: [Input; 3],
    pub focus: usize,
    /// The id check: `Ok(derived names)` or `Err(the rule it breaks)`.
    pub check: Result<String, String>,
    /// The core's error from the last submit; input is kept so it can be fixed.
    pub error: Option<ErrorText>,
    pub busy: bool,
    /// Secret-looking config values shown as typed (else masked).
    pub reveal: bool,
}

impl ProvisionDialog {
    /// An empty dialog; the id rule is shown from the start.
    pub fn new(names: &NamingPolicy) -> ProvisionDialog {
        let mut d = ProvisionDialog {
            inputs: Default::default(),
            focus: 0,
            check: Ok(String::new()),
            error: None,
            busy: false,
            reveal: false,
        };
        d.revalidate(names);
        d
    }

    fn revalidate(&mut self, names: &NamingPolicy) {
        self.check = match names.tenant_id(self.inputs[0].value()) {
            Ok(id) => Ok(format!(
                "schema {}, role {}",
                names.schema_of(&id),
                names.readonly_role_of(&id)
            )),
            Err(e) => Err(e.to_string()),
        };
    }

    /// Handles one key.
    pub fn handle(
        &mut self,
        cmd: Option<CommandId>,
        key: &KeyEvent,
        names: &NamingPolicy,
    ) -> Outcome {
        if self.busy {
            return Outcome::Stay;
        }
        match field::handle_key(&mut self.inputs, &mut self.focus, cmd, key) {
            field::FormKey::Cancel => Outcome::Cancel,
            field::FormKey::Submit => self.submit(),
            field::FormKey::Edited => {
                if self.focus == 0 {
                    self.revalidate(names);
                }
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
        if let Err(rule) = &self.check {
            self.focus = 0;
            self.error = Some(ErrorText::plain(rule.clone()));
            return Outcome::Stay;
        }
        let config = match parse_pairs(self.inputs[2].value()) {
            Ok(c) => c,
            Err(e) => {
                self.focus = 2;
                self.error = Some(ErrorText::plain(e));
                return Outcome::Stay;
            }
        };
        let name = self.inputs[1].value().trim();
        self.busy = true;
        self.error = None;
        Outcome::Submit(Write::Create(NewTenant {
            id: self.inputs[0].value().to_string(),
            name: (!name.is_empty()).then(|| name.to_string()),
            config,
        }))
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
        let rect = centered(area, 72, 12);
        let inner = open_frame(frame, rect, " New tenant ".into(), theme);
        let [f0, check, f1, f2, hint, msg] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(2),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(inner);
        for (i, a) in [(0, f0), (1, f1), (2, f2)] {
            let mask = i == 2 && !self.reveal;
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
        // The mark sits in its own column so that a rule long enough to wrap continues
        // under its first word, not at the dialog's border.
        let (mark, text, style) = match &self.check {
            Ok(derived) => ("  ✓ ", derived, theme.good()),
            Err(rule) => ("  ✗ ", rule, theme.warn()),
        };
        let [mark_area, text_area] =
            Layout::horizontal([Constraint::Length(4), Constraint::Min(0)]).areas(check);
        frame.render_widget(Paragraph::new(Span::styled(mark, style)), mark_area);
        frame.render_widget(
            Paragraph::new(Span::styled(text.as_str(), style)).wrap(Wrap { trim: false }),
            text_area,
        );
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!(
                    "  config: KEY=VALUE … (\"quote spaces\"; {} shows secrets)",
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
            "provisioning",
            self.error.as_ref(),
            spinner,
            theme,
        );
    }
}
