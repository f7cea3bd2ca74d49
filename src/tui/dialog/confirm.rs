//! The one confirmation dialog every destructive or wide-reaching action goes through.

use super::{Outcome, centered};
use crate::tui::app::{ErrorText, Write};
use crate::tui::keymap::{CommandId, Keymap};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

/// State of the confirmation dialog.
#[derive(Debug, Clone)]
pub struct ConfirmDialog {
    pub pending: Write,
    pub error: Option<ErrorText>,
    pub busy: bool,
}

impl ConfirmDialog {
    /// Asks about `pending`.
    pub fn new(pending: Write) -> ConfirmDialog {
        ConfirmDialog {
            pending,
            error: None,
            busy: false,
        }
    }

    /// Handles one key: only confirm and cancel mean anything here.
    pub fn handle(&mut self, cmd: Option<CommandId>) -> Outcome {
        if self.busy {
            return Outcome::Stay;
        }
        match cmd {
            Some(CommandId::Cancel) => Outcome::Cancel,
            Some(CommandId::Confirm) => {
                self.busy = true;
                self.error = None;
                Outcome::Submit(self.pending.clone())
            }
            _ => Outcome::Stay,
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
        let (title, body) = self.pending.describe();
        // Tall enough for what it asks about (a fix's SQL can run to several lines); the
        // area clips what a tiny terminal cannot show.
        let height = (body.len() as u16).saturating_add(5).max(9);
        let rect = centered(area, 72, height);
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
                Span::styled(keys.keys_text(CommandId::Confirm), theme.key()),
                Span::raw(" yes   "),
                Span::styled(keys.keys_text(CommandId::Cancel), theme.key()),
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
