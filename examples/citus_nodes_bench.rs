//! The console's Nodes view at N tenants on a throwaway Citus cluster (a coordinator and two
//! workers): the first frame (read the node map, then draw it) against the bare
//! `citus_schemas` query, each the median of 5 runs.
//!
//! Run: `cargo run --release --example citus_nodes_bench [-- TENANTS]` (default 2000; needs
//! Citus built for the installed PostgreSQL: `bash .ci/citus`). The cluster is removed at exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::{Duration, Instant};
use tenantctl::citus_cluster::{CitusCluster, citus_unavailable};
use tenantctl::cluster::find_server_bindir;
use tenantctl::names::NamingPolicy;
use tenantctl::session::Session;
use tenantctl::tui::app::{App, Load, Screen};
use tenantctl::tui::theme::Theme;
use tenantctl::tui::view;
use tokio_util::sync::CancellationToken;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let tenants: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let bindir = find_server_bindir().expect("PostgreSQL server binaries");
    if let Some(why) = citus_unavailable(&bindir) {
        eprintln!("{why}");
        std::process::exit(2);
    }
    let citus = CitusCluster::start("nodes_bench", 2).await.unwrap();
    let spec = citus.coordinator.superuser_spec(&citus.dbname);
    let session = Session::open(spec, NamingPolicy::default(), Duration::from_secs(10), 4)
        .await
        .unwrap();
    let t = Instant::now();
    let mut conn = session.pool.acquire().await.unwrap();
    sqlx::query("SET citus.enable_schema_based_sharding TO on")
        .execute(&mut *conn)
        .await
        .unwrap();
    for i in 0..tenants {
        let script = format!(
            "CREATE SCHEMA tenant_t{i:05}; CREATE TABLE tenant_t{i:05}.items (id int PRIMARY KEY, v text); INSERT INTO tenant_t{i:05}.items SELECT g, 'x' FROM generate_series(1, 20) g"
        );
        tenantctl::session::run_script(&mut conn, &script)
            .await
            .unwrap();
    }
    drop(conn);
    println!(
        "{tenants} distributed tenant schemas made in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut bare = Vec::new();
    let mut frame = Vec::new();
    let mut sized = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT schema_name::text, schema_size FROM public.citus_schemas")
                .fetch_all(&session.pool)
                .await
                .unwrap();
        bare.push(t.elapsed());
        assert_eq!(rows.len(), tenants);

        let t = Instant::now();
        // The console's first frame: the map from the coordinator's catalog; the workers'
        // sizes land in a second step of the same job.
        let map = tenantctl::citus::nodes::read_with(&session, false, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(map.placements.len(), tenants);
        let mut app = App::new(
            "bench".into(),
            "postgres@127.0.0.1/nodes_bench".into(),
            false,
            NamingPolicy::default(),
            Theme::from_env(),
        );
        app.screen = Screen::Nodes;
        app.nodes.map = Load::Ready(map);
        let mut terminal = Terminal::new(TestBackend::new(120, 36)).unwrap();
        terminal.draw(|f| view::render(f, &app)).unwrap();
        frame.push(t.elapsed());

        let t = Instant::now();
        tenantctl::citus::nodes::read(&session, &CancellationToken::new())
            .await
            .unwrap();
        sized.push(t.elapsed());
    }
    println!(
        "bare citus_schemas query: {:.0} ms (median of 5)",
        median(bare).as_secs_f64() * 1000.0
    );
    println!(
        "Nodes view first frame (node map read + draw at 120x36): {:.0} ms (median of 5)",
        median(frame).as_secs_f64() * 1000.0
    );
    println!(
        "node map with the workers' sizes (the job's second step): {:.0} ms (median of 5)",
        median(sized).as_secs_f64() * 1000.0
    );
}
