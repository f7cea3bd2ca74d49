//! The `:` command palette: type a command, Tab completes, Enter runs.

use crate::tui::keymap::{self, Context};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_input::Input;

/// State of the palette: its commands are the command table's palette words that apply
/// where it was opened (writes left out when read-only).
#[derive(Debug, Clone)]
pub struct Palette {
    pub input: Input,
    pub error: Option<String>,
    /// Where it was opened: its commands are the ones that apply there.
    pub context: Context,
    commands: Vec<(&'static str, &'static str)>,
}

impl Palette {
    /// A palette opened in `ctx`.
    pub fn new(ctx: Context, read_only: bool) -> Palette {
        Palette {
            input: Input::default(),
            error: None,
            context: ctx,
            commands: keymap::palette(ctx, read_only),
        }
    }

    /// Commands starting with what was typed.
    pub fn matches(&self) -> Vec<&(&'static str, &'static str)> {
        let typed = self.input.value().trim_start();
        self.commands
            .iter()
            .filter(|(c, _)| c.starts_with(typed))
            .collect()
    }

    /// Completes to the single match, or to the longest prefix all matches share.
    pub fn complete(&mut self) {
        let matches = self.matches();
        let Some(first) = matches.first() else {
            return;
        };
        let mut prefix = first.0.to_string();
        for (c, _) in &matches[1..] {
            let common = prefix
                .chars()
                .zip(c.chars())
                .take_while(|(a, b)| a == b)
                .count();
            prefix = prefix.chars().take(common).collect();
        }
        self.input = Input::new(prefix);
    }

    /// The command to run: an exact match, else the only match.
    pub fn chosen(&self) -> Option<&'static str> {
        let typed = self.input.value().trim();
        if let Some((c, _)) = self.commands.iter().find(|(c, _)| *c == typed) {
            return Some(c);
        }
        match self.matches().as_slice() {
            [(c, _)] => Some(c),
            _ => None,
        }
    }

    /// Draws the palette as a box at the bottom of `area`, candidates above the input.
    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let matches = self.matches();
        let shown = matches.len().min(6) as u16;
        let height = (shown + 3).min(area.height);
        let width = area.width.min(60);
        if height < 3 || width < 10 {
            return;
        }
        let rect = Rect::new(area.x, area.bottom().saturating_sub(height), width, height);
        let inner = super::open_frame(frame, rect, " : command ".into(), theme);
        // The input scrolls sideways so the cursor stays on it (one column for `:`).
        let scroll = self
            .input
            .visual_scroll(inner.width.saturating_sub(2) as usize);
        let mut lines: Vec<Line> = matches
            .iter()
            .take(shown as usize)
            .map(|(c, d)| {
                Line::from(vec![
                    Span::styled(format!("  {c:<12}"), theme.key()),
                    Span::styled(*d, theme.dim()),
                ])
            })
            .collect();
        if let Some(e) = &self.error {
            lines.push(Line::from(Span::styled(format!("✗ {e}"), theme.bad())));
        } else {
            let value: String = self.input.value().chars().skip(scroll).collect();
            lines.push(Line::from(format!(":{value}")));
        }
        let skip = lines.len().saturating_sub(inner.height as usize);
        frame.render_widget(
            Paragraph::new(lines.into_iter().skip(skip).collect::<Vec<_>>()),
            inner,
        );
        if self.error.is_none() && inner.height > 0 {
            let cursor = self.input.visual_cursor().saturating_sub(scroll);
            let x = inner
                .x
                .saturating_add(1)
                .saturating_add(u16::try_from(cursor).unwrap_or(u16::MAX));
            frame.set_cursor_position(Position::new(
                x.min(inner.right().saturating_sub(1)),
                inner.bottom().saturating_sub(1),
            ));
        }
    }
}
