//! The console log (`commons.admin_log`): every change tenantctl made, and its outcome.

use crate::error::{Error, Result};
use crate::session::Session;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

/// One change to record.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub action: &'a str,
    pub tenant: Option<&'a str>,
    /// The statements, summarised (no values that could be secret).
    pub sql_summary: String,
    /// `ok`, or `failed: <cause>`.
    pub outcome: String,
    pub detail: Option<serde_json::Value>,
}

/// A row of the console log.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq)]
pub struct LogEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub os_user: String,
    pub db_role: String,
    pub action: String,
    pub tenant_id: Option<String>,
    pub sql_summary: String,
    pub outcome: String,
}

/// Writes `entry` on `conn`, inside the caller's transaction when there is one.
pub async fn record(conn: &mut PgConnection, session: &Session, entry: &Entry<'_>) -> Result<()> {
    let sql = session.names.template_vars().render(
        "INSERT INTO {{log}} (os_user, action, tenant_id, sql_summary, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )?;
    sqlx::query(&sql)
        .bind(&session.os_user)
        .bind(entry.action)
        .bind(entry.tenant)
        .bind(&entry.sql_summary)
        .bind(&entry.outcome)
        .bind(&entry.detail)
        .execute(conn)
        .await
        .map_err(Error::db("writing the console log"))?;
    Ok(())
}

/// Records a failed change after its transaction rolled back. Best effort: a failure to log
/// must not hide the original error, so it is returned for the caller to mention.
pub async fn record_failure(session: &Session, entry: &Entry<'_>) -> Option<Error> {
    if session.read_only() {
        return None;
    }
    let mut conn = match session.pool.acquire().await {
        Ok(c) => c,
        Err(e) => return Some(Error::db("writing the console log")(e)),
    };
    let mut tx = match sqlx::Connection::begin(&mut *conn).await {
        Ok(t) => t,
        Err(e) => return Some(Error::db("writing the console log")(e)),
    };
    if let Err(e) = crate::session::act_as_admin(&mut tx, &session.names).await {
        return Some(Error::db("writing the console log")(e));
    }
    if let Err(e) = record(&mut tx, session, entry).await {
        return Some(e);
    }
    tx.commit()
        .await
        .err()
        .map(Error::db("writing the console log"))
}

/// The newest `limit` rows of the console log, newest first.
pub async fn recent(session: &Session, limit: i64) -> Result<Vec<LogEntry>> {
    let sql = session.names.template_vars().render(
        "SELECT id, at, os_user, db_role, action, tenant_id, sql_summary, outcome FROM {{log}} ORDER BY at DESC, id DESC LIMIT $1",
    )?;
    sqlx::query_as(&sql)
        .bind(limit)
        .fetch_all(&session.pool)
        .await
        .map_err(|e| match crate::error::sqlstate(&e).as_deref() {
            Some("42P01") | Some("3F000") => {
                Error::NotBootstrapped(format!("{} does not exist", session.names.log()))
            }
            _ => Error::db("reading the console log")(e),
        })
}

/// The canonical text a log row's hash covers; the same expression as the chaining
/// trigger in `assets/bootstrap/v3.sql`, kept here so that verifying does not trust a
/// function stored in the database being verified.
const VERIFY_SQL: &str = r#"
SELECT id, seq, prev_hash, row_hash,
       pg_catalog.convert_to(pg_catalog.jsonb_build_array(seq,
           pg_catalog.to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
           os_user, db_role, action, tenant_id, sql_summary, outcome, detail)::pg_catalog.text,
           'UTF8') AS payload
FROM {{log}}
WHERE seq > $1
ORDER BY seq
LIMIT $2
"#;

/// Rows read per round trip while verifying.
const VERIFY_CHUNK: i64 = 5_000;

/// One problem `log --verify` found.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChainFinding {
    /// The row's position in the chain (`seq`), or the first missing one.
    pub seq: i64,
    /// The row's id, when the row exists.
    pub id: Option<i64>,
    /// `edited`, `missing` or `unlinked`.
    pub problem: String,
    /// One line for people.
    pub message: String,
}

/// What `log --verify` found.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ChainReport {
    pub rows: i64,
    /// The newest row's seq and hash (hex): record them elsewhere to catch a later
    /// rewrite of the whole chain or removal of its newest rows.
    pub head_seq: Option<i64>,
    pub head_hash: Option<String>,
    pub findings: Vec<ChainFinding>,
}

impl ChainReport {
    /// True when every row is present, unedited and linked.
    pub fn intact(&self) -> bool {
        self.findings.is_empty()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Recomputes the console log's hash chain and names every row edited, missing or
/// unlinked.
pub async fn verify(session: &Session) -> Result<ChainReport> {
    use sha2::{Digest, Sha256};
    type Row = (i64, i64, Vec<u8>, Vec<u8>, Vec<u8>);
    let sql = session.names.template_vars().render(VERIFY_SQL)?;
    let mut report = ChainReport::default();
    let mut expected_seq = 1_i64;
    let mut prev: Vec<u8> = Vec::new();
    let mut after = 0_i64;
    loop {
        let rows: Vec<Row> = sqlx::query_as(&sql)
            .bind(after)
            .bind(VERIFY_CHUNK)
            .fetch_all(&session.pool)
            .await
            .map_err(|e| match crate::error::sqlstate(&e).as_deref() {
                Some("42P01") | Some("3F000") => {
                    Error::NotBootstrapped(format!("{} does not exist", session.names.log()))
                }
                Some("42703") => Error::NotBootstrapped(format!(
                    "{} has no hash chain yet (bootstrap older than version 3): run `tenantctl init`",
                    session.names.log()
                )),
                _ => Error::db("reading the console log")(e),
            })?;
        let n = rows.len() as i64;
        for (id, seq, prev_hash, row_hash, payload) in rows {
            report.rows += 1;
            if seq != expected_seq {
                let message = if seq == expected_seq + 1 {
                    format!("row {expected_seq} is missing (deleted)")
                } else {
                    format!("rows {expected_seq} to {} are missing (deleted)", seq - 1)
                };
                report.findings.push(ChainFinding {
                    seq: expected_seq,
                    id: None,
                    problem: "missing".into(),
                    message,
                });
            } else if prev_hash != prev {
                report.findings.push(ChainFinding {
                    seq,
                    id: Some(id),
                    problem: "unlinked".into(),
                    message: format!(
                        "row {seq} (id {id}) does not link to row {}: one of them was rewritten",
                        seq - 1
                    ),
                });
            }
            let mut h = Sha256::new();
            h.update(&prev_hash);
            h.update(&payload);
            if h.finalize()[..] != row_hash[..] {
                report.findings.push(ChainFinding {
                    seq,
                    id: Some(id),
                    problem: "edited".into(),
                    message: format!("row {seq} (id {id}) was edited after it was written"),
                });
            }
            report.head_seq = Some(seq);
            report.head_hash = Some(hex(&row_hash));
            prev = row_hash;
            expected_seq = seq + 1;
            after = seq;
        }
        if n < VERIFY_CHUNK {
            break;
        }
    }
    Ok(report)
}
