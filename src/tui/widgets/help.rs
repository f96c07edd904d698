//! The `?` help overlay, built from the live keymap (the same bindings that route keys) and
//! the command list next to the `:` parser.

use super::super::keymap::Binding;
use super::super::theme::Theme;
use super::centered;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

pub fn render(
    sections: &[(&str, Vec<Binding>)],
    scroll: u16,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let mut lines = Vec::new();
    for (title, bindings) in sections {
        lines.push(Line::styled(title.to_string(), theme.header()));
        for b in bindings {
            let mut spans = vec![
                Span::raw(format!("  {:<10}", b.label)),
                Span::raw(b.desc.to_string()),
            ];
            if let Some(reason) = b.disabled {
                spans.push(Span::styled(
                    format!("  (unavailable: {reason})"),
                    theme.dim(),
                ));
            }
            lines.push(Line::from(spans));
        }
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled("Commands", theme.header()));
    for (usage, desc) in super::command_line::COMMANDS {
        lines.push(Line::raw(format!("  {usage:<37}{desc}")));
    }
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(78),
        area.height.saturating_sub(2),
    );
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .scroll((scroll, 0))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(Line::styled(" Keys ", theme.title()))
                .title_bottom(" j/k scroll · Esc close "),
        )
        .render(rect, buf);
}
