//! A campaign's own `max_calls_per_second`, kept exactly by the real dialler against the fake
//! provider (issue 13): in no one-second window (sliding, at the provider's request log) do a
//! callout's creates exceed its cap, nor all creates the account's, for one callout at 1, 5 and
//! 50 calls/s, two callouts sharing the account's cap, retries, and a pause and resume. Each
//! number is created once per attempt. The mean rates are printed (the bench row
//! `pacing accuracy` measures them); the lower bounds here only catch a stalled dialler.
//!
//! Written once; runs on PostgreSQL with `SCFM_TEST_DATABASE`.

#![allow(clippy::unwrap_used)]

mod support;

use chrono::{DateTime, Utc};
use scfm::service::{CalloutInput, ContactInput, ParticipationInput, Service};
use scfm::store::Location;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use support::fake_provider::{FakeConfig, FakeProvider, NumberMatch, Scenario};
use support::pace;

/// The numbers of callout `k`: `+8551kNNNNNN`.
fn number(k: usize, i: usize) -> String {
    format!("+8551{k}{i:06}")
}

/// A running campaign callout over `n` new contacts with `dialing` settings; its id.
async fn campaign(s: &Service, k: usize, n: usize, dialing: Value) -> i64 {
    let mut settings = json!({"from": "1", "twiml_url": "https://example.org/t.xml",
        "max_concurrent_calls": 1000});
    for (key, v) in dialing.as_object().unwrap() {
        settings[key] = v.clone();
    }
    let callout = s
        .create_callout(CalloutInput {
            dialing: Some(settings.as_object().cloned()),
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..n {
        let contact = s
            .create_contact(ContactInput {
                msisdn: Some(number(k, i)),
                ..Default::default()
            })
            .await
            .unwrap();
        s.create_participation(
            callout.id,
            ParticipationInput {
                contact_id: Some(contact.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    s.fire_callout_event(callout.id, Some("start"))
        .await
        .unwrap();
    callout.id
}

/// Creates at the fake, grouped by callout (the digit after `+8551`).
fn by_callout(fake: &FakeProvider) -> HashMap<usize, Vec<(DateTime<Utc>, String)>> {
    let mut out: HashMap<usize, Vec<(DateTime<Utc>, String)>> = HashMap::new();
    for (at, to) in pace::creates(fake) {
        let k = to[5..6].parse().unwrap();
        out.entry(k).or_default().push((at, to));
    }
    out
}

/// Waits (up to `secs`) until the fake has seen `want` creates.
async fn wait_creates(fake: &FakeProvider, want: usize, secs: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while pace::creates(fake).len() < want {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {want} creates",
            pace::creates(fake).len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Max in one second and mean rate of `creates`, printed with `label`.
fn figures(label: &str, creates: &[(DateTime<Utc>, String)]) -> (usize, f64) {
    let times: Vec<_> = creates.iter().map(|(t, _)| *t).collect();
    let max = pace::max_per_second(&times);
    let mean = pace::mean_rate(&times);
    eprintln!(
        "{label}: {} creates, max {max} in one second, mean {mean:.3}/s",
        creates.len()
    );
    (max, mean)
}

/// How many times each number was created.
fn counts(creates: &[(DateTime<Utc>, String)]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (_, to) in creates {
        *out.entry(to.clone()).or_insert(0) += 1;
    }
    out
}

struct Run {
    fake: FakeProvider,
    service: Service,
    cancel: tokio_util::sync::CancellationToken,
    workers: std::sync::Mutex<Option<tokio::task::JoinSet<()>>>,
    _dir: tempfile::TempDir,
}

/// A fake provider and one service dialling it at the account's `account_cps`.
async fn start(account_cps: f64, fake: FakeConfig) -> Run {
    let fake = FakeProvider::start(fake).await;
    let dir = tempfile::tempdir().unwrap();
    let at = Location::for_tests(&dir.path().join("pace.sqlite3"));
    let service = pace::dialling_service(&at, &fake, account_cps, Duration::from_millis(500)).await;
    Run {
        fake,
        service,
        cancel: tokio_util::sync::CancellationToken::new(),
        workers: std::sync::Mutex::new(None),
        _dir: dir,
    }
}

impl Run {
    /// Starts the service's workers (kept until the run is dropped; `cancel` stops them).
    fn workers(&self) {
        let set = scfm::workers::spawn_all(&self.service, self.cancel.clone());
        *self.workers.lock().unwrap() = Some(set);
    }
}

/// One callout at its own cap (the account's is 100): 1, 5 and 50 calls per second.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_callout_keeps_its_own_cap() {
    for (cap, calls) in [(1.0, 6), (5.0, 30), (50.0, 200)] {
        let run = start(100.0, FakeConfig::twilio()).await;
        campaign(&run.service, 1, calls, json!({"max_calls_per_second": cap})).await;
        run.workers();
        wait_creates(&run.fake, calls, 60).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        run.cancel.cancel();
        let creates = pace::creates(&run.fake);
        let (max, mean) = figures(&format!("one callout at {cap}/s"), &creates);
        assert_eq!(creates.len(), calls, "a number was created twice");
        assert!(counts(&creates).values().all(|n| *n == 1));
        assert!(
            max <= cap as usize,
            "{max} creates in one second at a cap of {cap}"
        );
        assert!(mean <= cap, "mean {mean:.3} over the cap {cap}");
        assert!(
            mean >= 0.5 * cap,
            "the dialler stalled: mean {mean:.3} at {cap}"
        );
    }
}

/// Two callouts, each capped at 5, share an account capped at 8: neither passes 5, both
/// together never pass 8.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_callouts_share_the_accounts_cap() {
    const CALLS: usize = 40;
    let run = start(8.0, FakeConfig::twilio()).await;
    for k in [1, 2] {
        campaign(&run.service, k, CALLS, json!({"max_calls_per_second": 5})).await;
    }
    run.workers();
    wait_creates(&run.fake, 2 * CALLS, 60).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    run.cancel.cancel();
    let all = pace::creates(&run.fake);
    let (max, mean) = figures("two callouts at 5/s on an 8/s account", &all);
    assert_eq!(all.len(), 2 * CALLS);
    assert!(counts(&all).values().all(|n| *n == 1));
    assert!(max <= 8, "{max} creates in one second on the account");
    assert!((4.0..=8.0).contains(&mean), "mean {mean:.3}");
    for (k, creates) in by_callout(&run.fake) {
        let (max, _) = figures(&format!("callout {k}"), &creates);
        assert!(max <= 5, "callout {k}: {max} creates in one second");
    }
}

/// Retries are creates like any other: a callout at 5/s whose every other number is busy (so
/// it is tried twice) keeps its cap with its retries in the same windows; each number is
/// created once per attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retries_keep_the_cap() {
    const CALLS: usize = 30;
    let mut fake = FakeConfig::twilio();
    for i in (0..CALLS).step_by(2) {
        fake = fake.scenario(NumberMatch::Exact(number(1, i)), Scenario::busy());
    }
    let run = start(100.0, fake).await;
    campaign(
        &run.service,
        1,
        CALLS,
        json!({"max_calls_per_second": 5, "max_attempts": 2, "retry_delay_seconds": 0,
               "retry_statuses": ["busy"]}),
    )
    .await;
    run.workers();
    wait_creates(&run.fake, CALLS + CALLS / 2, 60).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    run.cancel.cancel();
    let creates = pace::creates(&run.fake);
    let (max, _) = figures("one callout at 5/s with retries", &creates);
    assert_eq!(
        creates.len(),
        CALLS + CALLS / 2,
        "attempts: one each, two for busy"
    );
    for (to, n) in counts(&creates) {
        let i: usize = to[6..].parse().unwrap();
        assert_eq!(n, if i.is_multiple_of(2) { 2 } else { 1 }, "{to}");
    }
    assert!(max <= 5, "{max} creates in one second with retries");
}

/// A pause stops new creates; the resume does not make up for lost time with a burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resumed_pause_does_not_burst() {
    const CALLS: usize = 30;
    let run = start(100.0, FakeConfig::twilio()).await;
    let id = campaign(&run.service, 1, CALLS, json!({"max_calls_per_second": 5})).await;
    run.workers();
    wait_creates(&run.fake, 8, 30).await;
    run.service
        .fire_callout_event(id, Some("pause"))
        .await
        .unwrap();
    // Creates already claimed may still go out; then nothing while paused.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let paused = pace::creates(&run.fake).len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        pace::creates(&run.fake).len(),
        paused,
        "creates while paused"
    );
    run.service
        .fire_callout_event(id, Some("resume"))
        .await
        .unwrap();
    wait_creates(&run.fake, CALLS, 60).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    run.cancel.cancel();
    let creates = pace::creates(&run.fake);
    let (max, _) = figures("one callout at 5/s, paused and resumed", &creates);
    assert_eq!(creates.len(), CALLS);
    assert!(counts(&creates).values().all(|n| *n == 1));
    assert!(max <= 5, "{max} creates in one second across the pause");
}
