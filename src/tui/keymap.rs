//! Keys → commands, in one table. The footer and the `?` help overlay are generated from
//! this table, so the keys shown are always the keys that work.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where the keyboard is: decides which bindings apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// The main screen: tenants, schema and grants panes.
    Tenants,
    /// One tenant's schema and grants, full screen.
    Detail,
    /// The console log.
    Activity,
    /// Typing a `/` filter.
    Filter,
    /// A form dialog (new tenant, edit).
    Dialog,
    /// The confirmation dialog.
    Confirm,
    /// The `:` command palette.
    Palette,
    /// The `?` help overlay.
    Help,
}

impl Context {
    /// Heading of this context in the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Context::Tenants => "Tenants",
            Context::Detail => "Tenant detail",
            Context::Activity => "Activity",
            Context::Filter => "Filter",
            Context::Dialog => "Dialogs",
            Context::Confirm => "Confirmation",
            Context::Palette => "Command palette",
            Context::Help => "Help",
        }
    }
}

/// What a key asks for; `update` gives it meaning in the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    Open,
    Back,
    Filter,
    Sort,
    Palette,
    Help,
    New,
    Edit,
    SuspendResume,
    Migrate,
    Refresh,
    Activity,
    Quit,
    Submit,
    NextField,
    PrevField,
    Cancel,
    Complete,
    Confirm,
}

/// One key: code plus the modifiers that must be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}
const fn code(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}
const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

impl Key {
    /// True when `event` is this key. Shift is folded into the character for letters
    /// (`S` arrives as `Char('S')` with or without SHIFT depending on the terminal).
    pub fn matches(&self, event: &KeyEvent) -> bool {
        let mods = match event.code {
            KeyCode::Char(_) | KeyCode::BackTab => event.modifiers - KeyModifiers::SHIFT,
            _ => event.modifiers,
        };
        self.code == event.code && self.mods == mods
    }
}

/// One row of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    /// How the keys are written in the footer and help.
    pub keys_text: &'static str,
    /// Short label for the footer.
    pub label: &'static str,
    /// One line for the help overlay.
    pub help: &'static str,
    pub contexts: &'static [Context],
    pub command: Command,
    /// Changes the database: hidden and refused in a read-only console.
    pub writes: bool,
    /// Shown in the footer (help shows everything).
    pub footer: bool,
}

const LISTS: &[Context] = &[Context::Tenants, Context::Detail, Context::Activity];
const MAIN: &[Context] = &[Context::Tenants, Context::Detail];
const TENANTS: &[Context] = &[Context::Tenants];

macro_rules! bind {
    ($keys:expr, $text:expr, $label:expr, $help:expr, $ctx:expr, $cmd:ident, $writes:expr, $footer:expr) => {
        Binding {
            keys: $keys,
            keys_text: $text,
            label: $label,
            help: $help,
            contexts: $ctx,
            command: Command::$cmd,
            writes: $writes,
            footer: $footer,
        }
    };
}

/// The key table. Order is the order of the footer and of the help overlay.
pub const BINDINGS: &[Binding] = &[
    bind!(
        &[k('?')],
        "?",
        "help",
        "this help",
        &[
            Context::Tenants,
            Context::Detail,
            Context::Activity,
            Context::Help
        ],
        Help,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Up), k('k')],
        "↑/k",
        "up",
        "move up",
        LISTS,
        Up,
        false,
        false
    ),
    bind!(
        &[code(KeyCode::Down), k('j')],
        "↓/j",
        "down",
        "move down",
        LISTS,
        Down,
        false,
        false
    ),
    bind!(
        &[code(KeyCode::PageUp)],
        "PgUp",
        "page up",
        "move a page up",
        LISTS,
        PageUp,
        false,
        false
    ),
    bind!(
        &[code(KeyCode::PageDown)],
        "PgDn",
        "page down",
        "move a page down",
        LISTS,
        PageDown,
        false,
        false
    ),
    bind!(
        &[k('g'), code(KeyCode::Home)],
        "g",
        "top",
        "first row",
        LISTS,
        Top,
        false,
        false
    ),
    bind!(
        &[k('G'), code(KeyCode::End)],
        "G",
        "bottom",
        "last row",
        LISTS,
        Bottom,
        false,
        false
    ),
    bind!(
        &[code(KeyCode::Tab)],
        "Tab",
        "pane",
        "next pane",
        MAIN,
        NextPane,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::BackTab)],
        "S-Tab",
        "prev pane",
        "previous pane",
        MAIN,
        PrevPane,
        false,
        false
    ),
    bind!(
        &[code(KeyCode::Enter)],
        "⏎",
        "open",
        "open the tenant's detail",
        TENANTS,
        Open,
        false,
        true
    ),
    bind!(
        &[k('/')],
        "/",
        "filter",
        "filter by id or name as you type",
        TENANTS,
        Filter,
        false,
        true
    ),
    bind!(
        &[k('s')],
        "s",
        "sort",
        "sort by id, name, size, status",
        TENANTS,
        Sort,
        false,
        true
    ),
    bind!(
        &[k(':')],
        ":",
        "cmd",
        "command palette (Tab completes)",
        LISTS,
        Palette,
        false,
        true
    ),
    bind!(
        &[k('n')],
        "n",
        "new",
        "provision a new tenant",
        MAIN,
        New,
        true,
        true
    ),
    bind!(
        &[k('e')],
        "e",
        "edit",
        "edit name and config",
        MAIN,
        Edit,
        true,
        true
    ),
    bind!(
        &[k('S')],
        "S",
        "suspend",
        "suspend or resume (asks first)",
        MAIN,
        SuspendResume,
        true,
        true
    ),
    bind!(
        &[k('m')],
        "m",
        "migrate",
        "migrate to newest template",
        MAIN,
        Migrate,
        true,
        true
    ),
    bind!(
        &[k('l')],
        "l",
        "log",
        "show the console log",
        TENANTS,
        Activity,
        false,
        true
    ),
    bind!(
        &[k('R')],
        "R",
        "refresh",
        "reload from the database",
        LISTS,
        Refresh,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Esc)],
        "Esc",
        "back",
        "back, clear filter, cancel job",
        LISTS,
        Back,
        false,
        true
    ),
    bind!(
        &[k('q'), ctrl('c')],
        "q",
        "quit",
        "quit (Ctrl-C too)",
        LISTS,
        Quit,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Enter)],
        "⏎",
        "apply",
        "keep the filter",
        &[Context::Filter],
        Submit,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Esc)],
        "Esc",
        "clear",
        "clear the filter",
        &[Context::Filter],
        Cancel,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Enter)],
        "⏎",
        "submit",
        "submit the dialog",
        &[Context::Dialog],
        Submit,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Tab)],
        "Tab",
        "next field",
        "move to the next field",
        &[Context::Dialog],
        NextField,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::BackTab)],
        "S-Tab",
        "prev field",
        "move to the previous field",
        &[Context::Dialog],
        PrevField,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Enter), k('y')],
        "⏎/y",
        "confirm",
        "do it",
        &[Context::Confirm],
        Confirm,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Esc)],
        "Esc",
        "cancel",
        "close; nothing is changed",
        &[Context::Dialog],
        Cancel,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Esc), k('n')],
        "Esc/n",
        "cancel",
        "close; nothing is changed",
        &[Context::Confirm],
        Cancel,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Tab)],
        "Tab",
        "complete",
        "complete the command",
        &[Context::Palette],
        Complete,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Enter)],
        "⏎",
        "run",
        "run the command",
        &[Context::Palette],
        Submit,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Esc)],
        "Esc",
        "close",
        "close the palette",
        &[Context::Palette],
        Cancel,
        false,
        true
    ),
    bind!(
        &[code(KeyCode::Esc), k('q')],
        "Esc",
        "close",
        "close the help",
        &[Context::Help],
        Cancel,
        false,
        true
    ),
    bind!(
        &[ctrl('c')],
        "C-c",
        "quit",
        "quit",
        &[
            Context::Filter,
            Context::Dialog,
            Context::Confirm,
            Context::Palette,
            Context::Help
        ],
        Quit,
        false,
        false
    ),
];

/// The command `event` means in `ctx`, if any. Write commands are returned even when
/// read-only so that `update` can refuse them with a message rather than ignore the key.
pub fn lookup(ctx: Context, event: &KeyEvent) -> Option<Command> {
    BINDINGS
        .iter()
        .filter(|b| b.contexts.contains(&ctx))
        .find(|b| b.keys.iter().any(|key| key.matches(event)))
        .map(|b| b.command)
}

/// Bindings for the footer of `ctx`; write bindings are left out when read-only.
pub fn footer(ctx: Context, read_only: bool) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| b.footer && b.contexts.contains(&ctx) && !(read_only && b.writes))
}

/// Bindings for the help overlay, grouped by context in display order.
pub fn help(read_only: bool) -> Vec<(Context, Vec<&'static Binding>)> {
    const ORDER: [Context; 7] = [
        Context::Tenants,
        Context::Detail,
        Context::Activity,
        Context::Filter,
        Context::Palette,
        Context::Dialog,
        Context::Confirm,
    ];
    ORDER
        .iter()
        .map(|ctx| {
            let rows = BINDINGS
                .iter()
                // Each binding is listed once, under the first context of ORDER it works in.
                .filter(|b| ORDER.iter().find(|c| b.contexts.contains(c)) == Some(ctx))
                .filter(|b| !(read_only && b.writes))
                .collect();
            (*ctx, rows)
        })
        .filter(|(_, rows): &(Context, Vec<&Binding>)| !rows.is_empty())
        .collect()
}
