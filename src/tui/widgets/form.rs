//! Input forms (tui-textarea): contact (msisdn + metadata lines), callout (name, call flow
//! logic, audio URL, message, caller id, and dialing settings: see `callout_form.rs`) and
//! population preview (callout + contact filter). A form only collects text; the service
//! validates, and its reasons come back into the form.
//!
//! Long forms are compact (one row per field: label, then the input) and scroll to keep the
//! focused field in view. A form may have a section of fields shown only while it is on
//! (the callout's dialing settings, toggled with ^t).

use super::super::action::Action;
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
    /// Part of the optional section (shown and submitted only while it is on).
    pub optional: bool,
}

impl Field {
    pub fn new(label: impl Into<String>, lines: Vec<String>, multiline: bool) -> Field {
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
            optional: false,
        }
    }

    /// Dimmed text shown while the field is empty (a default, an example).
    pub fn hint(mut self, text: &str) -> Field {
        if !text.is_empty() {
            self.area.set_placeholder_text(text);
            self.area
                .set_placeholder_style(Style::new().add_modifier(Modifier::DIM));
        }
        self
    }

    pub fn in_section(mut self) -> Field {
        self.optional = true;
        self
    }

    pub fn text(&self) -> String {
        self.area.lines().join("\n").trim().to_string()
    }
}

/// An optional group of fields (the callout's dialing settings), toggled with ^t.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub on: bool,
    /// Heading when on / off.
    pub on_text: &'static str,
    pub off_text: &'static str,
}

pub struct Form {
    pub kind: FormKind,
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub error: Option<String>,
    pub saving: bool,
    /// One row per field (label, input) instead of a bordered box each.
    pub compact: bool,
    pub section: Option<Section>,
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
            compact: false,
            section: None,
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
            compact: false,
            section: None,
        }
    }

    /// Whether field `i` is shown (and submitted).
    pub fn shown(&self, i: usize) -> bool {
        self.fields
            .get(i)
            .is_some_and(|f| !f.optional || self.section.as_ref().is_some_and(|s| s.on))
    }

    /// The next shown field after (or before) the focused one, wrapping.
    fn step(&self, forward: bool) -> usize {
        let n = self.fields.len();
        let mut i = self.focus;
        for _ in 0..n {
            i = if forward {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            if self.shown(i) {
                return i;
            }
        }
        self.focus
    }

    fn last_shown(&self) -> usize {
        (0..self.fields.len())
            .rev()
            .find(|i| self.shown(*i))
            .unwrap_or(0)
    }

    /// ^t: turns the optional section on (focus on its first field) or off.
    fn toggle_section(&mut self) {
        let Some(s) = &mut self.section else { return };
        s.on = !s.on;
        let on = s.on;
        let first = self.fields.iter().position(|f| f.optional);
        if on {
            self.focus = first.unwrap_or(self.focus);
        } else if !self.shown(self.focus) {
            self.focus = self.last_shown();
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
                fields: super::callout_form::fields_of_form(self),
            },
            FormKind::Preview => Action::SubmitPreview {
                callout_id: t(0),
                filter: t(1),
            },
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> FormOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let multiline = self.fields.get(self.focus).is_some_and(|f| f.multiline);
        match key.code {
            KeyCode::Esc => return FormOutcome::Cancel,
            KeyCode::Char('s') if ctrl => return FormOutcome::Submit(self.submit()),
            KeyCode::Char('t') if ctrl && self.section.is_some() => self.toggle_section(),
            KeyCode::Tab => self.focus = self.step(true),
            KeyCode::BackTab => self.focus = self.step(false),
            KeyCode::Down if !multiline => self.focus = self.step(true),
            KeyCode::Up if !multiline => self.focus = self.step(false),
            KeyCode::Enter if !multiline => {
                if self.focus == self.last_shown() {
                    return FormOutcome::Submit(self.submit());
                }
                self.focus = self.step(true);
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
        if self.compact {
            super::form_compact::render(self, area, buf, theme);
            return;
        }
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
