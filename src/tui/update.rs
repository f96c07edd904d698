//! `App::update`: every state change in one place. Never awaits; work against the service is
//! returned as effects. Destructive or dialling actions go through a confirmation that names
//! the number of people affected and defaults to No.

use super::action::{Action, CalloutVerb, Effect, PaneId};
use super::app::{App, Modal};
use super::panes::Component;
use super::panes::batch_preview::short_kind;
use super::widgets::callout_form;
use super::widgets::command_line::Prompt;
use super::widgets::confirm::Confirm;
use super::widgets::filter::{contact_filter, metadata_lines, metadata_to_lines};
use super::widgets::form::Form;
use super::widgets::thousands;
use crate::service::ServiceEvent;

impl App {
    fn focus_on(&mut self, pane: PaneId) -> Vec<Effect> {
        self.focus = pane;
        if self.pane_mut().load_state().needs_load() {
            self.pane_mut().reload()
        } else {
            vec![]
        }
    }

    pub(super) fn confirm(
        &mut self,
        title: String,
        body: Vec<String>,
        on_yes: Action,
    ) -> Vec<Effect> {
        self.modals
            .push(Modal::Confirm(Confirm::new(title, body, on_yes)));
        vec![]
    }

    fn mark_stale(&mut self, panes: &[PaneId]) {
        for p in panes {
            match p {
                PaneId::Contacts => self.contacts.load.stale = true,
                PaneId::Callouts => self.callouts.load.stale = true,
                PaneId::Previews => self.previews.load.stale = true,
                PaneId::Calls => self.calls.load.stale = true,
            }
        }
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        use Action as A;
        match action {
            A::Quit => {
                if self.info.workers_running() {
                    vec![Effect::CountInFlight]
                } else {
                    self.quit = true;
                    vec![]
                }
            }
            A::InFlightCounted(0) | A::ForceQuit => {
                self.quit = true;
                vec![]
            }
            A::InFlightCounted(n) => {
                self.confirm(
                    "Quit scfm?".into(),
                    vec![
                    format!("{} calls are in flight (queued, dialling or ringing).", thousands(n)),
                    "Quitting stops this process's server and workers: queued calls wait until \
                     scfm runs again; calls already placed go on at the provider."
                        .into(),
                ],
                    A::ForceQuit,
                )
            }
            A::NextPane => self.focus_on(self.focus.next()),
            A::PrevPane => self.focus_on(self.focus.prev()),
            A::Focus(p) => self.focus_on(p),
            A::ShowHelp => {
                self.modals.push(Modal::Help { scroll: 0 });
                vec![]
            }
            A::OpenCommandLine => {
                self.modals.push(Modal::Command(Prompt::new(":", "")));
                vec![]
            }
            A::OpenFilter => {
                let current = match self.focus {
                    PaneId::Contacts => self.contacts.filter_text.clone(),
                    PaneId::Callouts => self.callouts.filter_text.clone(),
                    PaneId::Calls => self.calls.filter_text.clone(),
                    PaneId::Previews => return vec![],
                };
                self.modals.push(Modal::Filter(Prompt::new("/", &current)));
                vec![]
            }
            A::Back => self.pane_mut().back().unwrap_or_default(),
            A::RunCommand(cmd) => match super::widgets::command_line::parse(&cmd) {
                Ok(a) => self.update(a),
                Err(e) => {
                    self.error(e);
                    vec![]
                }
            },
            A::OpenCallout(id) => {
                let mut out = self.focus_on(PaneId::Callouts);
                out.extend(self.callouts.open(id));
                out
            }
            A::Nav(n) => self.pane_mut().nav(n),
            A::Import { .. }
            | A::Export { .. }
            | A::ShowImportErrors
            | A::ImportProgress(_)
            | A::ImportFinished { .. }
            | A::ExportFinished { .. } => self.update_csv(action),
            A::ImportCap { .. }
            | A::CapImported { .. }
            | A::OpenApprovals
            | A::Approve
            | A::DoApprove(_)
            | A::ApprovalsLoaded(_)
            | A::ApproveDone { .. } => self.update_cap(action),
            A::ShowSitrep | A::SitrepLoaded { .. } | A::ExportUnreached(_) => {
                self.update_sitrep(action)
            }
            A::Disabled(reason) => {
                self.say(reason);
                vec![]
            }
            A::ApplyFilter(text) => self.apply_filter(text),
            A::New => {
                let form = match self.focus {
                    PaneId::Contacts => Form::contact(None, "", vec![]),
                    PaneId::Callouts => Form::callout(None, &Default::default(), &self.flows),
                    PaneId::Previews => {
                        Form::preview(self.callouts.current().map(|s| s.callout.id))
                    }
                    PaneId::Calls => return vec![],
                };
                self.modals.push(Modal::Form(Box::new(form)));
                vec![]
            }
            A::Edit => {
                let form = match self.focus {
                    PaneId::Contacts => {
                        let c = match &self.contacts.detail {
                            Some(d) if self.contacts.detail_id.is_some() => Some(&d.contact),
                            _ => self.contacts.selected(),
                        };
                        c.map(|c| {
                            Form::contact(Some(c.id), &c.msisdn, metadata_to_lines(&c.metadata))
                        })
                    }
                    PaneId::Callouts => self.callouts.current().map(|s| {
                        let fields = callout_form::fields_of(s);
                        Form::callout(Some(s.callout.id), &fields, &self.flows)
                    }),
                    _ => None,
                };
                if let Some(f) = form {
                    self.modals.push(Modal::Form(Box::new(f)));
                }
                vec![]
            }
            A::Delete => {
                let c = match &self.contacts.detail {
                    Some(d) if self.contacts.detail_id.is_some() => Some(&d.contact),
                    _ => self.contacts.selected(),
                };
                let Some(c) = c.cloned() else { return vec![] };
                self.confirm(
                    format!("Delete contact {}?", c.id),
                    vec![
                        format!(
                            "Delete {} (contact {})? This affects 1 person.",
                            c.msisdn, c.id
                        ),
                        "A contact in a callout or with calls cannot be deleted.".into(),
                    ],
                    A::DoDeleteContact(c.id),
                )
            }
            A::Open => match self.focus {
                PaneId::Contacts => self.contacts.open_detail(),
                PaneId::Callouts => match self.callouts.current().map(|s| s.callout.id) {
                    Some(id) => self.callouts.open(id),
                    None => vec![],
                },
                PaneId::Previews => match self.previews.selected() {
                    Some(b) => vec![Effect::LoadPreview(b.op.id)],
                    None => vec![],
                },
                PaneId::Calls => vec![],
            },
            A::Callout(verb) => match self.callouts.current() {
                Some(s) => vec![Effect::CountCalloutPeople {
                    id: s.callout.id,
                    verb,
                }],
                None => vec![],
            },
            A::CalloutEventCounted { id, verb, people } => self.confirm_callout(id, verb, people),
            A::DoCalloutEvent { id, verb } => {
                self.say(format!("callout {id}: {}…", verb.event()));
                vec![Effect::FireCalloutEvent { id, verb }]
            }
            A::CalloutEventDone { id, verb, status } => {
                let extra = if verb == CalloutVerb::Start {
                    " — calls are being created and queued; 4 shows them"
                } else {
                    ""
                };
                self.say(format!(
                    "callout {id}: {} done, now {status}{extra}",
                    verb.event()
                ));
                self.mark_stale(&[PaneId::Callouts, PaneId::Previews, PaneId::Calls]);
                self.pane_mut().reload()
            }
            A::Queue | A::Requeue => self.confirm_batch(matches!(action, A::Queue)),
            A::DoBatchEvent { id, event } => vec![Effect::FireBatchEvent { id, event }],
            A::BatchEventDone(op) => {
                self.say(format!(
                    "batch operation #{} {} is {}",
                    op.id,
                    short_kind(&op.kind),
                    op.status
                ));
                self.mark_stale(&[PaneId::Previews]);
                self.pane_mut().reload()
            }
            A::DoDeleteContact(id) => vec![Effect::DeleteContact(id)],
            A::SubmitContact {
                id,
                msisdn,
                metadata,
            } => {
                let lines: Vec<String> = metadata.lines().map(str::to_string).collect();
                match metadata_lines(&lines) {
                    Ok(metadata) => self.saving(Effect::SaveContact {
                        id,
                        msisdn,
                        metadata,
                    }),
                    Err(e) => self.form_error(e),
                }
            }
            A::SubmitCallout { id, fields } => self.saving(callout_form::save_effect(id, fields)),
            A::SubmitPreview { callout_id, filter } => {
                let Ok(callout_id) = callout_id.trim().parse::<i64>() else {
                    return self.form_error("callout id: expected a number (see pane 2)".into());
                };
                match contact_filter(&filter) {
                    Ok(filter) => self.saving(Effect::BuildPreview { callout_id, filter }),
                    Err(e) => self.form_error(e),
                }
            }
            A::ContactsLoaded { seq, anchor, rows } => self.contacts.loaded(seq, anchor, rows),
            A::ContactsCounted { seq, total } => {
                self.contacts.counted(seq, total);
                vec![]
            }
            A::ContactDetailLoaded(d) => {
                if self.contacts.detail_id == Some(d.contact.id) {
                    self.contacts.detail = Some(*d);
                }
                vec![]
            }
            A::ContactSaved(c) => {
                self.close_form();
                self.say(format!("contact {} saved ({})", c.id, c.msisdn));
                self.mark_stale(&[PaneId::Contacts]);
                self.contacts.reload()
            }
            A::ContactDeleted(id) => {
                self.say(format!("contact {id} deleted"));
                if self.contacts.detail_id == Some(id) {
                    self.contacts.detail_id = None;
                    self.contacts.detail = None;
                }
                self.contacts.reload()
            }
            A::CalloutsLoaded(items) => self.callouts.loaded(items),
            A::CalloutDetailLoaded(d) => {
                if self.callouts.detail_id == Some(d.summary.callout.id) {
                    self.callouts.detail = Some(*d);
                }
                vec![]
            }
            A::CalloutSaved(c) => {
                self.close_form();
                self.say(format!("callout {} saved", c.id));
                let mut out = self.callouts.reload();
                self.callouts.select_id(c.id);
                out.extend(self.callouts.detail_id.map(Effect::LoadCalloutDetail));
                out
            }
            A::BatchesLoaded(b) => self.previews.loaded(b),
            A::PreviewLoaded(p) => {
                self.close_form();
                self.say(format!(
                    "population #{} for callout {}: {} people ({}){}",
                    p.op.id,
                    p.op.callout_id.unwrap_or_default(),
                    thousands(p.total),
                    p.op.status,
                    if p.op.status == "preview" {
                        " — Q queues it"
                    } else {
                        ""
                    }
                ));
                self.previews.preview_loaded(*p);
                self.previews.load.stale = true;
                if self.focus == PaneId::Previews {
                    self.previews.reload()
                } else {
                    vec![]
                }
            }
            A::LiveLoaded(l) => self.calls.loaded(*l),
            A::Failed { what, reason } => {
                if let Some(f) = self.top_form() {
                    f.saving = false;
                    f.error = Some(reason.clone());
                }
                for p in PaneId::ALL {
                    self.focus_pane_state(p).in_flight = false;
                }
                self.approvals.load.in_flight = false;
                self.error(format!("{what}: {reason}"));
                if what == "counting calls in flight" {
                    return self.update(A::InFlightCounted(-1));
                }
                vec![]
            }
            A::DatabaseState(Some(why)) => {
                self.error(format!("{why}; reconnecting"));
                self.database_down = Some(why);
                vec![]
            }
            // The outage is named again: a short one may come and go between two frames, and
            // the operator must still learn that changes may have been missed.
            A::DatabaseState(None) => {
                match self.database_down.take() {
                    Some(why) => self.say(format!("database reachable again ({why}); reloading")),
                    None => self.say("database reachable again; reloading"),
                }
                vec![]
            }
            A::ServiceChanged(ServiceEvent::DialingHeld(why)) => {
                // The same hold may be reported twice (at start, and by the service).
                if why == self.dialing_held {
                    return vec![];
                }
                self.dialing_held = why.clone();
                match why {
                    Some(why) if why.ends_with(crate::service::ON_FALLBACK) => {
                        self.error(format!("failover: {why}"))
                    }
                    Some(why) => self.error(format!("dialling held: {why}")),
                    None => self.say("dialling resumed: the provider answers again"),
                }
                vec![]
            }
            A::ServiceChanged(ServiceEvent::DialingSlowed(why)) => {
                if why == self.dialing_slowed {
                    return vec![];
                }
                self.dialing_slowed = why.clone();
                match why {
                    Some(why) => self.say(format!("dialling slowed: {why}")),
                    None => self.say("dialling back at the full pace: congestion cleared"),
                }
                vec![]
            }
            A::ServiceChanged(ev) => {
                let panes: &[PaneId] = match ev {
                    ServiceEvent::ContactsChanged => &[PaneId::Contacts],
                    ServiceEvent::CalloutChanged(_) => &[PaneId::Callouts],
                    ServiceEvent::ParticipationsChanged { .. } => {
                        &[PaneId::Callouts, PaneId::Previews, PaneId::Calls]
                    }
                    ServiceEvent::BatchOperationChanged(_) => &[PaneId::Previews],
                    ServiceEvent::PhoneCallChanged(_) | ServiceEvent::PhoneCallsChanged => {
                        &[PaneId::Calls, PaneId::Callouts]
                    }
                    ServiceEvent::DialingHeld(_) | ServiceEvent::DialingSlowed(_) => &[],
                };
                self.mark_stale(panes);
                if matches!(
                    ev,
                    ServiceEvent::CalloutChanged(_)
                        | ServiceEvent::BatchOperationChanged(_)
                        | ServiceEvent::ParticipationsChanged { .. }
                        | ServiceEvent::ContactsChanged
                ) {
                    self.approvals.load.stale = true;
                }
                if matches!(
                    ev,
                    ServiceEvent::PhoneCallChanged(_) | ServiceEvent::PhoneCallsChanged
                ) && self.contacts.detail_id.is_some()
                {
                    self.contacts.load.stale = true;
                }
                vec![]
            }
            A::AllStale => {
                self.mark_stale(&PaneId::ALL);
                self.approvals.load.stale = true;
                vec![]
            }
            A::Refresh => {
                let mut out = if self.pane_mut().load_state().needs_load() {
                    self.pane_mut().reload()
                } else {
                    vec![]
                };
                if self.approvals_open() && self.approvals.load.needs_load() {
                    out.extend(self.approvals.reload());
                }
                out
            }
            A::Resize => vec![],
        }
    }

    fn focus_pane_state(&mut self, p: PaneId) -> &mut super::panes::LoadState {
        match p {
            PaneId::Contacts => &mut self.contacts.load,
            PaneId::Callouts => &mut self.callouts.load,
            PaneId::Previews => &mut self.previews.load,
            PaneId::Calls => &mut self.calls.load,
        }
    }

    fn saving(&mut self, effect: Effect) -> Vec<Effect> {
        if let Some(f) = self.top_form() {
            f.saving = true;
            f.error = None;
        }
        vec![effect]
    }

    fn form_error(&mut self, e: String) -> Vec<Effect> {
        if let Some(f) = self.top_form() {
            f.error = Some(e.clone());
        }
        self.error(e);
        vec![]
    }

    fn close_form(&mut self) {
        if self.top_form().is_some() {
            self.modals.pop();
        }
    }
}
