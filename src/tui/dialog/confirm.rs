//! The one confirmation dialog every destructive or wide-reaching action goes through.

use super::{Outcome, centered};
use crate::tui::app::{Effect, ErrorText};
use crate::tui::keymap::Command;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

/// The action waiting for a yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Suspend(String),
    Resume(String),
    /// `None`: every tenant.
    Migrate(Option<Vec<String>>),
}

impl Pending {
    /// The job to start once confirmed.
    pub fn effect(&self) -> Effect {
        match self {
            Pending::Suspend(id) => Effect::Suspend(id.clone()),
            Pending::Resume(id) => Effect::Resume(id.clone()),
            Pending::Migrate(ids) => Effect::Migrate(ids.clone()),
        }
    }

    /// Title and explanation.
    fn describe(&self) -> (String, Vec<String>) {
        match self {
            Pending::Suspend(id) => (
                format!("Suspend tenant {id}?"),
                vec![
                    "The service role loses USAGE on its schema: the application".into(),
                    "can no longer reach this tenant's data until it is resumed.".into(),
                ],
            ),
            Pending::Resume(id) => (
                format!("Resume tenant {id}?"),
                vec!["The service role gets USAGE on its schema back.".into()],
            ),
            Pending::Migrate(Some(ids)) => (
                format!("Migrate {}?", ids.join(", ")),
                vec!["Applies the newest template version; each tenant is all-or-nothing.".into()],
            ),
            Pending::Migrate(None) => (
                "Migrate every tenant?".into(),
                vec![
                    "Applies the newest template version to every tenant, one by one;".into(),
                    "each is all-or-nothing. Esc cancels between tenants.".into(),
                ],
            ),
        }
    }
}

/// State of the confirmation dialog.
#[derive(Debug, Clone)]
pub struct ConfirmDialog {
    pub pending: Pending,
    pub error: Option<ErrorText>,
    pub busy: bool,
}

impl ConfirmDialog {
    /// Asks about `pending`.
    pub fn new(pending: Pending) -> ConfirmDialog {
        ConfirmDialog {
            pending,
            error: None,
            busy: false,
        }
    }

    /// Handles one key: only confirm and cancel mean anything here.
    pub fn handle(&mut self, cmd: Option<Command>) -> Outcome {
        if self.busy {
            return Outcome::Stay;
        }
        match cmd {
            Some(Command::Cancel) => Outcome::Cancel,
            Some(Command::Confirm) => {
                self.busy = true;
                self.error = None;
                Outcome::Submit(self.pending.effect())
            }
            _ => Outcome::Stay,
        }
    }

    /// Draws the dialog centred in `area`.
    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, spinner: &str) {
        let (title, body) = self.pending.describe();
        let rect = centered(area, 72, 9);
        frame.render_widget(Clear, rect);
        let block = Block::bordered()
            .title(Span::styled(format!(" ! {title} "), theme.title()))
            .border_style(theme.focus_border());
        let mut lines: Vec<Line> = body.into_iter().map(Line::from).collect();
        lines.push(Line::default());
        if self.busy {
            lines.push(Line::from(format!("{spinner} working…")));
        } else if let Some(e) = &self.error {
            lines.push(e.line(theme));
        } else {
            lines.push(Line::from(vec![
                Span::styled("⏎/y", theme.key()),
                Span::raw(" yes   "),
                Span::styled("Esc/n", theme.key()),
                Span::raw(" no"),
            ]));
        }
        frame.render_widget(
            Paragraph::new(lines)
                .block(block)
                .wrap(Wrap { trim: false }),
            rect,
        );
    }
}
