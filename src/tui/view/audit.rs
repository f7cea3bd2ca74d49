//! The Audit view: findings grouped by severity, worst first, and the selected one in full
//! (why, the path that grants it, the SQL that fixes it).

use super::{pane_block, tenants::scroll};
use crate::audit::Severity;
use crate::tui::app::{App, Load};
use crate::tui::keymap::CommandId;
use crate::units::fit;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

/// The style a severity is drawn in (the word always says it too).
fn severity_style(app: &App, s: Severity) -> Style {
    let t = &app.theme;
    match s {
        Severity::Critical | Severity::High => t.bad(),
        Severity::Medium => t.warn(),
        Severity::Low | Severity::Info => t.dim(),
    }
}

/// Draws the view in `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let view = &app.audit;
    let shown_from = if view.min == Severity::Info {
        String::new()
    } else {
        format!(" · {} and worse", view.min)
    };
    let title = match view.report.ready() {
        Some(r) => format!("Audit · {}{shown_from}", r.summary.short()),
        None => "Audit".into(),
    };
    let block = pane_block(app, title, true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    let report = match &view.report {
        Load::Ready(r) => r,
        Load::Failed(e) => {
            frame.render_widget(Paragraph::new(e.line(t)), inner);
            return;
        }
        Load::Loading => {
            frame.render_widget(
                Paragraph::new(format!(
                    "{} reading the catalog and judging it against the model…",
                    app.spinner()
                )),
                inner,
            );
            return;
        }
        Load::Idle => {
            let key = app.keymap.keys_text(CommandId::Audit);
            frame.render_widget(
                Paragraph::new(format!("no audit yet: {key} runs one")),
                inner,
            );
            return;
        }
    };
    let shown = view.shown();
    if shown.is_empty() {
        let text = if report.findings.is_empty() {
            format!(
                "✓ no finding: {} tenants match the model",
                report.summary.tenants
            )
        } else {
            let key = app.keymap.keys_text(CommandId::AuditSeverity);
            format!("nothing at {} or worse ({key} shows more)", view.min)
        };
        frame.render_widget(Paragraph::new(Span::styled(text, t.good())), inner);
        return;
    }
    // The selected finding in full below the list.
    let (list, full) = if inner.height > 10 {
        let detail = (inner.height / 2).min(9);
        let [list, full] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(detail)]).areas(inner);
        (list, Some(full))
    } else {
        (inner, None)
    };
    let height = list.height as usize;
    app.list.page.set(height);
    let offset = scroll(view.offset.get(), view.selected, height, shown.len());
    view.offset.set(offset);
    let width = list.width as usize;
    // Only the visible rows are built: a report can hold thousands.
    let lines: Vec<Line> = shown
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, f)| {
            let place = [f.schema.as_deref(), f.object.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(".");
            let sev = format!("{:<8} ", f.severity.as_str());
            let rest = format!(
                "{:<28} {:<24} {}",
                fit(&place, 28),
                fit(f.role.as_deref().unwrap_or("-"), 24),
                f.rule
            );
            let line = Line::from(vec![
                Span::styled(sev, severity_style(app, f.severity)),
                Span::raw(fit(&rest, width.saturating_sub(9))),
            ]);
            if i == view.selected {
                line.style(t.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list);
    if let (Some(area), Some(f)) = (full, view.selected_finding()) {
        let mut lines = vec![
            Line::from(Span::styled("─".repeat(area.width as usize), t.dim())),
            Line::from(vec![
                Span::styled(format!("{} ", f.severity), severity_style(app, f.severity)),
                Span::styled(f.id.clone(), t.title()),
                Span::raw(format!("  {}", f.message)),
            ]),
        ];
        if let Some(path) = &f.path {
            lines.push(Line::from(vec![
                Span::styled("path ", t.dim()),
                Span::raw(path.clone()),
            ]));
        }
        match &f.fix {
            Some(sql) => {
                let key = app.keymap.keys_text(CommandId::Fix);
                let how = if app.read_only {
                    "fix (read-only console: shown, never applied)".to_string()
                } else {
                    format!("fix ({key} applies it, after asking)")
                };
                lines.push(Line::from(Span::styled(how, t.dim())));
                lines.extend(sql.lines().map(|l| Line::from(format!("  {l}"))));
            }
            None => lines.push(Line::from(Span::styled(
                "fix: none automatic, a person must decide",
                t.dim(),
            ))),
        }
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
    }
}
