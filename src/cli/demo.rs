//! `tenantctl demo`: a throwaway PostgreSQL with sample tenants, removed on exit.

use super::{Context, EXIT_OK};
use crate::bootstrap::{self, InitOptions};
use crate::cluster::Cluster;
use crate::connect::Secret;
use crate::error::{Error, Result};
use crate::names::NamingPolicy;
use crate::session::Session;
use crate::tenant::{self, NewTenant};
use std::time::{Duration, Instant};

/// Database the demo creates in its cluster.
pub const DEMO_DB: &str = "tenantctl_demo";

const SAMPLE_DATA: &str = include_str!("../../assets/demo/sample_data.sql");

const SAMPLES: [(&str, &str); 12] = [
    ("acme", "Acme Corporation"),
    ("globex", "Globex"),
    ("initech", "Initech"),
    ("umbrella", "Umbrella Health"),
    ("hooli", "Hooli"),
    ("stark", "Stark Industries"),
    ("wayne", "Wayne Enterprises"),
    ("wonka", "Wonka Confections"),
    ("cyberdyne", "Cyberdyne Systems"),
    ("tyrell", "Tyrell Corporation"),
    ("soylent", "Soylent"),
    ("aperture", "Aperture Science"),
];

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of sample tenants
    #[arg(long, default_value_t = 12)]
    pub tenants: usize,
}

/// Runs `demo`: cluster up, bootstrap, sample tenants, console; everything removed on exit.
pub async fn run(ctx: &Context, args: &DemoArgs) -> Result<u8> {
    let started = Instant::now();
    eprintln!("starting a throwaway PostgreSQL…");
    let cluster = tokio::task::spawn_blocking(Cluster::start)
        .await
        .map_err(|e| Error::Invalid(format!("the cluster start was interrupted: {e}")))??;
    let session = prepare(&cluster, args.tenants, ctx.read_only).await?;
    eprintln!(
        "demo ready in {:.1} s: {} tenants on 127.0.0.1:{} (removed on exit)",
        started.elapsed().as_secs_f64(),
        args.tenants,
        cluster.port()
    );
    let code = present(&session).await;
    session.pool.close().await;
    drop(cluster);
    code
}

/// Bootstraps the demo database and fills it; returns a session as the admin role.
pub async fn prepare(cluster: &Cluster, tenants: usize, read_only: bool) -> Result<Session> {
    let names = NamingPolicy::default();
    let lock_timeout = Duration::from_secs(10);
    let postgres = cluster.superuser_spec("postgres").connect(1).await?;
    sqlx::query(&format!(
        "CREATE DATABASE {}",
        crate::names::quote_ident(DEMO_DB)
    ))
    .execute(&postgres)
    .await
    .map_err(Error::db("creating the demo database"))?;
    postgres.close().await;

    let superuser = Session::open(
        cluster.superuser_spec(DEMO_DB),
        names.clone(),
        lock_timeout,
        1,
    )
    .await?;
    let admin_password = Secret::random();
    bootstrap::init(
        &superuser,
        &InitOptions {
            admin_password: Some(admin_password.clone()),
        },
    )
    .await?;
    superuser.pool.close().await;

    let mut spec = cluster.superuser_spec(DEMO_DB);
    spec.user = names.admin_role.clone();
    spec.password = Some(admin_password);
    let admin = Session::open(spec.clone(), names.clone(), lock_timeout, 4).await?;
    for i in 0..tenants {
        let (id, name) = match SAMPLES.get(i) {
            Some((id, name)) => (id.to_string(), name.to_string()),
            None => (format!("sample_{i:05}"), format!("Sample tenant {i}")),
        };
        let plan = ["free", "team", "enterprise"][i % 3];
        tenant::create(
            &admin,
            &NewTenant {
                id: id.clone(),
                name: Some(name),
                config: vec![
                    ("plan".into(), plan.into()),
                    ("region".into(), ["eu-west", "us-east"][i % 2].into()),
                ],
            },
        )
        .await?;
        // Varied sizes, so the size column and chart have something to show.
        let rows: i32 = if i < SAMPLES.len() {
            150 * (1 + (i as i32 * 7) % 12).pow(2)
        } else {
            50
        };
        fill(&admin, &names.schema_of(&names.tenant_id(&id)?), rows).await?;
    }
    sqlx::query("ANALYZE")
        .execute(&admin.pool)
        .await
        .map_err(Error::db("analyzing the demo data"))?;
    if read_only {
        admin.pool.close().await;
        spec.read_only = true;
        return Session::open(spec, names, lock_timeout, 4).await;
    }
    Ok(admin)
}

async fn fill(session: &Session, schema: &str, rows: i32) -> Result<()> {
    let mut tx = session.begin_change("demo data").await?;
    sqlx::query(&format!(
        "SET LOCAL search_path = {}",
        crate::names::quote_ident(schema)
    ))
    .execute(&mut *tx)
    .await
    .map_err(Error::db("demo data: setting search_path"))?;
    sqlx::query(SAMPLE_DATA)
        .bind(rows)
        .execute(&mut *tx)
        .await
        .map_err(Error::db(format!("demo data for {schema}")))?;
    tx.commit()
        .await
        .map_err(Error::db("demo data: committing"))
}

/// Shows the demo until the user quits: the console on a terminal; without one (scripts,
/// tests) the registry is printed and the demo waits for a signal.
async fn present(session: &Session) -> Result<u8> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return crate::tui::run(session.clone(), "demo".into()).await;
    }
    // Listen before saying "press Ctrl-C": a signal sent right after the prompt would
    // otherwise meet the default disposition and kill the demo before it cleans up.
    let signals = ExitSignals::listen();
    let rows = crate::catalog::list_tenants(session).await?;
    print!("{}", super::tenant::tenant_table(&rows));
    println!("press Ctrl-C to stop the demo and remove its cluster");
    signals.wait().await;
    Ok(EXIT_OK)
}

/// SIGINT, SIGTERM and SIGHUP handlers, installed when created.
struct ExitSignals([Option<tokio::signal::unix::Signal>; 3]);

impl ExitSignals {
    fn listen() -> ExitSignals {
        use tokio::signal::unix::{SignalKind, signal};
        ExitSignals([
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::hangup()).ok(),
        ])
    }

    /// Waits for any of them.
    async fn wait(self) {
        async fn recv(s: Option<tokio::signal::unix::Signal>) {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        let [int, term, hup] = self.0;
        tokio::select! {
            _ = recv(int) => {}
            _ = recv(term) => {}
            _ = recv(hup) => {}
        }
    }
}
