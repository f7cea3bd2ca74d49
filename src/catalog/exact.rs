//! Exact on-disk sizes in one query, streamed: one row per schema, each reported as soon as
//! it is measured (in batches), and cancelling stops
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
pub type SizeProgress = Progress<Measured>;

/// One row per schema named (that exists): its name, its measured size and its table
/// count. The relations are found through their dependency on the schema (`pg_depend` is
/// indexed on the
/// referenced object; `pg_class.relnamespace` is not, so a join on it scans the whole
/// catalog, 400,000 rows at 10,000 tenants, even for one schema) and gathered per schema
/// first, materialised: that cheap part ends before any size is measured, and then each
/// row measures one schema, so rows stream out as schemas complete, one per schema rather
/// than one per relation. `pg_total_relation_size` of a table counts its indexes and
/// TOAST; indexes and TOAST are therefore not listed themselves.
const EXACT_SQL: &str = r#"
WITH rels AS MATERIALIZED (
    SELECT n.nspname::text AS schema, x.rels, x.tables
    FROM (SELECT DISTINCT name FROM unnest($1::text[]) AS u(name)) AS wanted
    JOIN pg_namespace n ON n.nspname = wanted.name
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(c.oid), '{}') AS rels,
               count(*) FILTER (WHERE c.relkind IN ('r', 'p')) AS tables
        FROM pg_depend d
        JOIN pg_class c ON c.oid = d.objid AND c.relnamespace = n.oid
        WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid
          AND d.classid = 'pg_class'::regclass
          AND c.relkind IN ('r', 'p', 'm', 'S')
    ) x
)
SELECT schema,
       coalesce((SELECT sum(pg_total_relation_size(r)) FROM unnest(rels) AS r), 0)::bigint AS bytes,
       tables
FROM rels
"#;

/// One schema measured: its size on disk, and its tables, counted on the way (so that
/// `tenant list --exact` needs no estimate scan of `pg_class` for them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    pub schema: String,
    /// `pg_total_relation_size` summed: heap, indexes, TOAST.
    pub bytes: i64,
    /// Ordinary and partitioned tables.
    pub tables: i64,
}

/// The exact-size query: on Citus, shard sizes from the workers (see `citus::catalog`).
fn exact_sql(citus: bool) -> &'static str {
    if citus {
        crate::citus::catalog::EXACT_SQL_CITUS
    } else {
        EXACT_SQL
    }
}

/// Connections one measurement uses at most. `pg_total_relation_size` is parallel safe, so
/// PostgreSQL runs the bare query on three processes (a leader and two parallel workers),
/// each opening its share of the relations; a streamed query cannot be parallelised by the
/// server, so the schemas are dealt out over this many connections instead. Measured at
/// 10,000 tenants, one connection took 2-3x the bare query.
const MEASURE_CONNECTIONS: usize = 3;

/// Fewest schemas in a batch (each batch is one more statement and round trip).
const SCHEMAS_PER_BATCH: usize = 50;

/// The next batch when `remaining` schemas are left for `parts` connections: a share of
/// what is left (guided self-scheduling), so batches shrink as the end nears and the
/// connections finish together. With equal batches the last one left a connection
/// measuring alone for up to a batch's time (0.3 s of 5 at 10,000 tenants) while the bare
/// query's parallel workers, which take a few pages at a time, finish together.
pub fn next_batch(remaining: usize, parts: usize) -> usize {
    remaining
        .div_ceil(2 * parts.max(1))
        .max(SCHEMAS_PER_BATCH)
        .min(remaining)
}

/// Fewest schemas worth another connection (a handshake costs about what measuring this
/// many small schemas does).
const SCHEMAS_PER_CONNECTION: usize = 200;

/// Measured size (`pg_total_relation_size`: heap, indexes, TOAST) of each schema named,
/// in one query. Schemas that do not exist are left out.
pub async fn exact_sizes(session: &Session, schemas: &[String]) -> Result<Vec<Measured>> {
    let wanted = schemas.to_vec();
    let citus = session.citus;
    session
        .cancellable(
            &CancellationToken::new(),
            "measuring schema sizes",
            move |conn| {
                Box::pin(async move {
                    let mut tally = Tally::new(0, None);
                    measure_batch(conn, citus, &wanted, &mut tally).await?;
                    Ok(tally.finish())
                })
            },
        )
        .await
}

/// Measures the schemas `wanted` in one streamed query, each into `tally` as its row comes.
async fn measure_batch(
    conn: &mut sqlx::PgConnection,
    citus: bool,
    wanted: &[String],
    tally: &mut Tally,
) -> sqlx::Result<()> {
    let mut rows = sqlx::query_as::<_, (String, i64, i64)>(exact_sql(citus))
        .bind(wanted)
        .fetch(conn);
    while let Some((schema, bytes, tables)) = rows.try_next().await? {
        tally.add(Measured {
            schema,
            bytes,
            tables,
        });
    }
    Ok(())
}

/// Measures `schemas` under the [`crate::job`] contract: streamed queries over batches of
/// the schemas, on up to [`MEASURE_CONNECTIONS`] connections side by side (one fewer than
/// the pool holds, so the caller keeps one), and the sizes of completed schemas land in
/// progress reports as they are measured. On cancel, every running query is cancelled on
/// the server and the report lists the schemas not measured.
pub async fn measure_sizes(
    session: &Session,
    schemas: &[String],
    progress: &ProgressSender<Measured>,
    cancel: &CancellationToken,
) -> Result<JobReport<Measured>> {
    let citus = session.citus;
    let total = schemas.len();
    let pool = session.pool.options().get_max_connections() as usize;
    let parts = MEASURE_CONNECTIONS
        .min(pool.saturating_sub(1))
        .min(total.div_ceil(SCHEMAS_PER_CONNECTION))
        .max(1);
    // Handed out in batches to whichever connection is free, not in one share per
    // connection: on a shared machine one backend gets less CPU than the others, and a
    // fixed share left it measuring alone at the end while the bare query's parallel
    // workers, which take their work as they go, finished together.
    let all = std::sync::Arc::new(schemas.to_vec());
    let taken = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    // What was reported before a cancel stays measured.
    let shared = std::sync::Arc::new(std::sync::Mutex::new(Shared {
        landed: Vec::new(),
        parts_left: parts,
    }));
    let runs = (0..parts).map(|_| {
        let sink = (progress.clone(), shared.clone());
        let (all, taken) = (all.clone(), taken.clone());
        session.cancellable(cancel, "measuring schema sizes", move |conn| {
            Box::pin(async move {
                let mut tally = Tally::new(total, Some(sink));
                let next = || {
                    let mut at = taken.lock().unwrap_or_else(|p| p.into_inner());
                    let size = next_batch(total - *at, parts);
                    let batch = all.get(*at..*at + size)?.to_vec();
                    *at += size;
                    (size > 0).then_some(batch)
                };
                while let Some(wanted) = next() {
                    measure_batch(conn, citus, &wanted, &mut tally).await?;
                }
                Ok(tally.finish())
            })
        })
    });
    let outcomes = futures_util::future::join_all(runs).await;
    let mut report = JobReport::default();
    let mut cancelled = false;
    for outcome in outcomes {
        match outcome {
            Ok(part) => report.done.extend(part),
            Err(Error::Cancelled(_)) => cancelled = true,
            Err(e) => return Err(e),
        }
    }
    if cancelled {
        report.cancelled = true;
        report.done = std::mem::take(&mut shared.lock().unwrap_or_else(|p| p.into_inner()).landed);
        let measured: HashSet<&str> = report.done.iter().map(|m| m.schema.as_str()).collect();
        report.not_tried = schemas
            .iter()
            .filter(|s| !measured.contains(s.as_str()))
            .cloned()
            .collect();
    }
    Ok(report)
}

/// What the connections of one measurement share: every schema reported so far (kept for
/// a cancelled report, and counted for `done`), and how many are still measuring.
struct Shared {
    landed: Vec<Measured>,
    parts_left: usize,
}

/// Where completed schemas go: the face's channel, and what the connections share.
type Sink = (
    ProgressSender<Measured>,
    std::sync::Arc<std::sync::Mutex<Shared>>,
);

/// Collects the measured schemas (one row each) and reports them in batches.
struct Tally {
    total: usize,
    progress: Option<Sink>,
    all: Vec<Measured>,
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

    fn add(&mut self, measured: Measured) {
        self.all.push(measured);
        let complete = self.all.len();
        if complete - self.reported >= EXACT_CHUNK || self.last_sent.elapsed() >= PROGRESS_EVERY {
            self.send(false);
        }
    }

    /// Reports the schemas not reported yet. `done` counts every connection's schemas; the
    /// last connection to finish says all are done (schemas that do not exist never come
    /// back). Sent under the shared lock, so `done` never goes down.
    fn send(&mut self, finishing: bool) {
        if let Some((tx, shared)) = &self.progress {
            let landed = self.all[self.reported..].to_vec();
            let mut shared = shared.lock().unwrap_or_else(|p| p.into_inner());
            shared.landed.extend(landed.iter().cloned());
            if finishing {
                shared.parts_left = shared.parts_left.saturating_sub(1);
            }
            let done = if finishing && shared.parts_left == 0 {
                self.total
            } else {
                shared.landed.len()
            };
            report_progress(
                tx,
                Progress {
                    done,
                    total: self.total,
                    current: landed.last().map(|m| m.schema.clone()).unwrap_or_default(),
                    landed,
                    failed: Vec::new(),
                },
            );
        }
        self.reported = self.all.len();
        self.last_sent = Instant::now();
    }

    fn finish(mut self) -> Vec<Measured> {
        self.send(true);
        self.all
    }
}

#[cfg(test)]
mod tests {
    use super::{SCHEMAS_PER_BATCH, next_batch};

    #[test]
    fn batches_cover_every_schema_once_and_shrink_towards_the_end() {
        let (total, parts) = (10_000, 3);
        let mut sizes = Vec::new();
        let mut taken = 0;
        while taken < total {
            let size = next_batch(total - taken, parts);
            assert!(size > 0, "no progress at {taken}");
            sizes.push(size);
            taken += size;
        }
        assert_eq!(taken, total);
        assert_eq!(sizes[0], 1_667, "a sixth of the work first");
        assert!(sizes.windows(2).all(|w| w[1] <= w[0]), "{sizes:?}");
        // No batch but the remainder is below the floor (each is a statement and a round
        // trip).
        let (_, all_but_last) = sizes.split_last().unwrap();
        assert!(
            all_but_last.iter().all(|&s| s >= SCHEMAS_PER_BATCH),
            "{sizes:?}"
        );
        // The last batches are the smallest allowed, so no connection is left with much.
        assert!(
            sizes[sizes.len() - 3..]
                .iter()
                .all(|&s| s <= SCHEMAS_PER_BATCH)
        );
        assert_eq!(next_batch(0, parts), 0);
        assert_eq!(next_batch(30, parts), 30);
    }
}
