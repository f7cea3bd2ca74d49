//! The link to the database: heartbeat, loss, reconnection with backoff, and the reload
//! once it is back.

use super::{App, Effect, ErrorText, Flash, JobKind, Load, Measure, Screen};
use crate::catalog::ServerSummary;
use std::time::{Duration, Instant};

/// How often a live connection is checked, so a drop shows without a keypress.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(10);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The state of the link to the database.
#[derive(Debug, Clone, PartialEq)]
pub enum Conn {
    Up,
    /// Lost; the next attempt is due at `retry_at`.
    Down {
        error: String,
        attempt: u32,
        retry_at: Instant,
    },
}

impl App {
    /// Reports an error; a lost connection switches to reconnecting with backoff.
    pub(super) fn fail(&mut self, e: ErrorText) -> Vec<Effect> {
        if e.connection {
            let attempt = match &self.conn {
                Conn::Down { attempt, .. } => attempt + 1,
                Conn::Up => 1,
            };
            let backoff = Duration::from_secs(1u64 << attempt.min(5)).min(MAX_BACKOFF);
            self.conn = Conn::Down {
                error: e.message,
                attempt,
                retry_at: self.now + backoff,
            };
        } else {
            self.flash = Some(Flash {
                text: match e.hint {
                    Some(h) => format!("{} — {h}", e.message),
                    None => e.message,
                },
                error: true,
            });
        }
        Vec::new()
    }

    pub(super) fn on_tick(&mut self, now: Instant) -> Vec<Effect> {
        self.now = now;
        self.ticks = self.ticks.wrapping_add(1);
        let mut effects = Vec::new();
        match &self.conn {
            Conn::Down { retry_at, .. } if now >= *retry_at => {
                // Push the next attempt out until this one answers.
                if let Conn::Down { retry_at, .. } = &mut self.conn {
                    *retry_at = now + MAX_BACKOFF;
                }
                effects.push(Effect::LoadServer);
            }
            Conn::Up if now >= self.next_heartbeat => {
                self.next_heartbeat = now + HEARTBEAT;
                effects.push(Effect::LoadServer);
            }
            _ => {}
        }
        if self.detail_due.is_some_and(|due| now >= due) {
            self.detail_due = None;
            effects.extend(self.ensure_detail());
        }
        effects
    }

    pub(super) fn on_server(&mut self, r: Result<ServerSummary, ErrorText>) -> Vec<Effect> {
        match r {
            Ok(s) => {
                self.server = Load::Ready(s);
                if matches!(self.conn, Conn::Down { .. }) {
                    // Back: reload what may have changed while away.
                    self.conn = Conn::Up;
                    self.flash("connection restored".into(), false);
                    return self.reload();
                }
                Vec::new()
            }
            Err(e) => {
                if !matches!(self.server, Load::Ready(_)) {
                    self.server = Load::Failed(e.clone());
                }
                self.fail(e)
            }
        }
    }

    /// Reloads the registry (and the activity log when it shows). Sizes measured so far
    /// are carried over; the detail reloads once the registry is in.
    pub(super) fn reload(&mut self) -> Vec<Effect> {
        self.tenants = Load::Loading;
        self.detail_stale = true;
        // The measurement running now is cancelled: the next load finishes it.
        let mut effects = Vec::new();
        if let Some(id) = self.jobs.of_kind(JobKind::Sizes).map(|j| j.id) {
            self.jobs.remove(id);
            effects.push(Effect::CancelJob(id));
            if self.measure == Measure::Nothing {
                self.measure = Measure::Missing;
            }
        }
        effects.push(self.registry_load());
        if self.screen == Screen::Activity {
            effects.push(Effect::LoadActivity);
        }
        effects
    }

    /// How the registry is read for the next load: without the estimate when every size
    /// is about to be measured anyway (at 10,000 tenants the estimate's scan of `pg_class`
    /// held the measurement back by its own length, and competed with it for the cores).
    pub(super) fn registry_load(&self) -> Effect {
        if self.measure == Measure::All {
            Effect::LoadUnsized
        } else {
            Effect::LoadTenants
        }
    }
}
