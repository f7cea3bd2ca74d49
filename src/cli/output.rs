//! Text tables that fit 80 columns, and JSON.

use crate::error::{Error, Result};
use serde::Serialize;

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Invalid(format!("cannot encode JSON output: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Text from the database made safe for a terminal: control characters (escape
/// sequences, carriage returns, bidi controls) shown escaped, the rest unchanged.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Alignment of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A plain text table; the last left-aligned column wide enough is cut to fit `width`.
pub struct Table {
    headers: Vec<&'static str>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            aligns: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (cells beyond the header count are dropped); control characters are
    /// escaped so that a crafted name cannot drive the terminal.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| printable(c)).collect());
    }

    /// Renders the table to fit `width` columns.
    pub fn render(&self, width: usize) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(n) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let total = widths.iter().sum::<usize>() + 2 * n.saturating_sub(1);
        if total > width {
            // Shrink the widest left-aligned column (names, usually).
            if let Some((i, _)) = widths
                .iter()
                .enumerate()
                .filter(|(i, _)| self.aligns[*i] == Align::Left)
                .max_by_key(|(_, w)| **w)
            {
                let excess = total - width;
                widths[i] = widths[i]
                    .saturating_sub(excess)
                    .max(self.headers[i].len())
                    .max(4);
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut parts = Vec::with_capacity(n);
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                let cell = crate::units::fit(cell, *width);
                let pad = width - cell.chars().count();
                let last = i + 1 == n;
                parts.push(match self.aligns[i] {
                    Align::Left if last => cell,
                    Align::Left => format!("{cell}{}", " ".repeat(pad)),
                    Align::Right => format!("{}{cell}", " ".repeat(pad)),
                });
            }
            out.push_str(parts.join("  ").trim_end());
            out.push('\n');
        };
        line(
            &self
                .headers
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>(),
        );
        for row in &self.rows {
            line(row);
        }
        out
    }
}
