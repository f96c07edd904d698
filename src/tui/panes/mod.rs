//! The four panes. Each is a component: it lists its key bindings (which route its keys and
//! feed the hint bar and help), moves its selection, asks for reloads as effects, and renders
//! into a plain `Buffer` from its state alone.

pub mod approvals;
pub mod batch_preview;
mod callout_detail;
pub mod callouts;
pub mod contacts;
pub mod live_calls;

use super::action::{Action, Effect, Nav};
use super::keymap::{self, Binding};
use super::theme::Theme;
use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Row, StatefulWidget, Table, TableState};
use std::cell::Cell;

/// The small trait every pane implements (gitui's `Component`, cut down).
pub trait Component {
    /// Pane-specific bindings, most specific first; navigation and globals come after.
    fn bindings(&self) -> Vec<Binding>;
    /// Maps a key through this pane's bindings and list navigation.
    fn handle_key(&self, key: &KeyEvent) -> Option<Action> {
        keymap::lookup(&self.bindings(), key).or_else(|| keymap::lookup(&keymap::nav(), key))
    }
    fn nav(&mut self, nav: Nav) -> Vec<Effect>;
    /// Loads the pane's data (or notes it must reload when the load in flight ends).
    fn reload(&mut self) -> Vec<Effect>;
    /// Esc: leave a detail view or clear the filter. `None` when there was nothing to back out of.
    fn back(&mut self) -> Option<Vec<Effect>>;
    fn load_state(&mut self) -> &mut LoadState;
    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme);
}

/// Whether a pane's data is loaded, loading, or out of date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadState {
    pub loaded: bool,
    pub in_flight: bool,
    pub stale: bool,
}

impl LoadState {
    /// Starts a load unless one is in flight (then the pane reloads when it lands).
    pub fn begin(&mut self) -> bool {
        if self.in_flight {
            self.stale = true;
            return false;
        }
        self.in_flight = true;
        self.stale = false;
        true
    }

    /// A load landed; returns whether another is needed.
    pub fn done(&mut self) -> bool {
        self.in_flight = false;
        self.loaded = true;
        self.stale
    }

    pub fn needs_load(&self) -> bool {
        !self.loaded || self.stale
    }
}

/// A list selection with a remembered scroll offset.
#[derive(Debug, Default)]
pub struct Selection {
    pub index: usize,
    pub offset: Cell<usize>,
}

impl Selection {
    /// Applies list movement within `len` rows (`page` rows per page).
    pub fn apply(&mut self, nav: Nav, len: usize, page: usize) {
        if len == 0 {
            self.index = 0;
            return;
        }
        let last = len - 1;
        self.index = match nav {
            Nav::Up => self.index.saturating_sub(1),
            Nav::Down => (self.index + 1).min(last),
            Nav::PageUp => self.index.saturating_sub(page),
            Nav::PageDown => (self.index + page).min(last),
            Nav::Top => 0,
            Nav::Bottom => last,
        };
    }

    pub fn clamp(&mut self, len: usize) {
        self.index = self.index.min(len.saturating_sub(1));
    }
}

/// Draws a table with a reversed, marked selection (`▶`), keeping the scroll offset.
#[allow(clippy::too_many_arguments)]
pub fn table(
    title: Line<'_>,
    header: &[&str],
    widths: &[Constraint],
    rows: Vec<Row<'_>>,
    selection: Option<&Selection>,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let empty = rows.is_empty();
    let t = Table::new(rows, widths.to_vec())
        .header(Row::new(header.to_vec()).style(theme.header()))
        .block(Block::default().borders(Borders::ALL).title(title))
        .row_highlight_style(theme.selected())
        .highlight_symbol("▶ ")
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    let mut state = TableState::default();
    if let Some(sel) = selection {
        state = state.with_offset(sel.offset.get());
        if !empty {
            state.select(Some(sel.index));
        }
    }
    StatefulWidget::render(t, area, buf, &mut state);
    if let Some(sel) = selection {
        sel.offset.set(state.offset());
    }
}

/// Rows a page movement jumps on a pane of this height.
pub const PAGE: usize = 10;

/// An empty-state line inside a bordered block.
pub fn note(text: &str, area: Rect, buf: &mut Buffer, theme: &Theme) {
    use ratatui::widgets::{Paragraph, Widget};
    Paragraph::new(Line::styled(text.to_string(), theme.dim()))
        .style(Style::new())
        .render(area, buf);
}
