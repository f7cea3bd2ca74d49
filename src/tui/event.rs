//! One stream of everything that happens: terminal events (read on a thread, since
//! crossterm's reader blocks), ticks, and SIGTERM/SIGHUP. Job results join the same channel.

use super::app::Action;
use crossterm::event::Event;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// How often the spinner turns and timers are checked.
pub const TICK: Duration = Duration::from_millis(100);

/// Stops the terminal reader thread when dropped.
pub struct ReaderGuard(Arc<AtomicBool>);

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Reads terminal events on a thread until the guard is dropped.
pub fn spawn_terminal_reader(tx: UnboundedSender<Action>) -> ReaderGuard {
    spawn_reader(tx, |timeout| {
        // Poll with a timeout so the thread notices the stop flag.
        if crossterm::event::poll(timeout)? {
            crossterm::event::read().map(Some)
        } else {
            Ok(None)
        }
    })
}

/// Reads events from `next` (an event, `None` when none came within the timeout) on a
/// thread until the guard is dropped. A read error is sent as [`Action::InputFailed`]: a
/// console that silently stopped reading keys would look alive and ignore the operator.
pub fn spawn_reader<F>(tx: UnboundedSender<Action>, mut next: F) -> ReaderGuard
where
    F: FnMut(Duration) -> std::io::Result<Option<Event>> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            let action = match next(TICK) {
                Ok(None) => continue,
                Ok(Some(Event::Key(k))) => Action::Key(k),
                Ok(Some(Event::Resize(w, h))) => Action::Resize(w, h),
                Ok(Some(_)) => continue,
                Err(e) => {
                    let _ = tx.send(Action::InputFailed(e.to_string()));
                    break;
                }
            };
            if tx.send(action).is_err() {
                break;
            }
        }
    });
    ReaderGuard(stop)
}

/// Sends a tick every [`TICK`].
pub fn spawn_ticker(tx: UnboundedSender<Action>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            if tx.send(Action::Tick(Instant::now())).is_err() {
                break;
            }
        }
    })
}

/// Turns SIGTERM and SIGHUP into a clean quit, so the terminal is restored.
pub fn spawn_signals(tx: UnboundedSender<Action>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        let _ = tx.send(Action::Quit);
    }))
}
