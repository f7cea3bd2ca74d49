//! The footer: a status line (filter, progress, messages) and the keys that work here,
//! generated from the keymap table.

use crate::tui::app::{App, Progress};
use crate::tui::keymap::{self, Command};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the status line and the key line.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let status = if app.filtering {
        Line::from(vec![
            Span::styled(" /", t.key()),
            Span::raw(app.filter.value().to_string()),
            Span::styled("▏", t.key()),
            Span::styled(format!("  {} match", app.visible.len()), t.dim()),
        ])
    } else if let Some(p) = &app.migrate {
        progress_line(app, p, true)
    } else if let Some(f) = &app.flash {
        let (mark, style) = if f.error {
            ("✗", t.bad())
        } else {
            ("✓", t.good())
        };
        Line::from(Span::styled(format!(" {mark} {}", f.text), style))
    } else if let Some(p) = &app.sizes {
        progress_line(app, p, false)
    } else {
        Line::default()
    };
    // Keys in table order while they fit; quit is always kept, at the end.
    let bindings: Vec<_> = keymap::footer(app.context(), app.read_only).collect();
    let entry = |b: &keymap::Binding| format!("{} {}  ", b.keys_text, b.label);
    let quit = bindings
        .iter()
        .find(|b| b.command == Command::Quit)
        .copied();
    let mut room =
        (area.width as usize).saturating_sub(1 + quit.map_or(0, |b| entry(b).chars().count()));
    let mut keys = vec![Span::raw(" ")];
    for b in bindings
        .iter()
        .filter(|b| b.command != Command::Quit)
        .chain(quit.as_ref())
    {
        let w = entry(b).chars().count();
        if b.command != Command::Quit {
            if w > room {
                continue;
            }
            room -= w;
        }
        keys.push(Span::styled(b.keys_text, t.key()));
        keys.push(Span::styled(format!(" {}  ", b.label), t.dim()));
    }
    frame.render_widget(Paragraph::new(vec![status, Line::from(keys)]), area);
}

fn progress_line(app: &App, p: &Progress, cancel_hint: bool) -> Line<'static> {
    let t = &app.theme;
    const WIDTH: usize = 20;
    let filled = (p.done * WIDTH)
        .checked_div(p.total)
        .unwrap_or(0)
        .min(WIDTH);
    let mut spans = vec![
        Span::raw(format!(
            " {} {} {}/{} ",
            app.spinner(),
            p.label,
            p.done,
            p.total
        )),
        Span::styled("█".repeat(filled), t.bar()),
        Span::styled("░".repeat(WIDTH - filled), t.dim()),
    ];
    if p.failures > 0 {
        spans.push(Span::styled(format!(" ! {} failed", p.failures), t.bad()));
    }
    if cancel_hint {
        spans.push(Span::styled("  Esc cancels", t.dim()));
    }
    Line::from(spans)
}
