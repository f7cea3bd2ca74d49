//! The Grants pane: roles × privileges on the schema and its tables, the audit's findings
//! about the tenant, RLS per table, default privileges and membership chains. Findings are
//! marked with `!` as well as coloured.

use super::pane_block;
use crate::audit::Finding;
use crate::catalog::{GrantMatrix, ObjectKind};
use crate::tui::app::{App, Detail, Load, Pane};
use crate::units::fit;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use std::collections::BTreeSet;

/// Matrix columns: (heading, object kind group, privilege).
const COLUMNS: &[(&str, Group, &str)] = &[
    ("Us", Group::Schema, "USAGE"),
    ("Cr", Group::Schema, "CREATE"),
    ("Se", Group::Tables, "SELECT"),
    ("In", Group::Tables, "INSERT"),
    ("Up", Group::Tables, "UPDATE"),
    ("De", Group::Tables, "DELETE"),
    ("Tr", Group::Tables, "TRUNCATE"),
    ("Rf", Group::Tables, "REFERENCES"),
    ("Tg", Group::Tables, "TRIGGER"),
    ("Mt", Group::Tables, "MAINTAIN"),
    ("sq", Group::Sequences, "USAGE"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Schema,
    Tables,
    Sequences,
}

impl Group {
    fn holds(self, kind: ObjectKind) -> bool {
        match self {
            Group::Schema => kind == ObjectKind::Schema,
            Group::Tables => matches!(kind, ObjectKind::Table | ObjectKind::View),
            Group::Sequences => kind == ObjectKind::Sequence,
        }
    }
}

/// Draws the pane in `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let detail = app.detail.as_ref();
    let found = detail.map_or(0, |d| findings(app, d).len());
    let unjudged = detail.is_some_and(|d| matches!(d.findings, Load::Failed(_)));
    let title = if unjudged {
        "Grants · ✗ not judged".into()
    } else if found > 0 {
        format!(
            "Grants · ! {found} finding{}",
            if found == 1 { "" } else { "s" }
        )
    } else {
        "Grants".into()
    };
    let block = pane_block(app, title, app.focus == Pane::Grants);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines = match detail.map(|d| (&d.grants, d)) {
        Some((Load::Ready(m), d)) => matrix_lines(app, m, d, inner.width as usize),
        Some((Load::Failed(e), _)) => vec![e.line(t)],
        Some((Load::Loading, _)) => vec![Line::from(format!("{} reading grants…", app.spinner()))],
        _ => vec![Line::from(Span::styled("no tenant selected", t.dim()))],
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((app.grants_scroll, 0)),
        inner,
    );
}

/// The tenant's findings: its own audit's, then those only the last full audit has (about
/// memberships and reach across schemas), each once.
fn findings<'d>(app: &'d App, d: &'d Detail) -> Vec<&'d Finding> {
    let mut out: Vec<&Finding> = d
        .findings
        .ready()
        .map_or_else(Vec::new, |f| f.iter().collect());
    for f in app.audit.of_tenant(&d.id) {
        if !out.iter().any(|o| o.id == f.id) {
            out.push(f);
        }
    }
    out
}

fn matrix_lines<'a>(app: &App, m: &GrantMatrix, d: &Detail, width: usize) -> Vec<Line<'a>> {
    let t = &app.theme;
    let found = findings(app, d);
    let mut roles = m.roles();
    for role in found.iter().filter_map(|f| f.role.as_ref()) {
        if !roles.contains(role) {
            roles.push(role.clone());
        }
    }
    // MAINTAIN exists from PostgreSQL 17 on, where every owner holds it: its column shows
    // exactly when the server has the privilege.
    let columns: Vec<&(&str, Group, &str)> = COLUMNS
        .iter()
        .filter(|(_, _, p)| *p != "MAINTAIN" || m.entries.iter().any(|e| e.privilege == *p))
        .collect();
    // A rule between the schema, table and sequence groups.
    let rule_before =
        |i: usize| i > 0 && columns.get(i - 1).map(|c| c.1) != columns.get(i).map(|c| c.1);
    let role_w = roles
        .iter()
        .map(|r| r.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, width.saturating_sub(2 + 3 * columns.len() + 4).max(4));
    let mut lines = Vec::new();
    lines.push(Line::from(Span::styled(
        format!("owner {}", m.schema_owner),
        t.dim(),
    )));
    let mut head = format!("  {:<role_w$} ", "role");
    for (i, (h, _, _)) in columns.iter().enumerate() {
        if rule_before(i) {
            head.push('│');
        }
        head.push_str(&format!("{h:>2} "));
    }
    lines.push(Line::from(Span::styled(head, t.dim())));

    let tables: BTreeSet<&str> = objects(m, Group::Tables);
    let sequences: BTreeSet<&str> = objects(m, Group::Sequences);
    for role in &roles {
        let of_role: Vec<&Finding> = found
            .iter()
            .copied()
            .filter(|f| f.role.as_ref() == Some(role))
            .collect();
        let marker = if of_role.is_empty() { "  " } else { "! " };
        let mut spans = vec![Span::styled(
            format!("{marker}{:<role_w$} ", fit(role, role_w)),
            if of_role.is_empty() {
                t.text()
            } else {
                t.bad()
            },
        )];
        for (i, (_, group, privilege)) in columns.iter().enumerate() {
            if rule_before(i) {
                spans.push(Span::styled("│", t.dim()));
            }
            let total = match group {
                Group::Schema => 1,
                Group::Tables => tables.len(),
                Group::Sequences => sequences.len(),
            };
            let held = m
                .entries
                .iter()
                .filter(|e| &e.grantee == role && group.holds(e.kind) && e.privilege == *privilege)
                .map(|e| e.object.as_str())
                .collect::<BTreeSet<_>>()
                .len();
            let symbol = match (held, total) {
                (_, 0) => " ",
                (0, _) => "·",
                (h, n) if h >= n => "✓",
                _ => "~",
            };
            let deviates = of_role.iter().any(|f| {
                f.privileges.iter().any(|p| p.keyword() == *privilege)
                    && match (group, f.object.as_deref()) {
                        (Group::Schema, None) => f.schema.as_deref() == Some(m.schema.as_str()),
                        (Group::Tables, Some(o)) => tables.contains(o),
                        (Group::Sequences, Some(o)) => sequences.contains(o),
                        _ => false,
                    }
            });
            if deviates {
                spans.push(Span::styled(format!("!{symbol} "), t.bad()));
            } else {
                spans.push(Span::raw(format!(" {symbol} ")));
            }
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(Span::styled(
        "✓ all  ~ some  · none  ! audit finding",
        t.dim(),
    )));

    if let Load::Failed(e) = &d.findings {
        // Never a clean-looking pane when the check could not run.
        lines.push(e.line(t));
    }
    for f in &found {
        lines.push(Line::from(Span::styled(
            format!("! {} {}: {}", f.severity, f.id, f.message),
            t.bad(),
        )));
    }

    if let Load::Ready(s) = &d.schema
        && !s.tables.is_empty()
    {
        lines.push(Line::from(Span::styled("row-level security", t.dim())));
        let name_w = width.saturating_sub(30).clamp(6, 30);
        for table in &s.tables {
            let (mark, state, style) = match (table.rls_enabled, table.rls_forced) {
                (true, true) => ("✓", "on, forced", t.good()),
                (true, false) => ("✓", "on", t.good()),
                (false, _) => ("✗", "off", t.warn()),
            };
            lines.push(Line::from(vec![
                Span::raw(format!("  {:<name_w$} ", fit(&table.name, name_w))),
                Span::styled(format!("{mark} {state}"), style),
                Span::styled(
                    format!(
                        " · {} polic{}",
                        table.policies,
                        if table.policies == 1 { "y" } else { "ies" }
                    ),
                    t.dim(),
                ),
            ]));
        }
    }

    if !m.defaults.is_empty() {
        lines.push(Line::from(Span::styled("default privileges", t.dim())));
        // Group privileges of one (owner, scope, type, grantee) onto one line.
        let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
        for dp in &m.defaults {
            let scope = if dp.in_schema { "here" } else { "everywhere" };
            let key = format!(
                "  {} → {} on new {}s ({scope}):",
                dp.owner, dp.grantee, dp.object_type
            );
            match groups.last_mut() {
                Some((k, privs)) if *k == key => privs.push(&dp.privilege),
                _ => groups.push((key, vec![&dp.privilege])),
            }
        }
        for (key, privs) in groups {
            lines.push(Line::from(format!("{key} {}", privs.join(", "))));
        }
    }

    if !m.memberships.is_empty() {
        lines.push(Line::from(Span::styled(
            "reached through membership",
            t.dim(),
        )));
        for ms in &m.memberships {
            // Since PostgreSQL 16 a grant may allow neither: membership without reach.
            let how = match (ms.inherits, ms.can_set) {
                (true, _) => "inherits",
                (false, true) => "via SET ROLE",
                (false, false) => "no reach: neither INHERIT nor SET",
            };
            lines.push(Line::from(format!("  {} → {} ({how})", ms.member, ms.role)));
        }
    }
    lines
}

fn objects(m: &GrantMatrix, group: Group) -> BTreeSet<&str> {
    m.entries
        .iter()
        .filter(|e| group.holds(e.kind))
        .map(|e| e.object.as_str())
        .collect()
}
