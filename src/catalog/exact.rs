//! Exact on-disk sizes in one pass over the catalog, streamed: rows arrive schema by schema,
//! each schema is reported as soon as its last relation is measured, and cancelling stops
//! the statement on the server. The bare query takes seconds at 10,000 tenants, so nothing
//! may wait on it whole.

use crate::error::{Error, Result};
use crate::job::{JobReport, Progress, ProgressSender, report_progress};
use crate::session::Session;
use futures_util::TryStreamExt;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Most schemas reported in one progress message (fewer when the measurement is slow: a
/// message also goes out every [`PROGRESS_EVERY`]).
pub const EXACT_CHUNK: usize = 500;

/// Longest gap between two progress messages while schemas complete.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Progress of an exact-size measurement: the `(schema, bytes)` of the schemas completed
/// since the previous report.
pub type SizeProgress = Progress<(String, i64)>;

/// Every relation of the schemas named (none for an empty schema), in schema order, then
/// its size. The CTE is materialised so that the cheap part (one scan of `pg_class`, hash
/// joined to the schemas; the catalog has no index on `relnamespace`) is sorted before any
/// size is measured, and sizes stream out in schema order as they are measured.
/// `pg_total_relation_size` of a table counts its indexes and TOAST; indexes and TOAST are
/// therefore not listed themselves.
const EXACT_SQL: &str = r#"
WITH rels AS MATERIALIZED (
    SELECT n.oid AS nsp, n.nspname::text AS schema, c.oid AS rel
    FROM unnest($1::text[]) AS wanted(name)
    JOIN pg_namespace n ON n.nspname = wanted.name
    LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'm', 'S')
    ORDER BY n.oid
)
SELECT schema, coalesce(pg_total_relation_size(rel), 0)::bigint AS bytes
FROM rels
"#;

/// The exact-size query: on Citus, shard sizes from the workers (see `citus::catalog`).
fn exact_sql(citus: bool) -> &'static str {
    if citus {
        crate::citus::catalog::EXACT_SQL_CITUS
    } else {
        EXACT_SQL
    }
}

/// Measured size (`pg_total_relation_size`: heap, indexes, TOAST) of each schema named,
/// in one query. Schemas that do not exist are left out.
pub async fn exact_sizes(session: &Session, schemas: &[String]) -> Result<Vec<(String, i64)>> {
    let wanted = schemas.to_vec();
    let citus = session.citus;
    session
        .cancellable(
            &CancellationToken::new(),
            "measuring schema sizes",
            move |conn| {
                Box::pin(async move {
                    let mut tally = Tally::new(0, None);
                    let mut rows = sqlx::query_as::<_, (String, i64)>(exact_sql(citus))
                        .bind(&wanted)
                        .fetch(conn);
                    while let Some((schema, bytes)) = rows.try_next().await? {
                        tally.add(schema, bytes);
                    }
                    Ok(tally.finish())
                })
            },
        )
        .await
}

/// Measures `schemas` in one streamed query under the [`crate::job`] contract: the sizes
/// of completed schemas land in progress reports as they are measured. On cancel, the
/// running query is cancelled on the server and the report lists the schemas not measured.
pub async fn measure_sizes(
    session: &Session,
    schemas: &[String],
    progress: &ProgressSender<(String, i64)>,
    cancel: &CancellationToken,
) -> Result<JobReport<(String, i64)>> {
    let wanted = schemas.to_vec();
    let citus = session.citus;
    let total = schemas.len();
    // What was reported before a cancel stays measured.
    let landed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = landed.clone();
    let progress = progress.clone();
    let outcome = session
        .cancellable(cancel, "measuring schema sizes", move |conn| {
            Box::pin(async move {
                let mut tally = Tally::new(total, Some((progress, seen)));
                let mut rows = sqlx::query_as::<_, (String, i64)>(exact_sql(citus))
                    .bind(&wanted)
                    .fetch(conn);
                while let Some((schema, bytes)) = rows.try_next().await? {
                    tally.add(schema, bytes);
                }
                Ok(tally.finish())
            })
        })
        .await;
    let mut report = JobReport::default();
    match outcome {
        Ok(all) => report.done = all,
        Err(Error::Cancelled(_)) => {
            report.cancelled = true;
            report.done = std::mem::take(&mut *landed.lock().unwrap_or_else(|p| p.into_inner()));
            let measured: HashSet<&str> = report.done.iter().map(|(s, _)| s.as_str()).collect();
            report.not_tried = schemas
                .iter()
                .filter(|s| !measured.contains(s.as_str()))
                .cloned()
                .collect();
        }
        Err(e) => return Err(e),
    }
    Ok(report)
}

/// Where completed schemas go: the face's channel, and a copy kept for a cancelled report.
type Sink = (
    ProgressSender<(String, i64)>,
    std::sync::Arc<std::sync::Mutex<Vec<(String, i64)>>>,
);

/// Sums relation sizes per schema from rows in schema order and reports completed schemas.
struct Tally {
    total: usize,
    progress: Option<Sink>,
    all: Vec<(String, i64)>,
    /// Index in `all` of the first schema not yet reported.
    reported: usize,
    last_sent: Instant,
}

impl Tally {
    fn new(total: usize, progress: Option<Sink>) -> Tally {
        Tally {
            total,
            progress,
            all: Vec::with_capacity(total),
            reported: 0,
            last_sent: Instant::now(),
        }
    }

    fn add(&mut self, schema: String, bytes: i64) {
        match self.all.last_mut() {
            Some((last, sum)) if *last == schema => *sum += bytes,
            _ => {
                // A new schema: the one before it is complete.
                self.all.push((schema, bytes));
                let complete = self.all.len() - 1;
                if complete - self.reported >= EXACT_CHUNK
                    || (complete > self.reported && self.last_sent.elapsed() >= PROGRESS_EVERY)
                {
                    self.send(complete);
                }
            }
        }
    }

    fn send(&mut self, upto: usize) {
        self.send_as(upto, upto);
    }

    /// Reports the schemas up to `upto` as landed, saying `done` schemas are finished.
    fn send_as(&mut self, upto: usize, done: usize) {
        if let Some((tx, kept)) = &self.progress {
            let landed = self.all[self.reported..upto].to_vec();
            kept.lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(landed.iter().cloned());
            report_progress(
                tx,
                Progress {
                    done,
                    total: self.total,
                    current: landed.last().map(|(s, _)| s.clone()).unwrap_or_default(),
                    landed,
                    failed: Vec::new(),
                },
            );
        }
        self.reported = upto;
        self.last_sent = Instant::now();
    }

    fn finish(mut self) -> Vec<(String, i64)> {
        if self.progress.is_some() {
            // Schemas that do not exist never come back: done is what was asked for.
            let (n, total) = (self.all.len(), self.total);
            self.send_as(n, total);
        }
        self.all
    }
}
