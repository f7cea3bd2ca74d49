//! Views whose core is not built yet (Audit, Backups): a frame that says so.

use super::pane_block;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Paragraph, Wrap};

/// Draws a placeholder for the `name` view; `command` is its command-line counterpart.
pub fn render(frame: &mut Frame, area: Rect, app: &App, name: &str, command: &str) {
    let block = pane_block(app, name.to_string(), true);
    let text = format!(
        "The {name} view is not in this build of the console yet; {command} will cover it. Esc returns to the tenants."
    );
    frame.render_widget(
        Paragraph::new(Span::styled(text, app.theme.dim()))
            .block(block)
            .wrap(Wrap { trim: true }),
        area,
    );
}
