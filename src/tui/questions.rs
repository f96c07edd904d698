//! The questions the App asks before acting (callout events, queueing) and the `/` filter,
//! split from `update.rs`. Each confirmation names the number of people and defaults to No.

use super::action::{Action, CalloutVerb, Effect, PaneId};
use super::app::App;
use super::panes::batch_preview::short_kind;
use super::panes::callouts::name_of;
use super::widgets::filter::{calls_filter, contact_filter};
use super::widgets::thousands;

impl App {
    pub(super) fn apply_filter(&mut self, text: String) -> Vec<Effect> {
        match self.focus {
            PaneId::Contacts => match contact_filter(&text) {
                Ok(f) => self.contacts.set_filter(text, f),
                Err(e) => {
                    self.error(format!("filter: {e}"));
                    vec![]
                }
            },
            PaneId::Callouts => {
                self.callouts.filter_text = text;
                self.callouts.sel.index = 0;
                vec![]
            }
            PaneId::Calls => match calls_filter(&text) {
                Ok((callout, statuses)) => self.calls.set_filter(text, callout, statuses),
                Err(e) => {
                    self.error(format!("filter: {e}"));
                    vec![]
                }
            },
            PaneId::Previews => vec![],
        }
    }

    pub(super) fn confirm_callout(
        &mut self,
        id: i64,
        verb: CalloutVerb,
        people: i64,
    ) -> Vec<Effect> {
        let name = self
            .callouts
            .items
            .iter()
            .find(|s| s.callout.id == id)
            .map(|s| name_of(&s.callout.metadata))
            .unwrap_or_default();
        let label = if name.is_empty() {
            format!("callout {id}")
        } else {
            format!("callout {id} «{name}»")
        };
        let n = thousands(people);
        let sim = if self.info.simulated {
            " (SIMULATION: no real calls)"
        } else {
            ""
        };
        let (title, body) = match verb {
            CalloutVerb::Start => {
                if people == 0 {
                    self.error(format!(
                        "{label} has nobody to call: build and queue a population first (3)"
                    ));
                    return vec![];
                }
                (
                    format!("Start {label}?"),
                    vec![format!("This dials {n} people now{sim}.")],
                )
            }
            CalloutVerb::Pause => (
                format!("Pause {label}?"),
                vec![format!("It affects {n} people.")],
            ),
            CalloutVerb::Resume => (
                format!("Resume {label}?"),
                vec![format!("It affects {n} people{sim}.")],
            ),
            CalloutVerb::Stop => (
                format!("Stop {label}?"),
                vec![format!("It affects {n} people.")],
            ),
        };
        self.confirm(title, body, Action::DoCalloutEvent { id, verb })
    }

    pub(super) fn confirm_batch(&mut self, queue: bool) -> Vec<Effect> {
        let Some(b) = self.previews.selected() else {
            return vec![];
        };
        let (id, kind) = (b.op.id, short_kind(&b.op.kind).to_string());
        let event = if queue { "queue" } else { "requeue" };
        let people = self.previews.selected_preview().map(|p| {
            format!(
                "It adds {} people to callout {}.",
                thousands(p.total),
                p.op.callout_id.unwrap_or_default()
            )
        });
        let body = vec![people.unwrap_or_else(|| format!("{kind} runs again over its filters."))];
        self.confirm(
            format!(
                "{} batch operation #{id} ({kind})?",
                if queue { "Queue" } else { "Requeue" }
            ),
            body,
            Action::DoBatchEvent { id, event },
        )
    }
}
