//! `tenantctl demo`: parses its arguments, has the core prepare a throwaway database, and
//! hands it to the entry point to open the console on (or, without a terminal, prints the
//! registry and waits for a signal).

use super::{Context, Next};
use crate::cluster::Cluster;
use crate::demo::DemoCluster;
use crate::error::{Error, Result};
use std::time::Instant;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of sample tenants
    #[arg(long, default_value_t = 12)]
    pub tenants: usize,
    /// A Citus coordinator and two workers, the sample tenants spread across them
    #[arg(long)]
    pub citus: bool,
}

/// Runs `demo`: cluster up, bootstrap, sample tenants; then the console (through the entry
/// point) or, without a terminal, the registry until a signal. Everything is removed on exit.
pub async fn run(ctx: &Context, args: &DemoArgs) -> Result<Next> {
    use std::io::IsTerminal;
    let started = Instant::now();
    let (cluster, session, port) = if args.citus {
        eprintln!("starting a throwaway Citus coordinator and two workers…");
        let citus = start_citus().await?;
        let session = crate::demo::prepare_citus(&citus, args.tenants, ctx.read_only).await?;
        let port = citus.coordinator.port();
        (DemoCluster::Citus(citus), session, port)
    } else {
        eprintln!("starting a throwaway PostgreSQL…");
        let cluster = tokio::task::spawn_blocking(Cluster::start)
            .await
            .map_err(|e| Error::Invalid(format!("the cluster start was interrupted: {e}")))??;
        let session = crate::demo::prepare(&cluster, args.tenants, ctx.read_only).await?;
        let port = cluster.port();
        (DemoCluster::Single(cluster), session, port)
    };
    eprintln!(
        "demo ready in {:.1} s: {} tenants on 127.0.0.1:{port} (removed on exit)",
        started.elapsed().as_secs_f64(),
        args.tenants,
    );
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return Ok(Next::Console(Box::new(super::Console {
            context: None,
            session: Some(session),
            profile: "demo".into(),
            keys: ctx.loaded.keys(),
            cluster: Some(cluster),
        })));
    }
    let code = wait_for_signal(&session).await;
    session.pool.close().await;
    drop(cluster);
    code.map(Next::Exit)
}

/// Starts the Citus demo cluster, or says why Citus cannot be used here.
async fn start_citus() -> Result<crate::citus_cluster::CitusCluster> {
    let bindir = crate::cluster::find_server_bindir()
        .ok_or_else(|| Error::Invalid("no PostgreSQL server binaries found for the demo".into()))?;
    if let Some(why) = crate::citus_cluster::citus_unavailable(&bindir) {
        return Err(Error::Invalid(format!("demo --citus: {why}")));
    }
    Ok(crate::citus_cluster::CitusCluster::start(crate::demo::DEMO_DB, 2).await?)
}

/// Without a terminal (scripts, tests): prints the registry and waits for a signal.
async fn wait_for_signal(session: &crate::session::Session) -> Result<u8> {
    // Listen before saying "press Ctrl-C": a signal sent right after the prompt would
    // otherwise meet the default disposition and kill the demo before it cleans up.
    let signals = ExitSignals::listen().map_err(|source| Error::Io {
        what: "listening for SIGINT, SIGTERM and SIGHUP".into(),
        source,
    })?;
    let rows = crate::catalog::list_tenants(session).await?;
    out!("{}", super::tenant::tenant_table(&rows));
    outln!("press Ctrl-C to stop the demo and remove its cluster");
    signals.wait().await;
    Ok(crate::exit::OK)
}

/// SIGINT, SIGTERM and SIGHUP handlers, installed when created.
struct ExitSignals([tokio::signal::unix::Signal; 3]);

impl ExitSignals {
    /// Installs the three handlers; a failure is returned, not ignored, since a demo that
    /// cannot hear Ctrl-C would be killed without removing its cluster.
    fn listen() -> std::io::Result<ExitSignals> {
        use tokio::signal::unix::SignalKind;
        Self::listen_to([
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ])
    }

    fn listen_to(kinds: [tokio::signal::unix::SignalKind; 3]) -> std::io::Result<ExitSignals> {
        use tokio::signal::unix::signal;
        let [a, b, c] = kinds;
        Ok(ExitSignals([signal(a)?, signal(b)?, signal(c)?]))
    }

    /// Waits for any of them.
    async fn wait(self) {
        let [mut int, mut term, mut hup] = self.0;
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ExitSignals;

    use tokio::signal::unix::SignalKind;

    #[tokio::test]
    async fn a_signal_handler_that_cannot_be_installed_is_an_error() {
        // SIGKILL cannot be handled: installing must fail loudly rather than leave the demo
        // deaf to that signal while saying "press Ctrl-C".
        let kill = SignalKind::from_raw(9);
        let result = ExitSignals::listen_to([SignalKind::interrupt(), kill, SignalKind::hangup()]);
        assert!(result.is_err());
        assert!(ExitSignals::listen().is_ok());
    }
}
