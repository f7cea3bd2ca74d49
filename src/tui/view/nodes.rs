//! The Nodes view (Citus): every node with its tenant count, bytes and a balance bar, the
//! balance across them, and the selected node's tenants.

use super::{pane_block, tenants::scroll};
use crate::citus::nodes::{NodeMap, NodeRole};
use crate::tui::app::{App, Load};
use crate::tui::keymap::CommandId;
use crate::units::{fit, human_bytes};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the view in `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let view = &app.nodes;
    let title = match view.map.ready() {
        Some(m) => format!(
            "Nodes · Citus {} · {} tenants{}",
            m.citus_version
                .split('-')
                .next()
                .unwrap_or(&m.citus_version),
            m.placements.len(),
            if m.sizes_measured {
                ""
            } else {
                " · sizes: asking the workers…"
            }
        ),
        None => "Nodes".into(),
    };
    let map = match &view.map {
        Load::Ready(m) => m,
        other => {
            let block = pane_block(app, title, true);
            let inner = block.inner(area);
            frame.render_widget(block, area);
            let line = match other {
                Load::Failed(e) => e.line(t),
                Load::Loading => Line::from(format!(
                    "{} reading pg_dist_node and the shard sizes of every worker…",
                    app.spinner()
                )),
                _ => Line::from(format!(
                    "not loaded: {} reads the nodes",
                    app.keymap.keys_text(CommandId::Nodes)
                )),
            };
            frame.render_widget(Paragraph::new(line), inner);
            return;
        }
    };
    // Nodes on top (one line each, plus the balance), the selected node's tenants below.
    let nodes_h = (map.nodes.len() as u16 + 4).min(area.height.saturating_sub(3).max(3));
    let [top, bottom] =
        Layout::vertical([Constraint::Length(nodes_h), Constraint::Min(0)]).areas(area);
    let block = pane_block(app, title, !view.on_tenants);
    let inner = block.inner(top);
    frame.render_widget(block, top);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let width = inner.width as usize;
    let max_bytes = map.nodes.iter().map(|n| n.bytes).max().unwrap_or(0).max(1);
    // Columns: address, role, tenants, size, then the bar in what is left.
    let addr_w = map
        .nodes
        .iter()
        .map(|n| n.addr.to_string().len())
        .max()
        .unwrap_or(10)
        .min(width.saturating_sub(30).max(8));
    let fixed = addr_w + 1 + 6 + 1 + 7 + 1 + 9 + 1;
    let bar_w = width.saturating_sub(fixed);
    let mut lines: Vec<Line> = map
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let role = match (n.role, n.active, n.should_have_shards) {
                (_, false, _) => "down",
                (NodeRole::Coordinator, ..) => "coord",
                (NodeRole::Worker, true, false) => "drain",
                (NodeRole::Worker, true, true) => "worker",
            };
            let filled = if bar_w == 0 {
                0
            } else {
                ((n.bytes as f64 / max_bytes as f64) * bar_w as f64).round() as usize
            };
            let text = format!(
                "{:<addr_w$} {:<6} {:>7} {:>9} ",
                fit(&n.addr.to_string(), addr_w),
                role,
                n.tenants,
                human_bytes(n.bytes),
            );
            let line = Line::from(vec![
                Span::raw(fit(&text, width)),
                Span::styled("█".repeat(filled.min(bar_w)), t.good()),
                Span::styled("·".repeat(bar_w - filled.min(bar_w)), t.dim()),
            ]);
            if i == view.node && !view.on_tenants {
                line.style(t.selected())
            } else {
                line
            }
        })
        .collect();
    lines.push(Line::from(Span::styled(
        fit(&balance_text(map), width),
        t.dim(),
    )));
    frame.render_widget(Paragraph::new(lines), inner);

    if bottom.height < 3 {
        return;
    }
    let Some(node) = view.selected_node() else {
        return;
    };
    let on = map.tenants_on(node);
    let block = pane_block(
        app,
        format!("Tenants on {} · {}", node.addr, on.len()),
        view.on_tenants,
    );
    let inner = block.inner(bottom);
    frame.render_widget(block, bottom);
    if inner.height == 0 {
        return;
    }
    if on.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("no tenant here", t.dim())),
            inner,
        );
        return;
    }
    let height = inner.height as usize;
    app.list.page.set(height);
    let offset = scroll(view.offset.get(), view.tenant, height, on.len());
    view.offset.set(offset);
    let width = inner.width as usize;
    // Only the visible rows are built: a node can hold thousands of tenants.
    let rows: Vec<Line> = on
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, p)| {
            let kind = if p.distributed { "" } else { "  local" };
            let text = format!(
                "{:<w$} {:>9}{kind}",
                fit(&p.tenant, width.saturating_sub(17).max(4)),
                human_bytes(p.bytes),
                w = width.saturating_sub(17).max(4)
            );
            let line = Line::from(fit(&text, width));
            if view.on_tenants && i == view.tenant {
                line.style(t.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(rows), inner);
}

/// One line on the balance and what is left to distribute.
fn balance_text(map: &NodeMap) -> String {
    let mut s = match map.balance() {
        Some(b) => format!(
            "balance: largest node {:.2}× its share · tenant counts differ by {}",
            b.max_over_mean, b.tenant_spread
        ),
        None => "balance: fewer than two nodes take data".into(),
    };
    let local = map.local().count();
    if local > 0 {
        s.push_str(&format!(" · {local} local"));
    }
    s
}
