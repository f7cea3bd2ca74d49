//! Keys by context: help, the palette, dialogs, the filter line, and the main screens. A
//! key or a palette word becomes a [`CommandId`] of the one command table and goes to
//! [`App::run`]; nothing else can reach a command.

use super::{App, DETAIL_DEBOUNCE, Effect};
use crate::tui::keymap::{self, CommandId, Context};
use crossterm::event::{Event, KeyEvent};
use tui_input::backend::crossterm::EventHandler;

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let ctx = self.context();
        let cmd = self.keymap.lookup(ctx, &key);
        if cmd == Some(CommandId::Quit) {
            self.quit = true;
            return Vec::new();
        }
        match ctx {
            Context::Help => {
                if matches!(cmd, Some(CommandId::Cancel | CommandId::Help)) {
                    self.help = false;
                }
                // The list's move keys (as remapped) scroll an overlay taller than the screen.
                let max = self.help_scroll_max.get();
                let at = self.help_scroll;
                self.help_scroll = match self.keymap.lookup(Context::Tenants, &key) {
                    Some(CommandId::Down) => at.saturating_add(1),
                    Some(CommandId::Up) => at.saturating_sub(1),
                    Some(CommandId::PageDown) => at.saturating_add(10),
                    Some(CommandId::PageUp) => at.saturating_sub(10),
                    Some(CommandId::Top) => 0,
                    Some(CommandId::Bottom) => max,
                    _ => at,
                }
                .min(max);
                Vec::new()
            }
            Context::Palette => self.on_palette_key(cmd, key),
            Context::Dialog | Context::Confirm => self.on_dialog_key(cmd, key),
            Context::Filter => {
                match cmd {
                    Some(CommandId::Submit) => self.list.filtering = false,
                    Some(CommandId::Cancel) => {
                        self.list.filtering = false;
                        self.list.filter.reset();
                        self.refilter();
                        return self.ensure_detail();
                    }
                    _ => {
                        if self.list.filter.handle_event(&Event::Key(key)).is_some() {
                            self.refilter();
                            self.detail_due = Some(self.now + DETAIL_DEBOUNCE);
                        }
                    }
                }
                Vec::new()
            }
            Context::Tenants
            | Context::Detail
            | Context::Activity
            | Context::Audit
            | Context::Backups
            | Context::Nodes => match cmd {
                Some(c) => self.run(c),
                None => Vec::new(),
            },
        }
    }

    fn on_palette_key(&mut self, cmd: Option<CommandId>, key: KeyEvent) -> Vec<Effect> {
        let complete = self
            .keymap
            .keys_text_in(CommandId::Complete, Context::Palette);
        let Some(p) = self.palette.as_mut() else {
            return Vec::new();
        };
        match cmd {
            Some(CommandId::Cancel) => {
                self.palette = None;
                Vec::new()
            }
            Some(CommandId::Complete) => {
                p.complete();
                p.error = None;
                Vec::new()
            }
            Some(CommandId::Submit) => match p.chosen().and_then(keymap::by_palette).or_else(|| {
                // A write hidden from a read-only palette, typed in full: run it so the
                // gate refuses it with the read-only message, not "unknown command".
                keymap::by_palette(p.input.value().trim())
                    .filter(|c| keymap::spec(*c).is_some_and(|s| s.contexts.contains(&p.context)))
            }) {
                Some(chosen) => {
                    self.palette = None;
                    self.run(chosen)
                }
                None => {
                    p.error = Some(format!(
                        "unknown or ambiguous command {:?}; {complete} completes",
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
}
