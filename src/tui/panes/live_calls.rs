//! Live calls: counts by status, campaign progress (the filtered callout, else the running and
//! paused ones), a sparkline of outcomes per minute, the latest calls and the latest remote
//! events, filtered by callout and status (`/callout=3 status=completed`). Reloads when the
//! service says calls changed (coalesced by the event loop), never on a timer.

use super::super::action::{Action, Effect, Nav};
use super::super::keymap::{Binding, Key};
use super::super::theme::Theme;
use super::super::widgets::{progress, short_time, thousands};
use super::{Component, LoadState, PAGE, Selection, table};
use crate::service::tui_queries::LiveCalls;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Sparkline, Widget};

#[derive(Debug, Default)]
pub struct LiveCallsPane {
    pub data: Option<LiveCalls>,
    pub sel: Selection,
    pub filter_text: String,
    pub callout: Option<i64>,
    pub statuses: Vec<String>,
    pub load: LoadState,
}

impl LiveCallsPane {
    pub fn set_filter(
        &mut self,
        text: String,
        callout: Option<i64>,
        statuses: Vec<String>,
    ) -> Vec<Effect> {
        self.filter_text = text;
        self.callout = callout;
        self.statuses = statuses;
        self.sel.index = 0;
        self.load.in_flight = false;
        self.reload()
    }

    pub fn loaded(&mut self, data: LiveCalls) -> Vec<Effect> {
        self.sel.clamp(data.calls.len());
        self.data = Some(data);
        if self.load.done() {
            self.reload()
        } else {
            vec![]
        }
    }
}

impl Component for LiveCallsPane {
    fn bindings(&self) -> Vec<Binding> {
        vec![Binding::new(
            &[Key::Char('/')],
            "/",
            "filter callout=ID status=…",
            Action::OpenFilter,
        )]
    }

    fn nav(&mut self, nav: Nav) -> Vec<Effect> {
        let n = self.data.as_ref().map_or(0, |d| d.calls.len());
        self.sel.apply(nav, n, PAGE);
        vec![]
    }

    fn reload(&mut self) -> Vec<Effect> {
        if !self.load.begin() {
            return vec![];
        }
        vec![Effect::LoadLive {
            callout_id: self.callout,
            statuses: self.statuses.clone(),
        }]
    }

    fn back(&mut self) -> Option<Vec<Effect>> {
        if self.filter_text.is_empty() {
            return None;
        }
        Some(self.set_filter(String::new(), None, vec![]))
    }

    fn load_state(&mut self) -> &mut LoadState {
        &mut self.load
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let Some(d) = &self.data else {
            Paragraph::new(Line::styled("loading calls…", theme.dim())).render(area, buf);
            return;
        };
        let wide = area.width >= 120;
        let shown = d.campaigns.len().min(if area.height >= 30 { 5 } else { 2 });
        let [counts, spark, body] = Layout::vertical([
            Constraint::Length(3 + shown as u16),
            Constraint::Length(if area.height >= 30 { 6 } else { 4 }),
            Constraint::Min(4),
        ])
        .areas(area);
        let mut spans = Vec::new();
        if d.counts.is_empty() {
            spans.push(Span::styled("no calls yet", theme.dim()));
        }
        for (i, (status, n)) in d.counts.iter().enumerate() {
            if i > 0 {
                spans.push(Span::raw(" · "));
            }
            spans.push(Span::styled(status.clone(), theme.status(status)));
            spans.push(Span::raw(format!(" {}", thousands(*n))));
        }
        let scope = match self.callout {
            Some(id) => format!(" Calls by status, callout {id} "),
            None => " Calls by status, all callouts ".into(),
        };
        let mut lines = vec![Line::from(spans)];
        for (name, p) in d.campaigns.iter().take(shown) {
            lines.push(Line::raw(progress::one_line(name, p, wide)));
        }
        Paragraph::new(lines)
            .block(Block::default().borders(Borders::ALL).title(scope))
            .render(counts, buf);
        let last: u64 = d.outcomes_per_minute.last().copied().unwrap_or(0);
        let sum: u64 = d.outcomes_per_minute.iter().sum();
        Sparkline::default()
            .block(Block::default().borders(Borders::ALL).title(format!(
                " Outcomes per minute, last 30 min: {sum} total, {last} this minute "
            )))
            .data(&d.outcomes_per_minute)
            .render(spark, buf);
        let (calls_area, events_area) = if wide {
            let [l, r] =
                Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                    .areas(body);
            (l, Some(r))
        } else if body.height >= 16 {
            let [l, r] = Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)])
                .areas(body);
            (l, Some(r))
        } else {
            (body, None)
        };
        let filter = if self.filter_text.is_empty() {
            String::new()
        } else {
            format!(" · filter: {}", self.filter_text)
        };
        let rows: Vec<Row> = d
            .calls
            .iter()
            .map(|c| {
                Row::new(vec![
                    c.id.to_string(),
                    c.callout_id.map(|i| i.to_string()).unwrap_or_default(),
                    c.msisdn.clone(),
                    c.status.clone(),
                    c.route.clone().unwrap_or_default(),
                    short_time(&c.updated_at),
                ])
            })
            .collect();
        table(
            Line::from(vec![
                Span::styled(" Latest calls ", theme.title()),
                Span::raw(format!(
                    "{} of {}{filter} ",
                    d.calls.len(),
                    thousands(d.total)
                )),
            ]),
            &["id", "callout", "msisdn", "status", "route", "updated"],
            &[
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(14),
                Constraint::Length(19),
                Constraint::Length(8),
                Constraint::Min(8),
            ],
            rows,
            Some(&self.sel),
            calls_area,
            buf,
            theme,
        );
        if let Some(ev) = events_area {
            let rows = d
                .events
                .iter()
                .map(|e| {
                    let status = e
                        .details
                        .get("CallStatus")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    Row::new(vec![
                        e.id.to_string(),
                        e.phone_call_id.to_string(),
                        status,
                        short_time(&e.created_at),
                    ])
                })
                .collect();
            table(
                Line::raw(" Latest remote events "),
                &["id", "call", "status", "at"],
                &[
                    Constraint::Length(6),
                    Constraint::Length(7),
                    Constraint::Length(12),
                    Constraint::Min(8),
                ],
                rows,
                None,
                ev,
                buf,
                theme,
            );
        }
    }
}
