//! The approvals list (issue 14's two-person start): an overlay over the panes listing the
//! callouts that wait for a second operator, and for the selected one what the approver must
//! see: who asked, how many people, which areas, and what callers will hear. `a` approves
//! (the App asks first; the service decides and refuses with the rule's reason). It holds and
//! draws state only; the service's `approval_requests` fills it.

use super::super::action::{Action, Effect, Nav};
use super::super::keymap::{self, Binding, Key};
use super::super::theme::Theme;
use super::super::widgets::{kv_text, thousands};
use super::callouts::name_of;
use super::{LoadState, PAGE, Selection, table};
use crate::service::tui_queries::ApprovalRequest;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Widget, Wrap};

#[derive(Debug, Default)]
pub struct ApprovalsList {
    pub items: Vec<ApprovalRequest>,
    pub sel: Selection,
    pub load: LoadState,
}

/// `Kandal 3 · Phnom Penh 2`: each population's area (or filter) and people.
pub fn areas_text(r: &ApprovalRequest) -> String {
    if r.populations.is_empty() {
        return if r.cap_areas.is_empty() {
            "no population yet".into()
        } else {
            r.cap_areas.join(", ")
        };
    }
    r.populations
        .iter()
        .map(|p| {
            let what = match (&p.area, p.filter.get("metadata")) {
                (Some(a), _) => a.clone(),
                (None, Some(m)) => kv_text(m),
                (None, None) if p.filter.is_null() => "everyone".into(),
                (None, None) => kv_text(&p.filter),
            };
            let what = if what.is_empty() {
                "everyone".into()
            } else {
                what
            };
            let ran = if p.status == "preview" {
                String::new()
            } else {
                format!(" ({})", p.status)
            };
            format!("{what} {}{ran}", thousands(p.people))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `6 people`, or `up to 6 people` when several populations may select the same person.
pub fn people_text(r: &ApprovalRequest) -> String {
    let sources = r.populations.len() + usize::from(r.participations > 0);
    if sources > 1 {
        format!("up to {} people (areas may overlap)", thousands(r.people))
    } else {
        format!("{} people", thousands(r.people))
    }
}

impl ApprovalsList {
    pub fn selected(&self) -> Option<&ApprovalRequest> {
        self.items.get(self.sel.index)
    }

    pub fn bindings(&self) -> Vec<Binding> {
        vec![
            Binding::new(&[Key::Char('a')], "a", "approve", Action::Approve)
                .disabled_if(self.items.is_empty(), "nothing waits for approval"),
            Binding::new(&[Key::Char('r')], "r", "reload", Action::OpenApprovals),
            Binding::new(
                &[Key::Code(KeyCode::Esc), Key::Char('q')],
                "Esc",
                "close",
                Action::Back,
            ),
        ]
    }

    pub fn handle_key(&self, key: &KeyEvent) -> Option<Action> {
        keymap::lookup(&self.bindings(), key).or_else(|| keymap::lookup(&keymap::nav(), key))
    }

    pub fn nav(&mut self, nav: Nav) {
        self.sel.apply(nav, self.items.len(), PAGE);
    }

    pub fn reload(&mut self) -> Vec<Effect> {
        if self.load.begin() {
            vec![Effect::LoadApprovals]
        } else {
            vec![]
        }
    }

    pub fn loaded(&mut self, items: Vec<ApprovalRequest>) -> Vec<Effect> {
        let keep = self.selected().map(|r| r.callout.id);
        self.items = items;
        if let Some(i) = keep.and_then(|id| self.items.iter().position(|r| r.callout.id == id)) {
            self.sel.index = i;
        }
        self.sel.clamp(self.items.len());
        if self.load.done() {
            self.reload()
        } else {
            vec![]
        }
    }

    fn detail_lines(r: &ApprovalRequest, theme: &Theme) -> Vec<Line<'static>> {
        let c = &r.callout;
        let by = c.created_by.as_deref().unwrap_or("(no named operator)");
        let mut lines = vec![
            Line::from(vec![
                Span::styled(format!("Callout {} ", c.id), theme.title()),
                Span::raw(format!("{} · requested by {by}", name_of(&c.metadata))),
            ]),
            Line::raw(format!("people: {}", people_text(r))),
            Line::raw(format!("areas: {}", areas_text(r))),
            Line::raw(format!(
                "flow: {}",
                c.call_flow_logic.as_deref().unwrap_or("(default)")
            )),
        ];
        if let Some(url) = &r.audio_url {
            lines.push(Line::raw(format!("audio: {url}")));
        }
        match (&r.message, r.messages.is_empty()) {
            (Some(m), true) => lines.push(Line::raw(format!("message: {m}"))),
            (None, true) => lines.push(Line::styled("message: (none set)", theme.warning())),
            (_, false) => {
                for (lang, text) in &r.messages {
                    lines.push(Line::raw(format!("message [{lang}]: {text}")));
                }
            }
        }
        if c.metadata.get("cap_msg_type").and_then(|v| v.as_str()) == Some("Cancel") {
            lines.push(Line::styled(
                "the CAP alert was CANCELLED: do not approve",
                theme.error(),
            ));
        }
        lines
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        // Over the whole pane area: the approver reads the message, not the list behind it.
        let rect = area;
        Clear.render(rect, buf);
        let hints = self
            .bindings()
            .iter()
            .map(|b| format!("{} {}", b.label, b.desc))
            .collect::<Vec<_>>()
            .join(" · ");
        let rows_h = (self.items.len().max(1) as u16).min(rect.height / 3);
        let [list, detail] =
            Layout::vertical([Constraint::Length(rows_h + 3), Constraint::Min(3)]).areas(rect);
        let rows: Vec<Row> = self
            .items
            .iter()
            .map(|r| {
                Row::new(vec![
                    r.callout.id.to_string(),
                    name_of(&r.callout.metadata),
                    thousands(r.people),
                    r.callout.created_by.clone().unwrap_or_else(|| "—".into()),
                ])
            })
            .collect();
        table(
            Line::styled(
                format!(" Waiting for approval {} ", self.items.len()),
                theme.title(),
            ),
            &["id", "name", "people", "by"],
            &[
                Constraint::Length(4),
                Constraint::Min(10),
                Constraint::Length(8),
                Constraint::Length(12),
            ],
            rows,
            Some(&self.sel),
            list,
            buf,
            theme,
        );
        let text = match self.selected() {
            Some(r) => Self::detail_lines(r, theme),
            None if self.load.loaded => {
                vec![Line::styled("No callout waits for approval.", theme.dim())]
            }
            None => vec![Line::styled("loading…", theme.dim())],
        };
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" What the approver must see ")
                    .title_bottom(format!(" j/k move · {hints} ")),
            )
            .render(detail, buf);
    }
}
