//! Input forms (tui-textarea): contact (msisdn + metadata lines), callout (name, call flow
//! logic, audio URL, message, caller id) and population preview (callout + contact filter).
//! A form only collects text; the service validates, and its reasons come back into the form.

use super::super::action::{Action, CalloutFields};
use super::super::theme::Theme;
use super::centered;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};
use tui_textarea::TextArea;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Contact { id: Option<i64> },
    Callout { id: Option<i64> },
    Preview,
}

pub struct Field {
    pub label: String,
    pub area: TextArea<'static>,
    pub multiline: bool,
}

impl Field {
    fn new(label: impl Into<String>, lines: Vec<String>, multiline: bool) -> Field {
        let label = label.into();
        let lines = if lines.is_empty() {
            vec![String::new()]
        } else {
            lines
        };
        let mut area = TextArea::new(lines);
        area.set_cursor_line_style(Style::default());
        area.move_cursor(tui_textarea::CursorMove::Bottom);
        area.move_cursor(tui_textarea::CursorMove::End);
        Field {
            label,
            area,
            multiline,
        }
    }

    pub fn text(&self) -> String {
        self.area.lines().join("\n").trim().to_string()
    }
}

pub struct Form {
    pub kind: FormKind,
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub error: Option<String>,
    pub saving: bool,
}

/// What a key did to a form.
pub enum FormOutcome {
    Stay,
    Cancel,
    Submit(Action),
}

impl Form {
    pub fn contact(id: Option<i64>, msisdn: &str, metadata: Vec<String>) -> Form {
        let title = match id {
            Some(id) => format!("Edit contact {id}"),
            None => "New contact".into(),
        };
        Form {
            kind: FormKind::Contact { id },
            title,
            fields: vec![
                Field::new("msisdn", vec![msisdn.to_string()], false),
                Field::new("metadata (key=value, one per line)", metadata, true),
            ],
            focus: 0,
            error: None,
            saving: false,
        }
    }

    pub fn callout(id: Option<i64>, f: &CalloutFields, flows: &str) -> Form {
        let title = match id {
            Some(id) => format!("Edit callout {id}"),
            None => "New callout".into(),
        };
        let flow_label = if flows.is_empty() {
            "call flow logic".to_string()
        } else {
            format!("call flow logic ({flows})")
        };
        Form {
            kind: FormKind::Callout { id },
            title,
            fields: vec![
                Field::new("name", vec![f.name.clone()], false),
                Field::new(flow_label, vec![f.call_flow_logic.clone()], false),
                Field::new("audio URL", vec![f.audio_url.clone()], false),
                Field::new("message", vec![f.message.clone()], false),
                Field::new("caller id (from)", vec![f.from.clone()], false),
            ],
            focus: 0,
            error: None,
            saving: false,
        }
    }

    pub fn preview(callout_id: Option<i64>) -> Form {
        Form {
            kind: FormKind::Preview,
            title: "Build a population preview".into(),
            fields: vec![
                Field::new(
                    "callout id",
                    vec![callout_id.map(|i| i.to_string()).unwrap_or_default()],
                    false,
                ),
                Field::new(
                    "contact filter (province=Kandal gender=f +85512; empty = everyone)",
                    vec![],
                    false,
                ),
            ],
            focus: if callout_id.is_some() { 1 } else { 0 },
            error: None,
            saving: false,
        }
    }

    fn submit(&self) -> Action {
        let t = |i: usize| self.fields.get(i).map(Field::text).unwrap_or_default();
        match self.kind {
            FormKind::Contact { id } => Action::SubmitContact {
                id,
                msisdn: t(0),
                metadata: self
                    .fields
                    .get(1)
                    .map(|f| f.area.lines().join("\n"))
                    .unwrap_or_default(),
            },
            FormKind::Callout { id } => Action::SubmitCallout {
                id,
                fields: CalloutFields {
                    name: t(0),
                    call_flow_logic: t(1),
                    audio_url: t(2),
                    message: t(3),
                    from: t(4),
                },
            },
            FormKind::Preview => Action::SubmitPreview {
                callout_id: t(0),
                filter: t(1),
            },
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> FormOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let n = self.fields.len();
        let multiline = self.fields.get(self.focus).is_some_and(|f| f.multiline);
        match key.code {
            KeyCode::Esc => return FormOutcome::Cancel,
            KeyCode::Char('s') if ctrl => return FormOutcome::Submit(self.submit()),
            KeyCode::Tab => self.focus = (self.focus + 1) % n,
            KeyCode::BackTab => self.focus = (self.focus + n - 1) % n,
            KeyCode::Down if !multiline => self.focus = (self.focus + 1) % n,
            KeyCode::Up if !multiline => self.focus = (self.focus + n - 1) % n,
            KeyCode::Enter if !multiline => {
                if self.focus + 1 == n {
                    return FormOutcome::Submit(self.submit());
                }
                self.focus += 1;
            }
            _ => {
                if let Some(f) = self.fields.get_mut(self.focus) {
                    f.area.input(key);
                }
            }
        }
        FormOutcome::Stay
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let heights: Vec<u16> = self
            .fields
            .iter()
            .map(|f| if f.multiline { 8 } else { 3 })
            .collect();
        let h = heights.iter().sum::<u16>() + 4;
        let rect = centered(area, area.width.saturating_sub(4).min(76), h);
        Clear.render(rect, buf);
        let block = Block::default()
            .borders(Borders::ALL)
            .title(Line::styled(format!(" {} ", self.title), theme.title()))
            .title_bottom(" ^s save · Tab next field · Esc cancel ");
        let inner = block.inner(rect);
        block.render(rect, buf);
        let mut constraints: Vec<Constraint> =
            heights.iter().map(|h| Constraint::Length(*h)).collect();
        constraints.push(Constraint::Min(1));
        let rows = Layout::vertical(constraints).split(inner);
        for (i, field) in self.fields.iter().enumerate() {
            let focused = i == self.focus;
            let mut ta = field.area.clone();
            let marker = if focused { "▶ " } else { "  " };
            let border = if focused {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                theme.dim()
            };
            ta.set_block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(border)
                    .title(format!("{marker}{}", field.label)),
            );
            if !focused {
                ta.set_cursor_style(Style::default());
            }
            ta.render(rows[i], buf);
        }
        let status = if self.saving {
            Line::styled("saving…", theme.dim())
        } else if let Some(e) = &self.error {
            Line::styled(format!("error: {e}"), theme.error())
        } else {
            Line::raw("")
        };
        if let Some(last) = rows.last() {
            Paragraph::new(status)
                .wrap(Wrap { trim: true })
                .render(*last, buf);
        }
    }
}
