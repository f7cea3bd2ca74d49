//! The Activity view: the console log, newest first.

use super::{fit, pane_block, tenants::scroll};
use crate::tui::app::{App, Load};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

/// Draws the view in `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let block = pane_block(app, "Activity · console log".into(), true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    let entries = match &app.activity {
        Load::Ready(e) => e,
        Load::Failed(e) => {
            frame.render_widget(Paragraph::new(e.line(t)), inner);
            return;
        }
        _ => {
            frame.render_widget(
                Paragraph::new(format!("{} reading the console log…", app.spinner())),
                inner,
            );
            return;
        }
    };
    if entries.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("the console log is empty", t.dim())),
            inner,
        );
        return;
    }
    let height = (inner.height - 1) as usize;
    app.page.set(height);
    let offset = scroll(
        app.activity_offset.get(),
        app.activity_selected,
        height,
        entries.len(),
    );
    app.activity_offset.set(offset);
    // Narrow terminals drop the year rather than squeeze every column.
    let (time_fmt, time_w) = if inner.width < 110 {
        ("%m-%d %H:%M:%S", 14)
    } else {
        ("%Y-%m-%d %H:%M:%S", 19)
    };
    let rows = entries
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, e)| {
            let ok = e.outcome == "ok";
            let outcome = if ok {
                "✓ ok".to_string()
            } else {
                format!("✗ {}", e.outcome)
            };
            let row = Row::new([
                Cell::from(e.at.format(time_fmt).to_string()),
                Cell::from(fit(&format!("{}/{}", e.os_user, e.db_role), 16)),
                Cell::from(e.action.clone()),
                Cell::from(fit(e.tenant_id.as_deref().unwrap_or_default(), 12)),
                Cell::from(Span::styled(
                    fit(&outcome, 16),
                    if ok { t.good() } else { t.bad() },
                )),
                Cell::from(e.sql_summary.clone()),
            ]);
            if i == app.activity_selected {
                row.style(t.selected())
            } else {
                row
            }
        });
    let table = Table::new(
        rows,
        [
            Constraint::Length(time_w),
            Constraint::Length(16),
            Constraint::Length(16),
            Constraint::Length(12),
            Constraint::Length(16),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["at (UTC)", "who", "action", "tenant", "outcome", "sql"]).style(t.dim()));
    frame.render_widget(table, inner);
}
