//! Text tables that fit 80 columns, and JSON.

use crate::error::{Error, Result};
use serde::Serialize;

/// Writes command output to stdout (the `out!`/`outln!` macros). See [`output_failed`].
pub fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        output_failed(e)
    }
}

/// Ends tenantctl when its output cannot be written. A reader that went away
/// (`tenantctl tenant list | head`) ends it as it ends other command-line tools there: by
/// SIGPIPE, without a word (shells report 141). Any other failure (a full disk under a
/// redirect) is reported and ends it with the error exit code.
pub fn output_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        use nix::sys::signal::{SigHandler, Signal, raise, signal};
        // SAFETY: the default disposition installs no handler, so nothing can run in one.
        // tenantctl ignores SIGPIPE while it works (the Rust runtime's default) so that a
        // server closing a socket is an error it reports, not a silent death.
        unsafe {
            let _ = signal(Signal::SIGPIPE, SigHandler::SigDfl);
        }
        let _ = raise(Signal::SIGPIPE);
        std::process::exit(141);
    }
    eprintln!("error: writing the output: {e}");
    std::process::exit(i32::from(crate::exit::ERROR));
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    use std::io::Write;
    // Encoded straight into a buffered stdout: a 10,000-tenant list is 4 MB of JSON, which
    // built as one string first and then copied out cost 15-35 ms more.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    if let Err(e) = serde_json::to_writer_pretty(&mut out, value) {
        match e.io_error_kind() {
            Some(_) => output_failed(e.into()),
            None => return Err(Error::Invalid(format!("cannot encode JSON output: {e}"))),
        }
    }
    if let Err(e) = writeln!(out).and_then(|()| out.flush()) {
        output_failed(e)
    }
    Ok(())
}

/// Text from the database made safe for a terminal: control characters (escape
/// sequences, carriage returns, bidi controls) shown escaped, the rest unchanged.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A character that could drive a terminal: a control character or a bidi control.
fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
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
        // Most cells need no escaping and are kept as they are (10,000-row tables).
        self.rows.push(
            cells
                .into_iter()
                .map(|c| {
                    if c.chars().any(unsafe_char) {
                        printable(&c)
                    } else {
                        c
                    }
                })
                .collect(),
        );
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
        // Written straight into one buffer: a cell costs no allocation unless it is cut
        // (formatting each cell and joining them made 30 ms of a 10,000-row `tenant list`).
        let mut out = String::with_capacity((total.min(width) + 1) * (self.rows.len() + 1));
        let mut line = |cells: &[String]| {
            let start = out.len();
            for (i, width) in widths.iter().enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                let count = cell.chars().count();
                let cut;
                let (cell, count) = if count > *width {
                    cut = crate::units::fit(cell, *width);
                    (cut.as_str(), cut.chars().count())
                } else {
                    (cell, count)
                };
                let pad = width - count;
                match self.aligns[i] {
                    Align::Left => {
                        out.push_str(cell);
                        if i + 1 < n {
                            out.extend(std::iter::repeat_n(' ', pad));
                        }
                    }
                    Align::Right => {
                        out.extend(std::iter::repeat_n(' ', pad));
                        out.push_str(cell);
                    }
                }
            }
            let kept = out[start..].trim_end().len();
            out.truncate(start + kept);
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
