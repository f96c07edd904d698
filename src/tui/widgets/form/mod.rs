//! Input forms (tui-textarea), the generic part: fields, focus, the optional section, keys
//! and drawing. A form only collects text; the service validates, and its reasons come back
//! into the form. Each concrete form (`contact_form.rs`, `callout_form.rs`,
//! `preview_form.rs`) builds its fields with keys and gives the form its submit, which reads
//! the fields by key and makes the action.
//!
//! Long forms are compact (one row per field: label, then the input; `compact.rs`) and scroll
//! to keep the focused field in view. A form may have a section of fields shown only while it
//! is on (the callout's dialing settings, toggled with ^t).

mod compact;

use super::centered;
use crate::tui::action::Action;
use crate::tui::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};
use tui_textarea::TextArea;

pub struct Field {
    /// What the form's submit reads the field by.
    pub key: String,
    pub label: String,
    pub area: TextArea<'static>,
    pub multiline: bool,
    /// Part of the optional section (shown and submitted only while it is on).
    pub optional: bool,
}

impl Field {
    pub fn new(
        key: impl Into<String>,
        label: impl Into<String>,
        lines: Vec<String>,
        multiline: bool,
    ) -> Field {
        let key = key.into();
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
            key,
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

    /// The lines as typed, joined.
    pub fn raw(&self) -> String {
        self.area.lines().join("\n")
    }

    pub fn text(&self) -> String {
        self.raw().trim().to_string()
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

/// What a form makes of its fields when submitted: the action the App runs.
pub type Submit = Box<dyn Fn(&Form) -> Action + Send + Sync>;

pub struct Form {
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub error: Option<String>,
    pub saving: bool,
    /// One row per field (label, input) instead of a bordered box each.
    pub compact: bool,
    pub section: Option<Section>,
    submit: Submit,
}

/// What a key did to a form.
pub enum FormOutcome {
    Stay,
    Cancel,
    Submit(Action),
}

impl Form {
    /// A form of `fields` (focus on the first, bordered boxes, no optional section) whose
    /// submit makes its action with `submit`.
    pub fn new(
        title: impl Into<String>,
        fields: Vec<Field>,
        submit: impl Fn(&Form) -> Action + Send + Sync + 'static,
    ) -> Form {
        Form {
            title: title.into(),
            fields,
            focus: 0,
            error: None,
            saving: false,
            compact: false,
            section: None,
            submit: Box::new(submit),
        }
    }

    /// The field with this key.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The trimmed text of the field with this key (empty if there is none).
    pub fn text(&self, key: &str) -> String {
        self.field(key).map(Field::text).unwrap_or_default()
    }

    /// Whether the optional section is on.
    pub fn section_on(&self) -> bool {
        self.section.as_ref().is_some_and(|s| s.on)
    }

    /// Whether field `i` is shown (and submitted).
    pub fn shown(&self, i: usize) -> bool {
        self.fields
            .get(i)
            .is_some_and(|f| !f.optional || self.section_on())
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
        (self.submit)(self)
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
            compact::render(self, area, buf, theme);
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
