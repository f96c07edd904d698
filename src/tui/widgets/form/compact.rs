//! The compact layout of a long form: one row per field (marker, label, input), the optional
//! section's heading, and the service's reason under the fields. Scrolls so the focused field
//! is always in view (▲/▼ say more rows are above or below).

use super::super::centered;
use super::Form;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

enum Row {
    Heading(&'static str),
    Field(usize),
}

fn rows(form: &Form) -> Vec<Row> {
    let first_optional = form.fields.iter().position(|f| f.optional);
    let mut out = Vec::new();
    for i in 0..form.fields.len() {
        if Some(i) == first_optional {
            if let Some(s) = &form.section {
                out.push(Row::Heading(if s.on { s.on_text } else { s.off_text }));
            }
        }
        if form.shown(i) {
            out.push(Row::Field(i));
        }
    }
    out
}

/// Lines under the fields for the status (saving, or the reason the service gave).
const STATUS_ROWS: u16 = 2;

pub fn render(form: &Form, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let rows = rows(form);
    let want = rows.len() as u16 + 2 + STATUS_ROWS;
    let rect = centered(area, area.width.saturating_sub(4).min(96), want);
    Clear.render(rect, buf);
    let toggle = if form.section.is_some() {
        " · ^t dialing on/off"
    } else {
        ""
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::styled(format!(" {} ", form.title), theme.title()))
        .title_bottom(format!(" ^s save · Tab next field{toggle} · Esc cancel "));
    let inner = block.inner(rect);
    block.render(rect, buf);
    let height = inner.height.saturating_sub(STATUS_ROWS).max(1) as usize;
    let focus_row = rows
        .iter()
        .position(|r| matches!(r, Row::Field(i) if *i == form.focus))
        .unwrap_or(0);
    let offset = (focus_row + 1).saturating_sub(height);
    let label_w = (inner.width / 3).clamp(10, 26) as usize;
    for (k, row) in rows.iter().skip(offset).take(height).enumerate() {
        let y = inner.y + k as u16;
        match row {
            Row::Heading(text) => {
                buf.set_line(
                    inner.x,
                    y,
                    &Line::styled(text.to_string(), theme.header()),
                    inner.width,
                );
            }
            Row::Field(i) => {
                let Some(field) = form.fields.get(*i) else {
                    continue;
                };
                let focused = *i == form.focus;
                let marker = if focused { "▶ " } else { "  " };
                let label: String = field.label.chars().take(label_w).collect();
                let style = if focused {
                    Style::new().add_modifier(Modifier::BOLD)
                } else {
                    Style::new()
                };
                let head = Line::from(vec![
                    Span::styled(marker, style),
                    Span::styled(format!("{label:<label_w$} "), style),
                ]);
                let used = 3 + label_w as u16;
                buf.set_line(inner.x, y, &head, used.min(inner.width));
                let mut ta = field.area.clone();
                if !focused {
                    ta.set_cursor_style(Style::default());
                }
                let input = Rect {
                    x: inner.x + used,
                    y,
                    width: inner.width.saturating_sub(used + 1),
                    height: 1,
                };
                ta.render(input, buf);
            }
        }
    }
    let right = inner.x + inner.width.saturating_sub(1);
    if offset > 0 {
        buf.set_string(right, inner.y, "▲", theme.dim());
    }
    if offset + height < rows.len() {
        buf.set_string(right, inner.y + height as u16 - 1, "▼", theme.dim());
    }
    let status = if form.saving {
        Line::styled("saving…", theme.dim())
    } else if let Some(e) = &form.error {
        Line::styled(format!("error: {e}"), theme.error())
    } else {
        Line::raw("")
    };
    let status_area = Rect {
        y: inner.y + height as u16,
        height: inner.height.saturating_sub(height as u16),
        ..inner
    };
    Paragraph::new(status)
        .wrap(Wrap { trim: true })
        .render(status_area, buf);
}
