//! Provider webhooks (`POST /api/remote_phone_call_events`) and the events they leave. A
//! webhook is stored once as an event, moves its call through the state machine (never
//! backwards), creates an inbound call and contact for an unknown caller, and answers TwiML from
//! the call flow logic (one turn of a flow: `flow_turns.rs`). Status callbacks never advance a
//! flow.

use super::contacts::check_filter_size;
use super::follow_up::completed_status;
use super::{Error, Result, Service, ServiceEvent, as_map, json_text};
use crate::call_flow::{self, avf, twiml};
use crate::domain::actor::Actor;
use crate::domain::filter::Filter;
use crate::domain::metadata::{self, MergeMode};
use crate::domain::route::Route;
use crate::domain::{Msisdn, status};
use crate::domain::{Page, Paged, PhoneCall, RemotePhoneCallEvent};
use crate::store::group_commit::{Done, Job};
use crate::store::locks::{Table, lock_row};
use crate::store::{self, StoreError, events::Scope};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventParent {
    All,
    PhoneCall(i64),
    Participation(i64),
    Callout(i64),
    Contact(i64),
}

/// What the webhook answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// 201 with this TwiML.
    Twiml(String),
    /// 422 with these full messages (SCFM §12.6).
    Invalid(Vec<String>),
}

/// Provider request: every parameter (body then query) in received order, and the URL it was
/// sent to (used for `<Redirect>` back to the same place).
#[derive(Debug, Clone, Default)]
pub struct WebhookRequest {
    pub params: Vec<(String, String)>,
    pub url: String,
}

fn is_status_callback(details: &Map<String, Value>) -> bool {
    let get = |k: &str| details.get(k).and_then(Value::as_str).unwrap_or("");
    !get("CallbackSource").is_empty()
        || !get("CallDuration").is_empty()
        || matches!(
            get("CallStatus"),
            "completed" | "busy" | "no-answer" | "failed" | "canceled"
        )
}

/// What one webhook did inside its transaction: the answer, whether its writes stay (a refused
/// request rolls back what its lookups wrote), and what to announce once they are committed.
#[derive(Debug)]
pub(crate) struct Applied {
    outcome: WebhookOutcome,
    keep: bool,
    changed: Vec<ServiceEvent>,
}

/// A webhook queued for the group-commit writer (`store::group_commit`): it runs
/// `Service::apply_webhook` inside the batch transaction, in its own savepoint.
pub(crate) struct WebhookJob {
    service: Service,
    req: WebhookRequest,
}

impl Job for WebhookJob {
    type Output = Applied;
    type Error = Error;

    async fn run(self, conn: &mut store::Engine<'_>) -> Result<Done<Applied>> {
        let applied = self.service.apply_webhook(conn, &self.req).await?;
        Ok(if applied.keep {
            Done::Keep(applied)
        } else {
            Done::Discard(applied)
        })
    }
}

impl Service {
    /// Handles a provider webhook through the group-commit writer: it is applied in a
    /// transaction shared with the other webhooks waiting at that moment, and this returns only
    /// once that transaction committed. A storage failure of the batch answers
    /// `Error::Unavailable` and leaves nothing of this webhook behind.
    pub async fn handle_webhook(&self, req: WebhookRequest) -> Result<WebhookOutcome> {
        let job = WebhookJob {
            service: self.clone(),
            req,
        };
        let applied = self.webhook_writer().submit(job).await?;
        Ok(self.announce(applied))
    }

    /// Publishes what a committed webhook changed and returns its answer.
    fn announce(&self, applied: Applied) -> WebhookOutcome {
        if applied.keep {
            for e in applied.changed {
                self.publish(e);
            }
        }
        applied.outcome
    }

    /// One webhook against a connection inside a write transaction: find (or create) the call,
    /// store the event once, move the call on, and run its flow. The caller commits.
    async fn apply_webhook(
        &self,
        tx: &mut impl store::Handle,
        req: &WebhookRequest,
    ) -> Result<Applied> {
        let mut details = Map::new();
        for (k, v) in &req.params {
            if k != "format" {
                details.insert(k.clone(), Value::String(v.clone()));
            }
        }
        let get = |k: &str| {
            details
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|s| !s.is_empty())
        };
        let call_sid = get("CallSid");
        let direction = get("Direction");
        let attempt = get(super::dialing::ATTEMPT_PARAM);
        let now = self.now();
        let mut changed = Vec::new();

        // 1. The call: by CallSid (never by a null id), else the dial this webhook overtook
        //    (its create's answer not stored yet, or lost), else a new inbound call.
        let mut call: Option<PhoneCall> = match &call_sid {
            Some(sid) => store::phone_calls::by_remote_call_id(tx, sid).await?,
            None => None,
        };
        if call.is_none() {
            if let Some(sid) = &call_sid {
                let to = get("To");
                call = self
                    .overtaken_dial(
                        tx,
                        sid,
                        attempt.as_deref(),
                        direction.as_deref(),
                        to.as_deref(),
                    )
                    .await?;
                if call.is_none() && direction.as_deref() != Some("inbound") {
                    // The dialler may have committed between the two reads above (PostgreSQL,
                    // read committed: each statement sees the latest commits). An inbound
                    // call has no dialler to wait for.
                    call = store::phone_calls::by_remote_call_id(tx, sid).await?;
                }
            }
        }
        // The call's contact, then the call (`store::locks`), before the reads below decide.
        if let Some(c) = call.take() {
            call = lock_call(tx, &c).await?;
        }
        let mut errors = Vec::new();
        if call.is_none() {
            if direction.as_deref() == Some("inbound") && call_sid.is_some() {
                call = Some(
                    self.new_inbound_call(tx, &details, &now, &mut changed)
                        .await?,
                );
            } else {
                errors.push("Phone call is invalid".to_string());
            }
        }
        if call_sid.is_none() {
            errors.push("Remote call can't be blank".into());
        }
        if direction.is_none() {
            errors.push("Remote direction can't be blank".into());
        }
        let (Some(call), true) = (call, errors.is_empty()) else {
            return Ok(Applied {
                outcome: WebhookOutcome::Invalid(errors),
                keep: false,
                changed,
            });
        };

        // 2. Logic for this event.
        let effective = if call.callout_participation_id.is_some() {
            call.call_flow_logic.clone()
        } else {
            None
        };
        let logic = self.registry().resolve(effective.as_deref());

        // 3. Store the event once (a duplicate delivery changes nothing).
        let details_text = json_text(&details);
        let duplicate = store::events::duplicate(tx, call.id, &details_text).await?;
        if !duplicate {
            let e = store::events::NewEvent {
                phone_call_id: call.id,
                details: &details_text,
                remote_call_id: call_sid.as_deref().unwrap_or_default(),
                remote_direction: direction.as_deref().unwrap_or_default(),
                call_flow_logic: &logic,
            };
            store::events::insert(tx, &e, &now).await?;
            // The journal keeps what the provider said about the call (no signature, no
            // account id: those are checked, not evidence of what happened).
            let said: Map<String, Value> = [
                "CallSid",
                "CallStatus",
                "Direction",
                "From",
                "To",
                "CallDuration",
                "AnsweredBy",
                "Digits",
            ]
            .iter()
            .filter_map(|k| details.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
            self.record_as(
                tx,
                &Actor::Provider,
                "provider.event",
                format!("phone_call:{}", call.id),
                call.callout_id,
                Value::Object(said),
            )
            .await?;
            // 4. Complete the call from CallStatus, never moving it backwards.
            let incoming = get("CallStatus");
            let keep = match (&call.remote_status, &incoming) {
                (Some(cur), Some(new)) => {
                    status::remote_status_rank(cur) > status::remote_status_rank(new)
                }
                _ => false,
            };
            let remote_status = if keep {
                call.remote_status.clone()
            } else {
                incoming.clone().or(call.remote_status.clone())
            };
            let new_status = completed_status(&call.status, remote_status.as_deref());
            let terminal = status::PHONE_CALL_TERMINAL.contains(&new_status.as_str());
            let next_poll = self.next_poll();
            let u = store::phone_calls::RemoteUpdate {
                id: call.id,
                expected_status: &call.status,
                new_status: &new_status,
                remote_status: remote_status.as_deref(),
                remote_response: None,
                remote_error_message: None,
                call_flow_logic: Some(&logic),
                // A call still in flight keeps the poll already scheduled, or gets one a poll
                // interval from now: the safety net if its final webhook never comes.
                next_poll: if terminal {
                    store::phone_calls::NextPoll::Clear
                } else {
                    store::phone_calls::NextPoll::KeepOr(&next_poll)
                },
            };
            if !store::phone_calls::apply_remote(tx, &u, &now).await? {
                tracing::debug!(
                    phone_call_id = call.id,
                    "call changed concurrently; webhook event stored only"
                );
            } else if terminal && !status::PHONE_CALL_TERMINAL.contains(&call.status.as_str()) {
                self.note_outcome(Route::of(call.route.as_deref()), &new_status);
            }
        }

        // 5. The flow (voice requests only) and its TwiML.
        let body = if is_status_callback(&details) {
            twiml::render(&[])
        } else if let Some(survey) = avf::survey(&logic) {
            self.step_survey(
                tx,
                &call,
                &logic,
                survey,
                get("Digits").as_deref(),
                !duplicate,
                &req.url,
            )
            .await?
        } else if let Some(flow) = self.registry().flow(&logic) {
            let flow = flow.clone();
            self.run_flow(
                tx,
                &call,
                &flow,
                &details,
                !duplicate,
                &req.url,
                &mut changed,
            )
            .await?
        } else if logic == crate::domain::call_flow::APPLICATION {
            call_flow::application()
        } else {
            call_flow::no_response()
        };
        changed.push(ServiceEvent::PhoneCallChanged(call.id));
        Ok(Applied {
            outcome: WebhookOutcome::Twiml(body),
            keep: true,
            changed,
        })
    }

    /// The claimed call an outbound webhook for the unknown `sid` belongs to: the one whose
    /// attempt token its URL carries, else the only call to its `To` whose create is in flight.
    /// The webhook can overtake the create's answer (the provider calls back within
    /// milliseconds); if the dialler stored that answer while this webhook waited for the
    /// call's lock (PostgreSQL, read committed), the call now carries `sid` and is taken as is;
    /// if not, `sid` is recorded here and the dialler's own record then changes nothing.
    async fn overtaken_dial(
        &self,
        tx: &mut impl store::Handle,
        sid: &str,
        attempt: Option<&str>,
        direction: Option<&str>,
        to: Option<&str>,
    ) -> Result<Option<PhoneCall>> {
        let candidate = if let Some(att) = attempt {
            store::phone_calls::by_dial_attempt(tx, att).await?
        } else if let (Some(to), true) = (to, direction.is_some_and(|d| d.starts_with("outbound")))
        {
            let mut open = store::phone_calls::in_flight_to(tx, to).await?;
            if open.len() == 1 { open.pop() } else { None }
        } else {
            None
        };
        let Some(c) = candidate else {
            return Ok(None);
        };
        let Some(c) = lock_call(tx, &c).await? else {
            return Ok(None);
        };
        if c.remote_call_id.as_deref() == Some(sid) {
            return Ok(Some(c));
        }
        let (Some(att), None, "queued") = (
            c.dial_attempt_id.as_deref(),
            &c.remote_call_id,
            c.status.as_str(),
        ) else {
            return Ok(None);
        };
        if attempt.is_some_and(|a| a != att) {
            return Ok(None);
        }
        let now = self.now();
        let accepted = store::phone_calls::Accepted {
            remote_call_id: sid,
            remote_status: None,
            remote_direction: direction,
            response: "{}",
        };
        store::phone_calls::mark_remotely_queued(tx, c.id, att, &accepted, &now, &now).await?;
        Ok(store::phone_calls::get(tx, c.id).await?)
    }

    async fn new_inbound_call(
        &self,
        tx: &mut impl store::Handle,
        details: &Map<String, Value>,
        now: &str,
        changed: &mut Vec<ServiceEvent>,
    ) -> Result<PhoneCall> {
        let get = |k: &str| {
            details
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let msisdn = Msisdn::parse(&get("From"))
            .map_err(|_| Error::invalid("msisdn", "is an invalid number"))?;
        let found = match store::contacts::by_msisdn(tx, msisdn.as_str()).await? {
            // Locked, so a concurrent delete of it either waits for this call or is seen.
            Some(c) if lock_row(tx, Table::Contacts, c.id).await? => Some(c),
            _ => None,
        };
        let contact = match found {
            Some(c) => c,
            None => store::contacts::insert(tx, msisdn.as_str(), "{}", now).await?,
        };
        let sid = get("CallSid");
        let new = store::phone_calls::NewPhoneCall {
            callout_participation_id: None,
            contact_id: contact.id,
            msisdn: msisdn.as_str(),
            status: "created",
            remote_call_id: Some(&sid),
            remote_status: None,
            remote_direction: Some("inbound"),
            call_flow_logic: None,
            metadata: "{}",
            remote_request_params: "{}",
        };
        let id = store::phone_calls::insert(tx, &new, now).await?;
        changed.push(ServiceEvent::ContactsChanged);
        store::phone_calls::get(tx, id)
            .await?
            .ok_or(Error::NotFound)
    }

    pub async fn remote_phone_call_events(
        &self,
        parent: EventParent,
        filter: &Filter,
        page: Page,
    ) -> Result<Paged<RemotePhoneCallEvent>> {
        check_filter_size(filter)?;
        let mut conn = self.store().read().await?;
        let scope = match parent {
            EventParent::All => Scope::All,
            EventParent::PhoneCall(id) => {
                store::phone_calls::get(&mut conn, id)
                    .await?
                    .ok_or(Error::NotFound)?;
                Scope::PhoneCall(id)
            }
            EventParent::Participation(id) => {
                store::participations::get(&mut conn, id)
                    .await?
                    .ok_or(Error::NotFound)?;
                Scope::Participation(id)
            }
            EventParent::Callout(id) => {
                if !store::callouts::exists(&mut conn, id).await? {
                    return Err(Error::NotFound);
                }
                Scope::Callout(id)
            }
            EventParent::Contact(id) => {
                store::contacts::get(&mut conn, id)
                    .await?
                    .ok_or(Error::NotFound)?;
                Scope::Contact(id)
            }
        };
        Ok(store::events::list(&mut conn, scope, filter, page).await?)
    }

    pub async fn remote_phone_call_event(&self, id: i64) -> Result<RemotePhoneCallEvent> {
        let mut conn = self.store().read().await?;
        store::events::get(&mut conn, id)
            .await?
            .ok_or(Error::NotFound)
    }

    pub async fn update_remote_phone_call_event(
        &self,
        id: i64,
        metadata_in: Option<Map<String, Value>>,
        mode: MergeMode,
    ) -> Result<()> {
        let mut tx = self.store().write().await?;
        lock_row(&mut tx, Table::RemotePhoneCallEvents, id).await?;
        let e = store::events::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        let meta = match metadata_in {
            Some(new) => metadata::apply(&as_map(&e.metadata), new, mode),
            None => as_map(&e.metadata),
        };
        store::events::update_metadata(&mut tx, id, &json_text(&meta), &self.now()).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }
}

/// Locks what a webhook reads and then writes, in the order of `store::locks`: the call's
/// contact, then the call. The call as it is now, read after the locks (`None`: it is gone).
async fn lock_call(tx: &mut impl store::Handle, call: &PhoneCall) -> Result<Option<PhoneCall>> {
    lock_row(tx, Table::Contacts, call.contact_id).await?;
    if !lock_row(tx, Table::PhoneCalls, call.id).await? {
        return Ok(None);
    }
    Ok(store::phone_calls::get(tx, call.id).await?)
}
