//! The tenantctl binary: parse arguments, pick a face, map errors to exit codes.
//!
//! The command line runs first; when it asks for the console (no subcommand, or `demo` on a
//! terminal) the console runs here, so neither face imports the other.

use clap::Parser;
use std::process::ExitCode;
use tenantctl::{cli, exit, tui};

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let code = runtime.block_on(async {
        match cli::run(args).await {
            cli::Next::Exit(code) => code,
            cli::Next::Console(console) => console_face(*console).await,
        }
    });
    // Don't wait for lingering pool tasks.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code)
}

/// Checks the `[keys]` remapping and the terminal, connects (unless the demo already
/// did), runs the console, and tears the demo down after it.
async fn console_face(console: cli::Console) -> u8 {
    let cli::Console {
        context,
        session,
        profile,
        keys,
        cluster,
    } = console;
    let opened = async {
        let keymap = tui::keymap::Keymap::from_config(&keys)?;
        let session = match (session, &context) {
            (Some(s), _) => s,
            (None, Some(ctx)) => {
                cli::require_terminal()?;
                ctx.session().await?
            }
            (None, None) => {
                return Err(tenantctl::error::Error::Invalid(
                    "the console was asked for without a connection; please report it".into(),
                ));
            }
        };
        Ok((keymap, session))
    }
    .await;
    let code = match opened {
        Err(e) => Err(e),
        Ok((keymap, session)) => {
            let code = tui::run(session.clone(), profile, keymap).await;
            session.pool.close().await;
            code
        }
    };
    drop(cluster);
    match code {
        Ok(code) => code,
        Err(e) => {
            cli::report_error(&e);
            exit::ERROR
        }
    }
}
