//! Drawing: one file per pane. Everything here reads `App` and draws; nothing here queries
//! the database or changes state (bar the list's scroll offset, a drawing concern).

pub mod activity;
pub mod audit;
pub mod backups;
pub mod footer;
pub mod grants;
pub mod header;
pub mod help;
pub mod nodes;
pub mod schema;
pub mod tenants;

use super::app::{App, Pane, Screen};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Paragraph, Wrap};

/// Smallest terminal the console draws in; below it a notice is shown instead.
pub const MIN_WIDTH: u16 = 60;
/// See [`MIN_WIDTH`].
pub const MIN_HEIGHT: u16 = 16;
/// From this width on, panes sit side by side.
const WIDE: u16 = 110;

/// Draws the whole console.
pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area, app);
        return;
    }
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(1),
        Constraint::Length(2),
    ])
    .areas(area);
    header::render(frame, head, app);
    match app.screen {
        Screen::Tenants => tenants_screen(frame, body, app),
        Screen::Detail => detail_screen(frame, body, app),
        Screen::Activity => activity::render(frame, body, app),
        Screen::Audit => audit::render(frame, body, app),
        Screen::Backups => backups::render(frame, body, app),
        Screen::Nodes => nodes::render(frame, body, app),
    }
    footer::render(frame, foot, app);
    if let Some(d) = &app.dialog {
        d.render(frame, body, &app.theme, app.spinner(), &app.keymap);
    }
    if let Some(p) = &app.palette {
        p.render(frame, body, &app.theme);
    }
    if app.help {
        // Over the body only: the footer below says how to close it.
        help::render(frame, body, app);
    }
}

fn too_small(frame: &mut Frame, area: Rect, app: &App) {
    let quit = app.keymap.keys_text(crate::tui::keymap::CommandId::Quit);
    let text = format!(
        "terminal too small: {}×{}, need {MIN_WIDTH}×{MIN_HEIGHT} ({quit} quits)",
        area.width, area.height
    );
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}

fn tenants_screen(frame: &mut Frame, body: Rect, app: &App) {
    if body.width >= WIDE {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(body);
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(right);
        tenants::render(frame, left, app);
        schema::render(frame, top, app);
        grants::render(frame, bottom, app);
    } else {
        // Narrow: the list on top, and below it whichever detail pane has (or last had) focus.
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
        tenants::render(frame, top, app);
        if app.focus == Pane::Grants {
            grants::render(frame, bottom, app);
        } else {
            schema::render(frame, bottom, app);
        }
    }
}

fn detail_screen(frame: &mut Frame, body: Rect, app: &App) {
    if body.width >= WIDE {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                .areas(body);
        schema::render(frame, left, app);
        grants::render(frame, right, app);
    } else {
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(body);
        schema::render(frame, top, app);
        grants::render(frame, bottom, app);
    }
}

/// A pane's frame: bold border and `›` in the title when focused (not colour alone).
pub fn pane_block<'a>(app: &App, title: String, focused: bool) -> Block<'a> {
    let (marker, style) = if focused {
        ("›", app.theme.focus_border())
    } else {
        (" ", app.theme.border())
    };
    Block::bordered()
        .border_type(if focused {
            ratatui::widgets::BorderType::Thick
        } else {
            ratatui::widgets::BorderType::Plain
        })
        .border_style(style)
        .title(Span::styled(format!("{marker}{title} "), app.theme.title()))
}
