//! The console's state, the [`Action`]s that change it, and [`App::update`].
//!
//! `update` is the only place state changes. It never awaits and never touches the
//! database: it returns [`Effect`]s, which `jobs` runs on tokio tasks and answers with
//! more `Action`s. That keeps it testable with plain key sequences.
//!
//! The state, the enums and the dispatcher live here; what each action does lives in a
//! module named after what it handles:
//!
//! - `keys`: keys by context (help, palette, filter); a key or a palette word becomes a
//!   [`CommandId`] of the one command table (`keymap`);
//! - `commands`: what each command does, behind the one read-only gate;
//! - `writes`: [`Write`], every change the console can ask the core for;
//! - `dialogs`: keys in a dialog, its submission, and the answer to a write;
//! - `running`: the registry of long jobs (id → kind, progress; Esc cancels the focused one);
//! - `results`: answers from the read jobs (registry, sizes, detail, activity, migrate);
//! - `connection`: heartbeat, loss and reconnection with backoff;
//! - `list`: the tenant list's sort orders, filter and selection;
//! - `load`: [`Load`] and [`ErrorText`], what a task hands back.

mod backups;
mod commands;
mod connection;
mod dialogs;
mod keys;
mod list;
mod load;
mod results;
mod running;
mod writes;

pub use backups::{BackupRow, BackupsData, BackupsView};
pub use connection::Conn;
use connection::HEARTBEAT;
pub use list::{SortKey, TenantList, Totals, size_pending};
pub use load::{ErrorText, Load};
pub use running::{JobEnd, JobId, JobKind, JobRegistry, Landed, LongJob, RunningJob};
pub use writes::Write;

use super::dialog::{Dialog, Palette};
use super::keymap::{CommandId, Context, Keymap};
use super::theme::Theme;
use crate::audit::{AuditReport, Finding, Severity};
use crate::catalog::{Drift, GrantMatrix, SchemaSize, ServerSummary, TenantRow, TenantStatus};
use crate::journal::LogEntry;
use crate::names::NamingPolicy;
use crossterm::event::{KeyEvent, KeyEventKind};
use ratatui::style::Style;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// How long the selection must rest before the detail panes load (holding ↓ stays cheap).
const DETAIL_DEBOUNCE: Duration = Duration::from_millis(150);

/// Which exact sizes the next registry load measures (`pg_total_relation_size` over many
/// schemas is seconds of server I/O, so ordinary reloads carry sizes over instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// None: keep the sizes already measured, estimates for the rest.
    Nothing,
    /// Schemas without a measured size: a measurement that was cut short.
    Missing,
    /// Every schema: the first load, and `R` / `:refresh`.
    All,
}

/// Which full view is showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Tenants,
    Detail,
    Activity,
    Audit,
    Backups,
    /// Citus: nodes, the balance, and each node's tenants.
    Nodes,
}

/// Panes of the tenants screen, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Tenants,
    Schema,
    Grants,
}

/// A one-line message under the panes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
}

/// The Activity view: the newest console-log rows and where the cursor is.
#[derive(Debug, Default)]
pub struct ActivityLog {
    pub entries: Load<Vec<LogEntry>>,
    pub selected: usize,
    /// First visible row (adjusted while drawing, like the tenant list's).
    pub offset: Cell<usize>,
}

/// The Nodes view (Citus): the node map, the node under the cursor, and the cursor in its
/// tenant list.
#[derive(Debug, Default)]
pub struct NodesView {
    pub map: Load<crate::citus::nodes::NodeMap>,
    /// Index into the map's nodes.
    pub node: usize,
    /// Index into the selected node's tenants.
    pub tenant: usize,
    /// The cursor is in the tenant list (Tab), not the node list.
    pub on_tenants: bool,
    /// First visible tenant row (adjusted while drawing).
    pub offset: Cell<usize>,
}

impl NodesView {
    /// The node under the cursor.
    pub fn selected_node(&self) -> Option<&crate::citus::nodes::Node> {
        self.map.ready().and_then(|m| m.nodes.get(self.node))
    }

    /// The tenant under the cursor in the selected node's list.
    pub fn selected_tenant(&self) -> Option<&crate::citus::nodes::Placement> {
        let map = self.map.ready()?;
        let node = map.nodes.get(self.node)?;
        map.tenants_on(node).get(self.tenant).copied()
    }
}

/// The Audit view: the last report, the severity shown from, and the cursor.
#[derive(Debug)]
pub struct AuditView {
    pub report: Load<AuditReport>,
    /// Findings less severe than this are hidden.
    pub min: Severity,
    /// Index into [`AuditView::shown`].
    pub selected: usize,
    /// First visible row (adjusted while drawing).
    pub offset: Cell<usize>,
}

impl Default for AuditView {
    fn default() -> Self {
        AuditView {
            report: Load::Idle,
            min: Severity::Info,
            selected: 0,
            offset: Cell::new(0),
        }
    }
}

impl AuditView {
    /// The findings shown: at `min` or worse, worst first (the report's order).
    pub fn shown(&self) -> Vec<&Finding> {
        self.report.ready().map_or_else(Vec::new, |r| {
            r.findings
                .iter()
                .filter(|f| f.severity.at_least(self.min))
                .collect()
        })
    }

    /// The finding under the cursor.
    pub fn selected_finding(&self) -> Option<&Finding> {
        self.shown().get(self.selected).copied()
    }

    /// The last report's findings that concern `tenant`.
    pub fn of_tenant(&self, tenant: &str) -> Vec<&Finding> {
        self.report.ready().map_or_else(Vec::new, |r| {
            r.findings.iter().filter(|f| f.concerns(tenant)).collect()
        })
    }
}

/// The selected tenant's schema and grants.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub id: String,
    pub schema: Load<SchemaSize>,
    pub grants: Load<GrantMatrix>,
    /// The audit's findings about the tenant; a failure says the grants were not judged.
    pub findings: Load<Vec<Finding>>,
}

/// Everything that can happen to the console: keys, time, and job results.
#[derive(Debug, Clone)]
pub enum Action {
    Key(KeyEvent),
    Resize(u16, u16),
    Tick(Instant),
    /// SIGTERM, SIGHUP: leave cleanly.
    Quit,
    /// The terminal could not be read: leave, and say why.
    InputFailed(String),
    Server(Result<ServerSummary, ErrorText>),
    /// The registry with estimated sizes.
    Tenants(Result<Vec<TenantRow>, ErrorText>),
    /// The registry without sizes, read to start measuring them at once.
    Unsized(Result<Vec<TenantRow>, ErrorText>),
    /// Size estimates for the rows still without a size.
    Estimates(Result<Vec<TenantRow>, ErrorText>),
    Detail {
        id: String,
        schema: Result<SchemaSize, ErrorText>,
        grants: Result<GrantMatrix, ErrorText>,
        findings: Result<Vec<Finding>, ErrorText>,
    },
    Activity(Result<Vec<LogEntry>, ErrorText>),
    /// Backups in the folder and kept copies in the database.
    Backups(Result<BackupsData, ErrorText>),
    /// The answer to a [`Write`] of the command `command`.
    Saved {
        command: CommandId,
        result: Result<TenantRow, ErrorText>,
    },
    /// The adopt dry run of `adoption`.
    AdoptPlan {
        adoption: crate::tenant::Adoption,
        result: Result<crate::tenant::AdoptPlan, ErrorText>,
    },
    /// A long job moved on: `done` of `total`, the item just finished, what landed.
    JobProgress {
        id: JobId,
        done: usize,
        total: usize,
        current: String,
        failed: usize,
        landed: Landed,
    },
    /// A long job ended: its summary, or the error that stopped it.
    JobDone {
        id: JobId,
        result: Result<JobEnd, ErrorText>,
    },
}

/// Work `update` asks for; `jobs` runs it on a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadServer,
    /// The registry with estimated sizes (a reload that measures only what is missing).
    LoadTenants,
    /// The registry without sizes, for a load that measures every size: the measurement
    /// starts without waiting for the estimate's scan of `pg_class`.
    LoadUnsized,
    /// Estimates for the rows left without a size when a measurement stopped short.
    LoadEstimates,
    /// Start a long job under `id`; it reports back with [`Action::JobProgress`] and
    /// [`Action::JobDone`].
    StartJob {
        id: JobId,
        job: LongJob,
    },
    /// Cancel the long job `id` (its `JobDone` still comes, saying what was not tried).
    CancelJob(JobId),
    LoadDetail {
        id: String,
        schema: String,
    },
    LoadActivity,
    /// Read the backup folder's manifests and the kept copies.
    LoadBackups(Option<crate::backup::BackupSettings>),
    /// A change, already past the read-only gate.
    Write(Write),
    /// The adopt dry run (past the read-only gate: it is the first step of a write).
    PlanAdopt(crate::tenant::Adoption),
}

/// The console's whole state.
#[derive(Debug)]
pub struct App {
    pub profile: String,
    /// `role@host:port/db`.
    pub target: String,
    pub read_only: bool,
    /// The keys in force (the command table with `[keys]` applied).
    pub keymap: Keymap,
    /// Where `dump` writes; `None` when no backup folder is configured.
    pub backups: Option<crate::backup::BackupSettings>,
    pub names: NamingPolicy,
    /// The template's newest version (the pin dialog shows it).
    pub latest_version: i32,
    pub theme: Theme,
    pub server: Load<ServerSummary>,
    pub conn: Conn,
    pub tenants: Load<()>,
    /// The tenant list: rows, sort orders, filter, selection.
    pub list: TenantList,
    pub focus: Pane,
    pub screen: Screen,
    pub detail: Option<Detail>,
    /// Scroll of the schema pane.
    pub schema_scroll: u16,
    /// Scroll of the grants pane.
    pub grants_scroll: u16,
    /// The console log view.
    pub activity: ActivityLog,
    /// The permission audit view.
    pub audit: AuditView,
    /// The Backups view.
    pub backups_view: BackupsView,
    /// The Citus Nodes view.
    pub nodes: NodesView,
    pub dialog: Option<Dialog>,
    pub palette: Option<Palette>,
    pub help: bool,
    /// The `?` overlay's first line when it does not fit (the move keys scroll it), and the
    /// last useful value, which the renderer records since only it knows the layout.
    pub help_scroll: usize,
    pub help_scroll_max: std::cell::Cell<usize>,
    pub flash: Option<Flash>,
    /// Running long jobs; the footer shows the focused one, Esc cancels it.
    pub jobs: JobRegistry,
    /// Sum of sizes, count of registered tenants, and rows with drift.
    pub totals: Totals,
    /// Biggest tenants for the chart: (id, bytes), largest first.
    pub top: Vec<(String, i64)>,
    pub ticks: u64,
    pub now: Instant,
    detail_due: Option<Instant>,
    /// The registry was reloaded since the detail loaded: load it again even if it shows
    /// the selected tenant.
    detail_stale: bool,
    measure: Measure,
    next_heartbeat: Instant,
    pub quit: bool,
    /// Why the console must close with an error (the terminal could not be read).
    pub fatal: Option<String>,
}

impl App {
    /// A console about to load; call [`App::start`] for its first effects.
    pub fn new(
        profile: String,
        target: String,
        read_only: bool,
        names: NamingPolicy,
        theme: Theme,
    ) -> App {
        let now = Instant::now();
        App {
            profile,
            target,
            read_only,
            keymap: Keymap::default(),
            backups: None,
            names,
            latest_version: crate::tenant::latest_version(),
            theme,
            server: Load::Idle,
            conn: Conn::Up,
            tenants: Load::Idle,
            list: TenantList::default(),
            focus: Pane::Tenants,
            screen: Screen::Tenants,
            detail: None,
            schema_scroll: 0,
            grants_scroll: 0,
            activity: ActivityLog::default(),
            audit: AuditView::default(),
            backups_view: BackupsView::default(),
            nodes: NodesView::default(),
            dialog: None,
            palette: None,
            help: false,
            help_scroll: 0,
            help_scroll_max: std::cell::Cell::new(0),
            flash: None,
            jobs: JobRegistry::default(),
            totals: Totals::default(),
            top: Vec::new(),
            ticks: 0,
            now,
            detail_due: None,
            detail_stale: false,
            measure: Measure::All,
            next_heartbeat: now + HEARTBEAT,
            quit: false,
            fatal: None,
        }
    }

    /// The first loads: server facts and the registry (without sizes: they are measured
    /// as soon as it lands).
    pub fn start(&mut self) -> Vec<Effect> {
        self.server = Load::Loading;
        self.tenants = Load::Loading;
        vec![Effect::LoadServer, self.registry_load()]
    }

    /// Where the keyboard is.
    pub fn context(&self) -> Context {
        if self.help {
            Context::Help
        } else if self.palette.is_some() {
            Context::Palette
        } else if let Some(d) = &self.dialog {
            d.context()
        } else if self.list.filtering {
            Context::Filter
        } else {
            match self.screen {
                Screen::Tenants => Context::Tenants,
                Screen::Detail => Context::Detail,
                Screen::Activity => Context::Activity,
                Screen::Audit => Context::Audit,
                Screen::Backups => Context::Backups,
                Screen::Nodes => Context::Nodes,
            }
        }
    }

    /// The selected registry row.
    pub fn selected_row(&self) -> Option<&TenantRow> {
        self.list
            .visible
            .get(self.list.selected)
            .and_then(|&i| self.list.rows.get(i))
    }

    /// True while anything is loading (for the spinner).
    pub fn loading(&self) -> bool {
        matches!(self.tenants, Load::Loading)
            || matches!(self.server, Load::Loading)
            || !self.jobs.running.is_empty()
            || self.dialog.as_ref().is_some_and(Dialog::busy)
            || self.detail.as_ref().is_some_and(|d| {
                matches!(d.schema, Load::Loading) || matches!(d.grants, Load::Loading)
            })
    }

    /// The spinner's current frame.
    pub fn spinner(&self) -> &'static str {
        const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
        FRAMES[(self.ticks % FRAMES.len() as u64) as usize]
    }

    /// Applies one action; returns the jobs to start.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Key(key) if key.kind != KeyEventKind::Release => self.on_key(key),
            Action::Key(_) | Action::Resize(..) => Vec::new(),
            Action::Tick(now) => self.on_tick(now),
            Action::Quit => {
                self.quit = true;
                Vec::new()
            }
            Action::InputFailed(e) => {
                self.quit = true;
                self.fatal = Some(e);
                Vec::new()
            }
            Action::Server(r) => self.on_server(r),
            Action::Tenants(r) => self.on_tenants(r),
            Action::Unsized(r) => self.on_unsized(r),
            Action::Estimates(r) => self.on_estimates(r),
            Action::Detail {
                id,
                schema,
                grants,
                findings,
            } => self.on_detail(id, schema, grants, findings),
            Action::Activity(r) => self.on_activity(r),
            Action::Backups(r) => self.on_backups(r),
            Action::Saved { command, result } => self.on_saved(command, result),
            Action::AdoptPlan { adoption, result } => self.on_adopt_plan(adoption, result),
            Action::JobProgress {
                id,
                done,
                total,
                current,
                failed,
                landed,
            } => self.on_job_progress(id, done, total, current, failed, landed),
            Action::JobDone { id, result } => self.on_job_done(id, result),
        }
    }

    pub(super) fn flash(&mut self, text: String, error: bool) {
        self.flash = Some(Flash { text, error });
    }

    /// Style for a row's status word (the word carries the meaning; colour only repeats it).
    pub fn status_style(&self, row: &TenantRow) -> Style {
        match (row.drift, row.status) {
            (Drift::None, TenantStatus::Active) => self.theme.text(),
            (Drift::None, _) => self.theme.warn(),
            _ => self.theme.bad(),
        }
    }
}
