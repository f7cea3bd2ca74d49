//! What every long job of the command line shares: Ctrl-C cancels it (the core stops
//! between items and cancels a running query on the server), and its report decides the
//! exit code (see `crate::job`: cancelled or partly failed is exit 2, naming the items).

use tokio_util::sync::CancellationToken;

/// A cancellation token that Ctrl-C fires, saying `message` on stderr.
pub fn ctrl_c_cancels(message: &'static str) -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("{message}");
            on_ctrl_c.cancel();
        }
    });
    cancel
}
