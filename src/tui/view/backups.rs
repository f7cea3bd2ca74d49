//! The Backups view: backups in the folder (time, size, verified, versions) and kept copies
//! of in-place restores, for the selected tenant or every tenant.

use super::{pane_block, tenants::scroll};
use crate::tui::app::{App, BackupRow, Load};
use crate::units::{fit, human_bytes};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

/// Draws the view in `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let v = &app.backups_view;
    let whose = v
        .tenant
        .as_deref()
        .map_or("every tenant".to_string(), |id| format!("tenant {id}"));
    let block = pane_block(app, format!("Backups · {whose}"), true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 || inner.width < 4 {
        return;
    }
    if app.backups.is_none() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "no backup folder: set backup_dir in the config or TENANTCTL_BACKUP_DIR",
                t.bad(),
            )),
            inner,
        );
        return;
    }
    match &v.data {
        Load::Ready(_) => {}
        Load::Failed(e) => {
            frame.render_widget(Paragraph::new(e.line(t)), inner);
            return;
        }
        _ => {
            frame.render_widget(
                Paragraph::new(format!("{} reading the backup folder…", app.spinner())),
                inner,
            );
            return;
        }
    }
    let rows = v.rows();
    let backups: Vec<_> = rows
        .iter()
        .filter_map(|r| match r {
            BackupRow::Backup(e) => Some(*e),
            BackupRow::Kept(_) => None,
        })
        .collect();
    let kept: Vec<_> = rows
        .iter()
        .filter_map(|r| match r {
            BackupRow::Kept(k) => Some(*k),
            BackupRow::Backup(_) => None,
        })
        .collect();
    let bytes: u64 = backups.iter().map(|e| e.size_bytes).sum();
    let bad = backups.iter().filter(|e| !e.verifiable).count();
    let kept_bytes: i64 = kept.iter().map(|k| k.size_bytes).sum();
    let mut tenants: Vec<&str> = backups.iter().map(|e| e.tenant.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let summary = Line::from(vec![
        Span::raw(format!(
            "{} backup(s) of {} tenant(s), {}",
            backups.len(),
            tenants.len(),
            human_bytes(i64::try_from(bytes).unwrap_or(i64::MAX))
        )),
        Span::styled(
            if bad > 0 {
                format!(", {bad} NOT verifiable")
            } else {
                String::new()
            },
            t.bad(),
        ),
        Span::raw(format!(
            " · {} kept cop{} ({})",
            kept.len(),
            if kept.len() == 1 { "y" } else { "ies" },
            human_bytes(kept_bytes)
        )),
    ]);
    let [head, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    frame.render_widget(Paragraph::new(summary), head);
    if rows.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "no backups yet (d dumps the selected tenant)",
                t.dim(),
            )),
            list,
        );
        return;
    }
    let height = (list.height.saturating_sub(1)) as usize;
    app.list.page.set(height.max(1));
    let offset = scroll(v.offset.get(), v.selected, height.max(1), rows.len());
    v.offset.set(offset);
    let wide = list.width >= 110;
    let time_fmt = if wide {
        "%Y-%m-%d %H:%M:%S"
    } else {
        "%m-%d %H:%M"
    };
    let table_rows = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, r)| {
            let row = match r {
                BackupRow::Backup(e) => {
                    let (verified, style) = if e.verifiable {
                        ("✓ yes".to_string(), t.good())
                    } else {
                        (
                            format!("✗ {}", e.problem.as_deref().unwrap_or("no")),
                            t.bad(),
                        )
                    };
                    let versions = format!(
                        "pg {} · dump {} · v{}",
                        e.server_version.as_deref().unwrap_or("?"),
                        e.pg_dump_version.as_deref().unwrap_or("?"),
                        e.template_version.map_or("?".into(), |v| v.to_string())
                    );
                    Row::new([
                        Cell::from("backup"),
                        Cell::from(fit(&e.tenant, 12)),
                        Cell::from(
                            e.created_at
                                .map(|c| c.format(time_fmt).to_string())
                                .unwrap_or_default(),
                        ),
                        Cell::from(human_bytes(i64::try_from(e.size_bytes).unwrap_or(i64::MAX))),
                        Cell::from(Span::styled(fit(&verified, 12), style)),
                        Cell::from(if wide {
                            format!(
                                "{versions} · {}",
                                e.path
                                    .file_name()
                                    .map_or(String::new(), |f| f.to_string_lossy().into_owned())
                            )
                        } else {
                            versions
                        }),
                    ])
                }
                BackupRow::Kept(k) => Row::new([
                    Cell::from(Span::styled("kept", t.warn())),
                    Cell::from(fit(k.tenant.as_deref().unwrap_or("?"), 12)),
                    Cell::from(
                        k.kept_at
                            .map(|c| c.format(time_fmt).to_string())
                            .unwrap_or_default(),
                    ),
                    Cell::from(human_bytes(k.size_bytes)),
                    Cell::from(Span::styled("in database", t.dim())),
                    Cell::from(k.name.clone()),
                ]),
            };
            if i == v.selected {
                row.style(t.selected())
            } else {
                row
            }
        });
    let table = Table::new(
        table_rows,
        [
            Constraint::Length(6),
            Constraint::Length(12),
            Constraint::Length(if wide { 19 } else { 11 }),
            Constraint::Length(9),
            Constraint::Length(12),
            Constraint::Min(8),
        ],
    )
    .header(
        Row::new([
            "",
            "tenant",
            "time (UTC)",
            "size",
            "verified",
            "versions / name",
        ])
        .style(t.dim()),
    );
    frame.render_widget(table, list);
}
