//! Kept copies: the previous contents of tenants restored in place, closed to every
//! application role, dropped only on request.

use super::KEPT_PREFIX;
use crate::error::{Error, Result};
use crate::journal::{self, Entry};
use crate::names::quote_ident;
use crate::session::Session;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One kept copy.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeptCopy {
    /// The schema holding it.
    pub name: String,
    pub tenant: Option<String>,
    pub kept_at: Option<DateTime<Utc>>,
    /// The backup restored over it.
    pub restored_from: Option<String>,
    pub size_bytes: i64,
}

const KEPT_SQL: &str = r#"
SELECT n.nspname::text, obj_description(n.oid, 'pg_namespace'),
       coalesce((SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
                 WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'm', 'S')), 0)::bigint
FROM pg_namespace n
WHERE left(n.nspname, length($1)) = $1
ORDER BY 1"#;

/// Kept copies (of one tenant, or all), by name.
pub async fn kept(session: &Session, tenant: Option<&str>) -> Result<Vec<KeptCopy>> {
    if let Some(t) = tenant {
        session.names.tenant_id(t)?;
    }
    let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(KEPT_SQL)
        .bind(KEPT_PREFIX)
        .fetch_all(&session.pool)
        .await
        .map_err(Error::db("listing kept copies"))?;
    Ok(rows
        .into_iter()
        .map(|(name, comment, size_bytes)| {
            let note: serde_json::Value = comment
                .and_then(|c| serde_json::from_str(&c).ok())
                .unwrap_or_default();
            KeptCopy {
                tenant: note["tenant"].as_str().map(str::to_string),
                kept_at: note["kept_at"]
                    .as_str()
                    .and_then(|s| s.parse::<DateTime<Utc>>().ok()),
                restored_from: note["restored_from"].as_str().map(str::to_string),
                name,
                size_bytes,
            }
        })
        .filter(|k| tenant.is_none() || k.tenant.as_deref() == tenant)
        .collect())
}

/// Drops the named kept copies (or all of them) in one transaction; a name that is not a
/// kept copy refuses the whole request.
pub async fn release(session: &Session, which: Option<&[String]>) -> Result<Vec<String>> {
    session.ensure_writable("backups release")?;
    let all = kept(session, None).await?;
    let chosen: Vec<String> = match which {
        None => all.iter().map(|k| k.name.clone()).collect(),
        Some(names) => {
            for n in names {
                if !all.iter().any(|k| &k.name == n) {
                    return Err(Error::Invalid(format!(
                        "{n:?} is not a kept copy; `tenantctl backups kept` lists them; nothing was dropped"
                    )));
                }
            }
            names.to_vec()
        }
    };
    if chosen.is_empty() {
        return Ok(chosen);
    }
    let summary = format!("DROP SCHEMA {} CASCADE", chosen.join(", "));
    let result: Result<()> = async {
        let mut tx = session.begin_change("backups release").await?;
        for n in &chosen {
            sqlx::query(&format!("DROP SCHEMA {} CASCADE", quote_ident(n)))
                .execute(&mut *tx)
                .await
                .map_err(Error::db(format!("backups release: dropping {n}")))?;
        }
        journal::record(
            &mut tx,
            session,
            &Entry {
                action: "backups release",
                tenant: None,
                sql_summary: summary.clone(),
                outcome: "ok".into(),
                detail: Some(serde_json::json!({ "released": chosen })),
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(Error::db("backups release: committing"))
    }
    .await;
    match result {
        Ok(()) => Ok(chosen),
        Err(e) => {
            let entry = Entry {
                action: "backups release",
                tenant: None,
                sql_summary: summary,
                outcome: format!("failed: {e}"),
                detail: None,
            };
            match journal::record_failure(session, &entry).await {
                None => Err(e),
                Some(log_error) => Err(Error::Unlogged {
                    error: Box::new(e),
                    log_error: log_error.to_string(),
                }),
            }
        }
    }
}
