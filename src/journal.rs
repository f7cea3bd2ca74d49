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
