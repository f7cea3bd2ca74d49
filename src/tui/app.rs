//! The console's state, the [`Action`]s that change it, and [`App::update`].
//!
//! `update` is the only place state changes. It never awaits and never touches the
//! database: it returns [`Effect`]s, which `jobs` runs on tokio tasks and answers with
//! more `Action`s. That keeps it testable with plain key sequences.

use super::core::{Deviation, MigrateProgress, NewTenant, TenantChange};
use super::dialog::{
    ConfirmDialog, Dialog, EditDialog, Outcome, Palette, Pending, ProvisionDialog,
};
use super::keymap::{self, Command, Context};
use super::theme::Theme;
use crate::catalog::{Drift, GrantMatrix, SchemaSize, ServerSummary, TenantRow, TenantStatus};
use crate::error::Error;
use crate::journal::LogEntry;
use crate::names::NamingPolicy;
use crossterm::event::{Event, KeyEvent, KeyEventKind};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use std::cell::Cell;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// How long the selection must rest before the detail panes load (holding ↓ stays cheap).
const DETAIL_DEBOUNCE: Duration = Duration::from_millis(150);
/// How often a live connection is checked, so a drop shows without a keypress.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A core error made displayable and cloneable: cause, hint, and whether the link died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorText {
    pub message: String,
    pub hint: Option<String>,
    /// The connection was lost (reconnect with backoff rather than just report).
    pub connection: bool,
}

impl ErrorText {
    /// From a core error.
    pub fn from_error(e: &Error) -> ErrorText {
        let connection = match e {
            Error::Connect(_) => true,
            Error::Db { source, .. } => {
                matches!(
                    source,
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                ) || crate::error::sqlstate(source).is_some_and(|code| {
                    // Connection exceptions, and the server shutting down or starting up.
                    code.starts_with("08") || matches!(code.as_str(), "57P01" | "57P02" | "57P03")
                })
            }
            _ => false,
        };
        ErrorText {
            message: e.to_string(),
            hint: e.hint(),
            connection,
        }
    }

    /// A message of the console itself (validation).
    pub fn plain(message: String) -> ErrorText {
        ErrorText {
            message,
            hint: None,
            connection: false,
        }
    }

    /// One line: `✗ cause — hint`.
    pub fn line(&self, theme: &Theme) -> Line<'static> {
        let mut spans = vec![Span::styled(format!("✗ {}", self.message), theme.bad())];
        if let Some(h) = &self.hint {
            spans.push(Span::styled(format!(" — {h}"), theme.dim()));
        }
        Line::from(spans)
    }
}

/// Something loaded on a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    Idle,
    Loading,
    Ready(T),
    Failed(ErrorText),
}

impl<T> Load<T> {
    /// The value, when ready.
    pub fn ready(&self) -> Option<&T> {
        match self {
            Load::Ready(v) => Some(v),
            _ => None,
        }
    }
}

/// Which full view is showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Tenants,
    Detail,
    Activity,
    Audit,
    Backups,
}

/// Panes of the tenants screen, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Tenants,
    Schema,
    Grants,
}

/// Sort orders, cycled by `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Id,
    Name,
    Size,
    Status,
}

impl SortKey {
    /// Word for the pane title.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Id => "id",
            SortKey::Name => "name",
            SortKey::Size => "size",
            SortKey::Status => "status",
        }
    }
    fn next(self) -> SortKey {
        match self {
            SortKey::Id => SortKey::Name,
            SortKey::Name => SortKey::Size,
            SortKey::Size => SortKey::Status,
            SortKey::Status => SortKey::Id,
        }
    }
}

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

/// A one-line message under the panes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
}

/// The selected tenant's schema and grants.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub id: String,
    pub schema: Load<SchemaSize>,
    pub grants: Load<GrantMatrix>,
    pub deviations: Vec<Deviation>,
}

/// A long job with progress, cancellable with Esc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub label: String,
    pub done: usize,
    pub total: usize,
    pub failures: usize,
}

/// Long jobs the user can cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    Sizes,
    Migrate,
}

/// Which write a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    Create,
    Edit,
    Suspend,
    Resume,
}

/// Everything that can happen to the console: keys, time, and job results.
#[derive(Debug, Clone)]
pub enum Action {
    Key(KeyEvent),
    Resize(u16, u16),
    Tick(Instant),
    /// SIGTERM, SIGHUP: leave cleanly.
    Quit,
    Server(Result<ServerSummary, ErrorText>),
    Tenants(Result<Vec<TenantRow>, ErrorText>),
    /// A chunk of measured sizes (schema, bytes); `done` of `total` schemas measured.
    Sizes {
        sizes: Vec<(String, i64)>,
        done: usize,
        total: usize,
    },
    SizesFailed(ErrorText),
    Detail {
        id: String,
        schema: Result<SchemaSize, ErrorText>,
        grants: Result<GrantMatrix, ErrorText>,
        deviations: Vec<Deviation>,
    },
    Activity(Result<Vec<LogEntry>, ErrorText>),
    Saved {
        op: WriteOp,
        result: Result<TenantRow, ErrorText>,
    },
    Migrate(MigrateProgress),
    MigrateDone(Result<String, ErrorText>),
}

/// Work `update` asks for; `jobs` runs it on a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadServer,
    LoadTenants,
    /// Measure these schemas exactly, streaming chunks back as [`Action::Sizes`].
    ExactSizes(Vec<String>),
    LoadDetail {
        id: String,
        schema: String,
    },
    LoadActivity,
    Create(NewTenant),
    Set {
        id: String,
        change: TenantChange,
    },
    Suspend(String),
    Resume(String),
    Migrate(Option<Vec<String>>),
    Cancel(JobKind),
}

/// The console's whole state.
#[derive(Debug)]
pub struct App {
    pub profile: String,
    /// `role@host:port/db`.
    pub target: String,
    pub read_only: bool,
    pub names: NamingPolicy,
    pub theme: Theme,
    pub server: Load<ServerSummary>,
    pub conn: Conn,
    pub tenants: Load<()>,
    /// The registry rows; never cloned for filtering or sorting.
    pub rows: Vec<TenantRow>,
    /// Indices into `rows` in the current sort order, unfiltered.
    pub order: Vec<usize>,
    /// `order` for each sort key, kept until the rows change.
    sorted: [Option<Vec<usize>>; 4],
    /// Per row, `id` and `name` lowercased, built once per load so a filter keystroke is
    /// one substring search per row.
    haystacks: Vec<String>,
    /// `order` filtered: what the list shows.
    pub visible: Vec<usize>,
    /// Position in `visible` of the selected row.
    pub selected: usize,
    /// First visible row of the list; adjusted while drawing to keep the selection in view.
    pub offset: Cell<usize>,
    /// Rows the list showed last frame: the page for PgUp/PgDn.
    pub page: Cell<usize>,
    pub sort: SortKey,
    pub filter: Input,
    pub filtering: bool,
    pub focus: Pane,
    pub screen: Screen,
    pub detail: Option<Detail>,
    /// Scroll of the schema and grants panes.
    pub pane_scroll: [u16; 2],
    pub activity: Load<Vec<LogEntry>>,
    pub activity_selected: usize,
    /// First visible row of the activity list (see `offset`).
    pub activity_offset: Cell<usize>,
    pub dialog: Option<Dialog>,
    pub palette: Option<Palette>,
    pub help: bool,
    pub flash: Option<Flash>,
    pub sizes: Option<Progress>,
    pub migrate: Option<Progress>,
    /// Sum of sizes, count of registered tenants, and rows with drift.
    pub totals: Totals,
    /// Biggest tenants for the chart: (id, bytes), largest first.
    pub top: Vec<(String, i64)>,
    pub ticks: u64,
    pub now: Instant,
    detail_due: Option<Instant>,
    next_heartbeat: Instant,
    by_id: HashMap<String, usize>,
    pub quit: bool,
}

/// Header figures, recomputed when rows change rather than every frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub tenants: usize,
    pub bytes: i64,
    pub drift: usize,
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
            names,
            theme,
            server: Load::Idle,
            conn: Conn::Up,
            tenants: Load::Idle,
            rows: Vec::new(),
            order: Vec::new(),
            sorted: Default::default(),
            haystacks: Vec::new(),
            visible: Vec::new(),
            selected: 0,
            offset: Cell::new(0),
            page: Cell::new(10),
            sort: SortKey::Id,
            filter: Input::default(),
            filtering: false,
            focus: Pane::Tenants,
            screen: Screen::Tenants,
            detail: None,
            pane_scroll: [0, 0],
            activity: Load::Idle,
            activity_selected: 0,
            activity_offset: Cell::new(0),
            dialog: None,
            palette: None,
            help: false,
            flash: None,
            sizes: None,
            migrate: None,
            totals: Totals::default(),
            top: Vec::new(),
            ticks: 0,
            now,
            detail_due: None,
            next_heartbeat: now + HEARTBEAT,
            by_id: HashMap::new(),
            quit: false,
        }
    }

    /// The first loads: server facts and the registry.
    pub fn start(&mut self) -> Vec<Effect> {
        self.server = Load::Loading;
        self.tenants = Load::Loading;
        vec![Effect::LoadServer, Effect::LoadTenants]
    }

    /// Where the keyboard is.
    pub fn context(&self) -> Context {
        if self.help {
            Context::Help
        } else if self.palette.is_some() {
            Context::Palette
        } else if let Some(d) = &self.dialog {
            d.context()
        } else if self.filtering {
            Context::Filter
        } else {
            match self.screen {
                Screen::Tenants => Context::Tenants,
                Screen::Detail => Context::Detail,
                Screen::Activity | Screen::Audit | Screen::Backups => Context::Activity,
            }
        }
    }

    /// The selected registry row.
    pub fn selected_row(&self) -> Option<&TenantRow> {
        self.visible
            .get(self.selected)
            .and_then(|&i| self.rows.get(i))
    }

    /// True while anything is loading (for the spinner).
    pub fn loading(&self) -> bool {
        matches!(self.tenants, Load::Loading)
            || matches!(self.server, Load::Loading)
            || self.sizes.is_some()
            || self.migrate.is_some()
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
            Action::Server(r) => self.on_server(r),
            Action::Tenants(r) => self.on_tenants(r),
            Action::Sizes { sizes, done, total } => {
                for (schema, bytes) in sizes {
                    let id = self.names.id_from_schema(&schema).map(str::to_string);
                    let at = id.as_ref().and_then(|id| self.by_id.get(id)).copied();
                    if let Some(row) = at.and_then(|i| self.rows.get_mut(i)) {
                        row.size_bytes = Some(bytes);
                        row.size_exact = true;
                    }
                }
                self.sizes = (done < total).then(|| Progress {
                    label: "measuring sizes".into(),
                    done,
                    total,
                    failures: 0,
                });
                self.recount();
                self.sorted[SortKey::Size as usize] = None;
                if self.sort == SortKey::Size {
                    self.refresh_view();
                }
                Vec::new()
            }
            Action::SizesFailed(e) => {
                self.sizes = None;
                self.fail(e)
            }
            Action::Detail {
                id,
                schema,
                grants,
                deviations,
            } => {
                if let Some(d) = self.detail.as_mut().filter(|d| d.id == id) {
                    d.schema = schema.clone().map_or_else(Load::Failed, Load::Ready);
                    d.grants = grants.clone().map_or_else(Load::Failed, Load::Ready);
                    d.deviations = deviations;
                }
                match (schema, grants) {
                    (Err(e), _) | (_, Err(e)) if e.connection => self.fail(e),
                    _ => Vec::new(),
                }
            }
            Action::Activity(r) => match r {
                Ok(entries) => {
                    self.activity = Load::Ready(entries);
                    Vec::new()
                }
                Err(e) => {
                    self.activity = Load::Failed(e.clone());
                    if e.connection {
                        self.fail(e)
                    } else {
                        Vec::new()
                    }
                }
            },
            Action::Saved { op, result } => self.on_saved(op, result),
            Action::Migrate(p) => {
                if let Some(m) = self.migrate.as_mut() {
                    m.done = p.done;
                    m.total = p.total;
                    m.label = format!("migrating {}", p.tenant);
                    if p.error.is_some() {
                        m.failures += 1;
                    }
                }
                Vec::new()
            }
            Action::MigrateDone(r) => {
                let failures = self.migrate.take().map_or(0, |m| m.failures);
                match r {
                    Ok(summary) => {
                        self.flash(format!("migrate: {summary}"), failures > 0);
                        self.reload()
                    }
                    Err(e) => {
                        let mut effects = self.fail(e);
                        effects.extend(self.reload());
                        effects
                    }
                }
            }
        }
    }

    fn flash(&mut self, text: String, error: bool) {
        self.flash = Some(Flash { text, error });
    }

    /// Reports an error; a lost connection switches to reconnecting with backoff.
    fn fail(&mut self, e: ErrorText) -> Vec<Effect> {
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

    fn on_tick(&mut self, now: Instant) -> Vec<Effect> {
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
            effects.extend(self.load_detail());
        }
        effects
    }

    fn on_server(&mut self, r: Result<ServerSummary, ErrorText>) -> Vec<Effect> {
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

    fn on_tenants(&mut self, r: Result<Vec<TenantRow>, ErrorText>) -> Vec<Effect> {
        match r {
            Ok(rows) => {
                self.tenants = Load::Ready(());
                let keep = self.selected_row().map(|r| r.id.clone());
                self.set_rows(rows);
                self.select_id(keep.as_deref());
                let schemas: Vec<String> = self
                    .rows
                    .iter()
                    .filter(|r| r.drift != Drift::MissingSchema)
                    .map(|r| r.schema.clone())
                    .collect();
                let mut effects = Vec::new();
                if !schemas.is_empty() {
                    self.sizes = Some(Progress {
                        label: "measuring sizes".into(),
                        done: 0,
                        total: schemas.len(),
                        failures: 0,
                    });
                    effects.push(Effect::ExactSizes(schemas));
                }
                self.detail_due = Some(self.now);
                effects.extend(self.load_detail());
                effects
            }
            Err(e) => {
                self.tenants = Load::Failed(e.clone());
                self.fail(e)
            }
        }
    }

    /// Replaces the registry rows (a load, or a test building state).
    pub fn set_rows(&mut self, rows: Vec<TenantRow>) {
        self.rows = rows;
        self.by_id = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        self.index_rows();
        self.recount();
        self.refresh_view();
    }

    /// Rebuilds what is derived from the rows as a whole: search text, cached sort orders.
    fn index_rows(&mut self) {
        self.sorted = Default::default();
        // The separator cannot be typed, so a match never spans id and name.
        self.haystacks = self
            .rows
            .iter()
            .map(|r| format!("{}\u{1}{}", r.id.to_lowercase(), r.name.to_lowercase()))
            .collect();
    }

    fn recount(&mut self) {
        let mut t = Totals::default();
        for r in &self.rows {
            t.bytes += r.size_bytes.unwrap_or(0);
            if r.status != TenantStatus::Unregistered {
                t.tenants += 1;
            }
            if r.drift != Drift::None {
                t.drift += 1;
            }
        }
        self.totals = t;
        let mut top: Vec<(String, i64)> = self
            .rows
            .iter()
            .filter_map(|r| r.size_bytes.map(|b| (r.id.clone(), b)))
            .collect();
        // Partial selection: only the few biggest are drawn.
        let n = 8.min(top.len());
        if n > 0 {
            top.select_nth_unstable_by(n - 1, |a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            top.truncate(n);
            top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
        self.top = top;
    }

    /// Re-sorts all rows and reapplies the filter, keeping the selected tenant selected.
    pub fn refresh_view(&mut self) {
        // Each order is computed once per change of the rows, so `s` only swaps vectors.
        if let Some(order) = &self.sorted[self.sort as usize] {
            self.order.clone_from(order);
            self.refilter();
            return;
        }
        let rows = &self.rows;
        self.order.clear();
        self.order.extend(0..rows.len());
        match self.sort {
            SortKey::Id => self.order.sort_by(|&a, &b| rows[a].id.cmp(&rows[b].id)),
            // Lowercased once per row, not once per comparison.
            SortKey::Name => self
                .order
                .sort_by_cached_key(|&i| (rows[i].name.to_lowercase(), rows[i].id.clone())),
            SortKey::Size => self.order.sort_by(|&a, &b| {
                rows[b]
                    .size_bytes
                    .cmp(&rows[a].size_bytes)
                    .then_with(|| rows[a].id.cmp(&rows[b].id))
            }),
            SortKey::Status => self.order.sort_by(|&a, &b| {
                (rows[a].drift != Drift::None)
                    .cmp(&(rows[b].drift != Drift::None))
                    .reverse()
                    .then_with(|| rows[a].status.cmp(&rows[b].status))
                    .then_with(|| rows[a].id.cmp(&rows[b].id))
            }),
        }
        self.sorted[self.sort as usize] = Some(self.order.clone());
        self.refilter();
    }

    /// Reapplies the filter over the sorted order: one pass, no sorting, no row copies.
    pub fn refilter(&mut self) {
        let keep = self.selected_row().map(|r| r.id.clone());
        let needle = self.filter.value().to_lowercase();
        let haystacks = &self.haystacks;
        self.visible.clear();
        self.visible.extend(
            self.order
                .iter()
                .copied()
                .filter(|&i| needle.is_empty() || haystacks[i].contains(needle.as_str())),
        );
        self.select_id(keep.as_deref());
    }

    fn select_id(&mut self, id: Option<&str>) {
        let pos = id.and_then(|id| {
            let i = *self.by_id.get(id)?;
            self.visible.iter().position(|&v| v == i)
        });
        self.selected = pos.unwrap_or(0).min(self.visible.len().saturating_sub(1));
    }

    fn move_selection(&mut self, to: usize) {
        let to = to.min(self.visible.len().saturating_sub(1));
        if to != self.selected {
            self.selected = to;
            self.pane_scroll = [0, 0];
            self.detail_due = Some(self.now + DETAIL_DEBOUNCE);
        }
    }

    fn load_detail(&mut self) -> Vec<Effect> {
        let Some(row) = self.selected_row() else {
            self.detail = None;
            return Vec::new();
        };
        if row.drift == Drift::MissingSchema {
            self.detail = Some(Detail {
                id: row.id.clone(),
                schema: Load::Failed(ErrorText::plain(format!(
                    "schema {} does not exist",
                    row.schema
                ))),
                grants: Load::Failed(ErrorText::plain(format!(
                    "schema {} does not exist",
                    row.schema
                ))),
                deviations: Vec::new(),
            });
            return Vec::new();
        }
        let effect = Effect::LoadDetail {
            id: row.id.clone(),
            schema: row.schema.clone(),
        };
        self.detail = Some(Detail {
            id: row.id.clone(),
            schema: Load::Loading,
            grants: Load::Loading,
            deviations: Vec::new(),
        });
        vec![effect]
    }

    fn reload(&mut self) -> Vec<Effect> {
        self.tenants = Load::Loading;
        let mut effects = vec![Effect::Cancel(JobKind::Sizes), Effect::LoadTenants];
        if self.screen == Screen::Activity {
            effects.push(Effect::LoadActivity);
        }
        effects
    }

    fn on_saved(&mut self, op: WriteOp, result: Result<TenantRow, ErrorText>) -> Vec<Effect> {
        match result {
            Ok(row) => {
                self.dialog = None;
                let id = row.id.clone();
                let verb = match op {
                    WriteOp::Create => "created",
                    WriteOp::Edit => "saved",
                    WriteOp::Suspend => "suspended",
                    WriteOp::Resume => "resumed",
                };
                self.flash(format!("{verb} tenant {id}"), false);
                match self.by_id.get(&id) {
                    Some(&i) => {
                        if let Some(slot) = self.rows.get_mut(i) {
                            *slot = row;
                        }
                    }
                    None => {
                        self.by_id.insert(id.clone(), self.rows.len());
                        self.rows.push(row);
                    }
                }
                self.index_rows();
                self.recount();
                self.refresh_view();
                self.select_id(Some(&id));
                self.load_detail()
            }
            Err(e) => match self.dialog.as_mut() {
                // The dialog stays open with its input, showing the core's error.
                Some(d) => {
                    d.fail(e.clone());
                    if e.connection {
                        self.fail(e)
                    } else {
                        Vec::new()
                    }
                }
                None => self.fail(e),
            },
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let ctx = self.context();
        let cmd = keymap::lookup(ctx, &key);
        if cmd == Some(Command::Quit) {
            self.quit = true;
            return Vec::new();
        }
        match ctx {
            Context::Help => {
                if matches!(cmd, Some(Command::Cancel | Command::Help)) {
                    self.help = false;
                }
                Vec::new()
            }
            Context::Palette => self.on_palette_key(cmd, key),
            Context::Dialog | Context::Confirm => self.on_dialog_key(cmd, key),
            Context::Filter => {
                match cmd {
                    Some(Command::Submit) => self.filtering = false,
                    Some(Command::Cancel) => {
                        self.filtering = false;
                        self.filter.reset();
                        self.refilter();
                        self.detail_due = Some(self.now);
                    }
                    _ => {
                        if self.filter.handle_event(&Event::Key(key)).is_some() {
                            self.refilter();
                            self.detail_due = Some(self.now + DETAIL_DEBOUNCE);
                        }
                    }
                }
                Vec::new()
            }
            Context::Tenants | Context::Detail | Context::Activity => match cmd {
                Some(c) => self.run(c),
                None => Vec::new(),
            },
        }
    }

    fn on_dialog_key(&mut self, cmd: Option<Command>, key: KeyEvent) -> Vec<Effect> {
        let names = &self.names;
        let outcome = match self.dialog.as_mut() {
            Some(Dialog::Provision(d)) => d.handle(cmd, &key, names),
            Some(Dialog::Edit(d)) => d.handle(cmd, &key),
            Some(Dialog::Confirm(d)) => d.handle(cmd),
            None => Outcome::Stay,
        };
        match outcome {
            Outcome::Stay => Vec::new(),
            Outcome::Cancel => {
                self.dialog = None;
                Vec::new()
            }
            Outcome::Submit(Effect::Migrate(ids)) => {
                // Migration is long: it runs behind a progress bar, not inside the dialog.
                self.dialog = None;
                self.migrate = Some(Progress {
                    label: "migrating".into(),
                    done: 0,
                    total: ids.as_ref().map_or(self.totals.tenants, Vec::len),
                    failures: 0,
                });
                vec![Effect::Migrate(ids)]
            }
            Outcome::Submit(effect) => vec![effect],
        }
    }

    fn on_palette_key(&mut self, cmd: Option<Command>, key: KeyEvent) -> Vec<Effect> {
        let Some(p) = self.palette.as_mut() else {
            return Vec::new();
        };
        match cmd {
            Some(Command::Cancel) => {
                self.palette = None;
                Vec::new()
            }
            Some(Command::Complete) => {
                p.complete();
                p.error = None;
                Vec::new()
            }
            Some(Command::Submit) => match p.chosen() {
                Some(chosen) => {
                    self.palette = None;
                    self.run_palette(chosen)
                }
                None => {
                    p.error = Some(format!(
                        "unknown or ambiguous command {:?}; Tab completes",
                        p.input.value()
                    ));
                    Vec::new()
                }
            },
            _ => {
                p.error = None;
                p.input.handle_event(&Event::Key(key));
                Vec::new()
            }
        }
    }

    fn run_palette(&mut self, command: &str) -> Vec<Effect> {
        let sort = |k| {
            move |app: &mut App| {
                app.sort = k;
                app.refresh_view();
                Vec::new()
            }
        };
        match command {
            "tenants" => self.go(Screen::Tenants),
            "activity" => self.run(Command::Activity),
            "audit" => self.go(Screen::Audit),
            "backups" => self.go(Screen::Backups),
            "new" => self.run(Command::New),
            "edit" => self.run(Command::Edit),
            "suspend" | "resume" => self.run(Command::SuspendResume),
            "migrate" => self.run(Command::Migrate),
            "migrate all" => {
                if self.refuse_write("migrate all") {
                    return Vec::new();
                }
                self.dialog = Some(Dialog::Confirm(ConfirmDialog::new(Pending::Migrate(None))));
                Vec::new()
            }
            "sort id" => sort(SortKey::Id)(self),
            "sort name" => sort(SortKey::Name)(self),
            "sort size" => sort(SortKey::Size)(self),
            "sort status" => sort(SortKey::Status)(self),
            "refresh" => self.run(Command::Refresh),
            "help" => self.run(Command::Help),
            "quit" => self.run(Command::Quit),
            _ => Vec::new(),
        }
    }

    fn go(&mut self, screen: Screen) -> Vec<Effect> {
        self.screen = screen;
        Vec::new()
    }

    /// Refuses a write in a read-only console, with a message; true when refused.
    fn refuse_write(&mut self, what: &str) -> bool {
        if self.read_only {
            self.flash(
                format!("read-only console: {what} is not allowed (started with --read-only)"),
                true,
            );
        }
        self.read_only
    }

    /// Carries out a command of the main screens.
    fn run(&mut self, cmd: Command) -> Vec<Effect> {
        let writes = keymap::BINDINGS
            .iter()
            .any(|b| b.command == cmd && b.writes);
        if writes {
            let label = keymap::BINDINGS
                .iter()
                .find(|b| b.command == cmd)
                .map_or("that", |b| b.label);
            if self.refuse_write(label) {
                return Vec::new();
            }
        }
        let page = self.page.get().max(1);
        let on_list = self.screen == Screen::Tenants && self.focus == Pane::Tenants;
        match cmd {
            Command::Up
            | Command::Down
            | Command::PageUp
            | Command::PageDown
            | Command::Top
            | Command::Bottom
                if self.screen == Screen::Activity =>
            {
                let len = self.activity.ready().map_or(0, Vec::len);
                let cur = self.activity_selected;
                self.activity_selected = step(cmd, cur, len, page);
            }
            Command::Up
            | Command::Down
            | Command::PageUp
            | Command::PageDown
            | Command::Top
            | Command::Bottom
                if on_list =>
            {
                let to = step(cmd, self.selected, self.visible.len(), page);
                self.move_selection(to);
            }
            Command::Up
            | Command::Down
            | Command::PageUp
            | Command::PageDown
            | Command::Top
            | Command::Bottom => {
                let i = if self.focus == Pane::Grants { 1 } else { 0 };
                let cur = self.pane_scroll[i] as usize;
                self.pane_scroll[i] = step(cmd, cur, 500, page) as u16;
            }
            Command::NextPane | Command::PrevPane => {
                const ORDER: [Pane; 3] = [Pane::Tenants, Pane::Schema, Pane::Grants];
                let at = ORDER.iter().position(|p| *p == self.focus).unwrap_or(0);
                let next = if cmd == Command::NextPane {
                    at + 1
                } else {
                    at + 2
                };
                self.focus = ORDER[next % 3];
                if self.screen == Screen::Detail && self.focus == Pane::Tenants {
                    self.focus = ORDER[(next + 1) % 3];
                }
            }
            Command::Open => {
                if self.selected_row().is_some() {
                    self.screen = Screen::Detail;
                    self.focus = Pane::Schema;
                    if self.detail.as_ref().map(|d| &d.id) != self.selected_row().map(|r| &r.id) {
                        return self.load_detail();
                    }
                }
            }
            Command::Back => {
                if self.migrate.is_some() {
                    return vec![Effect::Cancel(JobKind::Migrate)];
                }
                if self.screen != Screen::Tenants {
                    self.screen = Screen::Tenants;
                    self.focus = Pane::Tenants;
                } else if !self.filter.value().is_empty() {
                    self.filter.reset();
                    self.refilter();
                    self.detail_due = Some(self.now);
                } else if self.sizes.is_some() {
                    self.sizes = None;
                    return vec![Effect::Cancel(JobKind::Sizes)];
                }
            }
            Command::Filter => {
                self.filtering = true;
                self.focus = Pane::Tenants;
            }
            Command::Sort => {
                self.sort = self.sort.next();
                self.refresh_view();
            }
            Command::Palette => self.palette = Some(Palette::default()),
            Command::Help => self.help = true,
            Command::New => {
                self.dialog = Some(Dialog::Provision(ProvisionDialog::new(&self.names)));
            }
            Command::Edit => match self.selected_row() {
                Some(row) if row.status != TenantStatus::Unregistered => {
                    self.dialog = Some(Dialog::Edit(EditDialog::new(row)));
                }
                Some(row) => {
                    let msg = format!("{} has no registry row to edit", row.schema);
                    self.flash(msg, true);
                }
                None => self.flash("no tenant selected".into(), true),
            },
            Command::SuspendResume => match self.selected_row() {
                Some(row) => {
                    let pending = match row.status {
                        TenantStatus::Active => Pending::Suspend(row.id.clone()),
                        TenantStatus::Suspended => Pending::Resume(row.id.clone()),
                        TenantStatus::Unregistered => {
                            let msg = format!("{} has no registry row", row.schema);
                            self.flash(msg, true);
                            return Vec::new();
                        }
                    };
                    self.dialog = Some(Dialog::Confirm(ConfirmDialog::new(pending)));
                }
                None => self.flash("no tenant selected".into(), true),
            },
            Command::Migrate => {
                if self.migrate.is_some() {
                    self.flash(
                        "a migration is already running (Esc cancels it)".into(),
                        true,
                    );
                    return Vec::new();
                }
                let pending = match self.selected_row() {
                    Some(row) if row.status != TenantStatus::Unregistered => {
                        Pending::Migrate(Some(vec![row.id.clone()]))
                    }
                    _ => Pending::Migrate(None),
                };
                self.dialog = Some(Dialog::Confirm(ConfirmDialog::new(pending)));
            }
            Command::Refresh => {
                self.flash = None;
                let mut effects = self.reload();
                effects.push(Effect::LoadServer);
                effects.extend(self.load_detail());
                return effects;
            }
            Command::Activity => {
                self.screen = Screen::Activity;
                self.activity = Load::Loading;
                self.activity_selected = 0;
                return vec![Effect::LoadActivity];
            }
            Command::Quit => self.quit = true,
            Command::Submit
            | Command::NextField
            | Command::PrevField
            | Command::Cancel
            | Command::Complete
            | Command::Confirm => {}
        }
        Vec::new()
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

/// A list position after a movement command.
fn step(cmd: Command, cur: usize, len: usize, page: usize) -> usize {
    let last = len.saturating_sub(1);
    match cmd {
        Command::Up => cur.saturating_sub(1),
        Command::Down => (cur + 1).min(last),
        Command::PageUp => cur.saturating_sub(page),
        Command::PageDown => (cur + page).min(last),
        Command::Top => 0,
        Command::Bottom => last,
        _ => cur,
    }
}
