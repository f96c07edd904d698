//! Batch previews: build a CalloutPopulation from a contact filter, see how many people and
//! exactly who (first page) before queueing, queue or requeue (confirmed by the App), and a gauge
//! for populations in flight.

use super::super::action::{Action, Effect, Nav};
use super::super::keymap::{Binding, Key};
use super::super::theme::Theme;
use super::super::widgets::{kv_text, thousands};
use super::{Component, LoadState, PAGE, Selection, table};
use crate::service::tui_queries::{BatchSummary, PopulationPreview};
use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, Paragraph, Row, Widget};

#[derive(Debug, Default)]
pub struct PreviewsPane {
    pub batches: Vec<BatchSummary>,
    pub sel: Selection,
    pub preview: Option<PopulationPreview>,
    pub load: LoadState,
}

pub fn short_kind(kind: &str) -> &str {
    kind.strip_prefix("BatchOperation::").unwrap_or(kind)
}

impl PreviewsPane {
    pub fn selected(&self) -> Option<&BatchSummary> {
        self.batches.get(self.sel.index)
    }

    /// The preview shown, if it belongs to the selected batch operation.
    pub fn selected_preview(&self) -> Option<&PopulationPreview> {
        let sel = self.selected()?;
        self.preview.as_ref().filter(|p| p.op.id == sel.op.id)
    }

    pub fn loaded(&mut self, batches: Vec<BatchSummary>) -> Vec<Effect> {
        self.batches = batches;
        self.sel.clamp(self.batches.len());
        let mut out = if self.load.done() {
            self.reload()
        } else {
            vec![]
        };
        // Keep the preview's status current.
        if let Some(p) = &mut self.preview {
            if let Some(b) = self.batches.iter().find(|b| b.op.id == p.op.id) {
                if b.op.status != p.op.status {
                    p.op = b.op.clone();
                    out.push(Effect::LoadPreview(p.op.id));
                }
            }
        }
        out
    }

    pub fn preview_loaded(&mut self, p: PopulationPreview) {
        let id = p.op.id;
        self.preview = Some(p);
        if let Some(i) = self.batches.iter().position(|b| b.op.id == id) {
            self.sel.index = i;
        }
    }
}

impl Component for PreviewsPane {
    fn bindings(&self) -> Vec<Binding> {
        let status = self.selected().map(|b| b.op.status.as_str()).unwrap_or("");
        let population = self
            .selected()
            .is_some_and(|b| b.op.kind == "BatchOperation::CalloutPopulation");
        let queue_reason = if status != "preview" {
            Some("only a batch operation in preview can be queued")
        } else if population && self.selected_preview().is_none() {
            Some("open the preview first (Enter) to see who will be called")
        } else {
            None
        };
        let mut q = Binding::new(&[Key::Char('Q')], "Q", "queue", Action::Queue);
        q.disabled = queue_reason;
        vec![
            Binding::new(&[Key::Char('n')], "n", "new preview", Action::New),
            Binding::new(
                &[Key::Code(KeyCode::Enter)],
                "Enter",
                "show preview",
                Action::Open,
            )
            .disabled_if(!population, "only populations have a contact preview here"),
            q,
            Binding::new(&[Key::Char('R')], "R", "requeue", Action::Requeue).disabled_if(
                status != "finished",
                "only a finished batch operation can requeue",
            ),
        ]
    }

    fn nav(&mut self, nav: Nav) -> Vec<Effect> {
        self.sel.apply(nav, self.batches.len(), PAGE);
        vec![]
    }

    fn reload(&mut self) -> Vec<Effect> {
        if !self.load.begin() {
            return vec![];
        }
        vec![Effect::LoadBatches]
    }

    fn back(&mut self) -> Option<Vec<Effect>> {
        self.preview.take().map(|_| vec![])
    }

    fn load_state(&mut self) -> &mut LoadState {
        &mut self.load
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let running: Vec<&BatchSummary> = self
            .batches
            .iter()
            .filter(|b| b.progress.is_some())
            .collect();
        let gauge_h = if running.is_empty() { 0 } else { 3 };
        let tall = area.height >= 30;
        let list_h = if tall { 12 } else { 7 };
        let [list, gauge, preview] = Layout::vertical([
            Constraint::Length(list_h),
            Constraint::Length(gauge_h),
            Constraint::Min(4),
        ])
        .areas(area);
        let rows: Vec<Row> = self
            .batches
            .iter()
            .map(|b| {
                let progress = match b.progress {
                    Some((done, of)) => format!("{}/{}", thousands(done), thousands(of)),
                    None => String::new(),
                };
                Row::new(vec![
                    b.op.id.to_string(),
                    short_kind(&b.op.kind).to_string(),
                    b.op.callout_id.map(|i| i.to_string()).unwrap_or_default(),
                    b.op.status.clone(),
                    progress,
                ])
            })
            .collect();
        table(
            Line::from(vec![
                Span::styled(" Batch operations ", theme.title()),
                Span::raw(format!("(latest {}) ", self.batches.len())),
            ]),
            &["id", "type", "callout", "status", "progress"],
            &[
                Constraint::Length(5),
                Constraint::Min(18),
                Constraint::Length(8),
                Constraint::Length(9),
                Constraint::Length(15),
            ],
            rows,
            Some(&self.sel),
            list,
            buf,
            theme,
        );
        if let Some(b) = running.first() {
            if let Some((done, of)) = b.progress {
                let ratio = if of > 0 {
                    (done as f64 / of as f64).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                Gauge::default()
                    .block(Block::default().borders(Borders::ALL).title(format!(
                        " #{} {} {} ",
                        b.op.id,
                        short_kind(&b.op.kind),
                        b.op.status
                    )))
                    .gauge_style(theme.selected())
                    .label(format!(
                        "{} of {} ({:.0}%)",
                        thousands(done),
                        thousands(of),
                        ratio * 100.0
                    ))
                    .ratio(ratio)
                    .render(gauge, buf);
            }
        }
        match &self.preview {
            None => {
                Paragraph::new(vec![
                    Line::raw(""),
                    Line::raw(" n: build a population for a callout from a contact filter;"),
                    Line::raw(" the count and the first page of who will be called show here"),
                    Line::raw(" before anything is queued. Enter shows a population's preview."),
                ])
                .block(Block::default().borders(Borders::ALL).title(" Preview "))
                .render(preview, buf);
            }
            Some(p) => {
                let filter =
                    p.op.parameters
                        .get("contact_filter_params")
                        .map(|f| serde_json::to_string(f).unwrap_or_default())
                        .unwrap_or_else(|| "{}".into());
                let title = Line::from(vec![
                    Span::styled(format!(" Population #{} ", p.op.id), theme.title()),
                    Span::raw(format!(
                        "callout {} · {} people · {} · filter {} ",
                        p.op.callout_id.unwrap_or_default(),
                        thousands(p.total),
                        p.op.status,
                        filter
                    )),
                ]);
                let rows = p
                    .first
                    .iter()
                    .map(|c| {
                        Row::new(vec![
                            c.id.to_string(),
                            c.msisdn.clone(),
                            kv_text(&c.metadata),
                        ])
                    })
                    .collect();
                table(
                    title,
                    &["id", "msisdn", "metadata"],
                    &[
                        Constraint::Length(7),
                        Constraint::Length(15),
                        Constraint::Min(10),
                    ],
                    rows,
                    None,
                    preview,
                    buf,
                    theme,
                );
            }
        }
    }
}
