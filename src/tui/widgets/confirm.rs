//! The confirmation dialog. Anything that dials, stops a callout or deletes goes through it;
//! it says how many people are affected and defaults to No (Enter on a fresh dialog cancels).

use super::super::action::Action;
use super::super::theme::Theme;
use super::centered;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

#[derive(Debug, Clone)]
pub struct Confirm {
    pub title: String,
    pub body: Vec<String>,
    pub on_yes: Action,
    /// `false` (No) until the operator moves to Yes.
    pub yes: bool,
}

pub enum ConfirmOutcome {
    Stay,
    No,
    Yes(Action),
}

impl Confirm {
    pub fn new(title: impl Into<String>, body: Vec<String>, on_yes: Action) -> Confirm {
        Confirm {
            title: title.into(),
            body,
            on_yes,
            yes: false,
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> ConfirmOutcome {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return ConfirmOutcome::No;
        }
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => ConfirmOutcome::Yes(self.on_yes.clone()),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                ConfirmOutcome::No
            }
            KeyCode::Left
            | KeyCode::Right
            | KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Char('h')
            | KeyCode::Char('l') => {
                self.yes = !self.yes;
                ConfirmOutcome::Stay
            }
            KeyCode::Enter => {
                if self.yes {
                    ConfirmOutcome::Yes(self.on_yes.clone())
                } else {
                    ConfirmOutcome::No
                }
            }
            _ => ConfirmOutcome::Stay,
        }
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let h = self.body.len() as u16 + 6;
        let rect = centered(area, area.width.saturating_sub(4).min(70), h);
        Clear.render(rect, buf);
        let block = Block::default()
            .borders(Borders::ALL)
            .title(Line::styled(format!(" {} ", self.title), theme.title()));
        let mut lines: Vec<Line> = self.body.iter().map(|l| Line::raw(l.clone())).collect();
        lines.push(Line::raw(""));
        let (yes, no) = if self.yes {
            (theme.selected(), ratatui::style::Style::new())
        } else {
            (ratatui::style::Style::new(), theme.selected())
        };
        let mark = |on: bool| if on { "▶" } else { " " };
        lines.push(Line::from(vec![
            Span::styled(format!("{} Yes (y) ", mark(self.yes)), yes),
            Span::raw("   "),
            Span::styled(format!("{} No (n, default) ", mark(!self.yes)), no),
        ]));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block)
            .render(rect, buf);
    }
}
