//! One labelled `tui-input` line, with its cursor and horizontal scroll.

use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_input::Input;

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
    let prefix_w = prefix.chars().count() as u16;
    let width = area.width.saturating_sub(prefix_w + 1) as usize;
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
        let x = area.x + prefix_w + (input.visual_cursor().saturating_sub(scroll)) as u16;
        frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
    }
}
