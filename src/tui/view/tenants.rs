//! The Tenants pane: the registry as a list. Only the rows on screen are built, so a
//! 10,000-tenant registry draws as fast as a 10-tenant one.

use super::pane_block;
use crate::catalog::{Drift, TenantRow};
use crate::tui::app::{App, Load, Pane, size_pending};
use crate::units::fit;
use crate::units::human_bytes;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

/// Draws the pane in `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let mut title = format!(
        "Tenants {}/{} · sort {}",
        app.list.visible.len(),
        app.list.rows.len(),
        app.list.sort.as_str()
    );
    if !app.list.filter.value().is_empty() {
        title.push_str(&format!(" · /{}", app.list.filter.value()));
    }
    let block = pane_block(app, title, app.focus == Pane::Tenants);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 || inner.width < 10 {
        return;
    }
    match &app.tenants {
        Load::Loading if app.list.rows.is_empty() => {
            let msg = format!(" {} loading the registry…", app.spinner());
            frame.render_widget(Paragraph::new(msg), inner);
            return;
        }
        Load::Failed(e) if app.list.rows.is_empty() => {
            frame.render_widget(Paragraph::new(e.line(t)), inner);
            return;
        }
        _ => {}
    }
    if app.list.visible.is_empty() {
        use crate::tui::keymap::CommandId;
        let msg = if app.list.rows.is_empty() {
            format!(
                " no tenants yet — {} provisions one",
                app.keymap.keys_text(CommandId::New)
            )
        } else {
            format!(
                " nothing matches the filter — {} clears it",
                app.keymap.keys_text(CommandId::Back)
            )
        };
        frame.render_widget(Paragraph::new(Span::styled(msg, t.dim())), inner);
        return;
    }

    let height = (inner.height - 1) as usize;
    app.list.page.set(height);
    let offset = scroll(
        app.list.offset.get(),
        app.list.selected,
        height,
        app.list.visible.len(),
    );
    app.list.offset.set(offset);

    const FIXED: u16 = 1 + 16 + 14 + 9 + 6 + 5;
    // On Citus the node holding each tenant, where names keep some room: before the
    // version column, whose facts the header (distribution) and the schema pane (the
    // selected tenant's) also show, as they show the selected tenant's node.
    let on_citus = matches!(&app.server, Load::Ready(s) if s.citus.is_some());
    let with_node = on_citus && inner.width.saturating_sub(FIXED + NODE_W + 1) >= 10;
    let extra = if with_node { NODE_W + 1 } else { 0 };
    // The version column only where names keep room (the schema pane repeats the
    // selected tenant's version and pin; the header has the distribution).
    let with_version = inner.width.saturating_sub(FIXED + extra + VERSION_W + 1) >= 12;
    let extra = extra + if with_version { VERSION_W + 1 } else { 0 };
    let name_w = inner.width.saturating_sub(FIXED + extra).max(4) as usize;
    let columns = Columns {
        name_w,
        version: with_version,
        node: with_node,
    };
    let rows = app.list.visible[offset..(offset + height).min(app.list.visible.len())]
        .iter()
        .enumerate()
        .filter_map(|(n, &i)| app.list.rows.get(i).map(|r| (offset + n, r)))
        .map(|(pos, r)| row(app, r, pos == app.list.selected, &columns));
    let mut header = vec![
        Cell::from(""),
        Cell::from("id"),
        Cell::from("name"),
        Cell::from("status"),
        Cell::from(Line::from("size").right_aligned()),
        Cell::from(Line::from("tables").right_aligned()),
    ];
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(16),
        Constraint::Min(4),
        Constraint::Length(14),
        Constraint::Length(9),
        Constraint::Length(6),
    ];
    if with_version {
        header.push(Cell::from("ver"));
        widths.push(Constraint::Length(VERSION_W));
    }
    if with_node {
        header.push(Cell::from("node"));
        widths.push(Constraint::Length(NODE_W));
    }
    let header = Row::new(header).style(t.dim());
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    frame.render_widget(table, inner);
    if height < app.list.visible.len() {
        // A position marker in the border: row n of m.
        let pos = format!(" {}/{} ", app.list.selected + 1, app.list.visible.len());
        let w = pos.chars().count() as u16;
        if area.width > w + 2 {
            let at = Rect::new(area.right() - w - 1, area.bottom() - 1, w, 1);
            frame.render_widget(Paragraph::new(Line::from(Span::styled(pos, t.dim()))), at);
        }
    }
}

/// The first row to show so that `selected` is visible, moving as little as possible.
pub fn scroll(offset: usize, selected: usize, height: usize, len: usize) -> usize {
    let height = height.max(1);
    let mut offset = offset.min(len.saturating_sub(height));
    if selected < offset {
        offset = selected;
    } else if selected >= offset + height {
        offset = selected + 1 - height;
    }
    offset
}

/// Width of the version column: `v3`, `v2p2`.
const VERSION_W: u16 = 5;

/// Width of the node column: `127.0.0.1:54321`; longer host names are cut.
const NODE_W: u16 = 15;

/// The optional columns drawn, and the name column's width.
struct Columns {
    name_w: usize,
    version: bool,
    node: bool,
}

fn row<'a>(app: &App, r: &'a TenantRow, selected: bool, columns: &Columns) -> Row<'a> {
    let name_w = columns.name_w;
    let t = &app.theme;
    let (marker, status) = match r.drift {
        Drift::None => (
            if selected { "›" } else { " " },
            r.status.as_str().to_string(),
        ),
        Drift::MissingSchema => ("!", "! no schema".to_string()),
        Drift::Unregistered => ("!", "! unregistered".to_string()),
    };
    let pending = size_pending(r);
    let (size, tables) = match r.size_bytes {
        // `~` marks an estimate until the exact size streams in.
        Some(b) if r.size_exact => (Span::raw(human_bytes(b)), r.tables.to_string()),
        Some(b) => (
            Span::raw(format!("~{}", human_bytes(b))),
            r.tables.to_string(),
        ),
        // Read without sizes and not measured yet: the table count comes with the size.
        None if pending => (Span::styled("pending", t.dim()), "…".into()),
        None => (Span::raw("—"), r.tables.to_string()),
    };
    let mut cells = vec![
        Cell::from(marker),
        Cell::from(fit(&r.id, 16)),
        Cell::from(fit(&r.name, name_w)),
        Cell::from(Span::styled(status, app.status_style(r))),
        Cell::from(Line::from(size).right_aligned()),
        Cell::from(Line::from(tables).right_aligned()),
    ];
    if columns.version {
        cells.push(Cell::from(version(r)));
    }
    if columns.node {
        // A tenant not distributed yet lives on the coordinator (`tenant distribute`).
        cells.push(match &r.node {
            Some(n) => Cell::from(fit(n, NODE_W as usize)),
            None if r.drift == Drift::MissingSchema => Cell::from(""),
            None => Cell::from(Span::styled("local", t.dim())),
        });
    }
    let row = Row::new(cells);
    if selected {
        row.style(t.selected())
    } else {
        row
    }
}

/// `v3`, or `v2p2` for a tenant pinned at 2; `—` for a registered tenant whose version is
/// not known (adopted without one); nothing for a schema without a registry row.
fn version(r: &TenantRow) -> String {
    if r.drift == Drift::Unregistered {
        return String::new();
    }
    let at = match r.template_version {
        0 => "—".to_string(),
        v => format!("v{v}"),
    };
    match r.pinned_version {
        Some(p) => format!("{at}p{p}"),
        None => at,
    }
}
