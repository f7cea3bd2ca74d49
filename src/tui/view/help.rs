//! The `?` overlay, generated from the keymap table (write keys hidden when read-only).

use crate::tui::app::App;
use crate::tui::dialog::centered;
use crate::tui::keymap;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// Draws the overlay over `area`, in as many columns as the height needs.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let mut lines: Vec<Line> = Vec::new();
    for (ctx, bindings) in keymap::help(app.read_only) {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::from(Span::styled(ctx.title(), t.title())));
        for b in bindings {
            lines.push(Line::from(vec![
                Span::styled(format!(" {:<7}", b.keys_text), t.key()),
                Span::raw(b.help),
            ]));
        }
    }
    let rect = centered(area, area.width.saturating_sub(4).max(1), area.height);
    frame.render_widget(Clear, rect);
    let title = if app.read_only {
        " Keys (read-only: write keys hidden) "
    } else {
        " Keys "
    };
    let block = Block::bordered()
        .title(Span::styled(title, t.title()))
        .border_style(t.focus_border());
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let h = inner.height.max(1) as usize;
    let columns = lines.len().div_ceil(h).max(1);
    let col_w = (inner.width as usize / columns).saturating_sub(1);
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|l| {
            // Cut each entry to its column so neighbours never overlap.
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            if text.chars().count() <= col_w {
                l
            } else {
                let style = l.spans.first().map(|s| s.style).unwrap_or_default();
                Line::from(Span::styled(crate::units::fit(&text, col_w), style))
            }
        })
        .collect();
    let areas =
        Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns]).split(inner);
    for (i, chunk) in lines.chunks(h).enumerate() {
        if let Some(a) = areas.get(i) {
            frame.render_widget(Paragraph::new(chunk.to_vec()), *a);
        }
    }
}
