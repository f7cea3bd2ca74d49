//! The move dialog of the Nodes view: the nodes a tenant can move to, with their tenants
//! and bytes, the emptiest chosen first; it spells out what the move does to the one
//! chosen, and Enter moves (`tenantctl tenant move ID --to HOST:PORT --mode M`).

use super::{Outcome, centered};
use crate::citus::nodes::{Node, NodeAddr};
use crate::citus::ops::MovePlan;
use crate::tui::app::Write;
use crate::tui::keymap::{CommandId, Keymap};
use crate::tui::theme::Theme;
use crate::units::human_bytes;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

/// One node the tenant can move to, with what it holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub addr: NodeAddr,
    pub tenants: usize,
    pub bytes: i64,
    /// The checked move there.
    pub plan: MovePlan,
}

/// State of the move dialog.
#[derive(Debug, Clone)]
pub struct MoveTargetDialog {
    pub targets: Vec<Target>,
    pub selected: usize,
}

impl MoveTargetDialog {
    /// A dialog over `targets` (each with its plan), `preselected` first chosen.
    pub fn new(targets: Vec<Target>, preselected: Option<&NodeAddr>) -> MoveTargetDialog {
        let selected = preselected
            .and_then(|a| targets.iter().position(|t| &t.addr == a))
            .unwrap_or(0);
        MoveTargetDialog { targets, selected }
    }

    /// The target for `node`, when the node can take the move `plan_for` checks.
    pub fn target(node: &Node, plan: MovePlan) -> Target {
        Target {
            addr: node.addr.clone(),
            tenants: node.tenants,
            bytes: node.bytes,
            plan,
        }
    }

    /// Handles one key (the confirmation's keys): up and down choose the node, confirm
    /// moves, cancel closes.
    pub fn handle(&mut self, cmd: Option<CommandId>, key: &KeyEvent) -> Outcome {
        let n = self.targets.len();
        match (cmd, key.code) {
            (Some(CommandId::Cancel), _) => Outcome::Cancel,
            (Some(CommandId::Confirm), _) => match self.targets.get(self.selected) {
                Some(t) => Outcome::Submit(Write::MoveTenant(t.plan.clone())),
                None => Outcome::Cancel,
            },
            (_, KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab) if n > 0 => {
                self.selected = (self.selected + 1) % n;
                Outcome::Stay
            }
            (_, KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab) if n > 0 => {
                self.selected = (self.selected + n - 1) % n;
                Outcome::Stay
            }
            _ => Outcome::Stay,
        }
    }

    /// Draws the dialog centred in `area`.
    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, keys: &Keymap) {
        let Some(chosen) = self.targets.get(self.selected) else {
            return;
        };
        let plan = &chosen.plan;
        let mut lines = vec![Line::from(Span::styled(
            format!(
                "  from {} ({}); move to:",
                plan.from,
                human_bytes(plan.bytes)
            ),
            theme.dim(),
        ))];
        for (i, t) in self.targets.iter().enumerate() {
            let text = format!(
                "{} {:<24} {:>4} tenant{} {:>10}",
                if i == self.selected { "›" } else { " " },
                t.addr.to_string(),
                t.tenants,
                if t.tenants == 1 { " " } else { "s" },
                human_bytes(t.bytes)
            );
            lines.push(if i == self.selected {
                Line::from(Span::styled(text, theme.selected()))
            } else {
                Line::from(text)
            });
        }
        lines.push(Line::default());
        lines.push(Line::from(format!(
            "Copies its {} to {}, then switches over.",
            human_bytes(plan.bytes),
            plan.to
        )));
        lines.push(Line::from(
            "If it fails or is cancelled (Esc), the tenant stays where it was.",
        ));
        lines.push(Line::from(format!(
            "Mode {}: {}.",
            plan.mode.as_sql(),
            plan.mode.consequence()
        )));
        lines.push(Line::default());
        lines.push(Line::from(vec![
            Span::styled("↑↓", theme.key()),
            Span::raw(" node   "),
            Span::styled(keys.keys_text(CommandId::Confirm), theme.key()),
            Span::raw(" move   "),
            Span::styled(keys.keys_text(CommandId::Cancel), theme.key()),
            Span::raw(" close"),
        ]));
        const WIDTH: u16 = 76;
        // Tall enough for the wrapped lines (the mode's consequence runs to several).
        let inner = usize::from(WIDTH - 2);
        let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
        let height = u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(2);
        let rect = centered(area, WIDTH, height);
        frame.render_widget(Clear, rect);
        let block = Block::bordered()
            .title(Span::styled(
                format!(" ! Move tenant {} ", plan.tenant),
                theme.title(),
            ))
            .border_style(theme.focus_border());
        frame.render_widget(
            Paragraph::new(lines)
                .block(block)
                .wrap(Wrap { trim: false }),
            rect,
        );
    }
}
