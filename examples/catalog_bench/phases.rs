//! Where a command's time goes, phase by phase, measured in process on the same fixture:
//! process start, the connection handshake, each query on a warm connection (tenantctl's
//! beside the bare one), decoding and rendering. Whole-command ratios say whether a target
//! is met; these say why not.

use crate::measure;
use std::time::{Duration, Instant};
use tenantctl::cluster::Cluster;
use tenantctl::session::Session;
use tokio_util::sync::CancellationToken;

/// One phase: what, its median time, and the bare work it compares with (if any).
pub struct Phase {
    pub name: String,
    pub ours: Duration,
    pub bare: Option<Duration>,
}

async fn median_of<F, Fut>(runs: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut v = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        f().await;
        v.push(t.elapsed());
    }
    measure::median(v)
}

/// The phases of `tenant list`, `tenant list --exact` (its parts) and `tenant show ID`.
pub async fn measure(
    cluster: &Cluster,
    session: &Session,
    id: &str,
    runs: usize,
    bare_estimate: [&str; 2],
    bare_show: &str,
) -> Vec<Phase> {
    let mut out = Vec::new();
    let mut push = |name: &str, ours: Duration, bare: Option<Duration>| {
        eprintln!("phase {name}: {ours:?} (bare {bare:?})");
        out.push(Phase {
            name: name.into(),
            ours,
            bare,
        })
    };
    // Process start and exit with nothing to connect to (argument parsing, runtime).
    let start = measure::sample(runs, || {
        measure::run(&mut measure::tenantctl(cluster, &["--version"]))
    });
    push(
        "process start and exit (`tenantctl --version`)",
        start.time,
        None,
    );
    let psql_start = measure::sample(runs, || {
        measure::run(&mut measure::psql(cluster, "SELECT 1"))
    });
    push(
        "psql: process, handshake, `SELECT 1`",
        psql_start.time,
        None,
    );
    let spec = cluster.superuser_spec("bench");
    let hs = median_of(runs, || async {
        use sqlx::Connection;
        let c = sqlx::PgConnection::connect_with(&spec.options())
            .await
            .unwrap();
        c.close().await.unwrap();
    })
    .await;
    push("one connection handshake (SCRAM over TCP)", hs, None);
    let open = median_of(runs, || async {
        let s = Session::open(spec.clone(), Default::default(), Duration::from_secs(10), 4)
            .await
            .unwrap();
        s.pool.close().await;
    })
    .await;
    push(
        "`Session::open` (the pool's first connection, readied and checked)",
        open,
        None,
    );

    // `tenant list`: the query on a warm connection, beside the bare ones (same columns,
    // then the narrower one), alternating so that all see the same load.
    let mut list = Vec::new();
    let mut bare = [Vec::new(), Vec::new()];
    for _ in 0..runs {
        let t = Instant::now();
        tenantctl::catalog::list_tenants(session).await.unwrap();
        list.push(t.elapsed());
        for (sql, times) in bare_estimate.iter().zip(bare.iter_mut()) {
            let t = Instant::now();
            sqlx::raw_sql(sql).fetch_all(&session.pool).await.unwrap();
            times.push(t.elapsed());
        }
    }
    let list = measure::median(list);
    let [same, narrow] = bare.map(measure::median);
    push(
        "`tenant list`: estimate query, transfer and decode, vs the same-columns bare (warm connection)",
        list,
        Some(same),
    );
    push(
        "`tenant list`: the same, vs the issue's narrower bare",
        list,
        Some(narrow),
    );
    // What TOAST in the estimate costs: no column of a table holds its TOAST pages, so the
    // list reads the non-empty TOAST tables with a second scan of pg_class.
    let toast = median_of(runs, || async {
        sqlx::raw_sql(
            "SELECT x.oid, x.relpages FROM pg_class x WHERE x.relkind = 't' AND x.relpages > 0",
        )
        .fetch_all(&session.pool)
        .await
        .unwrap();
    })
    .await;
    push(
        "`tenant list`: of it, the second scan of pg_class for the non-empty TOAST tables (alone)",
        toast,
        None,
    );
    let rows = tenantctl::catalog::list_tenants(session).await.unwrap();
    let text = median_of(runs, || async {
        std::hint::black_box(tenantctl::cli::tenant::tenant_table(&rows));
    })
    .await;
    push("`tenant list`: render the text table", text, None);
    let json = median_of(runs, || async {
        std::hint::black_box(serde_json::to_string_pretty(&rows).unwrap());
    })
    .await;
    push("`tenant list --format json`: encode", json, None);
    let schemas: Vec<String> = rows
        .iter()
        .filter(|r| r.size_bytes.is_some())
        .map(|r| r.schema.clone())
        .collect();
    drop(rows);

    // `tenant show`: each part on a warm connection; the command runs them side by side.
    let schema = format!(
        "{}{id}",
        tenantctl::names::NamingPolicy::default().schema_prefix
    );
    let bare_show_t = median_of(runs, || async {
        sqlx::raw_sql(bare_show)
            .fetch_all(&session.pool)
            .await
            .unwrap();
    })
    .await;
    let row = median_of(runs, || async {
        tenantctl::catalog::tenant_row(session, id).await.unwrap();
    })
    .await;
    push(
        "`tenant show`: registry row and estimate",
        row,
        Some(bare_show_t),
    );
    let tables = median_of(runs, || async {
        tenantctl::catalog::schema_tables(session, &schema)
            .await
            .unwrap();
    })
    .await;
    push("`tenant show`: tables with sizes and RLS", tables, None);
    let grants = median_of(runs, || async {
        tenantctl::catalog::grant_matrix(session, &schema)
            .await
            .unwrap();
    })
    .await;
    push("`tenant show`: grant matrix", grants, None);
    let one = std::slice::from_ref(&schema);
    let exact_one = median_of(runs, || async {
        tenantctl::catalog::exact_sizes(session, one).await.unwrap();
    })
    .await;
    push("`tenant show`: exact size of the schema", exact_one, None);
    let audit = median_of(runs, || async {
        tenantctl::audit::run(session, Some(id), &CancellationToken::new())
            .await
            .unwrap();
    })
    .await;
    push(
        "`tenant show`: the one-tenant audit (`src/audit/`)",
        audit,
        None,
    );
    let inspect = median_of(runs, || async {
        tenantctl::tenant::inspect(session, id).await.unwrap();
    })
    .await;
    push(
        "`tenant show`: `tenant::inspect`, all parts (warm pool)",
        inspect,
        None,
    );
    // The exact measurement alone (what `--exact` adds to the estimate), once: it takes
    // seconds at 10,000 tenants.
    let t = Instant::now();
    tenantctl::catalog::exact_sizes(session, &schemas)
        .await
        .unwrap();
    push(
        "`tenant list --exact`: the measuring query alone (once)",
        t.elapsed(),
        None,
    );
    out
}
