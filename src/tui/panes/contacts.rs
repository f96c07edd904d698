//! Contacts: a keyset-paged table (one page of rows held; moving past either end loads the
//! neighbouring page by id), the `/` filter, and a detail view of a contact's callouts and calls.
//! Never loads a whole table and never uses OFFSET, so it stays instant at 1,000,000 rows.

use super::super::action::{Action, Anchor, Effect, Nav};
use super::super::keymap::{Binding, Key};
use super::super::theme::Theme;
use super::super::widgets::{kv_text, short_time, thousands};
use super::{Component, LoadState, PAGE, Selection, table};
use crate::domain::Contact;
use crate::service::tui_queries::ContactDetail;
use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Widget};
use serde_json::{Map, Value};

/// Rows per keyset page (the pane asks for this many and knows it reached an end when fewer
/// come back).
pub const CONTACTS_PAGE: i64 = 100;

/// Where the selection goes when a requested page lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    First,
    Last,
    Id(i64),
}

#[derive(Debug, Default)]
pub struct ContactsPane {
    pub rows: Vec<Contact>,
    pub sel: Selection,
    pub filter_text: String,
    pub filter: Map<String, Value>,
    pub total: Option<i64>,
    pub detail: Option<ContactDetail>,
    pub detail_id: Option<i64>,
    pub load: LoadState,
    seq: u64,
    place: Option<Place>,
    /// Whether the window holds the first / last rows (a page came back short).
    at_start: bool,
    at_end: bool,
}

impl ContactsPane {
    pub fn selected(&self) -> Option<&Contact> {
        self.rows.get(self.sel.index)
    }

    fn fetch(&mut self, anchor: Anchor, place: Place, count: bool) -> Vec<Effect> {
        self.seq += 1;
        self.place = Some(place);
        self.load.in_flight = true;
        self.load.stale = false;
        let mut out = vec![Effect::LoadContacts {
            seq: self.seq,
            filter: self.filter.clone(),
            anchor,
            limit: CONTACTS_PAGE,
        }];
        if count {
            out.push(Effect::CountContacts {
                seq: self.seq,
                filter: self.filter.clone(),
            });
        }
        out
    }

    pub fn set_filter(&mut self, text: String, filter: Map<String, Value>) -> Vec<Effect> {
        self.filter_text = text;
        self.filter = filter;
        self.total = None;
        self.sel.index = 0;
        self.sel.offset.set(0);
        self.fetch(Anchor::After(0), Place::First, true)
    }

    pub fn open_detail(&mut self) -> Vec<Effect> {
        match self.selected() {
            Some(c) => {
                let id = c.id;
                self.detail_id = Some(id);
                self.detail = None;
                vec![Effect::LoadContactDetail(id)]
            }
            None => vec![],
        }
    }

    pub fn loaded(&mut self, seq: u64, anchor: Anchor, rows: Vec<Contact>) -> Vec<Effect> {
        if seq != self.seq {
            return vec![];
        }
        self.load.in_flight = false;
        self.load.loaded = true;
        let full = rows.len() as i64 >= CONTACTS_PAGE;
        let paging = matches!(anchor, Anchor::After(id) if id > 0)
            || matches!(anchor, Anchor::Before(id) if id < i64::MAX);
        if rows.is_empty() && paging && !self.rows.is_empty() {
            // Ran off an end: keep the window, remember the end.
            match anchor {
                Anchor::After(_) => self.at_end = true,
                Anchor::Before(_) => self.at_start = true,
            }
        } else {
            match anchor {
                Anchor::After(id) => {
                    self.at_end = !full;
                    self.at_start = id == 0;
                }
                Anchor::Before(id) => {
                    self.at_start = !full;
                    self.at_end = id == i64::MAX;
                }
            }
            let keep = self.place;
            self.rows = rows;
            self.sel.index = match keep {
                Some(Place::Last) => self.rows.len().saturating_sub(1),
                Some(Place::Id(id)) => self
                    .rows
                    .iter()
                    .position(|c| c.id >= id)
                    .unwrap_or(self.rows.len().saturating_sub(1)),
                _ => 0,
            };
            if !matches!(keep, Some(Place::Id(_))) {
                self.sel.offset.set(0);
            }
        }
        self.place = None;
        if self.load.stale {
            self.reload()
        } else {
            vec![]
        }
    }

    pub fn counted(&mut self, seq: u64, total: i64) {
        if seq == self.seq {
            self.total = Some(total);
        }
    }

    fn render_detail(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let Some(d) = &self.detail else {
            Paragraph::new(Line::styled("loading contact…", theme.dim())).render(area, buf);
            return;
        };
        let [head, callouts, calls] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Percentage(40),
            Constraint::Min(3),
        ])
        .areas(area);
        let c = &d.contact;
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled(format!("Contact {} ", c.id), theme.title()),
                Span::raw(format!(
                    "{}   created {}",
                    c.msisdn,
                    short_time(&c.created_at)
                )),
            ]),
            Line::raw(format!("metadata: {}", kv_text(&c.metadata))),
            Line::styled("Esc back · e edit · d delete", theme.dim()),
        ])
        .render(head, buf);
        let rows = d
            .callouts
            .iter()
            .map(|co| {
                Row::new(vec![
                    co.id.to_string(),
                    co.metadata
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    co.status.clone(),
                ])
            })
            .collect();
        table(
            Line::raw(format!(" Callouts ({}) ", d.callouts.len())),
            &["id", "name", "status"],
            &[
                Constraint::Length(6),
                Constraint::Min(10),
                Constraint::Length(12),
            ],
            rows,
            None,
            callouts,
            buf,
            theme,
        );
        let rows = d
            .calls
            .iter()
            .map(|pc| {
                Row::new(vec![
                    pc.id.to_string(),
                    pc.callout_id.map(|i| i.to_string()).unwrap_or_default(),
                    pc.status.clone(),
                    short_time(&pc.updated_at),
                ])
            })
            .collect();
        table(
            Line::raw(format!(" Calls, newest first ({}) ", d.calls.len())),
            &["id", "callout", "status", "updated"],
            &[
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(20),
                Constraint::Min(14),
            ],
            rows,
            None,
            calls,
            buf,
            theme,
        );
    }
}

impl Component for ContactsPane {
    fn bindings(&self) -> Vec<Binding> {
        let none = self.selected().is_none();
        vec![
            Binding::new(&[Key::Char('/')], "/", "filter", Action::OpenFilter),
            Binding::new(&[Key::Char('n')], "n", "new", Action::New),
            Binding::new(&[Key::Char('e')], "e", "edit", Action::Edit)
                .disabled_if(none, "no contact selected"),
            Binding::new(&[Key::Char('d')], "d", "delete", Action::Delete)
                .disabled_if(none, "no contact selected"),
            Binding::new(
                &[Key::Code(KeyCode::Enter)],
                "Enter",
                "details",
                Action::Open,
            )
            .disabled_if(none, "no contact selected"),
        ]
    }

    fn nav(&mut self, nav: Nav) -> Vec<Effect> {
        if self.detail_id.is_some() {
            return vec![];
        }
        let len = self.rows.len();
        let first = self.rows.first().map(|c| c.id);
        let last = self.rows.last().map(|c| c.id);
        match nav {
            Nav::Top => return self.fetch(Anchor::After(0), Place::First, false),
            Nav::Bottom => return self.fetch(Anchor::Before(i64::MAX), Place::Last, false),
            Nav::Down | Nav::PageDown if self.sel.index + 1 >= len && !self.at_end => {
                if let Some(id) = last {
                    return self.fetch(Anchor::After(id), Place::First, false);
                }
            }
            Nav::Up | Nav::PageUp if self.sel.index == 0 && !self.at_start => {
                if let Some(id) = first {
                    return self.fetch(Anchor::Before(id), Place::Last, false);
                }
            }
            _ => {}
        }
        self.sel.apply(nav, len, PAGE);
        vec![]
    }

    fn reload(&mut self) -> Vec<Effect> {
        if self.load.in_flight {
            self.load.stale = true;
            return vec![];
        }
        let mut out = match (self.rows.first(), self.selected()) {
            (Some(first), Some(sel)) => {
                let (from, keep) = (first.id - 1, sel.id);
                self.fetch(Anchor::After(from), Place::Id(keep), true)
            }
            _ => self.fetch(Anchor::After(0), Place::First, true),
        };
        if let Some(id) = self.detail_id {
            out.push(Effect::LoadContactDetail(id));
        }
        out
    }

    fn back(&mut self) -> Option<Vec<Effect>> {
        if self.detail_id.take().is_some() {
            self.detail = None;
            return Some(vec![]);
        }
        if !self.filter_text.is_empty() {
            return Some(self.set_filter(String::new(), Map::new()));
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
        let total = match self.total {
            Some(n) => format!("{} contacts", thousands(n)),
            None => "counting…".into(),
        };
        let span = match (self.rows.first(), self.rows.last()) {
            (Some(a), Some(b)) => format!(" · ids {}–{}", a.id, b.id),
            _ => String::new(),
        };
        let filter = if self.filter_text.is_empty() {
            String::new()
        } else {
            format!(" · filter: {}", self.filter_text)
        };
        let title = Line::from(vec![
            Span::styled(" Contacts ", theme.title()),
            Span::raw(format!("{total}{span}{filter} ")),
        ]);
        let rows: Vec<Row> = self
            .rows
            .iter()
            .map(|c| {
                let mut cells = vec![c.id.to_string(), c.msisdn.clone(), kv_text(&c.metadata)];
                if wide {
                    cells.push(short_time(&c.created_at));
                    cells.push(short_time(&c.updated_at));
                }
                Row::new(cells)
            })
            .collect();
        let (header, widths): (&[&str], Vec<Constraint>) = if wide {
            (
                &["id", "msisdn", "metadata", "created", "updated"],
                vec![
                    Constraint::Length(8),
                    Constraint::Length(16),
                    Constraint::Min(20),
                    Constraint::Length(15),
                    Constraint::Length(15),
                ],
            )
        } else {
            (
                &["id", "msisdn", "metadata"],
                vec![
                    Constraint::Length(7),
                    Constraint::Length(15),
                    Constraint::Min(10),
                ],
            )
        };
        let empty = self.rows.is_empty() && self.load.loaded;
        table(
            title,
            header,
            &widths,
            rows,
            Some(&self.sel),
            area,
            buf,
            theme,
        );
        if empty {
            let inner = Rect {
                x: area.x + 2,
                y: area.y + 2,
                width: area.width.saturating_sub(4),
                height: 1,
            };
            let text = if self.filter_text.is_empty() {
                "No contacts yet. Press n to add one, or POST /api/contacts."
            } else {
                "No contact matches the filter. Esc clears it."
            };
            super::note(text, inner, buf, theme);
        }
    }
}
