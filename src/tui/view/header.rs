//! The header: where you are connected, what the database holds, and whether you may write.

use crate::tui::app::{App, Conn, Load, Screen};
use crate::units::human_bytes;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the two header lines.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let sep = || Span::styled(" │ ", t.dim());
    let (version, short) = match &app.server {
        Load::Ready(s) => {
            let v = s.server_version.split_whitespace().next().unwrap_or("?");
            let recovery = if s.in_recovery { " (standby)" } else { "" };
            let citus = s
                .citus
                .as_ref()
                .map(|c| format!(" · {}", c.label()))
                .unwrap_or_default();
            (
                format!("PostgreSQL {v}{recovery}{citus}"),
                format!("PG {v}{recovery}{citus}"),
            )
        }
        Load::Failed(_) => ("PostgreSQL ?".into(), "PG ?".into()),
        _ => {
            let connecting = format!("{} connecting", app.spinner());
            (connecting.clone(), connecting)
        }
    };
    // What must survive any width: the badge (first, so nothing can cut it off), where you
    // are connected, and the server version. The rest gives way in order: the profile name,
    // then "PostgreSQL" for "PG", then the program's name; only then does the line clip.
    let first_line = |title: bool, profile: bool, version: &str| {
        let mut spans = Vec::new();
        if app.read_only {
            spans.push(Span::styled(" READ-ONLY ", t.badge()));
        }
        if title {
            spans.extend([Span::styled(" tenantctl", t.title()), sep()]);
        } else {
            spans.push(Span::raw(" "));
        }
        if profile {
            spans.extend([Span::raw(format!("profile {}", app.profile)), sep()]);
        }
        spans.extend([
            Span::raw(app.target.clone()),
            sep(),
            Span::raw(version.to_string()),
        ]);
        Line::from(spans)
    };
    let width = usize::from(area.width);
    let ladder = [
        (true, true, &version),
        (true, false, &version),
        (true, false, &short),
    ];
    let first = ladder
        .into_iter()
        .map(|(title, profile, v)| first_line(title, profile, v))
        .find(|line| line.width() <= width)
        .unwrap_or_else(|| first_line(false, false, &short));
    let conn = match &app.conn {
        Conn::Up if app.loading() => Span::styled(format!(" {} loading", app.spinner()), t.warn()),
        Conn::Up => Span::styled(" ● connected", t.good()),
        Conn::Down {
            error,
            attempt,
            retry_at,
        } => {
            let secs = retry_at.saturating_duration_since(app.now).as_secs();
            Span::styled(
                format!(" ✗ connection lost (attempt {attempt}, retry in {secs}s): {error}"),
                t.bad(),
            )
        }
    };
    let mut second = vec![
        conn,
        sep(),
        Span::raw(format!("{} tenants", app.totals.tenants)),
        sep(),
        // While sizes are pending the sum is of those known so far.
        Span::raw(if app.totals.pending > 0 {
            format!("≥ {}", human_bytes(app.totals.bytes))
        } else {
            human_bytes(app.totals.bytes)
        }),
    ];
    if app.totals.drift > 0 {
        second.push(sep());
        second.push(Span::styled(
            format!("! {} drift", app.totals.drift),
            t.bad(),
        ));
    }
    if let Load::Ready(r) = &app.audit.report {
        second.push(sep());
        let style = match r.summary.worst() {
            Some(crate::audit::Severity::Critical | crate::audit::Severity::High) => t.bad(),
            Some(crate::audit::Severity::Medium) => t.warn(),
            _ => t.good(),
        };
        second.push(Span::styled(format!("audit: {}", r.summary.short()), style));
    }
    // Last: the first part to give way on a narrow terminal, after drift and the audit.
    if !app.totals.versions.is_empty() {
        second.push(sep());
        second.push(Span::raw(version_distribution(&app.totals.versions)));
    }
    // The tab bar keeps its place at the right; the status before it gives way (cut with
    // an ellipsis) so the two always fit the width, down to the console's 60 columns.
    let mut tabs = Vec::new();
    for (screen, name) in [
        (Screen::Tenants, "Tenants"),
        (Screen::Activity, "Activity"),
        (Screen::Audit, "Audit"),
        (Screen::Nodes, "Nodes"),
    ] {
        // Citus only: the tab shows once the Nodes view has been opened.
        if screen == Screen::Nodes
            && app.screen != Screen::Nodes
            && matches!(app.nodes.map, crate::tui::app::Load::Idle)
        {
            continue;
        }
        let current =
            app.screen == screen || (screen == Screen::Tenants && app.screen == Screen::Detail);
        if current {
            tabs.push(Span::styled(format!("[{name}]"), t.key()));
        } else {
            tabs.push(Span::styled(format!(" {name} "), t.dim()));
        }
    }
    let tabs = Line::from(tabs);
    let tabs_w = tabs.width() as u16;
    let [line1, line2] = ratatui::layout::Layout::vertical([
        ratatui::layout::Constraint::Length(1),
        ratatui::layout::Constraint::Length(1),
    ])
    .areas(area);
    let [status_area, _, tabs_area] = ratatui::layout::Layout::horizontal([
        ratatui::layout::Constraint::Min(0),
        ratatui::layout::Constraint::Length(1),
        ratatui::layout::Constraint::Length(tabs_w),
    ])
    .areas(line2);
    let status = Line::from(second);
    let status = if status.width() > status_area.width as usize {
        let text: String = status.spans.iter().map(|s| s.content.as_ref()).collect();
        let style = status.spans.first().map(|s| s.style).unwrap_or_default();
        Line::from(Span::styled(
            crate::units::fit(&text, status_area.width as usize),
            style,
        ))
    } else {
        status
    };
    frame.render_widget(Paragraph::new(first), line1);
    frame.render_widget(Paragraph::new(status), status_area);
    frame.render_widget(Paragraph::new(tabs), tabs_area);
}

/// `v4: 1,980 · v3: 20 (2 pinned)`: registered tenants per template version, newest first.
pub fn version_distribution(versions: &[(i32, usize, usize)]) -> String {
    versions
        .iter()
        .map(|&(v, n, pinned)| {
            let n = crate::units::human_count(n as i64);
            let at = if v == 0 {
                format!("no version: {n}")
            } else {
                format!("v{v}: {n}")
            };
            if pinned > 0 {
                format!("{at} ({pinned} pinned)")
            } else {
                at
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}
