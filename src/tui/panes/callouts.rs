//! Callouts: the list with status and campaign progress (people, reached, not reached,
//! pending, in progress, ETA), the create/edit form, start/pause/resume/stop (each confirmed by
//! the App with the number of people), and a detail view (`callout_detail.rs`) of one
//! callout's progress, participations and calls.

use super::super::action::{Action, CalloutVerb, Effect, Nav};
use super::super::keymap::{Binding, Key};
use super::super::theme::Theme;
use super::super::widgets::{progress, thousands};
use super::callout_detail::{render_detail, render_summary};
use super::{Component, LoadState, PAGE, Selection, table};
use crate::service::tui_queries::{CalloutDetail, CalloutSummary};
use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Row;

pub use super::callout_detail::name_of;

#[derive(Debug, Default)]
pub struct CalloutsPane {
    pub items: Vec<CalloutSummary>,
    pub sel: Selection,
    pub filter_text: String,
    pub detail: Option<CalloutDetail>,
    pub detail_id: Option<i64>,
    pub load: LoadState,
    /// A callout to select once the list in flight lands (one just saved).
    pub select_when_loaded: Option<i64>,
}

impl CalloutsPane {
    /// Rows passing the `/` filter (name or status contains the text).
    pub fn visible(&self) -> Vec<&CalloutSummary> {
        let f = self.filter_text.to_lowercase();
        self.items
            .iter()
            .filter(|s| {
                f.is_empty()
                    || name_of(&s.callout.metadata).to_lowercase().contains(&f)
                    || s.callout.status.contains(&f)
                    || s.callout.id.to_string() == f
            })
            .collect()
    }

    /// The callout verbs act on: the open one, else the selected row.
    pub fn current(&self) -> Option<&CalloutSummary> {
        if let Some(id) = self.detail_id {
            if let Some(d) = &self.detail {
                return Some(&d.summary);
            }
            return self.items.iter().find(|s| s.callout.id == id);
        }
        self.visible().get(self.sel.index).copied()
    }

    pub fn open(&mut self, id: i64) -> Vec<Effect> {
        self.detail_id = Some(id);
        if self.detail.as_ref().map(|d| d.summary.callout.id) != Some(id) {
            self.detail = None;
        }
        vec![Effect::LoadCalloutDetail(id)]
    }

    pub fn loaded(&mut self, items: Vec<CalloutSummary>) -> Vec<Effect> {
        self.items = items;
        let n = self.visible().len();
        self.sel.clamp(n);
        if let Some(id) = self.select_when_loaded.take() {
            self.select_id(id);
        }
        if self.load.done() {
            self.reload()
        } else {
            vec![]
        }
    }

    /// Selects callout `id` now, or when the list in flight lands if it is not in it yet.
    pub fn select_id(&mut self, id: i64) {
        match self.visible().iter().position(|s| s.callout.id == id) {
            Some(i) => self.sel.index = i,
            None => self.select_when_loaded = Some(id),
        }
    }
}

impl Component for CalloutsPane {
    fn bindings(&self) -> Vec<Binding> {
        let cur = self.current();
        let status = cur.map(|s| s.callout.status.as_str()).unwrap_or("");
        let none = cur.is_none();
        vec![
            Binding::new(&[Key::Char('/')], "/", "filter", Action::OpenFilter),
            Binding::new(&[Key::Char('n')], "n", "new", Action::New),
            Binding::new(&[Key::Char('e')], "e", "edit", Action::Edit)
                .disabled_if(none, "no callout selected"),
            Binding::new(&[Key::Code(KeyCode::Enter)], "Enter", "open", Action::Open)
                .disabled_if(none, "no callout selected"),
            Binding::new(
                &[Key::Char('s')],
                "s",
                "start",
                Action::Callout(CalloutVerb::Start),
            )
            .disabled_if(
                status != "initialized",
                "only a new callout can start; r resumes",
            ),
            Binding::new(
                &[Key::Char('p')],
                "p",
                "pause",
                Action::Callout(CalloutVerb::Pause),
            )
            .disabled_if(status != "running", "only a running callout can pause"),
            Binding::new(
                &[Key::Char('r')],
                "r",
                "resume",
                Action::Callout(CalloutVerb::Resume),
            )
            .disabled_if(
                status != "paused" && status != "stopped",
                "only a paused or stopped callout can resume",
            ),
            Binding::new(
                &[Key::Char('x')],
                "x",
                "stop",
                Action::Callout(CalloutVerb::Stop),
            )
            .disabled_if(
                status != "running" && status != "paused",
                "only a running or paused callout can stop",
            ),
            // In the help, not the hint bar: at 80 columns it would push "? help" off.
            Binding::new(
                &[Key::Char('S')],
                "S",
                "situation report",
                Action::ShowSitrep,
            )
            .disabled_if(none, "no callout selected")
            .quiet(),
            Binding::new(
                &[Key::Char('b')],
                "b",
                "build population",
                Action::Focus(super::super::action::PaneId::Previews),
            )
            .quiet(),
        ]
    }

    fn nav(&mut self, nav: Nav) -> Vec<Effect> {
        if self.detail_id.is_none() {
            let n = self.visible().len();
            self.sel.apply(nav, n, PAGE);
        }
        vec![]
    }

    fn reload(&mut self) -> Vec<Effect> {
        if !self.load.begin() {
            return vec![];
        }
        let mut out = vec![Effect::LoadCallouts];
        if let Some(id) = self.detail_id {
            out.push(Effect::LoadCalloutDetail(id));
        }
        out
    }

    fn back(&mut self) -> Option<Vec<Effect>> {
        if self.detail_id.take().is_some() {
            self.detail = None;
            return Some(vec![]);
        }
        if !self.filter_text.is_empty() {
            self.filter_text.clear();
            self.sel.index = 0;
            return Some(vec![]);
        }
        None
    }

    fn load_state(&mut self) -> &mut LoadState {
        &mut self.load
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        if self.detail_id.is_some() {
            render_detail(self.detail.as_ref(), area, buf, theme);
            return;
        }
        let wide = area.width >= 120;
        let (list, side) = if wide {
            let [l, r] =
                Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                    .areas(area);
            (l, Some(r))
        } else {
            (area, None)
        };
        let visible = self.visible();
        let filter = if self.filter_text.is_empty() {
            String::new()
        } else {
            format!(" · filter: {}", self.filter_text)
        };
        let title = Line::from(vec![
            Span::styled(" Callouts ", theme.title()),
            Span::raw(format!("{}{filter} ", visible.len())),
        ]);
        let rows: Vec<Row> = visible
            .iter()
            .map(|s| {
                let p = &s.progress;
                let mut cells = vec![
                    s.callout.id.to_string(),
                    name_of(&s.callout.metadata),
                    s.callout.status.clone(),
                    thousands(s.participations),
                    thousands(p.reached),
                    thousands(progress::not_reached_total(p)),
                    thousands(p.pending),
                    thousands(p.in_progress),
                ];
                if wide {
                    cells.push(thousands(p.attempts));
                }
                cells.push(progress::eta_text(p.eta_seconds));
                Row::new(cells)
            })
            .collect();
        let (header, widths) = columns(wide);
        table(
            title,
            &header,
            &widths,
            rows,
            Some(&self.sel),
            list,
            buf,
            theme,
        );
        if visible.is_empty() && self.load.loaded {
            let inner = Rect {
                x: list.x + 2,
                y: list.y + 2,
                width: list.width.saturating_sub(4),
                height: 1,
            };
            super::note("No callouts. Press n to create one.", inner, buf, theme);
        }
        if let (Some(side), Some(cur)) = (side, visible.get(self.sel.index)) {
            render_summary(cur, side, buf, theme);
        }
    }
}

/// List columns: `missed` = not reached (will not be called again), `live` = in progress.
fn columns(wide: bool) -> (Vec<&'static str>, Vec<Constraint>) {
    let mut header = vec![
        "id", "name", "status", "people", "reached", "missed", "pending", "live",
    ];
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Min(10),
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(5),
    ];
    if wide {
        header.push("attempts");
        widths.push(Constraint::Length(8));
    }
    header.push("ETA");
    widths.push(Constraint::Length(7));
    (header, widths)
}
