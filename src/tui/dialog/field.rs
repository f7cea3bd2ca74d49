//! One labelled `tui-input` line, with its cursor and horizontal scroll.

use crate::tui::keymap::Command;
use crate::tui::theme::Theme;
use crossterm::event::{Event, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// Draws `label: value` on one line; the focused field gets a `›` marker and the cursor.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    label: &str,
    input: &Input,
    focused: bool,
    theme: &Theme,
) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let prefix = format!("{} {label:<7} ", if focused { "›" } else { " " });
    let prefix_w = u16::try_from(prefix.chars().count()).unwrap_or(u16::MAX);
    let width = area.width.saturating_sub(prefix_w.saturating_add(1)) as usize;
    let scroll = input.visual_scroll(width);
    let value: String = input.value().chars().skip(scroll).take(width).collect();
    let label_style = if focused { theme.key() } else { theme.dim() };
    let line = Line::from(vec![
        Span::styled(prefix, label_style),
        Span::styled(value.clone(), theme.text()),
        // Dots show how long the field is, without looking like input.
        Span::styled(
            "·".repeat(width.saturating_sub(value.chars().count())),
            theme.dim(),
        ),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    if focused {
        let cursor = input.visual_cursor().saturating_sub(scroll);
        let x = area
            .x
            .saturating_add(prefix_w)
            .saturating_add(u16::try_from(cursor).unwrap_or(u16::MAX));
        frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
    }
}

/// What a key did to a form of fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKey {
    Cancel,
    Submit,
    /// The focused field's text changed.
    Edited,
    /// Focus moved, or the key did nothing.
    Other,
}

/// The key handling every form shares: Esc cancels, Enter submits, Tab and Shift-Tab move
/// between fields, anything else edits the focused field.
pub fn handle_key(
    inputs: &mut [Input],
    focus: &mut usize,
    cmd: Option<Command>,
    key: &KeyEvent,
) -> FormKey {
    let n = inputs.len().max(1);
    match cmd {
        Some(Command::Cancel) => FormKey::Cancel,
        Some(Command::Submit) => FormKey::Submit,
        Some(Command::NextField) => {
            *focus = (*focus + 1) % n;
            FormKey::Other
        }
        Some(Command::PrevField) => {
            *focus = (*focus + n - 1) % n;
            FormKey::Other
        }
        _ => {
            let changed = inputs
                .get_mut(*focus)
                .and_then(|input| input.handle_event(&Event::Key(*key)));
            if changed.is_some() {
                FormKey::Edited
            } else {
                FormKey::Other
            }
        }
    }
}

/// The last line of a form: a spinner while its job runs, else the core's error, if any.
pub fn render_status(
    frame: &mut Frame,
    area: Rect,
    busy: bool,
    doing: &str,
    error: Option<&crate::tui::app::ErrorText>,
    spinner: &str,
    theme: &Theme,
) {
    let status = match (busy, error) {
        (true, _) => Line::from(format!("  {spinner} {doing}…")),
        (false, Some(e)) => e.line(theme),
        (false, None) => Line::default(),
    };
    frame.render_widget(
        Paragraph::new(status).wrap(ratatui::widgets::Wrap { trim: false }),
        area,
    );
}
