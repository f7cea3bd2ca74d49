//! The audit as Markdown, ready to paste into an incident ticket, grouped by severity.

use super::{AuditReport, Severity};

/// Escapes text for a Markdown table cell or line: pipes, backticks and line breaks.
fn md(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => s.push_str("\\|"),
            '`' => s.push('\''),
            '\n' | '\r' => s.push(' '),
            c if c.is_control() => s.push('\u{fffd}'),
            c => s.push(c),
        }
    }
    s
}

/// The report as Markdown: a summary line, then one section per severity with each
/// finding's id, object, message, path and fix.
pub fn markdown(report: &AuditReport, database: &str) -> String {
    let mut out = String::new();
    out.push_str("# tenantctl audit: ");
    out.push_str(&md(database));
    out.push_str("\n\n");
    let s = &report.summary;
    out.push_str(&format!(
        "{} tenants checked; {} finding{}: {}",
        s.tenants,
        s.total,
        if s.total == 1 { "" } else { "s" },
        s.short()
    ));
    if let Some(new) = s.new {
        out.push_str(&format!(" ({new} new since the baseline)"));
    }
    out.push_str(".\n");
    for severity in Severity::ALL {
        let group: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .collect();
        if group.is_empty() {
            continue;
        }
        out.push_str(&format!("\n## {} ({})\n", severity.as_str(), group.len()));
        for f in group {
            let mut place: Vec<String> = Vec::new();
            if let Some(schema) = &f.schema {
                place.push(schema.clone());
            }
            if let Some(object) = &f.object {
                place.push(object.clone());
            }
            out.push_str(&format!(
                "\n### `{}`{}\n\n",
                f.id,
                if f.new == Some(true) { " (new)" } else { "" }
            ));
            out.push_str(&format!("- **rule**: {}\n", f.rule));
            if !place.is_empty() {
                out.push_str(&format!("- **object**: {}\n", md(&place.join("."))));
            }
            if let Some(role) = &f.role {
                out.push_str(&format!("- **role**: {}\n", md(role)));
            }
            out.push_str(&format!("- **why**: {}\n", md(&f.message)));
            if let Some(path) = &f.path {
                out.push_str(&format!("- **path**: {}\n", md(path)));
            }
            match &f.fix {
                Some(sql) => {
                    out.push_str("- **fix**:\n\n```sql\n");
                    out.push_str(sql.trim_end());
                    out.push_str("\n```\n");
                }
                None => out.push_str("- **fix**: a person must decide\n"),
            }
        }
    }
    out
}
