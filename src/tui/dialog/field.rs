//! One labelled `tui-input` line, with its cursor and horizontal scroll.

use crate::tui::keymap::CommandId;
use crate::tui::theme::Theme;
use crossterm::event::{Event, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// Draws `label: value` on one line; the focused field gets a `›` marker and the cursor.
/// With `mask`, the values of secret-looking keys in `KEY=VALUE` pairs show as dots (one
/// per character, so the cursor stays where it is).
pub fn render(
    frame: &mut Frame,
    area: Rect,
    label: &str,
    input: &Input,
    focused: bool,
    mask: bool,
    theme: &Theme,
) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let prefix = format!("{} {label:<7} ", if focused { "›" } else { " " });
    let prefix_w = u16::try_from(prefix.chars().count()).unwrap_or(u16::MAX);
    let width = area.width.saturating_sub(prefix_w.saturating_add(1)) as usize;
    let scroll = input.visual_scroll(width);
    let shown = if mask {
        masked_pairs(input.value())
    } else {
        input.value().to_string()
    };
    let value: String = shown.chars().skip(scroll).take(width).collect();
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

/// `text` with the value of every pair whose key looks secret replaced by `•`, one per
/// character. Quotes and spaces inside a value are masked too.
pub fn masked_pairs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut key = String::new();
    let mut in_value = false;
    let mut secret = false;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        if in_value {
            match (quote, c) {
                (None, c) if c.is_whitespace() => {
                    in_value = false;
                    key.clear();
                    out.push(c);
                    continue;
                }
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                _ => {}
            }
            out.push(if secret { '•' } else { c });
        } else if c == '=' {
            in_value = true;
            secret = crate::tenant::is_secret_key(key.trim_matches(['"', '\'']));
            out.push(c);
        } else {
            if c.is_whitespace() {
                key.clear();
            } else {
                key.push(c);
            }
            out.push(c);
        }
    }
    out
}

/// What a key did to a form of fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKey {
    Cancel,
    Submit,
    /// Show or mask secret values.
    Reveal,
    /// The focused field's text changed.
    Edited,
    /// Focus moved, or the key did nothing.
    Other,
}

/// The key handling every form shares: cancel, submit, next and previous field (by the
/// command table's keys in force); anything else edits the focused field.
pub fn handle_key(
    inputs: &mut [Input],
    focus: &mut usize,
    cmd: Option<CommandId>,
    key: &KeyEvent,
) -> FormKey {
    let n = inputs.len().max(1);
    match cmd {
        Some(CommandId::Cancel) => FormKey::Cancel,
        Some(CommandId::Submit) => FormKey::Submit,
        Some(CommandId::Reveal) => FormKey::Reveal,
        Some(CommandId::NextField) => {
            *focus = (*focus + 1) % n;
            FormKey::Other
        }
        Some(CommandId::PrevField) => {
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
