//! The footer: a status line (filter, messages, the focused job's progress) and the keys
//! that work here, generated from the command table with the keys in force.

use crate::tui::app::{App, RunningJob};
use crate::tui::keymap::CommandId;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the status line and the key line.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let status = if app.list.filtering {
        Line::from(vec![
            Span::styled(" /", t.key()),
            Span::raw(app.list.filter.value().to_string()),
            Span::styled("▏", t.key()),
            Span::styled(format!("  {} match", app.list.visible.len()), t.dim()),
        ])
    } else if let Some(f) = &app.flash {
        let (mark, style) = if f.error {
            ("✗", t.bad())
        } else {
            ("✓", t.good())
        };
        Line::from(Span::styled(format!(" {mark} {}", f.text), style))
    } else if let Some(job) = app.jobs.focused() {
        progress_line(app, job)
    } else {
        Line::default()
    };
    // Keys in table order while they fit; quit is always kept, at the end.
    let entries = app.keymap.footer(app.context(), app.read_only);
    let width = |(_, keys, label): &(CommandId, String, &str)| {
        keys.chars().count() + label.chars().count() + 3
    };
    let quit = entries.iter().find(|e| e.0 == CommandId::Quit);
    let mut room = (area.width as usize).saturating_sub(1 + quit.map_or(0, width));
    let mut keys = vec![Span::raw(" ")];
    for e in entries
        .iter()
        .filter(|e| e.0 != CommandId::Quit)
        .chain(quit)
    {
        let w = width(e);
        if e.0 != CommandId::Quit {
            if w > room {
                continue;
            }
            room -= w;
        }
        keys.push(Span::styled(e.1.clone(), t.key()));
        keys.push(Span::styled(format!(" {}  ", e.2), t.dim()));
    }
    frame.render_widget(Paragraph::new(vec![status, Line::from(keys)]), area);
}

/// The focused job: what it does, how far, failures so far, the key that cancels it, and
/// how many other jobs run.
fn progress_line(app: &App, job: &RunningJob) -> Line<'static> {
    let t = &app.theme;
    const WIDTH: usize = 20;
    let filled = (job.done * WIDTH)
        .checked_div(job.total)
        .unwrap_or(0)
        .min(WIDTH);
    let mut spans = vec![
        Span::raw(format!(
            " {} {} {}/{} ",
            app.spinner(),
            job.kind.label(),
            job.done,
            job.total
        )),
        Span::styled("█".repeat(filled), t.bar()),
        Span::styled("░".repeat(WIDTH - filled), t.dim()),
    ];
    // The item just finished (a migration's tenant): the run moves per tenant on screen.
    if !job.current.is_empty() {
        spans.push(Span::raw(format!(
            " {}",
            crate::units::fit(&job.current, 24)
        )));
    }
    if job.failures > 0 {
        spans.push(Span::styled(format!(" ! {} failed", job.failures), t.bad()));
    }
    let others = app.jobs.running.len() - 1;
    if others > 0 {
        spans.push(Span::styled(format!("  +{others} more"), t.dim()));
    }
    spans.push(Span::styled(
        format!("  {} cancels", app.keymap.keys_text(CommandId::Back)),
        t.dim(),
    ));
    Line::from(spans)
}
