//! The Activity view: the console log, newest first.

use super::{pane_block, tenants::scroll};
use crate::tui::app::{App, Load};
use crate::units::fit;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

/// Draws the view in `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let block = pane_block(app, "Activity · console log".into(), true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    let entries = match &app.activity.entries {
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
    // The selected entry in full below the list: outcomes and SQL are cut in their columns.
    let (inner, full) = if inner.height > 8 {
        let [list, full] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(4)]).areas(inner);
        (list, Some(full))
    } else {
        (inner, None)
    };
    let height = (inner.height - 1) as usize;
    app.list.page.set(height);
    let offset = scroll(
        app.activity.offset.get(),
        app.activity.selected,
        height,
        entries.len(),
    );
    app.activity.offset.set(offset);
    // Narrow terminals drop the year rather than squeeze every column.
    let narrow = inner.width < 110;
    let (time_fmt, time_w) = if narrow {
        ("%m-%d %H:%M:%S", 14)
    } else {
        ("%Y-%m-%d %H:%M:%S", 19)
    };
    // Widths of who, action, tenant, outcome.
    let [who_w, action_w, tenant_w, outcome_w]: [u16; 4] = if narrow {
        [12, 14, 10, 12]
    } else {
        [16, 16, 12, 16]
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
                Cell::from(fit(&format!("{}/{}", e.os_user, e.db_role), who_w.into())),
                Cell::from(fit(&e.action, action_w.into())),
                Cell::from(fit(
                    e.tenant_id.as_deref().unwrap_or_default(),
                    tenant_w.into(),
                )),
                Cell::from(Span::styled(
                    fit(&outcome, outcome_w.into()),
                    if ok { t.good() } else { t.bad() },
                )),
                Cell::from(e.sql_summary.clone()),
            ]);
            if i == app.activity.selected {
                row.style(t.selected())
            } else {
                row
            }
        });
    let table = Table::new(
        rows,
        [
            Constraint::Length(time_w),
            Constraint::Length(who_w),
            Constraint::Length(action_w),
            Constraint::Length(tenant_w),
            Constraint::Length(outcome_w),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["at (UTC)", "who", "action", "tenant", "outcome", "sql"]).style(t.dim()));
    frame.render_widget(table, inner);
    if let (Some(area), Some(e)) = (full, entries.get(app.activity.selected)) {
        let lines = vec![
            Line::from(Span::styled("─".repeat(area.width as usize), t.dim())),
            Line::from(vec![
                Span::styled("outcome ", t.dim()),
                Span::raw(e.outcome.clone()),
            ]),
            Line::from(vec![
                Span::styled("sql     ", t.dim()),
                Span::raw(e.sql_summary.clone()),
            ]),
        ];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
    }
}
