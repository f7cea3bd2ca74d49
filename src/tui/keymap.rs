//! The console's one command table. Every operation is one [`CommandSpec`] row: id, default
//! keys, palette word, footer label, help line, the contexts it applies in, and whether it
//! writes. The footer, the `?` help, the `:` palette (and its completion), the `[keys]`
//! remapping and the read-only gate all read this table, so nothing else can make a command
//! reachable, and a write cannot be reachable in one place and forgotten in another.
//!
//! Adding a command: one row in [`COMMANDS`] (its [`CommandId`] variant comes with it), and
//! its handler in `app::commands` (a write also gets a `Write` variant naming its core call,
//! in `app::writes`). Commands of views that do not exist yet (`audit`, `fix`,
//! `restore`, `drop`, `backups`) are added with their views, not before: a listed command
//! that does nothing would be a lie in the help.

use crate::config::KeyConfig;
use crate::error::{Error, Result};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::fmt;

/// Where the keyboard is: decides which commands apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// The main screen: tenants, schema and grants panes.
    Tenants,
    /// One tenant's schema and grants, full screen.
    Detail,
    /// The console log.
    Activity,
    /// The permission audit's findings.
    Audit,
    /// Backups and kept copies.
    Backups,
    /// Citus: the nodes and their tenants.
    Nodes,
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
    /// Every context, in help order.
    pub const ALL: [Context; 11] = [
        Context::Tenants,
        Context::Detail,
        Context::Activity,
        Context::Audit,
        Context::Backups,
        Context::Nodes,
        Context::Filter,
        Context::Palette,
        Context::Dialog,
        Context::Confirm,
        Context::Help,
    ];

    /// Heading of this context in the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Context::Tenants => "Tenants",
            Context::Detail => "Tenant detail",
            Context::Activity => "Activity",
            Context::Audit => "Audit",
            Context::Backups => "Backups",
            Context::Nodes => "Nodes (Citus)",
            Context::Filter => "Filter",
            Context::Dialog => "Dialogs",
            Context::Confirm => "Confirmation",
            Context::Palette => "Command palette",
            Context::Help => "Help",
        }
    }

    /// True where printable keys are typed into an input, so they can't be commands.
    pub fn takes_text(self) -> bool {
        matches!(self, Context::Filter | Context::Dialog | Context::Palette)
    }
}

/// A command of the console; its row in [`COMMANDS`] says everything else about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandId {
    Help,
    Quit,
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
    SortId,
    SortName,
    SortSize,
    SortStatus,
    Palette,
    Refresh,
    Tenants,
    Activity,
    Audit,
    Fix,
    AuditSeverity,
    New,
    Edit,
    Suspend,
    Resume,
    Migrate,
    MigrateAll,
    Pin,
    Adopt,
    Dump,
    Backups,
    Restore,
    Drop,
    Release,
    Submit,
    Cancel,
    NextField,
    PrevField,
    Complete,
    Confirm,
    Reveal,
    Nodes,
    NodeMove,
    NodeMoveBlocking,
    Distribute,
    Rebalance,
}

/// One row of the command table.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    pub id: CommandId,
    /// Name in the config's `[keys]` table.
    pub name: &'static str,
    /// Keys bound unless `[keys]` says otherwise.
    pub keys: &'static [Key],
    /// Word that runs it from the `:` palette.
    pub palette: Option<&'static str>,
    /// Short label for the footer; `None` keeps it out of the footer (help lists it).
    pub footer: Option<&'static str>,
    /// One line for the help overlay and the palette.
    pub help: &'static str,
    pub contexts: &'static [Context],
    /// Changes the database: hidden and refused in a read-only console.
    pub writes: bool,
}

/// One key: code plus the modifiers that must be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

const UP: Key = code(KeyCode::Up);
const DOWN: Key = code(KeyCode::Down);
const ENTER: Key = code(KeyCode::Enter);
const ESC: Key = code(KeyCode::Esc);
const TAB: Key = code(KeyCode::Tab);
const BACKTAB: Key = code(KeyCode::BackTab);

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

    /// Parses a key as written in `[keys]`: `"x"`, `"S"`, `"F1"`, `"ctrl-s"`, `"shift-tab"`,
    /// `"alt-x"`, `"enter"`, `"esc"`, `"space"`, `"up"`, `"pagedown"`, ….
    pub fn parse(text: &str) -> std::result::Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (m, len) = if lower.starts_with("ctrl-") {
                (KeyModifiers::CONTROL, 5)
            } else if lower.starts_with("alt-") {
                (KeyModifiers::ALT, 4)
            } else if lower.starts_with("shift-") {
                (KeyModifiers::SHIFT, 6)
            } else {
                break;
            };
            if rest.len() == len {
                break;
            }
            mods |= m;
            rest = &rest[len..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_control() && c != ' ' => KeyCode::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                "space" => KeyCode::Char(' '),
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" | "pgup" => KeyCode::PageUp,
                "pagedown" | "pgdn" => KeyCode::PageDown,
                f if f.starts_with('f') => match f[1..].parse::<u8>() {
                    Ok(n @ 1..=12) => KeyCode::F(n),
                    _ => return Err(format!("{text:?} is not a key")),
                },
                _ => return Err(format!("{text:?} is not a key")),
            },
        };
        // Shift with a letter is the capital letter; shift-tab is BackTab.
        let (code, mods) = match code {
            KeyCode::Char(c) if mods.contains(KeyModifiers::SHIFT) => (
                KeyCode::Char(c.to_ascii_uppercase()),
                mods - KeyModifiers::SHIFT,
            ),
            KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => {
                (KeyCode::BackTab, mods - KeyModifiers::SHIFT)
            }
            KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
                (KeyCode::Char(c.to_ascii_lowercase()), mods)
            }
            other => (other, mods),
        };
        Ok(Key { code, mods })
    }

    /// A plain printable character (what a text input would take as typing).
    fn is_text(&self) -> bool {
        matches!(self.code, KeyCode::Char(_)) && (self.mods - KeyModifiers::SHIFT).is_empty()
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("C-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("M-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Enter => f.write_str("⏎"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("S-Tab"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::Backspace => f.write_str("BS"),
            KeyCode::Delete => f.write_str("Del"),
            KeyCode::Insert => f.write_str("Ins"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

const LISTS: &[Context] = &[
    Context::Tenants,
    Context::Detail,
    Context::Activity,
    Context::Audit,
    Context::Backups,
    Context::Nodes,
];
const MAIN: &[Context] = &[Context::Tenants, Context::Detail];
const TENANTS: &[Context] = &[Context::Tenants];

/// Fields most rows leave alone.
const ROW: CommandSpec = CommandSpec {
    id: CommandId::Help,
    name: "",
    keys: &[],
    palette: None,
    footer: None,
    help: "",
    contexts: LISTS,
    writes: false,
};

/// The command table. Order is the order of the footer and of the help overlay.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        id: CommandId::Help,
        name: "help",
        keys: &[k('?')],
        palette: Some("help"),
        footer: Some("help"),
        help: "this help",
        contexts: &[
            Context::Tenants,
            Context::Detail,
            Context::Activity,
            Context::Audit,
            Context::Backups,
            Context::Nodes,
            Context::Help,
        ],
        ..ROW
    },
    CommandSpec {
        id: CommandId::Up,
        name: "up",
        keys: &[UP, k('k')],
        help: "move up",
        ..ROW
    },
    CommandSpec {
        id: CommandId::Down,
        name: "down",
        keys: &[DOWN, k('j')],
        help: "move down",
        ..ROW
    },
    CommandSpec {
        id: CommandId::PageUp,
        name: "page_up",
        keys: &[code(KeyCode::PageUp)],
        help: "move a page up",
        ..ROW
    },
    CommandSpec {
        id: CommandId::PageDown,
        name: "page_down",
        keys: &[code(KeyCode::PageDown)],
        help: "move a page down",
        ..ROW
    },
    CommandSpec {
        id: CommandId::Top,
        name: "top",
        keys: &[k('g'), code(KeyCode::Home)],
        help: "first row",
        ..ROW
    },
    CommandSpec {
        id: CommandId::Bottom,
        name: "bottom",
        keys: &[k('G'), code(KeyCode::End)],
        help: "last row",
        ..ROW
    },
    CommandSpec {
        id: CommandId::NextPane,
        name: "next_pane",
        keys: &[TAB],
        footer: Some("pane"),
        help: "next pane",
        contexts: MAIN,
        ..ROW
    },
    CommandSpec {
        id: CommandId::PrevPane,
        name: "prev_pane",
        keys: &[BACKTAB],
        help: "previous pane",
        contexts: MAIN,
        ..ROW
    },
    CommandSpec {
        id: CommandId::Open,
        name: "open",
        keys: &[ENTER],
        footer: Some("open"),
        help: "open the tenant's detail",
        contexts: TENANTS,
        ..ROW
    },
    CommandSpec {
        id: CommandId::Filter,
        name: "filter",
        keys: &[k('/')],
        footer: Some("filter"),
        help: "filter by id or name as you type",
        contexts: TENANTS,
        ..ROW
    },
    CommandSpec {
        id: CommandId::Sort,
        name: "sort",
        keys: &[k('s')],
        footer: Some("sort"),
        help: "sort by id, name, size, status",
        contexts: TENANTS,
        ..ROW
    },
    CommandSpec {
        id: CommandId::SortId,
        name: "sort_id",
        palette: Some("sort id"),
        help: "sort by id",
        contexts: TENANTS,
        ..ROW
    },
    CommandSpec {
        id: CommandId::SortName,
        name: "sort_name",
        palette: Some("sort name"),
        help: "sort by name",
        contexts: TENANTS,
        ..ROW
    },
    CommandSpec {
        id: CommandId::SortSize,
        name: "sort_size",
        palette: Some("sort size"),
        help: "sort by size, largest first, pending last",
        contexts: TENANTS,
        ..ROW
    },
    CommandSpec {
        id: CommandId::SortStatus,
        name: "sort_status",
        palette: Some("sort status"),
        help: "sort by status",
        contexts: TENANTS,
        ..ROW
    },
    CommandSpec {
        id: CommandId::Palette,
        name: "palette",
        keys: &[k(':')],
        footer: Some("cmd"),
        help: "command palette, with completion",
        ..ROW
    },
    CommandSpec {
        id: CommandId::New,
        name: "new",
        keys: &[k('n')],
        palette: Some("new"),
        footer: Some("new"),
        help: "provision a new tenant",
        contexts: MAIN,
        writes: true,
    },
    CommandSpec {
        id: CommandId::Edit,
        name: "edit",
        keys: &[k('e')],
        palette: Some("edit"),
        footer: Some("edit"),
        help: "edit name and config",
        contexts: MAIN,
        writes: true,
    },
    CommandSpec {
        id: CommandId::Suspend,
        name: "suspend",
        keys: &[k('S')],
        palette: Some("suspend"),
        footer: Some("suspend"),
        help: "suspend or resume (asks first)",
        contexts: MAIN,
        writes: true,
    },
    CommandSpec {
        id: CommandId::Resume,
        name: "resume",
        palette: Some("resume"),
        help: "resume the selected tenant (asks first)",
        contexts: MAIN,
        writes: true,
        ..ROW
    },
    CommandSpec {
        id: CommandId::Migrate,
        name: "migrate",
        keys: &[k('m')],
        palette: Some("migrate"),
        footer: Some("migrate"),
        help: "migrate to newest template",
        contexts: MAIN,
        writes: true,
    },
    CommandSpec {
        id: CommandId::MigrateAll,
        name: "migrate_all",
        palette: Some("migrate all"),
        help: "migrate every tenant (asks first)",
        contexts: MAIN,
        writes: true,
        ..ROW
    },
    CommandSpec {
        id: CommandId::Pin,
        name: "pin",
        keys: &[k('p')],
        palette: Some("pin"),
        help: "pin at a template version, or unpin (asks)",
        contexts: MAIN,
        writes: true,
        ..ROW
    },
    CommandSpec {
        id: CommandId::Adopt,
        name: "adopt",
        keys: &[k('a')],
        palette: Some("adopt"),
        help: "adopt an unregistered schema (asks the id, shows changes)",
        contexts: MAIN,
        writes: true,
        ..ROW
    },
    // A dump reads the database and writes only files (its log row is skipped when
    // read-only), so a read-only console may take one.
    CommandSpec {
        id: CommandId::Dump,
        name: "dump",
        keys: &[k('d')],
        palette: Some("dump"),
        help: "dump the selected tenant (Esc cancels)",
        contexts: MAIN,
        ..ROW
    },
    CommandSpec {
        id: CommandId::Backups,
        name: "backups",
        keys: &[k('B')],
        palette: Some("backups"),
        footer: None,
        help: "backups and kept copies (again: this tenant's / all)",
        ..ROW
    },
    CommandSpec {
        id: CommandId::Restore,
        name: "restore",
        keys: &[k('r')],
        palette: Some("restore"),
        footer: Some("restore"),
        help: "restore the selected backup, beside or in place",
        contexts: &[Context::Backups],
        writes: true,
    },
    CommandSpec {
        id: CommandId::Release,
        name: "release",
        keys: &[k('D')],
        palette: Some("release"),
        footer: Some("release"),
        help: "drop the selected kept copy (asks you to type release)",
        contexts: &[Context::Backups],
        writes: true,
    },
    CommandSpec {
        id: CommandId::Drop,
        name: "drop",
        keys: &[k('X')],
        palette: Some("drop"),
        footer: None,
        help: "drop the selected tenant after a verified dump (type its id)",
        contexts: MAIN,
        writes: true,
    },
    CommandSpec {
        id: CommandId::Tenants,
        name: "tenants",
        palette: Some("tenants"),
        help: "the tenant list",
        ..ROW
    },
    CommandSpec {
        id: CommandId::Activity,
        name: "activity",
        keys: &[k('l')],
        palette: Some("activity"),
        footer: Some("log"),
        help: "show the console log",
        ..ROW
    },
    CommandSpec {
        id: CommandId::Audit,
        name: "audit",
        keys: &[k('A')],
        palette: Some("audit"),
        footer: Some("audit"),
        help: "audit permissions across the database",
        ..ROW
    },
    CommandSpec {
        id: CommandId::AuditSeverity,
        name: "severity",
        keys: &[k('v')],
        palette: Some("severity"),
        footer: Some("severity"),
        help: "show findings at or above a severity (cycles)",
        contexts: &[Context::Audit],
        ..ROW
    },
    CommandSpec {
        id: CommandId::Fix,
        name: "fix",
        keys: &[k('f')],
        palette: Some("fix"),
        footer: Some("fix"),
        help: "apply the selected finding's fix (shows the SQL, asks first)",
        contexts: &[Context::Audit],
        writes: true,
    },
    CommandSpec {
        id: CommandId::Nodes,
        name: "nodes",
        keys: &[k('N')],
        palette: Some("nodes"),
        // Citus only: in the help and the palette, not in every footer.
        footer: None,
        help: "Citus: nodes with tenants, bytes and balance",
        ..ROW
    },
    CommandSpec {
        id: CommandId::NodeMove,
        name: "move",
        keys: &[k('m')],
        palette: Some("move"),
        footer: Some("move"),
        help: "move the tenant to a worker you pick, online (asks first)",
        contexts: &[Context::Nodes],
        writes: true,
    },
    CommandSpec {
        id: CommandId::NodeMoveBlocking,
        name: "move_blocking",
        keys: &[k('M')],
        palette: Some("move-blocking"),
        footer: None,
        help: "the same move, its writes blocked during the copy",
        contexts: &[Context::Nodes],
        writes: true,
    },
    CommandSpec {
        id: CommandId::Distribute,
        name: "distribute",
        keys: &[k('D')],
        palette: Some("distribute"),
        footer: Some("distribute"),
        help: "distribute the tenants still local (asks first)",
        contexts: &[Context::Nodes],
        writes: true,
    },
    CommandSpec {
        id: CommandId::Rebalance,
        name: "rebalance",
        keys: &[k('b')],
        palette: Some("rebalance"),
        footer: Some("rebalance"),
        help: "rebalance tenants across workers (asks first)",
        contexts: &[Context::Nodes],
        writes: true,
    },
    CommandSpec {
        id: CommandId::Refresh,
        name: "refresh",
        keys: &[k('R')],
        palette: Some("refresh"),
        footer: Some("refresh"),
        help: "reload from the database",
        ..ROW
    },
    CommandSpec {
        id: CommandId::Back,
        name: "back",
        keys: &[ESC],
        footer: Some("back"),
        help: "back, clear filter, cancel the running job",
        ..ROW
    },
    CommandSpec {
        id: CommandId::Quit,
        name: "quit",
        keys: &[k('q'), ctrl('c')],
        palette: Some("quit"),
        footer: Some("quit"),
        help: "quit (from anywhere)",
        contexts: &Context::ALL,
        ..ROW
    },
    CommandSpec {
        id: CommandId::Submit,
        name: "submit",
        keys: &[ENTER],
        footer: Some("ok"),
        help: "accept: keep the filter, submit, run",
        contexts: &[Context::Filter, Context::Dialog, Context::Palette],
        ..ROW
    },
    CommandSpec {
        id: CommandId::NextField,
        name: "next_field",
        keys: &[TAB],
        footer: Some("next field"),
        help: "move to the next field",
        contexts: &[Context::Dialog],
        ..ROW
    },
    CommandSpec {
        id: CommandId::PrevField,
        name: "prev_field",
        keys: &[BACKTAB],
        footer: Some("prev field"),
        help: "move to the previous field",
        contexts: &[Context::Dialog],
        ..ROW
    },
    CommandSpec {
        id: CommandId::Reveal,
        name: "reveal",
        keys: &[ctrl('r')],
        footer: Some("show secrets"),
        help: "show or mask secret-looking config values as typed",
        contexts: &[Context::Dialog],
        ..ROW
    },
    CommandSpec {
        id: CommandId::Complete,
        name: "complete",
        keys: &[TAB],
        footer: Some("complete"),
        help: "complete the command",
        contexts: &[Context::Palette],
        ..ROW
    },
    CommandSpec {
        id: CommandId::Confirm,
        name: "confirm",
        keys: &[ENTER, k('y')],
        footer: Some("yes"),
        help: "do it",
        contexts: &[Context::Confirm],
        ..ROW
    },
    CommandSpec {
        id: CommandId::Cancel,
        name: "cancel",
        keys: &[ESC, k('n')],
        footer: Some("close"),
        help: "close; nothing is changed",
        contexts: &[
            Context::Filter,
            Context::Dialog,
            Context::Confirm,
            Context::Palette,
            Context::Help,
        ],
        ..ROW
    },
];

/// The row of `id`; `None` only for an id someone forgot to give a row (which the
/// read-only gate then treats as a write).
pub fn spec(id: CommandId) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.id == id)
}

/// The keys in force: the table's defaults with the config's `[keys]` applied.
#[derive(Debug, Clone)]
pub struct Keymap {
    /// Keys of `COMMANDS[i]`.
    keys: Vec<Vec<Key>>,
}

impl Default for Keymap {
    fn default() -> Keymap {
        Keymap {
            keys: COMMANDS.iter().map(|c| c.keys.to_vec()).collect(),
        }
    }
}

impl Keymap {
    /// Applies `[keys]`: each entry replaces the default keys of its command. Unknown
    /// command ids, unparseable keys, and two commands on one key where both apply are
    /// refused with the file and line.
    pub fn from_config(config: &KeyConfig) -> Result<Keymap> {
        let mut map = Keymap::default();
        let mut line_of: Vec<Option<usize>> = vec![None; COMMANDS.len()];
        let bad = |line: usize, message: String| {
            Error::Config(crate::config::ConfigError::Invalid {
                path: format!("{}, line {line}", config.path),
                message,
            })
        };
        for entry in &config.entries {
            let Some(i) = COMMANDS.iter().position(|c| c.name == entry.id) else {
                let known: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
                return Err(bad(
                    entry.line,
                    format!(
                        "[keys] {:?} is not a console command; known: {}",
                        entry.id,
                        known.join(", ")
                    ),
                ));
            };
            if entry.keys.is_empty() {
                return Err(bad(
                    entry.line,
                    format!(
                        "[keys] {} has no key; give a key or a list of keys",
                        entry.id
                    ),
                ));
            }
            let mut keys = Vec::new();
            for text in &entry.keys {
                let key = Key::parse(text).map_err(|e| {
                    bad(
                        entry.line,
                        format!(
                            "[keys] {}: {e}; write e.g. \"x\", \"F1\", \"ctrl-s\", \"shift-tab\"",
                            entry.id
                        ),
                    )
                })?;
                keys.push(key);
            }
            // Where text is typed, printable keys type: such a command needs one other key.
            let typed_in = COMMANDS[i].contexts.iter().find(|c| c.takes_text());
            if let Some(ctx) = typed_in
                && keys.iter().all(Key::is_text)
            {
                return Err(bad(
                    entry.line,
                    format!(
                        "[keys] {}: it also works in {} where {} would be typed, not run; add a key with ctrl- or a named key (e.g. \"esc\", \"F2\")",
                        entry.id,
                        ctx.title(),
                        keys.iter()
                            .map(Key::to_string)
                            .collect::<Vec<_>>()
                            .join("/")
                    ),
                ));
            }
            map.keys[i] = keys;
            line_of[i] = Some(entry.line);
        }
        // Two commands on one key where both apply: the second would never run.
        for (i, a) in COMMANDS.iter().enumerate() {
            for (j, b) in COMMANDS.iter().enumerate().skip(i + 1) {
                // Printable keys are typing where text is typed, never looked up there.
                let clash = a
                    .contexts
                    .iter()
                    .filter(|c| b.contexts.contains(c))
                    .find_map(|c| {
                        map.keys[i]
                            .iter()
                            .find(|k| map.keys[j].contains(k) && !(c.takes_text() && k.is_text()))
                            .map(|k| (c, k))
                    });
                let Some((ctx, key)) = clash else {
                    continue;
                };
                let Some(line) = line_of[j].or(line_of[i]) else {
                    continue; // The defaults never conflict (a test proves it).
                };
                return Err(bad(
                    line,
                    format!(
                        "[keys] {key} is bound to both {} and {} in {}; give one of them another key",
                        a.name,
                        b.name,
                        ctx.title()
                    ),
                ));
            }
        }
        Ok(map)
    }

    /// Keys in force for `id`.
    pub fn keys(&self, id: CommandId) -> &[Key] {
        COMMANDS
            .iter()
            .position(|c| c.id == id)
            .and_then(|i| self.keys.get(i))
            .map_or(&[], Vec::as_slice)
    }

    /// How `id`'s keys are written in the footer and help (`↑/k`).
    pub fn keys_text(&self, id: CommandId) -> String {
        self.keys(id)
            .iter()
            .map(Key::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// `id`'s keys that work in `ctx` (where text is typed, printable keys type).
    pub fn keys_text_in(&self, id: CommandId, ctx: Context) -> String {
        self.keys(id)
            .iter()
            .filter(|k| !(ctx.takes_text() && k.is_text()))
            .map(Key::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The command `event` means in `ctx`, if any. Write commands are returned even when
    /// read-only so that `update` can refuse them with a message rather than ignore the key.
    pub fn lookup(&self, ctx: Context, event: &KeyEvent) -> Option<CommandId> {
        let typed = Key {
            code: event.code,
            mods: event.modifiers,
        };
        if ctx.takes_text() && typed.is_text() {
            return None;
        }
        COMMANDS
            .iter()
            .zip(&self.keys)
            .filter(|(c, _)| c.contexts.contains(&ctx))
            .find(|(_, keys)| keys.iter().any(|key| key.matches(event)))
            .map(|(c, _)| c.id)
    }

    /// Footer entries of `ctx` (keys text, label); writes left out when read-only.
    pub fn footer(&self, ctx: Context, read_only: bool) -> Vec<(CommandId, String, &'static str)> {
        COMMANDS
            .iter()
            .zip(&self.keys)
            .filter(|(c, keys)| c.contexts.contains(&ctx) && !keys.is_empty())
            .filter(|(c, _)| !(read_only && c.writes))
            .filter_map(|(c, _)| Some((c.id, self.keys_text_in(c.id, ctx), c.footer?)))
            .collect()
    }

    /// Help rows (keys text, help line) grouped by context in display order; writes left
    /// out when read-only. A command of the main screens is listed once, under the first
    /// it works in; a modal context (filter, palette, dialogs, help) lists only its own.
    /// Commands without a key are listed under the palette, as `:word`.
    pub fn help(&self, read_only: bool) -> Vec<(Context, Vec<(String, &'static str)>)> {
        let shown = |c: &CommandSpec| !(read_only && c.writes);
        Context::ALL
            .iter()
            .map(|ctx| {
                let mut rows = COMMANDS
                    .iter()
                    .zip(&self.keys)
                    .filter(|(c, keys)| shown(c) && !keys.is_empty())
                    .filter(|(c, _)| {
                        let first_list = c.contexts.iter().find(|c| LISTS.contains(c));
                        match first_list {
                            Some(first) => first == ctx,
                            None => c.contexts.contains(ctx),
                        }
                    })
                    .map(|(c, _)| (self.keys_text_in(c.id, *ctx), c.help))
                    .collect::<Vec<_>>();
                if *ctx == Context::Palette {
                    rows.extend(
                        COMMANDS
                            .iter()
                            .zip(&self.keys)
                            .filter(|(c, keys)| shown(c) && keys.is_empty())
                            .filter_map(|(c, _)| Some((format!(":{}", c.palette?), c.help))),
                    );
                }
                (*ctx, rows)
            })
            .filter(|(_, rows)| !rows.is_empty())
            .collect()
    }
}

/// Palette entries (word, help line) that can run in `ctx`; writes left out when read-only.
pub fn palette(ctx: Context, read_only: bool) -> Vec<(&'static str, &'static str)> {
    COMMANDS
        .iter()
        .filter(|c| c.contexts.contains(&ctx))
        .filter(|c| !(read_only && c.writes))
        .filter_map(|c| Some((c.palette?, c.help)))
        .collect()
}

/// The command a palette word names.
pub fn by_palette(word: &str) -> Option<CommandId> {
    COMMANDS
        .iter()
        .find(|c| c.palette == Some(word))
        .map(|c| c.id)
}
