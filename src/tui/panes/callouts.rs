//! Callouts: the list with status and progress (people; calls by status), the create/edit form,
//! start/pause/resume/stop (each confirmed by the App with the number of people), and a detail
//! view of one callout's participations and calls.

use super::super::action::{Action, CalloutFields, CalloutVerb, Effect, Nav};
use super::super::keymap::{Binding, Key};
use super::super::theme::Theme;
use super::super::widgets::{short_time, thousands};
use super::{Component, LoadState, PAGE, Selection, table};
use crate::service::tui_queries::{CalloutDetail, CalloutSummary, IN_FLIGHT};
use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Widget, Wrap};
use serde_json::Value;

#[derive(Debug, Default)]
pub struct CalloutsPane {
    pub items: Vec<CalloutSummary>,
    pub sel: Selection,
    pub filter_text: String,
    pub detail: Option<CalloutDetail>,
    pub detail_id: Option<i64>,
    pub load: LoadState,
}

pub fn name_of(metadata: &Value) -> String {
    metadata
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn meta_str(metadata: &Value, key: &str) -> String {
    metadata
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// `completed 3 · busy 1` plus the number still in flight.
pub fn calls_text(calls: &[(String, i64)]) -> String {
    if calls.is_empty() {
        return "no calls".into();
    }
    calls
        .iter()
        .map(|(s, n)| format!("{s} {}", thousands(*n)))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn in_flight(calls: &[(String, i64)]) -> i64 {
    calls
        .iter()
        .filter(|(s, _)| IN_FLIGHT.contains(&s.as_str()))
        .map(|(_, n)| n)
        .sum()
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

    pub fn fields_of(s: &CalloutSummary) -> CalloutFields {
        let m = &s.callout.metadata;
        CalloutFields {
            name: name_of(m),
            call_flow_logic: s.callout.call_flow_logic.clone().unwrap_or_default(),
            audio_url: meta_str(m, "audio_url"),
            message: meta_str(m, "message"),
            from: meta_str(m, "from"),
        }
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
        if self.load.done() {
            self.reload()
        } else {
            vec![]
        }
    }

    pub fn select_id(&mut self, id: i64) {
        if let Some(i) = self.visible().iter().position(|s| s.callout.id == id) {
            self.sel.index = i;
        }
    }

    fn render_summary(&self, s: &CalloutSummary, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let c = &s.callout;
        let m = &c.metadata;
        let mut lines = vec![
            Line::from(vec![
                Span::styled(format!("Callout {} ", c.id), theme.title()),
                Span::raw(name_of(m)),
            ]),
            Line::from(vec![
                Span::raw("status: "),
                Span::styled(c.status.clone(), theme.status(&c.status)),
                Span::raw(format!(
                    "   people: {}   in flight: {}",
                    thousands(s.participations),
                    thousands(in_flight(&s.calls))
                )),
            ]),
            Line::raw(format!(
                "flow: {}",
                c.call_flow_logic.as_deref().unwrap_or("(default)")
            )),
        ];
        for key in ["audio_url", "message", "from"] {
            let v = meta_str(m, key);
            if !v.is_empty() {
                lines.push(Line::raw(format!("{key}: {v}")));
            }
        }
        lines.push(Line::raw(format!("calls: {}", calls_text(&s.calls))));
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::default().borders(Borders::ALL).title(" Progress "))
            .render(area, buf);
    }

    fn render_detail(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let Some(d) = &self.detail else {
            Paragraph::new(Line::styled("loading callout…", theme.dim())).render(area, buf);
            return;
        };
        let [head, body] =
            Layout::vertical([Constraint::Length(8), Constraint::Min(4)]).areas(area);
        self.render_summary(&d.summary, head, buf, theme);
        let wide = area.width >= 120;
        let [left, right] = if wide {
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body)
        } else {
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body)
        };
        let rows = d
            .participations
            .iter()
            .map(|p| {
                Row::new(vec![
                    p.id.to_string(),
                    p.contact_id.to_string(),
                    p.msisdn.clone(),
                ])
            })
            .collect();
        table(
            Line::raw(format!(
                " Participations (first {} of {}) ",
                d.participations.len(),
                thousands(d.participations_total)
            )),
            &["id", "contact", "msisdn"],
            &[
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Min(12),
            ],
            rows,
            None,
            left,
            buf,
            theme,
        );
        let rows = d
            .calls
            .iter()
            .map(|c| {
                Row::new(vec![
                    c.id.to_string(),
                    c.msisdn.clone(),
                    c.status.clone(),
                    short_time(&c.updated_at),
                ])
            })
            .collect();
        table(
            Line::raw(format!(" Calls, newest first ({}) ", d.calls.len())),
            &["id", "msisdn", "status", "updated"],
            &[
                Constraint::Length(7),
                Constraint::Length(14),
                Constraint::Length(19),
                Constraint::Min(8),
            ],
            rows,
            None,
            right,
            buf,
            theme,
        );
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
            self.render_detail(area, buf, theme);
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
                let done: i64 = s
                    .calls
                    .iter()
                    .filter(|(st, _)| !IN_FLIGHT.contains(&st.as_str()) && st != "created")
                    .map(|(_, n)| n)
                    .sum();
                Row::new(vec![
                    s.callout.id.to_string(),
                    name_of(&s.callout.metadata),
                    s.callout.status.clone(),
                    thousands(s.participations),
                    thousands(in_flight(&s.calls)),
                    thousands(done),
                ])
            })
            .collect();
        table(
            title,
            &["id", "name", "status", "people", "live", "done"],
            &[
                Constraint::Length(5),
                Constraint::Min(12),
                Constraint::Length(11),
                Constraint::Length(9),
                Constraint::Length(7),
                Constraint::Length(7),
            ],
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
            self.render_summary(cur, side, buf, theme);
        }
    }
}
