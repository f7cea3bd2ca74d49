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
    let version = match &app.server {
        Load::Ready(s) => {
            let v = s.server_version.split_whitespace().next().unwrap_or("?");
            let recovery = if s.in_recovery { " (standby)" } else { "" };
            format!("PostgreSQL {v}{recovery}")
        }
        Load::Failed(_) => "PostgreSQL ?".into(),
        _ => format!("{} connecting", app.spinner()),
    };
    // The badge comes first so that no terminal width can cut it off.
    let mut first = Vec::new();
    if app.read_only {
        first.push(Span::styled(" READ-ONLY ", t.badge()));
    }
    first.extend([
        Span::styled(" tenantctl", t.title()),
        sep(),
        Span::raw(format!("profile {}", app.profile)),
        sep(),
        Span::raw(app.target.clone()),
        sep(),
        Span::raw(version),
    ]);
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
        Span::raw(human_bytes(app.totals.bytes)),
    ];
    if app.totals.drift > 0 {
        second.push(sep());
        second.push(Span::styled(
            format!("! {} drift", app.totals.drift),
            t.bad(),
        ));
    }
    second.push(Span::raw("   "));
    for (screen, name) in [
        (Screen::Tenants, "Tenants"),
        (Screen::Activity, "Activity"),
        (Screen::Audit, "Audit"),
        (Screen::Backups, "Backups"),
    ] {
        let current =
            app.screen == screen || (screen == Screen::Tenants && app.screen == Screen::Detail);
        if current {
            second.push(Span::styled(format!("[{name}]"), t.key()));
        } else {
            second.push(Span::styled(format!(" {name} "), t.dim()));
        }
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}
