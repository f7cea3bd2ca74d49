//! The `?` overlay, generated from the command table with the keys in force (write
//! commands hidden when read-only). It covers the body only: the footer stays visible and
//! shows the keys that close it.

use crate::tui::app::App;
use crate::tui::dialog::centered;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// One line of the overlay before it is laid out in columns.
enum Entry {
    Title(&'static str),
    Blank,
    Row(String, &'static str),
}

/// Draws the overlay over `area`, in as many columns as the height needs and the width
/// keeps readable (scrolling past that); each column's keys are as wide as its widest
/// (palette words are long), within reason.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let mut entries: Vec<Entry> = Vec::new();
    for (ctx, rows) in app.keymap.help(app.read_only) {
        if !entries.is_empty() {
            entries.push(Entry::Blank);
        }
        entries.push(Entry::Title(ctx.title()));
        entries.extend(rows.into_iter().map(|(keys, help)| Entry::Row(keys, help)));
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
    // Columns narrower than this cut the descriptions to a few letters; past it the
    // overlay scrolls instead (the move keys), and its title says so.
    const MIN_COLUMN: usize = 36;
    let fit = (inner.width as usize / MIN_COLUMN).max(1);
    let columns = entries.len().div_ceil(h).clamp(1, fit);
    let max_scroll = entries.len().saturating_sub(columns * h);
    app.help_scroll_max.set(max_scroll);
    let from = app.help_scroll.min(max_scroll);
    let entries = &entries[from..];
    if max_scroll > 0 {
        let more = match (from > 0, from < max_scroll) {
            (true, true) => " ↑↓ more ",
            (true, false) => " ↑ more ",
            _ => " ↓ more ",
        };
        let bottom = Line::from(Span::styled(more, t.title())).right_aligned();
        frame.render_widget(
            Paragraph::new(bottom),
            Rect {
                y: rect.y + rect.height.saturating_sub(1),
                height: 1.min(rect.height),
                ..rect
            },
        );
    }
    let col_w = (inner.width as usize / columns).saturating_sub(1);
    let areas =
        Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns]).split(inner);
    for (i, chunk) in entries.chunks(h).enumerate() {
        let Some(a) = areas.get(i) else { continue };
        let key_w = chunk
            .iter()
            .filter_map(|e| match e {
                Entry::Row(k, _) => Some(k.chars().count()),
                _ => None,
            })
            .max()
            .unwrap_or(5)
            .clamp(5, 14);
        let lines: Vec<Line> = chunk
            .iter()
            .map(|e| match e {
                Entry::Title(title) => Line::from(Span::styled(*title, t.title())),
                Entry::Blank => Line::default(),
                Entry::Row(keys, help) => {
                    // Cut each entry to its column so neighbours never overlap.
                    let keys = format!(" {keys:<key_w$} ");
                    let room = col_w.saturating_sub(keys.chars().count());
                    Line::from(vec![
                        Span::styled(crate::units::fit(&keys, col_w), t.key()),
                        Span::raw(crate::units::fit(help, room)),
                    ])
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), *a);
    }
}
