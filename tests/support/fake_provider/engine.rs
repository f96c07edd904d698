//! The fake's call engine: CPS admission, the lifecycle queued → initiated → ringing →
//! in-progress → final on the compressed clock, cancel/complete updates, and signed webhooks
//! (status callbacks of providers.md §6.2, voice requests for `twiml.rs`).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::resources;
use super::rest::{self, Answer};
use super::webhooks::status_callback;
use super::{FakeCall, FakeConfig, Flavour, Outcome, Shared};

pub(super) fn in_flight(shared: &Shared) -> usize {
    shared.state().in_flight
}

fn call_secs(config: &FakeConfig, secs: f64) -> Duration {
    config.tick.mul_f64(secs.max(0.0))
}

/// Put a new call in the store, assigning its CPS queue slot and noting how many calls are in
/// flight with it.
pub(super) fn admit(shared: &Shared, config: &FakeConfig, mut call: FakeCall) -> FakeCall {
    let mut state = shared.state();
    if let Some(cps) = config.cps.filter(|c| *c > 0.0) {
        let now = tokio::time::Instant::now();
        let slot = state.next_slot.map_or(now, |s| s.max(now));
        state.next_slot = Some(slot + call_secs(config, 1.0 / cps));
        let wait = slot - now;
        call.queue_time_ms =
            (wait.as_secs_f64() / config.tick.as_secs_f64().max(1e-9) * 1000.0) as u64;
    }
    // Counted under the same lock that every status change takes.
    call.in_flight_at_create = 1 + state.calls.iter().filter(|c| !c.is_final()).count();
    state.calls.push(call.clone());
    call
}

/// Run `fut` as tracked background work (`FakeProvider::settle` waits for it).
fn spawn_tracked<F: std::future::Future<Output = ()> + Send + 'static>(
    shared: &Arc<Shared>,
    fut: F,
) {
    shared.state().in_flight += 1;
    let shared = shared.clone();
    tokio::spawn(async move {
        fut.await;
        shared.state().in_flight -= 1;
    });
}

pub(super) fn spawn_lifecycle(shared: Arc<Shared>, sid: String) {
    let inner = shared.clone();
    spawn_tracked(&shared, async move { lifecycle(&inner, &sid).await });
}

fn snapshot(shared: &Shared, sid: &str) -> Option<FakeCall> {
    shared.state().calls.iter().find(|c| c.sid == sid).cloned()
}

/// Move a live call on; false when it is gone or already final (canceled meanwhile).
fn transition(shared: &Shared, sid: &str, status: &str, rest_visible: bool) -> bool {
    let mut state = shared.state();
    let Some(call) = state.calls.iter_mut().find(|c| c.sid == sid) else {
        return false;
    };
    if call.is_final() {
        return false;
    }
    call.history.push(status.to_string());
    call.updated_at = Utc::now();
    if rest_visible {
        call.status = status.to_string();
    }
    if status == "in-progress" {
        call.start_time = Some(Utc::now());
    }
    true
}

fn end_locked(config: &FakeConfig, call: &mut FakeCall, status: &str) {
    let now = Utc::now();
    call.status = status.to_string();
    call.history.push(status.to_string());
    call.updated_at = now;
    call.end_time = Some(now);
    call.duration = Some(match call.start_time {
        Some(start) => {
            let real_ms = (now - start).num_milliseconds().max(0) as f64;
            let tick_ms = config.tick.as_secs_f64() * 1000.0;
            (real_ms / tick_ms.max(1e-6)).round().max(1.0) as u64
        }
        None => 0,
    });
}

/// End a live call with `status` and send its final callback.
pub(super) async fn finish(shared: &Arc<Shared>, config: &FakeConfig, sid: &str, status: &str) {
    {
        let mut state = shared.state();
        let Some(call) = state.calls.iter_mut().find(|c| c.sid == sid) else {
            return;
        };
        if call.is_final() {
            return;
        }
        end_locked(config, call, status);
    }
    status_callback(shared, config, sid, "completed").await;
}

async fn lifecycle(shared: &Arc<Shared>, sid: &str) {
    let config = shared.config();
    let Some(call) = snapshot(shared, sid) else {
        return;
    };
    let scenario = call.scenario.clone();
    tokio::time::sleep(call_secs(&config, call.queue_time_ms as f64 / 1000.0)).await;
    // REST keeps showing `queued` for `initiated` (providers.md §3.1).
    if !transition(shared, sid, "initiated", false) {
        return;
    }
    status_callback(shared, &config, sid, "initiated").await;
    tokio::time::sleep(call_secs(&config, 1.0)).await;
    if scenario.outcome == Outcome::Failed {
        return finish(shared, &config, sid, "failed").await;
    }
    if !transition(shared, sid, "ringing", true) {
        return;
    }
    status_callback(shared, &config, sid, "ringing").await;
    tokio::time::sleep(call_secs(&config, scenario.ring_secs as f64)).await;
    match scenario.outcome {
        Outcome::Busy => finish(shared, &config, sid, "busy").await,
        Outcome::NoAnswer => finish(shared, &config, sid, "no-answer").await,
        Outcome::Answered => {
            if !transition(shared, sid, "in-progress", true) {
                return;
            }
            status_callback(shared, &config, sid, "answered").await;
            let has_document = call.param("Url").is_some() || call.param("Twiml").is_some();
            if config.run_twiml && has_document {
                super::twiml::run(shared, &config, sid).await;
            } else {
                tokio::time::sleep(call_secs(&config, scenario.talk_secs as f64)).await;
            }
            finish(shared, &config, sid, "completed").await;
        }
        Outcome::Failed | Outcome::InvalidNumber => finish(shared, &config, sid, "failed").await,
    }
}

/// `POST …/Calls/{sid}.json`: `Status=canceled|completed` (providers.md §2.3); other updates are
/// recorded in the request log only.
pub(super) fn update(
    shared: &Arc<Shared>,
    config: &FakeConfig,
    sid: &str,
    form: &[(String, String)],
    path: &str,
) -> Answer {
    let flavour = config.flavour;
    let wanted = form
        .iter()
        .find(|(k, _)| k == "Status")
        .map(|(_, v)| v.as_str());
    let body = {
        let mut state = shared.state();
        let Some(call) = state.calls.iter_mut().find(|c| c.sid == sid) else {
            return rest::not_found(flavour, path);
        };
        if call.is_final() {
            return rest::validation_error(
                flavour,
                "21220",
                "Call is not in-progress. Cannot redirect.",
            );
        }
        let live = call.status == "in-progress";
        let new_status = match wanted {
            None => None,
            Some("canceled") if live && flavour == Flavour::Twilio => None,
            Some("canceled") | Some("completed") => {
                Some(if live { "completed" } else { "canceled" })
            }
            Some(other) => {
                return rest::validation_error(
                    flavour,
                    "21218",
                    &format!("Invalid Status {other}: must be canceled or completed"),
                );
            }
        };
        if let Some(status) = new_status {
            end_locked(config, call, status);
        }
        let body = resources::call_json(config, call);
        if new_status.is_some() {
            let (shared2, config2, sid2) = (shared.clone(), config.clone(), sid.to_string());
            drop(state);
            spawn_tracked(shared, async move {
                status_callback(&shared2, &config2, &sid2, "completed").await
            });
        }
        body
    };
    Answer::json(200, body)
}
