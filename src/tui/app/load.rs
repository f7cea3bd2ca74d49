//! What a task hands back: a value being loaded, or an error made displayable.

use crate::error::Error;
use crate::tui::theme::Theme;
use ratatui::text::{Line, Span};

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
        ErrorText {
            message: e.to_string(),
            hint: e.hint(),
            connection: e.is_connection_lost(),
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
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Load<T> {
    #[default]
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
