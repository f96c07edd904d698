//! Congestion control and the circuit breaker, with the real dialler of a real `scfm` server
//! against the fake provider turning congested and recovering (issue 13): 429s with
//! Retry-After, then nothing but 503s, then slow answers, then well again. From the fake's
//! request log and `GET /api/health`: the rate falls at each stage and comes back to the cap,
//! dialling is held while the provider accepts nothing and resumes by itself, nothing is
//! dialled twice. The figures of each stage are printed (`--nocapture`).
//!
//! Written once; runs on PostgreSQL with `SCFM_TEST_DATABASE`.

#![allow(clippy::unwrap_used)]

mod support;

use chrono::{DateTime, Utc};
use scfm::config::ProviderChoice;
use scfm::domain::congestion::CongestionSettings;
use scfm::service::{CalloutInput, ContactInput, Service};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::fake_provider::{FakeConfig, FakeProvider, Fault, FaultAction, PathMatch};
use support::{TestServer, pace};

const CAP: f64 = 20.0;
const CALLS: usize = 500;

/// Thresholds scaled down so each stage shows in seconds (the defaults are in the README).
fn settings() -> CongestionSettings {
    CongestionSettings {
        window: Duration::from_secs(10),
        slow_answer: Duration::from_millis(400),
        cooldown: Duration::from_millis(500),
        ramp_every: Duration::from_millis(800),
        ramp_step: 0.25,
        breaker_failures: 6,
        probe_every: Duration::from_millis(500),
        ..CongestionSettings::default()
    }
}

async fn server(fake: &FakeProvider) -> TestServer {
    let (sid, token, base) = (fake.account_sid(), fake.auth_token(), fake.base_url());
    TestServer::start_with(move |c| {
        c.provider.choice = ProviderChoice::Twilio;
        c.provider.account_sid = Some(sid);
        c.provider.auth_token = Some(token);
        c.provider.base_url = Some(base);
        c.provider.calls_per_second = CAP;
        c.provider.poll_interval = Duration::from_millis(500);
        c.provider.congestion = settings();
    })
    .await
}

/// `CALLS` queued calls in one callout, to `+85512NNNNNN`.
async fn queue(s: &Service) {
    let callout = s.create_callout(CalloutInput::default()).await.unwrap();
    for i in 0..CALLS {
        let contact = s
            .create_contact(ContactInput {
                msisdn: Some(format!("+85512{i:06}")),
                ..Default::default()
            })
            .await
            .unwrap();
        pace::queued_call(s, callout.id, contact.id).await;
    }
}

async fn health(srv: &TestServer) -> Value {
    let r = srv.get("/api/health").send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Polls the health until `pred` holds (panics after `secs`); the health and when.
async fn until(srv: &TestServer, secs: u64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let h = health(srv).await;
        if pred(&h) {
            return h;
        }
        assert!(Instant::now() < deadline, "never {what}: {h}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Create requests the fake accepted (201) and all it received, in order.
fn accepted(fake: &FakeProvider) -> Vec<DateTime<Utc>> {
    let mut out: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/Calls.json"))
        .filter(|r| r.response_status == 201)
        .map(|r| r.at)
        .collect();
    out.sort();
    out
}

fn in_range(times: &[DateTime<Utc>], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    times
        .iter()
        .copied()
        .filter(|t| *t >= from && *t < to)
        .collect()
}

/// Accepted creates per second over `[from, to)`.
fn rate(times: &[DateTime<Utc>], from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let n = in_range(times, from, to).len() as f64;
    let secs = (to - from).num_milliseconds().max(1) as f64 / 1000.0;
    n / secs
}

fn share(h: &Value) -> f64 {
    h["dialing"]["pace_share"].as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rate_falls_under_congestion_holds_while_down_and_recovers() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let srv = server(&fake).await;
    let service = srv.running.as_ref().unwrap().service.clone();
    queue(&service).await;
    let h = until(&srv, 30, "dialling at the cap", |_| {
        accepted(&fake).len() >= 40
    })
    .await;
    assert_eq!(h["status"], "ok", "{h}");
    let t_start = accepted(&fake)[0];

    // 1. 429s with Retry-After: 1 s. The pace is cut, the schedule waits out the Retry-After.
    fake.add_fault(Fault::on_create(FaultAction::rate_limited(Some(1))).times(2));
    let h = until(&srv, 10, "slowed by a 429", |h| share(h) < 1.0).await;
    assert_eq!(h["status"], "slowed", "{h}");
    assert!(
        h["dialing"]["slowed_because"]
            .as_str()
            .unwrap()
            .contains("429"),
        "{h}"
    );
    let first_429 = fake
        .requests()
        .into_iter()
        .find(|r| r.response_status == 429)
        .unwrap()
        .at;
    let back = until(&srv, 30, "back at the cap after the 429s", |h| {
        share(h) >= 1.0
    })
    .await;
    let t_back = Utc::now();
    assert_eq!(back["status"], "ok", "{back}");
    let all = accepted(&fake);
    let quiet = in_range(
        &all,
        first_429 + chrono::Duration::milliseconds(150),
        first_429 + chrono::Duration::milliseconds(900),
    );
    eprintln!(
        "429 stage: before {:.1}/s; creates accepted in the Retry-After second (150-900 ms after the first 429): {}; ramp back to the cap in {:.1} s",
        rate(&all, t_start, first_429),
        quiet.len(),
        (t_back - first_429).num_milliseconds() as f64 / 1000.0
    );
    assert!(
        quiet.len() <= 3,
        "{} creates inside the Retry-After",
        quiet.len()
    );

    // 2. The provider accepts nothing (503 to every request): the breaker holds dialling.
    let t_down = Utc::now();
    let before_down = fake.requests().len();
    fake.add_fault(Fault::new(None, PathMatch::Any, FaultAction::html(503)).always());
    let held = until(&srv, 20, "held while the provider is down", |h| {
        h["status"] == "held"
    })
    .await;
    let t_held = Utc::now();
    assert!(
        held["dialing"]["hold_reason"]
            .as_str()
            .unwrap()
            .starts_with(scfm::domain::congestion::BREAKER_REASON),
        "{held}"
    );
    let failed_creates = fake.requests()[before_down..]
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/Calls.json"))
        .count();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let creates_while_held = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/Calls.json"))
        .filter(|r| r.at > t_held + chrono::Duration::milliseconds(300))
        .count();
    eprintln!(
        "down stage: {failed_creates} creates refused before the hold ({:.1} s after the first 503), {creates_while_held} creates while held",
        (t_held - t_down).num_milliseconds() as f64 / 1000.0
    );
    assert_eq!(creates_while_held, 0, "creates were sent while held");
    assert!(
        failed_creates <= 6 + 8,
        "{failed_creates} creates before the hold"
    );

    // 3. It answers again, slowly (600 ms a create): the hold ends by itself, dialling restarts
    //    at a quarter of the cap, and slow answers keep the pace down.
    fake.clear_faults();
    fake.add_fault(Fault::on_create(FaultAction::Delay(Duration::from_millis(600))).always());
    let resumed = until(&srv, 20, "resumed after the outage", |h| {
        h["status"] != "held"
    })
    .await;
    let t_resumed = Utc::now();
    assert!(share(&resumed) <= 0.25 + 1e-9, "{resumed}");
    let slow = until(&srv, 20, "slowed by slow answers", |h| {
        h["dialing"]["slowed_because"]
            .as_str()
            .is_some_and(|r| r.contains("slowly"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t_slow_end = Utc::now();
    let all = accepted(&fake);
    eprintln!(
        "slow stage: hold ended {:.1} s after the provider answered; pace {:.2} of the cap ({}); {:.1} creates/s",
        (t_resumed - t_held).num_milliseconds() as f64 / 1000.0 - 2.0,
        share(&slow),
        slow["dialing"]["slowed_because"],
        rate(&all, t_resumed, t_slow_end)
    );

    // 4. Well again: the pace ramps back to the cap and the rate follows.
    fake.clear_faults();
    until(&srv, 40, "back at the cap after the outage", |h| {
        share(h) >= 1.0
    })
    .await;
    let t_full = Utc::now();
    let n = accepted(&fake).len();
    until(&srv, 30, "40 creates at the cap", |_| {
        accepted(&fake).len() >= n + 40
    })
    .await;
    let all = accepted(&fake);
    let end = *all.last().unwrap();
    let recovered = rate(&all, t_full, end);
    eprintln!(
        "recovery: back at the cap {:.1} s after the slow answers ended; {recovered:.1} creates/s at the cap {CAP}",
        (t_full - t_slow_end).num_milliseconds() as f64 / 1000.0
    );
    assert!(recovered >= 0.6 * CAP, "recovered to only {recovered:.1}/s");
    assert!(
        pace::max_per_second(&all) <= CAP as usize,
        "{} creates in one second",
        pace::max_per_second(&all)
    );
    srv.stop().await;

    // Nothing dialled twice: each number accepted at most once (a 429 resends the same
    // attempt; a 503's outcome is unknown and is reconciled, never redialled).
    let mut per_number: HashMap<String, usize> = HashMap::new();
    for call in fake.calls() {
        *per_number.entry(call.to).or_insert(0) += 1;
    }
    let twice: Vec<_> = per_number.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "dialled twice: {twice:?}");
    eprintln!(
        "overall: {} calls placed, {} distinct numbers, max {} in one second",
        fake.calls().len(),
        per_number.len(),
        pace::max_per_second(&accepted(&fake))
    );
}
