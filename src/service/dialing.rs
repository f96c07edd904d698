//! Placing calls: claim a queued call (durable intent first), send one create request, record
//! the SID; hold dialling while the provider refuses our credentials. Following the calls
//! afterwards (polls, reconciliation) is `follow_up.rs`.

use super::routes::Fallback;
use super::{Result, Service, ServiceEvent};
use crate::domain::PhoneCall;
use crate::domain::congestion::CongestionSettings;
use crate::domain::route::{ROUTE_PARAM, Route};
use crate::domain::time::format_ts;
use crate::provider::{self, CreateCall, Provider, ProviderError, RemoteCall, wire};
use crate::store;
use std::sync::Arc;
use std::time::Duration;

/// Everything the service needs to dial; fixed at start-up.
#[derive(Clone)]
pub struct Dialing {
    pub provider: Option<Arc<dyn Provider>>,
    /// `twilio`, `somleng` or `simulator`.
    pub provider_name: String,
    /// Set when dialling must be refused locally; names the missing settings.
    pub missing_credentials: Option<String>,
    /// The provider's auth token, to check webhook signatures.
    pub auth_token: Option<String>,
    /// Public base URL scfm is reached at (signature URL and attempt tokens).
    pub public_url: Option<String>,
    pub poll_interval: Duration,
    pub calls_per_second: f64,
    /// How long an attempt with an unknown outcome is looked for at the provider before it is
    /// given up as errored (longer than the provider's queueing delay).
    pub unknown_outcome_grace: Duration,
    /// How old an unresolved claim must be before reconciliation looks at it (a live dial in
    /// another process takes at most the request timeout).
    pub reconcile_after: Duration,
    /// A person (contact) is called at most this many times in any hour, across callouts
    /// (`SCFM_MAX_CALLS_PER_PERSON_PER_HOUR`); 0: no limit.
    pub max_calls_per_person_per_hour: u32,
    /// When to slow down, ramp up and hold (`domain::congestion`).
    pub congestion: CongestionSettings,
    /// A second provider account for new attempts while this one is held (`service::routes`).
    pub fallback: Option<Fallback>,
}

impl Default for Dialing {
    fn default() -> Self {
        Dialing {
            provider: None,
            provider_name: "none".into(),
            missing_credentials: Some("no voice provider is configured".into()),
            auth_token: None,
            public_url: None,
            poll_interval: Duration::from_secs(30),
            calls_per_second: 1.0,
            unknown_outcome_grace: Duration::from_secs(300),
            max_calls_per_person_per_hour: 0,
            reconcile_after: Duration::from_secs(60),
            congestion: CongestionSettings::default(),
            fallback: None,
        }
    }
}

impl Dialing {
    pub fn simulated(&self) -> bool {
        self.provider_name == "simulator"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialOutcome {
    /// The provider accepted the call; it is `remotely_queued`.
    Accepted(i64),
    /// The call ended `errored` (refused locally or by the provider).
    Errored(i64),
    /// The outcome is unknown; the call stays claimed until reconciliation resolves it.
    Unknown(i64),
}

/// A claimed call and what its create request came to, waiting to be recorded.
#[derive(Debug)]
pub struct Sent {
    pub call: PhoneCall,
    pub result: SendResult,
}

#[derive(Debug)]
pub enum SendResult {
    Accepted(RemoteCall),
    /// Certainly not placed (refused locally or by the provider): `errored`.
    Refused(String),
    /// The outcome is unknown: the claim stays for reconciliation; the message is noted.
    Unknown(String),
    /// Reconciliation resolved the claim while a retry waited: nothing was sent, nothing to
    /// record.
    ResolvedElsewhere,
    /// Reconciliation gave up on an unknown outcome (the phone may have rung): `errored`,
    /// flagged so no campaign retries it automatically.
    GivenUp(String),
}

/// Appended to the provider's message while an unknown create outcome is being reconciled.
pub(super) const UNKNOWN_SUFFIX: &str = " (outcome unknown; reconciling with the provider)";

/// Query parameter carrying the attempt id in URLs that point back at scfm.
pub const ATTEMPT_PARAM: &str = "scfm_attempt";

pub(super) fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::milliseconds(d.as_millis().min(i64::MAX as u128) as i64)
}

impl Service {
    /// When a call in flight is next polled: one poll interval from now.
    pub(crate) fn next_poll(&self) -> String {
        format_ts(self.clock().now() + chrono_dur(self.dialing().poll_interval))
    }

    /// Claims the next queued call for dialling, recording the attempt before anything is sent.
    pub async fn claim_next_dial(&self) -> Result<Option<PhoneCall>> {
        Ok(self.claim_dials(1).await?.pop())
    }

    /// Claims up to `n` queued calls in one write transaction (see `claim_for_dial`); none
    /// while dialling is held, checked in the same transaction, so no process claims a call
    /// after another one's hold is written.
    pub async fn claim_dials(&self, n: usize) -> Result<Vec<PhoneCall>> {
        let mut tx = self.store().write().await?;
        let Some(route) = self.pick_route(&mut tx).await?.0 else {
            tx.rollback().await.map_err(store::StoreError::from)?;
            return Ok(Vec::new());
        };
        let rules = self.claim_rules(0, route);
        let calls =
            store::phone_calls::claim_for_dial(&mut tx, n as i64, &self.now(), &rules).await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(calls)
    }

    /// Records one resolution of a claimed call (see `record_sent`).
    pub(super) async fn resolve(&self, call: PhoneCall, result: SendResult) -> Result<()> {
        self.record_sent(vec![Sent { call, result }]).await?;
        Ok(())
    }

    /// Builds the create request: `remote_request_params` in provider names, `To` = msisdn,
    /// and the attempt id added to URLs that point back at scfm.
    fn create_request(&self, call: &PhoneCall) -> std::result::Result<CreateCall, String> {
        let mut params = wire::request_params_to_form(&call.remote_request_params, &call.msisdn)
            .map_err(|e| e.to_string())?;
        if let (Some(public), Some(attempt)) = (&self.dialing().public_url, &call.dial_attempt_id) {
            // The fallback's webhooks are signed with its own token: say which route it is.
            let route = match Route::of(call.route.as_deref()) {
                Route::Primary => String::new(),
                r => format!("&{ROUTE_PARAM}={}", r.name()),
            };
            for (name, value) in params.iter_mut() {
                if (name == "Url" || name == "StatusCallback") && value.starts_with(public.as_str())
                {
                    let sep = if value.contains('?') { '&' } else { '?' };
                    value.push_str(&format!("{sep}{ATTEMPT_PARAM}={attempt}{route}"));
                }
            }
        }
        Ok(CreateCall { params })
    }

    /// Sends the create request of a claimed call and records what came of it.
    pub async fn dial_claimed(&self, call: PhoneCall) -> Result<DialOutcome> {
        let sent = self.send_claimed(call).await?;
        let mut outcomes = self.record_sent(vec![sent]).await?;
        outcomes
            .pop()
            .ok_or_else(|| super::Error::Internal("a recorded dial had no outcome".into()))
    }

    /// Sends the one create request of a claimed call, without recording the result (the
    /// dialler records several at once with `record_sent`). Retries only what the provider
    /// certainly did not process (not sent, 429); an unknown outcome is left for reconciliation.
    pub async fn send_claimed(&self, mut call: PhoneCall) -> Result<Sent> {
        let refused = |call: PhoneCall, message: String| {
            Ok(Sent {
                call,
                result: SendResult::Refused(message),
            })
        };
        let route = Route::of(call.route.as_deref());
        let Some(provider) = self.provider_on(route) else {
            let why = self
                .dialing()
                .missing_credentials
                .clone()
                .unwrap_or_else(|| "no provider".into());
            return refused(
                call,
                format!("Unable to create record: {why} (no request was sent)"),
            );
        };
        if let (Route::Primary, Some(why)) = (route, self.dialing().missing_credentials.clone()) {
            return refused(
                call,
                format!("Unable to create record: {why} (no request was sent)"),
            );
        }
        let mut req = match self.create_request(&call) {
            Ok(r) => r,
            Err(e) => return refused(call, format!("Unable to create record: {e}")),
        };
        let mut backoff = Duration::from_millis(500);
        for attempt in 0..6 {
            let started = std::time::Instant::now();
            let answer = provider.create_call(&req).await;
            self.note_create(route, &answer, started.elapsed()).await;
            match answer {
                Ok(rc) => {
                    return Ok(Sent {
                        call,
                        result: SendResult::Accepted(rc),
                    });
                }
                Err(e) if e.is_retryable_for_create() && attempt < 5 => {
                    let wait = match &e {
                        ProviderError::RateLimited {
                            retry_after: Some(d),
                            ..
                        } => *d,
                        _ => backoff,
                    };
                    let wait = wait.min(Duration::from_secs(60));
                    tracing::warn!(phone_call_id = call.id, error = %e, "create not processed; retrying in {:?}", wait);
                    // Renew the claim now (fresh attempt id), dated at the resend, so
                    // reconciliation does not count the wait as the age of a dial whose outcome
                    // is unknown (it would give the call up while it waits to be resent); send
                    // nothing if reconciliation already resolved the old claim (given up as
                    // errored, or adopted a call).
                    let old = call.dial_attempt_id.clone().unwrap_or_default();
                    let fresh = new_attempt_id();
                    let resend_at = format_ts(self.clock().now() + chrono_dur(wait));
                    let renewed = {
                        let mut conn = self.store().read().await?;
                        store::phone_calls::renew_claim(
                            &mut conn, call.id, &old, &fresh, &resend_at,
                        )
                        .await?
                    };
                    if !renewed {
                        tracing::warn!(
                            phone_call_id = call.id,
                            "claim resolved elsewhere before the retry; not sending again"
                        );
                        return Ok(Sent {
                            call,
                            result: SendResult::ResolvedElsewhere,
                        });
                    }
                    call.dial_attempt_id = Some(fresh);
                    call.dial_started_at = Some(resend_at);
                    req = match self.create_request(&call) {
                        Ok(r) => r,
                        Err(e) => return refused(call, format!("Unable to create record: {e}")),
                    };
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    // The resend is a create like any other: it takes a slot of the account's
                    // schedule, so retries never push a one-second window over the cap.
                    self.wait_for_slot(&call).await?;
                }
                Err(e @ ProviderError::Unknown { .. }) => {
                    tracing::warn!(phone_call_id = call.id, error = %e, "create outcome unknown; will reconcile, never redial");
                    let msg = format!("{}{UNKNOWN_SUFFIX}", provider::create_error_text(&e));
                    return Ok(Sent {
                        call,
                        result: SendResult::Unknown(msg),
                    });
                }
                Err(e) => {
                    if let ProviderError::Unauthorized { status, .. } = &e {
                        tracing::error!(error = %e, "provider refused our credentials; check the account SID and auth token");
                        let why = format!(
                            "the provider refused our credentials (HTTP {status}); check the account SID and auth token"
                        );
                        // The refusal is recorded whatever happens to the hold.
                        if let Err(e) = self.set_hold(route, Some(why)).await {
                            tracing::error!(error = %e, "could not hold dialling");
                        }
                    }
                    return refused(call, provider::create_error_text(&e));
                }
            }
        }
        refused(
            call,
            "Unable to create record: the provider kept refusing the request".into(),
        )
    }

    /// Records what several create requests came to, in one write transaction: accepted calls
    /// become `remotely_queued` with their SID, refused ones `errored`, unknown outcomes keep
    /// their claim with the provider's message. Each update applies only to the attempt that
    /// claimed the call, so a claim resolved meanwhile (reconciliation) is left alone.
    pub async fn record_sent(&self, sent: Vec<Sent>) -> Result<Vec<DialOutcome>> {
        let now = self.now();
        let next_poll = self.next_poll();
        let mut outcomes = Vec::with_capacity(sent.len());
        let mut tx = self.store().write().await?;
        for Sent { call, result } in &sent {
            let attempt = call.dial_attempt_id.as_deref().unwrap_or_default();
            match result {
                SendResult::Accepted(rc) => {
                    let response = rc.reduced().to_string();
                    let accepted = store::phone_calls::Accepted {
                        remote_call_id: &rc.sid,
                        remote_status: rc.status.as_deref(),
                        remote_direction: rc.direction.as_deref(),
                        response: &response,
                    };
                    let linked = store::phone_calls::mark_remotely_queued(
                        &mut tx, call.id, attempt, &accepted, &now, &next_poll,
                    )
                    .await?;
                    if linked {
                        let said = serde_json::json!({"CallSid": rc.sid, "CallStatus": rc.status});
                        self.record_call(&mut tx, call, "provider.create", said)
                            .await?;
                    }
                    outcomes.push(DialOutcome::Accepted(call.id));
                }
                SendResult::Refused(message) | SendResult::GivenUp(message) => {
                    let e = store::phone_calls::Errored {
                        id: call.id,
                        attempt_id: attempt,
                        message,
                        outcome_unknown: matches!(result, SendResult::GivenUp(_)),
                    };
                    if store::phone_calls::mark_errored(&mut tx, &e, &now).await? {
                        let action = match result {
                            SendResult::GivenUp(_) => "dial.given_up",
                            _ => "provider.refused",
                        };
                        let said = serde_json::json!({"message": message});
                        self.record_call(&mut tx, call, action, said).await?;
                    }
                    outcomes.push(DialOutcome::Errored(call.id));
                }
                SendResult::Unknown(message) => {
                    store::phone_calls::note_error(&mut tx, call.id, message, &now).await?;
                    outcomes.push(DialOutcome::Unknown(call.id));
                }
                SendResult::ResolvedElsewhere => outcomes.push(DialOutcome::Unknown(call.id)),
            }
        }
        tx.commit().await.map_err(store::StoreError::from)?;
        if sent.len() > 1 {
            self.publish(ServiceEvent::PhoneCallsChanged);
        } else {
            for s in &sent {
                self.publish(ServiceEvent::PhoneCallChanged(s.call.id));
            }
        }
        if outcomes
            .iter()
            .any(|o| matches!(o, DialOutcome::Accepted(_)))
        {
            self.wake().poller.notify_one();
        }
        Ok(outcomes)
    }
}

fn new_attempt_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
