//! The interactive console: `tenantctl` with no subcommand.
//!
//! A key or a job result becomes an [`app::Action`]; [`app::App::update`] changes the state
//! and returns effects; [`jobs::Jobs`] runs them on tokio tasks and reports back with more
//! actions; [`view::render`] draws the state. The loop below only wires these together.

pub mod app;
pub mod dialog;
pub mod event;
pub mod jobs;
pub mod keymap;
pub mod theme;
pub mod view;

use crate::error::{Error, Result};
use crate::session::Session;
use app::{Action, App};

/// Opens the console on `session` with the keys of `keymap` and runs it until the user
/// quits; returns the exit code, or the error that closed it.
pub async fn run(
    session: Session,
    profile: String,
    keymap: keymap::Keymap,
    backups: Option<crate::backup::BackupSettings>,
) -> Result<u8> {
    let io = |what: &str| {
        let what = what.to_string();
        move |source| Error::Io { what, source }
    };
    let mut app = App::new(
        profile,
        format!("{} · {}", session.spec.target(), session.tls.label()),
        session.read_only(),
        session.names.clone(),
        theme::Theme::from_env(),
    );
    app.keymap = keymap;
    app.backups = backups;
    app.latest_version = session.template.latest();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Action>();
    let signals = event::spawn_signals(tx.clone()).map_err(io("listening for signals"))?;
    // Installs a panic hook that restores the terminal before the message prints.
    let mut terminal = ratatui::try_init().map_err(io("opening the terminal"))?;
    let reader = event::spawn_terminal_reader(tx.clone());
    let ticker = event::spawn_ticker(tx.clone());
    let mut jobs = jobs::Jobs::new(session, tx);
    let mut pending = app.start();
    let mut redraw = true;
    let result = loop {
        if redraw && let Err(e) = terminal.draw(|f| view::render(f, &app)) {
            break Err(io("drawing the console")(e));
        }
        // Effects start after the frame that shows their cause: when the tenant list
        // lands, its frame is drawn before the exact sizes and the selected tenant's
        // detail start taking the cores (at 10,000 tenants they are seconds of work).
        for effect in pending.drain(..) {
            jobs.start(effect);
        }
        let Some(action) = rx.recv().await else {
            break Ok(());
        };
        // Progress alone waits for the next tick's frame (at most a tick later): the three
        // measuring connections report up to 30 times a second, and each frame is client
        // CPU taken from the server's measurement on a small machine.
        redraw = !matches!(action, Action::JobProgress { .. });
        pending.extend(app.update(action));
        // Apply everything already queued before drawing again: a burst of keys or size
        // chunks costs one frame, not one frame each.
        while let Ok(action) = rx.try_recv() {
            redraw |= !matches!(action, Action::JobProgress { .. });
            pending.extend(app.update(action));
        }
        if app.quit {
            // What the last keys asked for still starts (a save confirmed just before
            // quitting runs as it did before the quit).
            for effect in pending.drain(..) {
                jobs.start(effect);
            }
            break Ok(());
        }
    };
    jobs.cancel_all();
    drop(reader);
    ticker.abort();
    signals.abort();
    ratatui::restore();
    result?;
    match app.fatal {
        Some(e) => Err(Error::Io {
            what: "reading the terminal".into(),
            source: std::io::Error::other(format!("{e}; the console closed")),
        }),
        None => Ok(crate::exit::OK),
    }
}
