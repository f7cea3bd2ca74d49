//! The data section of an archive (`pg_restore --data-only -f -`) loaded straight into the
//! side schema over our own connection, so a restore loads the rows once. Only the
//! statements pg_restore writes around the rows are read and rebuilt (`COPY old.t (...) FROM
//! stdin;`, `SELECT pg_catalog.setval('old.s', n, b);`), each checked against the tables
//! and sequences the side schema holds; anything else refuses the restore. The rows inside
//! a COPY block go to the server byte for byte.

use crate::error::{Error, Result};
use crate::names::quote_ident;
use std::collections::{HashMap, HashSet};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio_util::sync::CancellationToken;

/// A statement line outside the COPY blocks, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// Blank, a comment, a session setting pg_restore always writes, a psql `\restrict`.
    Skip,
    /// `SET client_encoding = '...'`: the encoding of the rows that follow.
    Encoding(String),
    /// `COPY old.table (columns) FROM stdin;`
    Copy { table: String, columns: Vec<String> },
    /// `SELECT pg_catalog.setval('old.sequence', value, is_called);`
    SetVal {
        sequence: String,
        value: i64,
        called: bool,
    },
}

/// Settings pg_restore writes at the head of its script; none of them changes what the
/// rows mean except the encoding (kept) and the string syntax (must be the standard one).
const SETTINGS: &[&str] = &[
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "transaction_timeout",
    "check_function_bodies",
    "xmloption",
    "client_min_messages",
    "row_security",
    "default_tablespace",
    "default_table_access_method",
    "default_toast_compression",
    "default_with_oids",
];

/// Reads an identifier as pg_dump's fmtId writes it (bare lowercase, or double-quoted with
/// `""` for a quote); returns it and the rest of the text.
fn ident(s: &str) -> Option<(String, &str)> {
    if let Some(rest) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if rest[i + 1..].starts_with('"') {
                    out.push('"');
                    chars.next();
                } else {
                    return (!out.is_empty()).then_some((out, &rest[i + 1..]));
                }
            } else {
                out.push(c);
            }
        }
        return None;
    }
    let end = s
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(s.len());
    let (name, rest) = s.split_at(end);
    let first = name.chars().next()?;
    (first.is_ascii_lowercase() || first == '_').then(|| (name.to_string(), rest))
}

/// `old.name` with `old` the archive's schema; returns the name and the rest.
fn qualified<'a>(s: &'a str, old: &str) -> Option<(String, &'a str)> {
    let (schema, rest) = ident(s)?;
    if schema != old {
        return None;
    }
    ident(rest.strip_prefix('.')?)
}

/// A standard-conforming string literal (`'...'` with `''` for a quote); its text and the rest.
fn literal(s: &str) -> Option<(String, &str)> {
    let rest = s.strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if rest[i + 1..].starts_with('\'') {
                out.push('\'');
                chars.next();
            } else {
                return Some((out, &rest[i + 1..]));
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// Understands one line outside a COPY block (without its newline), or says what is wrong
/// with it. `old` is the schema the archive names.
pub(crate) fn classify(line: &str, old: &str) -> std::result::Result<Line, String> {
    let t = line.trim_end_matches('\r');
    if t.trim().is_empty() || t.starts_with("--") {
        return Ok(Line::Skip);
    }
    // psql's guard against a server smuggling meta-commands into a script (pg_dump 17.6,
    // 16.10, 15.14 ...): a random key, meaningful to psql only; the rows go over our
    // own connection, never through psql.
    if let Some(key) = t
        .strip_prefix("\\restrict ")
        .or_else(|| t.strip_prefix("\\unrestrict "))
        && !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Ok(Line::Skip);
    }
    if t == "SELECT pg_catalog.set_config('search_path', '', false);" {
        return Ok(Line::Skip);
    }
    if let Some(rest) = t.strip_prefix("SET ")
        && let Some((name, value)) = rest.strip_suffix(';').and_then(|r| r.split_once(" = "))
    {
        if name == "client_encoding" {
            let enc = literal(value)
                .filter(|(v, r)| {
                    r.is_empty()
                        && !v.is_empty()
                        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
                .map(|(v, _)| v);
            return enc
                .map(Line::Encoding)
                .ok_or_else(|| format!("an unreadable encoding setting: {t}"));
        }
        if name == "standard_conforming_strings" {
            return if value == "on" {
                Ok(Line::Skip)
            } else {
                Err(format!("non-standard string syntax ({t})"))
            };
        }
        if SETTINGS.contains(&name) {
            return Ok(Line::Skip);
        }
    }
    if let Some(rest) = t.strip_prefix("COPY ") {
        let parsed = (|| {
            let (table, rest) = qualified(rest, old)?;
            let mut rest = rest.strip_prefix(' ')?;
            let mut columns = Vec::new();
            if let Some(mut list) = rest.strip_prefix('(') {
                loop {
                    let (c, after) = ident(list)?;
                    columns.push(c);
                    if let Some(after) = after.strip_prefix(", ") {
                        list = after;
                    } else {
                        rest = after.strip_prefix(')')?;
                        break;
                    }
                }
            }
            (rest == " FROM stdin;").then_some(Line::Copy { table, columns })
        })();
        return parsed.ok_or_else(|| format!("a COPY that is not into a table of {old}: {t}"));
    }
    if let Some(rest) = t.strip_prefix("SELECT pg_catalog.setval(") {
        let parsed = (|| {
            let (name, rest) = literal(rest)?;
            let (sequence, tail) = qualified(&name, old)?;
            if !tail.is_empty() {
                return None;
            }
            let (value, rest) = rest.strip_prefix(", ")?.split_once(", ")?;
            let value: i64 = value.parse().ok()?;
            let called = match rest {
                "true);" => true,
                "false);" => false,
                _ => return None,
            };
            Some(Line::SetVal {
                sequence,
                value,
                called,
            })
        })();
        return parsed.ok_or_else(|| format!("a setval that is not of a sequence of {old}: {t}"));
    }
    Err(format!("an unexpected statement: {}", shorten(t)))
}

fn shorten(t: &str) -> String {
    match t.char_indices().nth(100) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None => t.to_string(),
    }
}

/// What the side schema holds (from the catalog after its pre-data was restored), and the
/// row counts the backup's manifest promises.
pub(crate) struct Targets {
    /// Tables (relkind `r`) and partitioned tables (`p`) by name.
    pub tables: HashMap<String, char>,
    pub sequences: HashSet<String>,
    /// Manifest row counts by table.
    pub rows: HashMap<String, i64>,
    /// The plain tables were made empty in the caller's transaction, so their rows may be
    /// written frozen.
    pub freeze: bool,
}

/// Reads the data section from `input` and loads it into schema `side` on `conn` (inside
/// the caller's transaction). `on_table` hears of each table loaded. Every plain table the
/// manifest counts rows for must receive exactly that many rows. `ended` is set once the
/// input has ended (so a failure then may be the producer's, not the data's).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn load(
    conn: &mut sqlx::PgConnection,
    mut input: impl AsyncBufRead + Unpin,
    old: &str,
    side: &str,
    targets: &Targets,
    cancel: &CancellationToken,
    ended: &mut bool,
    mut on_table: impl FnMut(&str),
) -> Result<()> {
    let refuse = |why: String| {
        Error::Invalid(format!(
            "restore: the archive's data section holds {why}; tenantctl loads only table rows and sequence values, and refused it"
        ))
    };
    let mut line: Vec<u8> = Vec::with_capacity(4096);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 64 * 1024);
    let mut loaded: HashSet<String> = HashSet::new();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .await
            .map_err(|source| Error::Io {
                what: "reading pg_restore's data section".into(),
                source,
            })?;
        if n == 0 {
            *ended = true;
            break;
        }
        if cancel.is_cancelled() {
            return Err(Error::Cancelled(
                "restore: cancelled while loading rows".into(),
            ));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| refuse("a statement line that is not UTF-8".into()))?;
        let text = text.strip_suffix('\n').unwrap_or(text);
        match classify(text, old).map_err(refuse)? {
            Line::Skip => {}
            Line::Encoding(enc) => {
                sqlx::query("SELECT set_config('client_encoding', $1, true)")
                    .bind(&enc)
                    .execute(&mut *conn)
                    .await
                    .map_err(Error::db(format!("restore: setting client_encoding {enc}")))?;
            }
            Line::SetVal {
                sequence,
                value,
                called,
            } => {
                if !targets.sequences.contains(&sequence) {
                    return Err(refuse(format!(
                        "a value for {old}.{sequence}, which is not a sequence of the restored schema"
                    )));
                }
                sqlx::query("SELECT pg_catalog.setval($1::text::regclass, $2, $3)")
                    .bind(format!("{}.{}", quote_ident(side), quote_ident(&sequence)))
                    .bind(value)
                    .bind(called)
                    .execute(&mut *conn)
                    .await
                    .map_err(Error::db(format!(
                        "restore: setting sequence {side}.{sequence}"
                    )))?;
            }
            Line::Copy { table, columns } => {
                if !targets.tables.contains_key(&table) {
                    return Err(refuse(format!(
                        "rows for {old}.{table}, which is not a table of the restored schema"
                    )));
                }
                if !loaded.insert(table.clone()) {
                    return Err(refuse(format!("rows for {old}.{table} twice")));
                }
                let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
                let mut stmt = if cols.is_empty() {
                    format!(
                        "COPY {}.{} FROM STDIN",
                        quote_ident(side),
                        quote_ident(&table)
                    )
                } else {
                    format!(
                        "COPY {}.{} ({}) FROM STDIN",
                        quote_ident(side),
                        quote_ident(&table),
                        cols.join(", ")
                    )
                };
                // Frozen and marked all-visible as written: the first autovacuum of the
                // restored tables (due at once after a load) then has nothing to read or
                // rewrite, where it would otherwise hold their lock for as long as a full
                // pass over them takes, in the way of the swap and of the application.
                if targets.freeze && targets.tables.get(&table) == Some(&'r') {
                    stmt.push_str(" (FREEZE)");
                }
                let during = format!("restore: loading {side}.{table}");
                let mut copy = conn
                    .copy_in_raw(&stmt)
                    .await
                    .map_err(Error::db(during.clone()))?;
                let pumped = pump(&mut input, &mut buf, &mut copy, cancel).await;
                let rows = match pumped {
                    Ok(()) => copy.finish().await.map_err(Error::db(during))?,
                    Err(e) => {
                        // Ends the COPY on the wire, so the connection can roll back.
                        let _ = copy.abort("tenantctl: restore stopped").await;
                        return Err(match e {
                            Pump::Truncated => {
                                *ended = true;
                                refuse(format!(
                                    "rows for {old}.{table} that end without the end-of-data line (truncated)"
                                ))
                            }
                            Pump::Cancelled => {
                                Error::Cancelled("restore: cancelled while loading rows".into())
                            }
                            Pump::Io(source) => Error::Io {
                                what: "reading pg_restore's data section".into(),
                                source,
                            },
                            Pump::Db(e) => Error::Db { during, source: e },
                        });
                    }
                };
                if targets.tables.get(&table) == Some(&'r')
                    && let Some(&want) = targets.rows.get(&table)
                    && want != rows as i64
                {
                    return Err(refuse(format!(
                        "{rows} rows for {old}.{table} where its manifest counts {want}"
                    )));
                }
                on_table(&table);
            }
        }
    }
    for (table, want) in &targets.rows {
        if *want > 0 && targets.tables.get(table) == Some(&'r') && !loaded.contains(table) {
            return Err(refuse(format!(
                "no rows for {old}.{table} where its manifest counts {want}"
            )));
        }
    }
    Ok(())
}

/// Rows are sent in chunks of about this size.
const CHUNK: usize = 1 << 20;

enum Pump {
    Truncated,
    Cancelled,
    Io(std::io::Error),
    Db(sqlx::Error),
}

/// Sends the rows of one COPY block, up to its `\.` line, untouched.
async fn pump(
    input: &mut (impl AsyncBufRead + Unpin),
    buf: &mut Vec<u8>,
    copy: &mut sqlx::postgres::PgCopyIn<&mut sqlx::PgConnection>,
    cancel: &CancellationToken,
) -> std::result::Result<(), Pump> {
    buf.clear();
    loop {
        let start = buf.len();
        let n = input.read_until(b'\n', buf).await.map_err(Pump::Io)?;
        if n == 0 {
            return Err(Pump::Truncated);
        }
        // A row never reads `\.`: COPY's text format writes a backslash as `\\`.
        if matches!(&buf[start..], b"\\.\n" | b"\\.\r\n") {
            buf.truncate(start);
            if !buf.is_empty() {
                copy.send(&buf[..]).await.map_err(Pump::Db)?;
            }
            return Ok(());
        }
        if buf.len() >= CHUNK {
            if cancel.is_cancelled() {
                return Err(Pump::Cancelled);
            }
            copy.send(&buf[..]).await.map_err(Pump::Db)?;
            buf.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statements_pg_restore_writes_are_understood() {
        let old = "tenant_acme";
        for skip in [
            "",
            "--",
            "-- Data for Name: t; Type: TABLE DATA; Schema: tenant_acme; Owner: -",
            "\\restrict NTdNksfTJeon40ZZKgMDFTIngkZrdI",
            "\\unrestrict NTdNksfTJeon40ZZKgMDFTIngkZrdI",
            "SET statement_timeout = 0;",
            "SET standard_conforming_strings = on;",
            "SELECT pg_catalog.set_config('search_path', '', false);",
            "SET row_security = off;",
        ] {
            assert_eq!(classify(skip, old), Ok(Line::Skip), "{skip}");
        }
        assert_eq!(
            classify("SET client_encoding = 'LATIN1';", old),
            Ok(Line::Encoding("LATIN1".into()))
        );
        assert_eq!(
            classify(
                r#"COPY tenant_acme."Odd ""Name""" (id, "we ird", "select") FROM stdin;"#,
                old
            ),
            Ok(Line::Copy {
                table: "Odd \"Name\"".into(),
                columns: vec!["id".into(), "we ird".into(), "select".into()],
            })
        );
        assert_eq!(
            classify("COPY tenant_acme.empty  FROM stdin;", old),
            Ok(Line::Copy {
                table: "empty".into(),
                columns: vec![],
            })
        );
        assert_eq!(
            classify(
                "SELECT pg_catalog.setval('tenant_acme.\"it''s_seq\"', -42, false);",
                old
            ),
            Ok(Line::SetVal {
                sequence: "it's_seq".into(),
                value: -42,
                called: false,
            })
        );
    }

    #[test]
    fn anything_else_is_refused() {
        let old = "tenant_acme";
        for bad in [
            // Another schema, or something after the statement.
            "COPY tenant_other.invoices (id) FROM stdin;",
            "COPY tenant_acme.invoices (id) FROM stdin; DROP TABLE x;",
            "COPY tenant_acme.invoices (id) TO stdout;",
            "COPY tenant_acme.invoices (id, \"x) FROM stdin;",
            "SELECT pg_catalog.setval('tenant_other.s', 1, true);",
            "SELECT pg_catalog.setval('tenant_acme.s', 1, true); SELECT 1;",
            "SELECT pg_catalog.setval('tenant_acme.s; x', 1, true);",
            // Large objects, and anything a data section should not hold.
            "SELECT pg_catalog.lo_create('16390');",
            "SELECT pg_catalog.lo_open('16390', 131072);",
            "INSERT INTO tenant_acme.invoices VALUES (1);",
            "SET search_path = tenant_other;",
            "SET standard_conforming_strings = off;",
            "SET client_encoding = 'UTF8'' x';",
            "\\! rm -rf /",
            "\\restrict ",
            "BEGIN;",
        ] {
            assert!(classify(bad, old).is_err(), "{bad}");
        }
    }
}
