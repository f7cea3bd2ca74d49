//! A server that stops answering: the console says so, stays live, and recovers by itself.
//! Its own test binary, so that freezing this cluster touches no other test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod tui_pty;

use common::{TestDb, cluster};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::{Duration, Instant};
use tui_pty::Console;

/// The postmaster's pid, from its pid file.
fn postmaster() -> Pid {
    let text = std::fs::read_to_string(cluster().root().join("data/postmaster.pid")).unwrap();
    Pid::from_raw(text.lines().next().unwrap().trim().parse().unwrap())
}

/// Resumes the server even if the test fails half-way.
struct Thaw(Pid);
impl Drop for Thaw {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGCONT);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connection_is_shown_retried_and_recovered() {
    let (db, session) = TestDb::bootstrapped().await;
    tenantctl::tenant::create(
        &session,
        &tenantctl::tenant::NewTenant {
            id: "alpha".into(),
            name: Some("alpha Inc".into()),
            config: vec![],
        },
    )
    .await
    .unwrap();
    let mut c = tokio::task::block_in_place(|| Console::open(&db, &[]));
    tokio::task::block_in_place(|| c.wait_text("● connected"));

    // Cut every session of this database, then freeze the server so new ones hang.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&db.dbname)
    .execute(&session.pool)
    .await
    .unwrap();
    session.pool.close().await;
    let pid = postmaster();
    kill(pid, Signal::SIGSTOP).unwrap();
    let thaw = Thaw(pid);

    tokio::task::block_in_place(|| {
        c.send("R");
        // The UI answers keys while the reload waits on the frozen server.
        c.send("?");
        c.wait_text("Keys");
        c.esc();
        c.wait_for("help closed", |s| !s.contains(" Keys "));
        // Pool acquire gives up after its timeout (10 s); allow for it.
        let start = Instant::now();
        while !c.screen().contains("connection lost") {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "never showed the lost connection:\n{}",
                c.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(c.child.try_wait().unwrap().is_none(), "the console exited");
        c.wait_text("retry in");
    });

    drop(thaw);
    tokio::task::block_in_place(|| {
        let start = Instant::now();
        while !c.screen().contains("connection restored") {
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "never recovered:\n{}",
                c.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        c.wait_text("alpha Inc");
        c.send("q");
        assert!(c.wait_exit().success());
    });
}
