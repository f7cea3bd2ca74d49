//! Exact on-disk sizes, measured in chunks with progress and cancellation: the bare query
//! takes seconds at 10,000 tenants, so nothing may wait on it whole.

use crate::error::{Error, Result};
use crate::job::{JobReport, Progress, ProgressSender, report_progress};
use crate::session::Session;
use tokio_util::sync::CancellationToken;

/// Schemas measured per query: small enough to report progress and cancel promptly.
pub const EXACT_CHUNK: usize = 500;

/// Progress of an exact-size measurement: the `(schema, bytes)` of each chunk.
pub type SizeProgress = Progress<(String, i64)>;

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

/// Measures `schemas` in chunks of [`EXACT_CHUNK`] under the [`crate::job`] contract: each
/// chunk's `(schema, bytes)` lands in a progress report as it is measured. On cancel, the
/// running query is cancelled on the server and the report lists the schemas not measured.
/// A failed chunk ends the job with its error (the next would fail the same way).
pub async fn measure_sizes(
    session: &Session,
    schemas: &[String],
    progress: &ProgressSender<(String, i64)>,
    cancel: &CancellationToken,
) -> Result<JobReport<(String, i64)>> {
    let mut report = JobReport::default();
    let mut done = 0;
    for chunk in schemas.chunks(EXACT_CHUNK) {
        if cancel.is_cancelled() {
            report.cancelled = true;
            report.not_tried.extend(schemas[done..].iter().cloned());
            break;
        }
        let sizes = match measure(session, chunk, cancel).await {
            Ok(sizes) => sizes,
            Err(Error::Cancelled(_)) => {
                report.cancelled = true;
                report.not_tried.extend(schemas[done..].iter().cloned());
                break;
            }
            Err(e) => return Err(e),
        };
        done += chunk.len();
        report_progress(
            progress,
            Progress {
                done,
                total: schemas.len(),
                current: chunk.last().cloned().unwrap_or_default(),
                landed: sizes.clone(),
                failed: Vec::new(),
            },
        );
        report.done.extend(sizes);
    }
    Ok(report)
}
