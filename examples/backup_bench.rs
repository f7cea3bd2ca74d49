//! Backup benchmark: `dump` and `restore` beside bare `pg_dump`/`pg_restore` of the same
//! schema, for one large tenant and for one small tenant among many. Starts its own
//! throwaway cluster; removes it on exit.
//!
//! cargo run --release --example backup_bench -- [MEGABYTES] [OTHER_TENANTS] [RUNS]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tenantctl::backup::{self, BackupSettings, RestoreRequest};
use tenantctl::cluster::Cluster;
use tenantctl::session::Session;
use tokio_util::sync::CancellationToken;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Every run, sorted: the spread behind a median.
fn spread(v: &[Duration]) -> String {
    let mut v = v.to_vec();
    v.sort();
    let all: Vec<String> = v
        .iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect();
    format!("[{}]", all.join(", "))
}

/// Runs a client tool the way a DBA would: connection in the environment.
fn bare(cluster: &Cluster, program: &Path, db: &str, args: &[OsString]) -> Duration {
    let spec = cluster.superuser_spec(db);
    let t = Instant::now();
    let out = Command::new(program)
        .args(args)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", cluster.port().to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", db)
        .env("PGPASSWORD", spec.password.as_ref().unwrap().expose())
        .output()
        .unwrap();
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

/// A progress channel that times each step of the job (from the step's first report to
/// the next step's); `steps.line()` after the job says where the time went.
struct Steps {
    marks: std::sync::Arc<std::sync::Mutex<Vec<(Instant, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

fn timed<T: Send + 'static>() -> (tenantctl::job::ProgressSender<T>, Steps) {
    use tenantctl::backup::BackupStep as S;
    let (tx, mut rx) = tenantctl::job::progress_channel::<T>();
    let marks = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(Instant, String)>::new()));
    let m = marks.clone();
    let labels: Vec<&str> = [
        S::Dump,
        S::Verify,
        S::ScratchRestore,
        S::Rename,
        S::ScratchDump,
        S::Restore,
        S::Swap,
        S::Analyze,
    ]
    .iter()
    .map(|s| s.label())
    .collect();
    let task = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            let rest = p.current.split_once(": ").map(|x| x.1).unwrap_or("");
            // The longest label that fits: "dumping the renamed copy" is not "dumping".
            if let Some(l) = labels
                .iter()
                .filter(|l| rest.starts_with(**l))
                .max_by_key(|l| l.len())
            {
                let mut m = m.lock().unwrap();
                if m.last().map(|x| x.1.as_str()) != Some(*l) {
                    m.push((Instant::now(), l.to_string()));
                }
            }
        }
    });
    (tx, Steps { marks, task })
}

impl Steps {
    async fn line(self, start: Instant, end: Instant) -> String {
        self.timed(start, end).await.0
    }

    /// The line, and the time of the scratch round trip alone (restore into the scratch
    /// database, rename, dump of the renamed copy).
    async fn timed(self, start: Instant, end: Instant) -> (String, Duration) {
        use tenantctl::backup::BackupStep as S;
        let _ = self.task.await;
        let m = self.marks.lock().unwrap();
        let mut out = vec![format!(
            "before the first step {:.2} s",
            m.first().map_or(0.0, |f| (f.0 - start).as_secs_f64())
        )];
        let scratch = [S::ScratchRestore, S::Rename, S::ScratchDump].map(|s| s.label());
        let mut round_trip = Duration::ZERO;
        for (i, (t, l)) in m.iter().enumerate() {
            let next = m.get(i + 1).map_or(end, |n| n.0);
            out.push(format!("{l} {:.2} s", (next - *t).as_secs_f64()));
            if scratch.contains(&l.as_str()) {
                round_trip += next - *t;
            }
        }
        (out.join(", "), round_trip)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    println!(
        "load average: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let megabytes = args.first().copied().unwrap_or(200);
    let others = args.get(1).copied().unwrap_or(2000);
    let runs = args.get(2).copied().unwrap_or(3);
    let cluster = Cluster::start().expect("cluster");
    let pg = cluster.superuser_spec("postgres").connect(1).await.unwrap();
    sqlx::query("CREATE DATABASE bench")
        .execute(&pg)
        .await
        .unwrap();
    let session = Session::open(
        cluster.superuser_spec("bench"),
        Default::default(),
        Duration::from_secs(10),
        6,
    )
    .await
    .unwrap();
    tenantctl::bootstrap::init(&session, &Default::default())
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let set = BackupSettings {
        dir: work.path().join("backups"),
        pg_bin_dir: None,
    };
    let (num, version): (String, String) = sqlx::query_as(
        "SELECT current_setting('server_version_num'), current_setting('server_version')",
    )
    .fetch_one(&session.pool)
    .await
    .unwrap();
    let tools = backup::find_tools(None, num.parse::<u32>().unwrap() / 10000, &version).unwrap();

    // One large tenant.
    for id in ["big", "small"] {
        tenantctl::tenant::create(
            &session,
            &tenantctl::tenant::NewTenant {
                id: id.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let rows = megabytes * 3000;
    let t = Instant::now();
    sqlx::raw_sql(&format!(
        "INSERT INTO tenant_big.customers (name, notes)
           SELECT 'customer ' || g, md5(g::text) || md5((g + 1)::text) || md5(random()::text) || md5(random()::text)
           FROM generate_series(1, {rows}) g;
         INSERT INTO tenant_big.orders (customer_id, total_cents) SELECT g, g FROM generate_series(1, {rows}) g;
         INSERT INTO tenant_small.customers (name) SELECT 'c' || g FROM generate_series(1, 100) g;"
    ))
    .execute(&session.pool)
    .await
    .unwrap();
    sqlx::query("VACUUM ANALYZE tenant_big.customers, tenant_big.orders")
        .execute(&session.pool)
        .await
        .unwrap();
    let size: i64 = sqlx::query_scalar(
        "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'tenant_big'",
    )
    .fetch_one(&session.pool)
    .await
    .unwrap();
    println!(
        "large tenant: {} on disk ({rows} customers + {rows} orders), loaded in {}",
        tenantctl::units::human_bytes(size),
        secs(t.elapsed())
    );
    measure(&cluster, &session, &set, &tools, "big", runs).await;

    // One small tenant among many: pg_dump's catalog scan dominates.
    let t = Instant::now();
    // In batches: one transaction holding thousands of new tables runs out of lock slots.
    for start in (1..=others).step_by(200) {
        let end = (start + 199).min(others);
        sqlx::raw_sql(&format!(
            "DO $$ BEGIN FOR i IN {start}..{end} LOOP
               EXECUTE format('CREATE SCHEMA filler_%s', i);
               EXECUTE format('CREATE TABLE filler_%s.a (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text)', i);
               EXECUTE format('CREATE TABLE filler_%s.b (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, a_id bigint REFERENCES filler_%s.a, v text)', i, i);
               EXECUTE format('CREATE INDEX ON filler_%s.b (a_id)', i);
             END LOOP; END $$"
        ))
        .execute(&session.pool)
        .await
        .unwrap();
    }
    println!(
        "\n{others} other schemas (2 tables, 3 indexes, 2 sequences each) made in {}",
        secs(t.elapsed())
    );
    measure(&cluster, &session, &set, &tools, "small", runs).await;
}

async fn measure(
    cluster: &Cluster,
    session: &Session,
    set: &BackupSettings,
    tools: &backup::Tools,
    id: &str,
    runs: usize,
) {
    let schema = format!("tenant_{id}");
    let bare_file = set.dir.parent().unwrap().join(format!("{id}.bare.dump"));
    let dump_args: Vec<OsString> = vec![
        "--format=custom".into(),
        format!("--schema=\"{schema}\"").into(),
        {
            let mut f = OsString::from("--file=");
            f.push(&bare_file);
            f
        },
    ];
    let mut bare_dump = Vec::new();
    let mut ours_dump = Vec::new();
    let mut path = None;
    for _ in 0..runs {
        bare_dump.push(bare(cluster, &tools.pg_dump, "bench", &dump_args));
        let t = Instant::now();
        let (tx, steps) = timed::<()>();
        let r = backup::dump_tenant(session, set, id, &tx, &CancellationToken::new())
            .await
            .unwrap();
        let end = Instant::now();
        ours_dump.push(end - t);
        drop(tx);
        println!("  dump {id} steps: {}", steps.line(t, end).await);
        path = Some(r.path);
    }
    let path = path.unwrap();
    println!(
        "dump {id} runs: bare {} | tenantctl {}",
        spread(&bare_dump),
        spread(&ours_dump)
    );
    let (bd, od) = (median(bare_dump), median(ours_dump));
    println!(
        "dump {id}: bare pg_dump {} | tenantctl dump {} ({:+.1} %; includes row counts, sha256, pg_restore --list, manifest)",
        secs(bd),
        secs(od),
        (od.as_secs_f64() / bd.as_secs_f64() - 1.0) * 100.0
    );

    let pg = cluster.superuser_spec("postgres").connect(1).await.unwrap();
    // What restore beside does, by hand: the whole archive into a scratch database, the
    // schema renamed there with psql, pg_dump of it, pg_restore of that (the rows go
    // through twice; only measured when small).
    let by_hand_too = std::fs::metadata(&bare_file).unwrap().len() < 100 << 20;
    let psql = tools.pg_dump.with_file_name("psql");
    let renamed_file = set.dir.parent().unwrap().join(format!("{id}.renamed.dump"));
    let mut by_hand = Vec::new();
    let mut scratch_trips = Vec::new();
    let mut bare_restore = Vec::new();
    let mut beside = Vec::new();
    let mut in_place = Vec::new();
    for run in 0..runs {
        let db = format!("bench_restore_{id}_{run}");
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&pg)
            .await
            .unwrap();
        bare_restore.push(bare(
            cluster,
            &tools.pg_restore,
            &db,
            &[
                "--single-transaction".into(),
                "--exit-on-error".into(),
                "--no-owner".into(),
                format!("--dbname={db}").into(),
                bare_file.as_os_str().to_owned(),
            ],
        ));
        if by_hand_too {
            let (scratch, target) = (
                format!("hand_scratch_{id}_{run}"),
                format!("hand_{id}_{run}"),
            );
            for db in [&scratch, &target] {
                sqlx::query(&format!("CREATE DATABASE {db}"))
                    .execute(&pg)
                    .await
                    .unwrap();
            }
            let restore_into = |db: &str, file: &Path| -> Vec<OsString> {
                vec![
                    "--single-transaction".into(),
                    "--exit-on-error".into(),
                    "--no-owner".into(),
                    format!("--dbname={db}").into(),
                    file.as_os_str().to_owned(),
                ]
            };
            let copy_schema = format!("tenant_{id}_hand{run}");
            let mut file_arg = OsString::from("--file=");
            file_arg.push(&renamed_file);
            let d = bare(
                cluster,
                &tools.pg_restore,
                &scratch,
                &restore_into(&scratch, &bare_file),
            ) + bare(
                cluster,
                &psql,
                &scratch,
                &[
                    "-X".into(),
                    "-q".into(),
                    "-v".into(),
                    "ON_ERROR_STOP=1".into(),
                    "-c".into(),
                    format!("ALTER SCHEMA {schema} RENAME TO {copy_schema}").into(),
                ],
            ) + bare(
                cluster,
                &tools.pg_dump,
                &scratch,
                &[
                    "--format=custom".into(),
                    format!("--schema={copy_schema}").into(),
                    file_arg,
                ],
            ) + bare(
                cluster,
                &tools.pg_restore,
                &target,
                &restore_into(&target, &renamed_file),
            );
            by_hand.push(d);
        }
        let copy = format!("{id}_copy{run}");
        let t = Instant::now();
        let (tx, steps) = timed();
        backup::restore(
            session,
            set,
            &RestoreRequest {
                id: id.into(),
                backup: path.clone(),
                as_id: Some(copy),
                registry_from_backup: false,
            },
            &tx,
            &CancellationToken::new(),
        )
        .await
        .map(|r| assert!(r.complete(), "{r:?}"))
        .unwrap();
        let end = Instant::now();
        beside.push(end - t);
        drop(tx);
        let (line, round_trip) = steps.timed(t, end).await;
        scratch_trips.push(round_trip);
        println!("  restore beside {id} steps: {line}");
        let t = Instant::now();
        let (tx, steps) = timed();
        backup::restore(
            session,
            set,
            &RestoreRequest {
                id: id.into(),
                backup: path.clone(),
                as_id: None,
                registry_from_backup: false,
            },
            &tx,
            &CancellationToken::new(),
        )
        .await
        .map(|r| assert!(r.complete(), "{r:?}"))
        .unwrap();
        let end = Instant::now();
        in_place.push(end - t);
        drop(tx);
        println!(
            "  restore in place {id} steps: {}",
            steps.line(t, end).await
        );
        backup::release(session, None).await.unwrap();
    }
    println!(
        "restore {id}: of which the scratch round trip (restore into the scratch database, rename, pg_dump of the renamed copy) {}",
        secs(median(scratch_trips))
    );
    if !by_hand.is_empty() {
        println!("restore {id} by hand runs: {}", spread(&by_hand));
        let h = median(by_hand);
        println!(
            "restore {id} beside by hand: pg_restore into a scratch database, psql ALTER SCHEMA RENAME, pg_dump, pg_restore {}",
            secs(h)
        );
    }
    println!(
        "restore {id} runs: bare {} | beside {} | in place {}",
        spread(&bare_restore),
        spread(&beside),
        spread(&in_place)
    );
    let (br, bs, ip) = (median(bare_restore), median(beside), median(in_place));
    println!(
        "restore {id}: bare pg_restore into an empty database {} | tenantctl restore --as {} ({:.1}x) | in place {} ({:.1}x)",
        secs(br),
        secs(bs),
        bs.as_secs_f64() / br.as_secs_f64(),
        secs(ip),
        ip.as_secs_f64() / br.as_secs_f64()
    );
}
