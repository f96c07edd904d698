//! The App: a composition root holding the four panes, the modal stack and the status line.
//! Keys go to the top modal, else to the focused pane's bindings, else to the global ones.
//! `update` (in `update.rs`) changes state and returns effects; `render` only reads state.

use super::action::{Action, Effect, PaneId};
use super::csv_jobs::CsvState;
use super::keymap::{self, Binding};
use super::panes::Component;
use super::panes::approvals::ApprovalsList;
use super::panes::batch_preview::PreviewsPane;
use super::panes::callouts::CalloutsPane;
use super::panes::contacts::ContactsPane;
use super::panes::live_calls::LiveCallsPane;
use super::theme::Theme;
use super::widgets::command_line::{self, Prompt, PromptOutcome};
use super::widgets::confirm::{Confirm, ConfirmOutcome};
use super::widgets::form::{Form, FormOutcome};
use super::widgets::report::Report;
use super::widgets::status_bar::{self, Info, Message};
use super::widgets::{centered, help};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

/// Smallest usable terminal.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

pub enum Modal {
    Help {
        scroll: u16,
    },
    Confirm(Confirm),
    Command(Prompt),
    Filter(Prompt),
    Form(Box<Form>),
    /// A text listing (the last import's invalid rows).
    Report(Report),
    /// The callouts waiting for a second operator (`App::approvals` holds them).
    Approvals,
}

pub struct App {
    pub info: Info,
    pub theme: Theme,
    pub focus: PaneId,
    pub contacts: ContactsPane,
    pub callouts: CalloutsPane,
    pub previews: PreviewsPane,
    pub calls: LiveCallsPane,
    pub modals: Vec<Modal>,
    pub message: Option<Message>,
    pub quit: bool,
    /// Registered call flow logic names, shown in the callout form.
    pub flows: String,
    /// The import in flight (for the gauge) and the last import's report.
    pub csv: CsvState,
    /// Why dialling is held (by this process or another on the database), if it is.
    pub dialing_held: Option<String>,
    /// Why congestion control has slowed dialling down ("10.0 of 20/s: why"), if it has.
    pub dialing_slowed: Option<String>,
    /// The approvals list (shown as the `Approvals` modal).
    pub approvals: ApprovalsList,
    /// The area map `:cap` uses without `--area-map` (`SCFM_AREA_MAP`).
    pub area_map: Option<String>,
    /// The `:cap` in flight (one at a time), by its file.
    pub cap_in_flight: Option<String>,
    /// Why the database was last found unavailable, until it answers again.
    pub database_down: Option<String>,
}

impl App {
    pub fn new(info: Info, theme: Theme, flows: String, message: Option<String>) -> App {
        App {
            info,
            theme,
            focus: PaneId::Contacts,
            contacts: ContactsPane::default(),
            callouts: CalloutsPane::default(),
            previews: PreviewsPane::default(),
            calls: LiveCallsPane::default(),
            modals: Vec::new(),
            message: message.map(|text| Message { text, error: false }),
            quit: false,
            flows,
            csv: CsvState::default(),
            dialing_held: None,
            dialing_slowed: None,
            approvals: ApprovalsList::default(),
            area_map: None,
            cap_in_flight: None,
            database_down: None,
        }
    }

    /// What the status bar says about dialling.
    fn dialling(&self) -> status_bar::Dialling<'_> {
        status_bar::Dialling {
            held: self.dialing_held.as_deref(),
            slowed: self.dialing_slowed.as_deref(),
        }
    }

    /// The first loads (the focused pane).
    pub fn start(&mut self) -> Vec<Effect> {
        self.pane_mut().reload()
    }

    pub fn pane(&self) -> &dyn Component {
        match self.focus {
            PaneId::Contacts => &self.contacts,
            PaneId::Callouts => &self.callouts,
            PaneId::Previews => &self.previews,
            PaneId::Calls => &self.calls,
        }
    }

    pub fn pane_mut(&mut self) -> &mut dyn Component {
        match self.focus {
            PaneId::Contacts => &mut self.contacts,
            PaneId::Callouts => &mut self.callouts,
            PaneId::Previews => &mut self.previews,
            PaneId::Calls => &mut self.calls,
        }
    }

    /// The live keymap of the current screen: pane bindings, then globals.
    pub fn hint_bindings(&self) -> Vec<Binding> {
        if matches!(self.modals.last(), Some(Modal::Approvals)) {
            return self.approvals.bindings();
        }
        let mut b = self.pane().bindings();
        b.extend(keymap::global());
        b
    }

    pub fn help_sections(&self) -> Vec<(&'static str, Vec<Binding>)> {
        vec![
            (self.focus.title(), self.pane().bindings()),
            ("Lists", keymap::nav()),
            ("Everywhere", keymap::global()),
            ("Approvals list (A)", self.approvals.bindings()),
        ]
    }

    pub fn say(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
        });
    }

    pub fn top_form(&mut self) -> Option<&mut Form> {
        match self.modals.last_mut() {
            Some(Modal::Form(f)) => Some(f),
            _ => None,
        }
    }

    /// Routes a key press: top modal first, then the focused pane, then global keys.
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return vec![];
        }
        let Some(top) = self.modals.last_mut() else {
            let action = self
                .pane()
                .handle_key(&key)
                .or_else(|| keymap::lookup(&keymap::global(), &key));
            return action.map(|a| self.update(a)).unwrap_or_default();
        };
        let next = match top {
            Modal::Approvals => match self.approvals.handle_key(&key) {
                Some(Action::Back) => {
                    self.modals.pop();
                    None
                }
                Some(Action::Nav(n)) => {
                    self.approvals.nav(n);
                    None
                }
                other => other,
            },
            Modal::Help { scroll } | Modal::Report(Report { scroll, .. }) => match key.code {
                KeyCode::Char('j') | KeyCode::Down => {
                    *scroll = scroll.saturating_add(1);
                    None
                }
                KeyCode::Char('k') | KeyCode::Up => {
                    *scroll = scroll.saturating_sub(1);
                    None
                }
                _ => {
                    self.modals.pop();
                    None
                }
            },
            Modal::Confirm(c) => match c.handle_key(key) {
                ConfirmOutcome::Stay => None,
                ConfirmOutcome::No => {
                    self.modals.pop();
                    self.say("cancelled");
                    None
                }
                ConfirmOutcome::Yes(a) => {
                    self.modals.pop();
                    Some(a)
                }
            },
            Modal::Command(p) => match p.handle_key(key) {
                PromptOutcome::Stay => None,
                PromptOutcome::Cancel => {
                    self.modals.pop();
                    None
                }
                PromptOutcome::Submit(text) => {
                    self.modals.pop();
                    match command_line::parse(&text) {
                        Ok(a) => Some(a),
                        Err(e) => {
                            self.error(e);
                            None
                        }
                    }
                }
            },
            Modal::Filter(p) => match p.handle_key(key) {
                PromptOutcome::Stay => None,
                PromptOutcome::Cancel => {
                    self.modals.pop();
                    None
                }
                PromptOutcome::Submit(text) => {
                    self.modals.pop();
                    Some(Action::ApplyFilter(text))
                }
            },
            Modal::Form(f) => {
                if f.saving {
                    None
                } else {
                    match f.handle_key(key) {
                        FormOutcome::Stay => None,
                        FormOutcome::Cancel => {
                            self.modals.pop();
                            None
                        }
                        FormOutcome::Submit(a) => Some(a),
                    }
                }
            }
        };
        next.map(|a| self.update(a)).unwrap_or_default()
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let theme = &self.theme;
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            Paragraph::new(format!(
                "terminal too small: {}x{}, scfm needs {MIN_WIDTH}x{MIN_HEIGHT} (q quits)",
                area.width, area.height
            ))
            .wrap(Wrap { trim: true })
            .render(area, buf);
            return;
        }
        let [tabs, body, msg, status, hints] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(5),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        status_bar::render_tabs(self.focus, &self.info, tabs, buf, theme);
        self.pane().render(body, buf, theme);
        match &self.csv.import {
            Some(job) => status_bar::render_import(&job.path, &job.progress, msg, buf, theme),
            None => status_bar::render_message(
                self.message.as_ref(),
                &self.info,
                self.dialling(),
                msg,
                buf,
                theme,
            ),
        }
        status_bar::render_status(&self.info, self.dialling(), status, buf, theme);
        status_bar::render_hints(&self.hint_bindings(), hints, buf, theme);
        for modal in &self.modals {
            match modal {
                Modal::Help { scroll } => {
                    help::render(&self.help_sections(), *scroll, body, buf, theme)
                }
                Modal::Confirm(c) => c.render(body, buf, theme),
                Modal::Command(p) | Modal::Filter(p) => p.render(hints, buf, theme),
                Modal::Form(f) => f.render(body, buf, theme),
                Modal::Report(r) => r.render(body, buf, theme),
                Modal::Approvals => self.approvals.render(body, buf, theme),
            }
        }
        if self.modals.is_empty() && !self.pane_loaded() {
            let r = centered(body, 20, 1);
            buf.set_line(r.x, r.y, &Line::styled(" loading… ", theme.dim()), r.width);
        }
    }

    fn pane_loaded(&self) -> bool {
        match self.focus {
            PaneId::Contacts => self.contacts.load.loaded,
            PaneId::Callouts => self.callouts.load.loaded,
            PaneId::Previews => self.previews.load.loaded,
            PaneId::Calls => self.calls.load.loaded,
        }
    }
}
