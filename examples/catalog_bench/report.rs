//! The measurements of one tenant count, and the markdown of `docs/benchmarks.md`.

use crate::measure::{self, Frames, Sample};
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use tenantctl::cluster::Cluster;
use tenantctl::session::Session;

/// The bare estimate as the issue wrote it: registry rows with relpages summed by schema.
/// It shows less than `tenant list` does (no TOAST in the size, no table count, version or
/// pin, no drift rows), so it is kept as a floor, beside [`BARE_ESTIMATE`].
const BARE_ESTIMATE_NARROW: &str = "SELECT t.id, t.name, t.status, s.bytes FROM commons.tenants t LEFT JOIN (SELECT n.nspname, sum(c.relpages::bigint) * 8192 AS bytes FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid WHERE n.nspname LIKE 'tenant\\_%' GROUP BY 1) s ON s.nspname = t.schema ORDER BY t.id";
/// The bare estimate with what `tenant list` shows, as a DBA would type it: every registry
/// row and every prefixed schema without one (drift both ways), size from relpages with
/// the tables' TOAST, table count, version and pin; PostgreSQL's own plan.
const BARE_ESTIMATE: &str = "SELECT coalesce(t.id, substr(n.nspname, 8)) AS id, t.name, coalesce(t.status, 'unregistered') AS status, s.bytes, s.tables, t.template_version, t.pinned_version, CASE WHEN n.oid IS NULL THEN 'schema missing' WHEN t.id IS NULL THEN 'no registry row' END AS drift FROM commons.tenants t FULL JOIN (SELECT oid, nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%') n ON n.nspname = t.schema LEFT JOIN (SELECT c.relnamespace, sum(c.relpages::bigint + coalesce(x.relpages, 0)) * 8192 AS bytes, count(*) FILTER (WHERE c.relkind IN ('r', 'p')) AS tables FROM pg_class c LEFT JOIN pg_class x ON x.oid = c.reltoastrelid GROUP BY 1) s ON s.relnamespace = n.oid ORDER BY 1";
/// The bare exact query: pg_total_relation_size of every table, sequence and matview,
/// summed by schema.
const BARE_EXACT: &str = "SELECT n.nspname, sum(pg_total_relation_size(c.oid)) FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'm', 'S') WHERE n.nspname LIKE 'tenant\\_%' GROUP BY 1";

/// What the audit ships before deciding in memory: the ACLs, owners and options of every
/// schema, relation and function in scope, column ACLs, default ACLs, policies, roles and
/// memberships. The audit is this plus its rules and the console log's hash check.
const BARE_AUDIT: &str = "SELECT count(*) FROM (SELECT n.nspname, n.nspowner, n.nspacl::text[] FROM pg_namespace n WHERE n.nspname LIKE 'tenant\\_%' OR n.nspname IN ('commons', 'public') UNION ALL SELECT c.relname, c.relowner, c.relacl::text[] FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE (n.nspname LIKE 'tenant\\_%' OR n.nspname = 'commons') AND c.relkind IN ('r','p','v','m','S','f') UNION ALL SELECT a.attname, a.attrelid, a.attacl::text[] FROM pg_attribute a WHERE a.attacl IS NOT NULL UNION ALL SELECT p.proname, p.proowner, p.proacl::text[] FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname LIKE 'tenant\\_%' UNION ALL SELECT '', d.defaclrole, d.defaclacl::text[] FROM pg_default_acl d UNION ALL SELECT p.polname, p.polrelid, p.polroles::text[] FROM pg_policy p UNION ALL SELECT r.rolname, r.oid, NULL FROM pg_roles r UNION ALL SELECT '', m.member, NULL FROM pg_auth_members m) x";

/// What one tenant's detail takes, typed as a DBA would: registry row, its tables with
/// sizes and ACLs, its schema ACL.
fn bare_show(id: &str) -> String {
    format!(
        "SELECT * FROM commons.tenants WHERE id = '{id}'; \
         SELECT c.relname, c.relkind, pg_total_relation_size(c.oid), c.relacl, c.relrowsecurity \
         FROM pg_class c WHERE c.relnamespace = 'tenant_{id}'::regnamespace; \
         SELECT nspacl FROM pg_namespace WHERE nspname = 'tenant_{id}'"
    )
}

/// tenantctl beside psql.
pub struct Pair {
    pub name: &'static str,
    pub ours: Sample,
    pub bare: Option<Sample>,
}

/// Everything measured at one tenant count.
pub struct Results {
    pub tenants: usize,
    pub relations: i64,
    pub fixture: Duration,
    pub pairs: Vec<Pair>,
    pub console_connected: Duration,
    pub console_first_frame: Duration,
    pub console_sizes_done: Duration,
    pub console_peak_kb: i64,
    pub keys: Vec<(&'static str, Frames)>,
    pub single_create: Duration,
    pub single_create_in_process: Duration,
    pub bulk_create: Duration,
    pub bulk_count: usize,
    pub handshake: Duration,
    pub phases: Vec<crate::phases::Phase>,
}

/// Tenants in the registry.
pub async fn registered(session: &Session) -> usize {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM commons.tenants")
        .fetch_one(&session.pool)
        .await
        .unwrap();
    n as usize
}

/// Runs `ours` and `bare` alternately, so that both see the same load.
fn pair(
    runs: usize,
    name: &'static str,
    mut ours: impl FnMut() -> measure::Run,
    mut bare: impl FnMut() -> measure::Run,
) -> Pair {
    let mut a = Vec::new();
    let mut b = Vec::new();
    for _ in 0..runs {
        a.push(ours());
        b.push(bare());
    }
    let mut a = a.into_iter();
    let mut b = b.into_iter();
    Pair {
        name,
        ours: measure::sample(runs, || a.next().unwrap()),
        bare: Some(measure::sample(runs, || b.next().unwrap())),
    }
}

pub async fn measure(
    cluster: &Cluster,
    session: &Session,
    fixture_tenants: usize,
    tables: usize,
    runs: usize,
    fixture: Duration,
) -> Results {
    let tenants = registered(session).await;
    let relations: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_class")
        .fetch_one(&session.pool)
        .await
        .unwrap();
    let mut pairs = Vec::new();
    eprintln!("measuring at {tenants} tenants ({relations} relations)");
    // Warm the OS caches for both sides once.
    measure::run(&mut measure::tenantctl(cluster, &["tenant", "list"]));
    measure::run(&mut measure::psql(cluster, BARE_ESTIMATE));
    measure::run(&mut measure::psql(cluster, BARE_ESTIMATE_NARROW));
    pairs.push(pair(
        runs,
        "`tenant list` vs bare query of the same columns (TOAST, tables, drift)",
        || measure::run(&mut measure::tenantctl(cluster, &["tenant", "list"])),
        || measure::run(&mut measure::psql(cluster, BARE_ESTIMATE)),
    ));
    pairs.push(pair(
        runs,
        "`tenant list` vs the issue's narrower bare query (relpages only, registry rows only)",
        || measure::run(&mut measure::tenantctl(cluster, &["tenant", "list"])),
        || measure::run(&mut measure::psql(cluster, BARE_ESTIMATE_NARROW)),
    ));
    pairs.push(pair(
        runs,
        "`tenant list --exact` vs bare `pg_total_relation_size` by schema",
        || {
            measure::run(&mut measure::tenantctl(
                cluster,
                &["tenant", "list", "--exact"],
            ))
        },
        || measure::run(&mut measure::psql(cluster, BARE_EXACT)),
    ));
    pairs.push(pair(
        runs,
        "`audit --format json` vs bare read of the ACLs, owners, policies and roles it judges",
        || {
            measure::run(&mut measure::tenantctl(
                cluster,
                &["audit", "--format", "json"],
            ))
        },
        || measure::run(&mut measure::psql(cluster, BARE_AUDIT)),
    ));
    let id = format!("t{:05}", fixture_tenants / 2);
    pairs.push(pair(
        runs,
        "`tenant show` vs bare registry row + tables + ACLs",
        || measure::run(&mut measure::tenantctl(cluster, &["tenant", "show", &id])),
        || measure::run(&mut measure::psql(cluster, &bare_show(&id))),
    ));

    let phases = crate::phases::measure(
        cluster,
        session,
        &id,
        runs,
        [BARE_ESTIMATE, BARE_ESTIMATE_NARROW],
        &bare_show(&id),
    )
    .await;

    // The console, three times; medians.
    let mut connected = Vec::new();
    let mut first = Vec::new();
    let mut done = Vec::new();
    let mut kb = Vec::new();
    for _ in 0..3 {
        let c = measure::console(cluster, tenants);
        connected.push(c.connected);
        first.push(c.first_frame);
        done.push(c.sizes_done);
        kb.push(c.peak_kb);
    }
    kb.sort();
    let rows = tenantctl::catalog::list_tenants(session).await.unwrap();
    let keys = measure::keystrokes(&rows, 1000);
    drop(rows);

    // One extra connection handshake (what the probe before the pool costs a CLI run).
    let options = cluster.superuser_spec("bench").options();
    let mut hs = Vec::new();
    for _ in 0..runs * 2 {
        use sqlx::Connection;
        let t = Instant::now();
        let c = sqlx::PgConnection::connect_with(&options).await.unwrap();
        hs.push(t.elapsed());
        c.close().await.unwrap();
    }

    // Provisioning: one `tenant create` process per tenant, then a file of them.
    let tag = tenants;
    let single_n = runs * 2;
    let mut single = Vec::new();
    for i in 0..single_n {
        let id = format!("s{tag}_{i}");
        single.push(
            measure::run(&mut measure::tenantctl(
                cluster,
                &["tenant", "create", &id, "--set", "plan=team"],
            ))
            .time,
        );
    }
    let mut in_process = Vec::new();
    for i in 0..runs {
        let new = tenantctl::tenant::NewTenant {
            id: format!("p{tag}_{i}"),
            name: None,
            config: vec![("plan".into(), "team".into())],
        };
        let t = Instant::now();
        tenantctl::tenant::create(session, &new).await.unwrap();
        in_process.push(t.elapsed());
    }
    let bulk_count = single_n * 4;
    let file = std::env::temp_dir().join(format!("tenantctl-bench-{}.jsonl", std::process::id()));
    let text: String = (0..bulk_count)
        .map(|i| format!("{{\"id\": \"b{tag}_{i}\", \"config\": {{\"plan\": \"team\"}}}}\n"))
        .collect();
    std::fs::write(&file, text).unwrap();
    let bulk = measure::run(&mut measure::tenantctl(
        cluster,
        &["tenant", "create", "--from", file.to_str().unwrap()],
    ));
    let _ = std::fs::remove_file(&file);
    let _ = tables;
    Results {
        tenants,
        relations,
        fixture,
        pairs,
        console_connected: measure::median(connected),
        console_first_frame: measure::median(first),
        console_sizes_done: measure::median(done),
        console_peak_kb: kb[kb.len() / 2],
        keys,
        single_create: measure::median(single),
        single_create_in_process: measure::median(in_process),
        bulk_create: bulk.time,
        bulk_count,
        handshake: measure::median(hs),
        phases,
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1e3)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn mb(kb: i64) -> String {
    format!("{:.0} MB", kb as f64 / 1024.0)
}

/// The table of one tenant count.
pub fn table(r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### {} tenants ({} relations in pg_class; fixture built in {:.0} s)\n",
        r.tenants,
        r.relations,
        r.fixture.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "| operation | tenantctl | bare | ratio | tenantctl peak RSS |\n| --- | ---: | ---: | ---: | ---: |"
    );
    for p in &r.pairs {
        let (bare, ratio) = match p.bare {
            Some(b) => (
                ms(b.time),
                format!("{:.2}×", p.ours.time.as_secs_f64() / b.time.as_secs_f64()),
            ),
            None => ("".into(), "".into()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            p.name,
            ms(p.ours.time),
            bare,
            ratio,
            mb(p.ours.peak_kb)
        );
    }
    let exact = r
        .pairs
        .iter()
        .find(|p| p.name.starts_with("`tenant list --exact`"))
        .map(|p| p.ours.time)
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "| console: connected, terminal up (\"loading the registry\"; from process start) | {} | | | |",
        ms(r.console_connected)
    );
    let _ = writeln!(
        s,
        "| console: first full frame, every visible row drawn, sizes pending (from process start, connecting included) | {} | | | |",
        ms(r.console_first_frame)
    );
    let _ = writeln!(
        s,
        "| console: every exact size shown (vs `list --exact`) | {} | {} | {:.2}× | {} |",
        ms(r.console_sizes_done),
        ms(exact),
        r.console_sizes_done.as_secs_f64() / exact.as_secs_f64(),
        mb(r.console_peak_kb)
    );
    for (name, f) in &r.keys {
        let _ = writeln!(
            s,
            "| keystroke to frame, {name} (mean / p99, release, 120×36; CPU time: mean / p99) | {} / {} | CPU {} / {} | | |",
            ms(f.mean),
            ms(f.p99),
            ms(f.cpu_mean),
            ms(f.cpu_p99)
        );
    }
    let single_rate = 1.0 / r.single_create.as_secs_f64();
    let bulk_rate = r.bulk_count as f64 / r.bulk_create.as_secs_f64();
    let _ = writeln!(
        s,
        "| `tenant create`, one process per tenant | {:.1} tenants/s ({} each; {} of it in the core) | | | |",
        single_rate,
        ms(r.single_create),
        ms(r.single_create_in_process)
    );
    let _ = writeln!(
        s,
        "| `tenant create --from` ({} tenants, 4 connections) vs one process each | {:.1} tenants/s | {:.1} tenants/s | {:.2}× the rate | |",
        r.bulk_count,
        bulk_rate,
        single_rate,
        bulk_rate / single_rate
    );
    let _ = writeln!(
        s,
        "| one connection handshake (SCRAM, TCP) vs `tenant list` | {} | {} | {:.0}% | |",
        ms(r.handshake),
        ms(r.pairs[0].ours.time),
        100.0 * r.handshake.as_secs_f64() / r.pairs[0].ours.time.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "\nWhere the time goes (in process, medians of the same runs; queries on a warm connection):\n\n\
         | phase | tenantctl | bare | ratio |\n| --- | ---: | ---: | ---: |"
    );
    for p in &r.phases {
        let (bare, ratio) = match p.bare {
            Some(b) => (
                ms(b),
                format!("{:.2}×", p.ours.as_secs_f64() / b.as_secs_f64()),
            ),
            None => (String::new(), String::new()),
        };
        let _ = writeln!(s, "| {} | {} | {} | {} |", p.name, ms(p.ours), bare, ratio);
    }
    s
}

/// Where the hand-written notes of `docs/benchmarks.md` start.
pub const NOTES: &str = "<!-- notes: kept by catalog_bench on rerun -->";

/// `docs/benchmarks.md`.
pub fn markdown(
    results: &[Results],
    tables: usize,
    runs: usize,
    load_before: &str,
    load_after: &str,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Benchmarks\n\nWritten by `cargo run --release --example catalog_bench` (after `cargo build --release`);\n\
         rerun it to replace this file. It starts a throwaway PostgreSQL, builds N tenants × {tables}\n\
         tables shaped like the model (registry rows, schemas owned by the admin role, read-only\n\
         roles, RLS with three policies per table, the model's grants and default privileges, rows\n\
         and TOAST) set-based on the server, and times each operation as an operator runs it (the\n\
         whole process: start, connect, query, print) beside psql running the bare query it\n\
         wraps (also the whole process). Medians of {runs} runs, tenantctl and psql alternating;\n\
         monotonic clock; peak RSS from `wait4` (the console's from VmHWM).\n\n\
         Ratios, not absolute times, are what to compare: the machine is shared. Load average\n\
         (1, 5, 15 min) at start: {}; at the end: {}.\n",
        load_before
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(", "),
        load_after
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for r in results {
        s.push_str(&table(r));
        s.push('\n');
    }
    s
}
