//! `:cap` and the approvals list on the App side (issue 14). `:cap` starts the effect and says
//! what came of it on the message line (the draft with its people per area and ETA, the areas
//! nothing matched; a Cancel; an Update or Cancel of a callout already dialling, which only
//! asks the operator to stop it) and selects the draft. The approvals list opens over the
//! panes; an approval asks first, and the service's refusal comes back with its reason.

use super::action::{Action, CapReport, Effect, PaneId};
use super::app::{App, Modal};
use super::panes::Component;
use super::panes::approvals::{areas_text, people_text};
use super::widgets::thousands;
use crate::service::CapOutcome;

/// `about 12 min` to place every first call of `people` at `per_second`.
fn eta_text(people: i64, per_second: f64) -> String {
    let secs = people as f64 / per_second.max(0.001);
    if secs < 60.0 {
        format!("about {secs:.0} s")
    } else if secs < 3600.0 {
        format!("about {:.0} min", secs / 60.0)
    } else {
        format!("about {:.1} h", secs / 3600.0)
    }
}

impl App {
    pub(super) fn approvals_open(&self) -> bool {
        self.modals.iter().any(|m| matches!(m, Modal::Approvals))
    }

    fn start_cap(&mut self, path: String, area_map: Option<String>) -> Vec<Effect> {
        if let Some(running) = &self.cap_in_flight {
            self.error(format!(
                "a CAP import is already running ({running}); wait for it"
            ));
            return vec![];
        }
        let Some(area_map) = area_map.or_else(|| self.area_map.clone()) else {
            self.error(
                "no area map: use :cap FILE --area-map MAP, or start scfm with SCFM_AREA_MAP \
                 (or --area-map); nothing was imported",
            );
            return vec![];
        };
        self.cap_in_flight = Some(path.clone());
        self.say(format!("reading CAP alert {path} through {area_map}…"));
        vec![Effect::ImportCap { path, area_map }]
    }

    fn cap_imported(
        &mut self,
        path: String,
        result: Result<Box<CapReport>, String>,
    ) -> Vec<Effect> {
        self.cap_in_flight = None;
        let report = match result {
            Ok(r) => *r,
            Err(e) => {
                self.error(format!("cap {path}: {e}; nothing was changed"));
                return vec![];
            }
        };
        let id = match report.outcome {
            CapOutcome::Drafted {
                callout,
                areas,
                unmatched,
                replaced,
            } => {
                let total: i64 = areas.iter().map(|a| a.people).sum();
                let per_area = areas
                    .iter()
                    .map(|a| format!("{} {}", a.name, thousands(a.people)))
                    .collect::<Vec<_>>()
                    .join(" · ");
                let mut text = format!(
                    "callout {} {} from CAP: {per_area} = {} people, {} at {}/s; \
                     nothing is dialled until a second operator approves (A) and it is started",
                    callout.id,
                    if replaced { "updated" } else { "drafted" },
                    thousands(total),
                    eta_text(total, report.calls_per_second),
                    report.calls_per_second
                );
                if !unmatched.is_empty() {
                    text.push_str(&format!(
                        "; NOT MATCHED by the area map (nobody there is called): {}",
                        unmatched.join(", ")
                    ));
                }
                self.say(text);
                callout.id
            }
            CapOutcome::Cancelled { callout } => {
                self.say(format!(
                    "callout {} (a draft) is marked cancelled by the CAP alert; it was never dialled",
                    callout.id
                ));
                callout.id
            }
            CapOutcome::AskToStop { callouts, msg_type } => {
                let which = callouts
                    .iter()
                    .map(|c| format!("callout {} is {}", c.id, c.status))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.error(format!(
                    "CAP {msg_type} for a callout already dialling ({which}): nothing was changed \
                     and nothing was stopped; if it must stop, stop it yourself (x on pane 2)"
                ));
                match callouts.first() {
                    Some(c) => c.id,
                    None => return vec![],
                }
            }
        };
        self.mark_stale_after_cap();
        // Show the list with the draft selected (not another callout's detail).
        self.callouts.detail_id = None;
        self.callouts.detail = None;
        let mut out = self.update(Action::Focus(PaneId::Callouts));
        if !out.contains(&Effect::LoadCallouts) {
            out.extend(self.callouts.reload());
        }
        self.callouts.select_id(id);
        out
    }

    fn mark_stale_after_cap(&mut self) {
        self.callouts.load.stale = true;
        self.previews.load.stale = true;
        self.approvals.load.stale = true;
    }

    fn open_approvals(&mut self) -> Vec<Effect> {
        if !self.approvals_open() {
            self.modals.push(Modal::Approvals);
        }
        self.approvals.load.stale = true;
        self.approvals.reload()
    }

    fn ask_approve(&mut self) -> Vec<Effect> {
        let Some(r) = self.approvals.selected() else {
            return vec![];
        };
        let c = &r.callout;
        let by = c.created_by.as_deref().unwrap_or("no named operator");
        let title = format!("Approve callout {}?", c.id);
        let mut body = vec![
            format!(
                "{} · requested by {by}: {}.",
                super::panes::callouts::name_of(&c.metadata),
                people_text(r)
            ),
            format!("areas: {}", areas_text(r)),
        ];
        if let Some(m) = &r.message {
            body.push(format!("message: {m}"));
        }
        body.push("Approving lets it be started; nobody is called until someone starts it.".into());
        let id = c.id;
        self.confirm(title, body, Action::DoApprove(id))
    }

    fn approve_done(
        &mut self,
        id: i64,
        result: Result<Box<crate::domain::Callout>, String>,
    ) -> Vec<Effect> {
        match result {
            Ok(c) => self.say(format!(
                "callout {id} approved by {}; it may start now (2, select it, s)",
                c.approved_by.as_deref().unwrap_or("?")
            )),
            Err(reason) => self.error(format!("callout {id}: approval {reason}")),
        }
        self.callouts.load.stale = true;
        self.approvals.load.stale = true;
        let mut out = self.approvals.reload();
        out.extend(self.pane_mut().reload());
        out
    }

    /// The `:cap` and approvals actions, routed from `update`.
    pub(super) fn update_cap(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::ImportCap { path, area_map } => self.start_cap(path, area_map),
            Action::CapImported { path, result } => self.cap_imported(path, result),
            Action::OpenApprovals => self.open_approvals(),
            Action::Approve => self.ask_approve(),
            Action::DoApprove(id) => {
                self.say(format!("callout {id}: approving…"));
                vec![Effect::ApproveCallout(id)]
            }
            Action::ApprovalsLoaded(items) => self.approvals.loaded(items),
            Action::ApproveDone { id, result } => self.approve_done(id, result),
            _ => vec![],
        }
    }
}
