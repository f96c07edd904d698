//! A scrollable text popup: the invalid rows of the last import (`:invalid`).

use super::super::theme::Theme;
use super::centered;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub title: String,
    pub lines: Vec<String>,
    pub scroll: u16,
}

impl Report {
    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let h = (self.lines.len() as u16).saturating_add(2);
        let rect = centered(area, area.width.saturating_sub(4).min(96), h);
        Clear.render(rect, buf);
        let lines: Vec<Line> = self.lines.iter().map(|l| Line::raw(l.clone())).collect();
        Paragraph::new(lines)
            .scroll((self.scroll, 0))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(Line::styled(format!(" {} ", self.title), theme.title()))
                    .title_bottom(" j/k scroll · Esc close "),
            )
            .render(rect, buf);
    }
}
