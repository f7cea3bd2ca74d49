//! The Schema pane: the selected tenant's size split, row estimates, largest tables, and a
//! bar chart of the biggest tenants.

use super::pane_block;
use crate::catalog::SchemaSize;
use crate::tui::app::{App, Load, Pane};
use crate::tui::dialog::shown_value;
use crate::units::fit;
use crate::units::{human_bytes, human_count};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

/// Draws the pane in `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let row = app.selected_row();
    let title = match row {
        Some(r) => format!("Schema {}", r.schema),
        None => "Schema".into(),
    };
    let block = pane_block(app, title, app.focus == Pane::Schema);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    if let Some(r) = row {
        let name = if r.name.is_empty() {
            "(no name)"
        } else {
            r.name.as_str()
        };
        let version = match r.template_version {
            0 => "template version not known".to_string(),
            v => format!("template v{v}"),
        };
        let pin = r
            .pinned_version
            .map_or(String::new(), |p| format!(" · pinned at {p}"));
        let pin = match &r.node {
            Some(node) => format!("{pin} · node {node}"),
            None => pin,
        };
        lines.push(Line::from(vec![
            Span::styled(r.id.clone(), t.title()),
            Span::raw(format!(" — {name} · {} · {version}{pin}", r.status)),
        ]));
        if let serde_json::Value::Object(map) = &r.config
            && !map.is_empty()
        {
            let shown: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}={}", shown_value(k, v)))
                .collect();
            lines.push(Line::from(vec![
                Span::styled("config ", t.dim()),
                Span::raw(fit(&shown.join(" "), width.saturating_sub(7))),
            ]));
        }
    }
    match app.detail.as_ref().map(|d| &d.schema) {
        Some(Load::Ready(s)) => sizes(&mut lines, s, app, width),
        Some(Load::Failed(e)) => lines.push(e.line(t)),
        Some(Load::Loading) => lines.push(Line::from(format!("{} reading tables…", app.spinner()))),
        Some(Load::Idle) | None => {
            if row.is_none() {
                lines.push(Line::from(Span::styled("no tenant selected", t.dim())));
            }
        }
    }
    chart(&mut lines, app, width);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((app.schema_scroll, 0)),
        inner,
    );
}

fn sizes(lines: &mut Vec<Line>, s: &SchemaSize, app: &App, width: usize) {
    let t = &app.theme;
    lines.push(Line::from(vec![
        Span::styled("total ", t.dim()),
        Span::styled(human_bytes(s.total_bytes), t.title()),
        Span::styled("  tables ", t.dim()),
        Span::raw(human_bytes(s.table_bytes)),
        Span::styled(" · indexes ", t.dim()),
        Span::raw(human_bytes(s.index_bytes)),
        Span::styled(" · TOAST ", t.dim()),
        Span::raw(human_bytes(s.toast_bytes)),
    ]));
    let rows: i64 = s.tables.iter().filter_map(|x| x.row_estimate).sum();
    let unanalysed = s.tables.iter().filter(|x| x.row_estimate.is_none()).count();
    let mut facts = format!(
        "{} tables · ~{} rows (estimate)",
        s.tables.len(),
        human_count(rows)
    );
    if unanalysed > 0 {
        facts.push_str(&format!(" · {unanalysed} never analysed"));
    }
    lines.push(Line::from(Span::styled(facts, t.dim())));
    if s.tables.is_empty() {
        return;
    }
    let name_w = width.saturating_sub(2 + 8 + 10 + 2).clamp(6, 30);
    lines.push(Line::from(Span::styled(
        format!(
            "  {:<name_w$} {:>8} {:>10}",
            "largest tables", "rows", "size"
        ),
        t.dim(),
    )));
    for table in s.tables.iter().take(5) {
        let rows = table.row_estimate.map_or("?".into(), human_count);
        lines.push(Line::from(format!(
            "  {:<name_w$} {:>8} {:>10}",
            fit(&table.name, name_w),
            rows,
            human_bytes(table.total_bytes)
        )));
    }
}

fn chart(lines: &mut Vec<Line>, app: &App, width: usize) {
    let t = &app.theme;
    let Some(max) = app.top.first().map(|(_, b)| (*b).max(1)) else {
        return;
    };
    lines.push(Line::from(Span::styled("biggest tenants", t.dim())));
    let label_w = 14;
    let bar_w = width.saturating_sub(2 + label_w + 1 + 10).max(1);
    let selected = app.selected_row().map(|r| r.id.as_str());
    for (id, bytes) in &app.top {
        let len = ((*bytes as f64 / max as f64) * bar_w as f64).round() as usize;
        // At least a sliver, so a small tenant is still seen as present.
        let len = len.clamp(usize::from(*bytes > 0), bar_w);
        let mark = if selected == Some(id.as_str()) {
            "›"
        } else {
            " "
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{mark} {:<label_w$} ", fit(id, label_w))),
            Span::styled("█".repeat(len), t.bar()),
            Span::raw(format!(" {}", human_bytes(*bytes))),
        ]));
    }
}
