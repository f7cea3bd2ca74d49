//! Exact on-disk sizes, measured in chunks with progress and cancellation: the bare query
//! takes seconds at 10,000 tenants, so nothing may wait on it whole.

use crate::error::Result;
use crate::session::Session;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// Schemas measured per query: small enough to report progress and cancel promptly.
pub const EXACT_CHUNK: usize = 500;

/// One measured chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeProgress {
    pub done: usize,
    pub total: usize,
    /// `(schema, bytes)` of this chunk.
    pub sizes: Vec<(String, i64)>,
}

const EXACT_SQL: &str = r#"
SELECT n.nspname::text, coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
FROM pg_namespace n
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'm', 'S')
WHERE n.nspname = ANY($1)
GROUP BY n.nspname"#;

/// Measured size (`pg_total_relation_size`: heap, indexes, TOAST) of each schema named,
/// in one query. Schemas that do not exist are left out.
pub async fn exact_sizes(session: &Session, schemas: &[String]) -> Result<Vec<(String, i64)>> {
    measure(session, schemas, &CancellationToken::new()).await
}

async fn measure(
    session: &Session,
    schemas: &[String],
    cancel: &CancellationToken,
) -> Result<Vec<(String, i64)>> {
    let schemas = schemas.to_vec();
    session
        .cancellable(cancel, "measuring schema sizes", move |conn| {
            Box::pin(async move {
                sqlx::query_as(EXACT_SQL)
                    .bind(&schemas)
                    .fetch_all(&mut *conn)
                    .await
            })
        })
        .await
}

/// Measures `schemas` in chunks of [`EXACT_CHUNK`], sending each chunk's sizes as it lands;
/// stops with `Error::Cancelled` (cancelling the running query) when `cancel` fires.
pub async fn measure_sizes(
    session: &Session,
    schemas: &[String],
    progress: Option<UnboundedSender<SizeProgress>>,
    cancel: &CancellationToken,
) -> Result<Vec<(String, i64)>> {
    let mut all = Vec::with_capacity(schemas.len());
    let mut done = 0;
    for chunk in schemas.chunks(EXACT_CHUNK) {
        let sizes = measure(session, chunk, cancel).await?;
        done += chunk.len();
        if let Some(tx) = &progress {
            let _ = tx.send(SizeProgress {
                done,
                total: schemas.len(),
                sizes: sizes.clone(),
            });
        }
        all.extend(sizes);
    }
    Ok(all)
}
