//! Dialogs: one file each. A dialog owns its inputs, turns keys into an [`Outcome`], and
//! renders itself; `update` starts the job its outcome asks for.

pub mod adopt;
pub mod backup;
pub mod confirm;
pub mod edit;
pub mod field;
pub mod move_target;
pub mod palette;
pub mod pin;
pub mod provision;

use super::app::Write;
use super::keymap::{Context, Keymap};
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};

pub use adopt::AdoptDialog;
pub use backup::TypedDialog;
pub use confirm::ConfirmDialog;
pub use edit::EditDialog;
pub use move_target::MoveTargetDialog;
pub use palette::Palette;
pub use pin::PinDialog;
pub use provision::ProvisionDialog;

/// The open dialog, if any.
#[derive(Debug, Clone)]
pub enum Dialog {
    Provision(ProvisionDialog),
    Edit(EditDialog),
    Pin(PinDialog),
    Adopt(AdoptDialog),
    Confirm(ConfirmDialog),
    /// Restore, drop or release: something must be typed.
    Typed(TypedDialog),
    /// The Nodes view's move: which node to, and what the move does.
    MoveTarget(MoveTargetDialog),
}

/// What a key did to a dialog.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing for `update` to do.
    Stay,
    /// Close the dialog.
    Cancel,
    /// Make this change (past the read-only gate); the dialog stays open (busy) until its
    /// result arrives.
    Submit(Write),
}

impl Dialog {
    /// The key context of this dialog.
    pub fn context(&self) -> Context {
        match self {
            Dialog::Confirm(_) | Dialog::MoveTarget(_) => Context::Confirm,
            _ => Context::Dialog,
        }
    }

    /// Shows a core error inside the dialog and lets the user try again.
    pub fn fail(&mut self, error: super::app::ErrorText) {
        match self {
            Dialog::Provision(d) => {
                d.error = Some(error);
                d.busy = false;
            }
            Dialog::Edit(d) => {
                d.error = Some(error);
                d.busy = false;
            }
            Dialog::Pin(d) => {
                d.error = Some(error);
                d.busy = false;
            }
            Dialog::Adopt(d) => {
                d.error = Some(error);
                d.busy = false;
            }
            Dialog::Confirm(d) => {
                d.error = Some(error);
                d.busy = false;
            }
            Dialog::Typed(d) => {
                d.error = Some(error);
                d.busy = false;
            }
            // It closes when it submits: a move's failure is the job's to report.
            Dialog::MoveTarget(_) => {}
        }
    }

    /// True while the dialog's job runs.
    pub fn busy(&self) -> bool {
        match self {
            Dialog::Provision(d) => d.busy,
            Dialog::Edit(d) => d.busy,
            Dialog::Pin(d) => d.busy,
            Dialog::Adopt(d) => d.busy,
            Dialog::Confirm(d) => d.busy,
            Dialog::Typed(d) => d.busy,
            Dialog::MoveTarget(_) => false,
        }
    }

    /// Draws the dialog over `area`.
    pub fn render(
        &self,
        frame: &mut Frame,
        area: Rect,
        theme: &Theme,
        spinner: &str,
        keys: &Keymap,
    ) {
        match self {
            Dialog::Provision(d) => d.render(frame, area, theme, spinner, keys),
            Dialog::Edit(d) => d.render(frame, area, theme, spinner, keys),
            Dialog::Pin(d) => d.render(frame, area, theme, spinner, keys),
            Dialog::Adopt(d) => d.render(frame, area, theme, spinner, keys),
            Dialog::Confirm(d) => d.render(frame, area, theme, spinner, keys),
            Dialog::Typed(d) => d.render(frame, area, theme, spinner, keys),
            Dialog::MoveTarget(d) => d.render(frame, area, theme, keys),
        }
    }
}

/// Clears `rect`, draws the dialog's focused border with `title`, and returns the inside.
pub fn open_frame(frame: &mut Frame, rect: Rect, title: String, theme: &Theme) -> Rect {
    frame.render_widget(ratatui::widgets::Clear, rect);
    let block = ratatui::widgets::Block::bordered()
        .title(ratatui::text::Span::styled(title, theme.title()))
        .border_style(theme.focus_border());
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    inner
}

/// A centred rectangle of at most `width`×`height` inside `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// Parses typed `KEY=VALUE` pairs by the core's one rule (quotes keep spaces).
pub fn parse_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    crate::tenant::parse_pairs(text)
}

/// A config value for the screen: values under secret-looking keys are masked, by the
/// same rule as every other output.
pub fn shown_value(key: &str, value: &serde_json::Value) -> String {
    if crate::tenant::is_secret_key(key) {
        return crate::tenant::MASK.into();
    }
    match crate::tenant::masked(value) {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}
