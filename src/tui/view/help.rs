//! The `?` overlay, generated from the command table with the keys in force (write
//! commands hidden when read-only). It covers the body only: the footer stays visible and
//! shows the keys that close it.

use crate::tui::app::App;
use crate::tui::dialog::centered;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// Draws the overlay over `area`, in as many columns as the height needs.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let mut lines: Vec<Line> = Vec::new();
    let groups = app.keymap.help(app.read_only);
    // Keys in one column as wide as the widest (palette words are long), within reason.
    let key_w = groups
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|(k, _)| k.chars().count()))
        .max()
        .unwrap_or(7)
        .clamp(7, 14);
    for (ctx, rows) in groups {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::from(Span::styled(ctx.title(), t.title())));
        for (keys, help) in rows {
            lines.push(Line::from(vec![
                Span::styled(format!(" {keys:<key_w$} "), t.key()),
                Span::raw(help),
            ]));
        }
    }
    let rect = centered(area, area.width.saturating_sub(4).max(1), area.height);
    frame.render_widget(Clear, rect);
    let close = app.keymap.keys_text(crate::tui::keymap::CommandId::Cancel);
    let title = if app.read_only {
        format!(" Keys (read-only: write keys hidden) · {close} closes ")
    } else {
        format!(" Keys · {close} closes ")
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
