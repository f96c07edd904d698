//! Reading pacing off the fake provider's request log: the create requests as the provider saw
//! them, the most that fell into any one-second window (sliding, not aligned to seconds) and the
//! mean rate.

use super::fake_provider::FakeProvider;
use chrono::{DateTime, Utc};
use scfm::service::{Dialing, ParticipationInput, PhoneCallInput, Service};
use scfm::store::{Location, Store};
use std::sync::Arc;
use std::time::Duration;

/// A service on `at` dialling `fake` at `cps` calls per second (the account's cap), polling
/// calls in flight every `poll`.
pub async fn dialling_service(
    at: &Location,
    fake: &FakeProvider,
    cps: f64,
    poll: Duration,
) -> Service {
    dialling_service_with(at, fake, cps, poll, |_| {}).await
}

/// As `dialling_service`, with `tweak` applied to its dialling settings.
pub async fn dialling_service_with(
    at: &Location,
    fake: &FakeProvider,
    cps: f64,
    poll: Duration,
    tweak: impl FnOnce(&mut Dialing),
) -> Service {
    let store = Store::open(at.clone()).await.expect("open the store");
    let provider = scfm::provider::HttpProvider::new(
        scfm::provider::ProviderKind::Twilio,
        fake.base_url(),
        Some(fake.account_sid()),
        Some(fake.auth_token()),
        Duration::from_secs(2),
        Duration::from_secs(5),
    )
    .expect("a provider client");
    let dialing = Dialing {
        provider: Some(Arc::new(provider)),
        provider_name: "twilio".into(),
        missing_credentials: None,
        auth_token: Some(fake.auth_token()),
        calls_per_second: cps,
        poll_interval: poll,
        ..Dialing::default()
    };
    let mut dialing = dialing;
    tweak(&mut dialing);
    Service::with_dialing(
        store,
        scfm::domain::time::Clock::System,
        scfm::call_flow::Registry::default(),
        dialing,
    )
}

/// Every create request the fake received: when, and the number it was for.
pub fn creates(fake: &FakeProvider) -> Vec<(DateTime<Utc>, String)> {
    let mut out: Vec<(DateTime<Utc>, String)> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/Calls.json"))
        .map(|r| {
            let to = r
                .form
                .iter()
                .find(|(k, _)| k == "To")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            (r.at, to)
        })
        .collect();
    out.sort();
    out
}

/// The most requests in any one-second window `[t, t + 1 s)`.
pub fn max_per_second(times: &[DateTime<Utc>]) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort();
    let second = chrono::Duration::seconds(1);
    let mut best = 0;
    let mut j = 0;
    for i in 0..sorted.len() {
        if j < i {
            j = i;
        }
        while j < sorted.len() && sorted[j] < sorted[i] + second {
            j += 1;
        }
        best = best.max(j - i);
    }
    best
}

/// Requests per second between the first and the last (intervals over elapsed time).
pub fn mean_rate(times: &[DateTime<Utc>]) -> f64 {
    let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else {
        return 0.0;
    };
    let secs = (*last - *first).num_microseconds().unwrap_or(0) as f64 / 1e6;
    if secs <= 0.0 {
        return 0.0;
    }
    (times.len() - 1) as f64 / secs
}

/// Creates in each whole second since the first (for a look at stalls).
pub fn per_second(times: &[DateTime<Utc>]) -> Vec<usize> {
    let Some(first) = times.iter().min() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in times {
        let s = (*t - *first).num_seconds().max(0) as usize;
        if out.len() <= s {
            out.resize(s + 1, 0);
        }
        out[s] += 1;
    }
    out
}

/// A participation of `contact` in `callout` with one call (a TwiML URL), queued; the call's id.
pub async fn queued_call(s: &Service, callout: i64, contact: i64) -> i64 {
    let cp = s
        .create_participation(
            callout,
            ParticipationInput {
                contact_id: Some(contact),
                ..Default::default()
            },
        )
        .await
        .expect("a participation");
    let call = s
        .create_phone_call(
            cp.id,
            PhoneCallInput {
                remote_request_params:
                    serde_json::json!({"from": "345", "url": "https://example.org/t.xml"})
                        .as_object()
                        .cloned(),
                ..Default::default()
            },
        )
        .await
        .expect("a phone call");
    s.fire_phone_call_event(call.id, Some("queue"))
        .await
        .expect("queued");
    call.id
}
