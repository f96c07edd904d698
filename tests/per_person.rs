//! Per-person protection (issue 13): a person (contact) is never called while another call to
//! them is in flight, and at most `SCFM_MAX_CALLS_PER_PERSON_PER_HOUR` times in an hour, across
//! every callout. The real dialler against the fake provider; the fake's own call records show
//! when each call to the number started and ended.
//!
//! Written once; runs on PostgreSQL with `SCFM_TEST_DATABASE`.

#![allow(clippy::unwrap_used)]

mod support;

use scfm::service::{CalloutInput, ContactInput, Service};
use scfm::store::Location;
use std::time::Duration;
use support::fake_provider::{FakeConfig, FakeProvider};
use support::pace;

const SHARED: &str = "+85512000001";

async fn contact(s: &Service, msisdn: &str) -> i64 {
    s.create_contact(ContactInput {
        msisdn: Some(msisdn.into()),
        ..Default::default()
    })
    .await
    .unwrap()
    .id
}

/// The fake's calls to `to`, oldest first.
fn calls_to(fake: &FakeProvider, to: &str) -> Vec<support::fake_provider::FakeCall> {
    let mut calls: Vec<_> = fake.calls().into_iter().filter(|c| c.to == to).collect();
    calls.sort_by_key(|c| c.created_at);
    calls
}

/// One person in three callouts (each also calling someone else), all six calls queued at
/// once, a limit of 2 calls per person per hour: the person's calls go one after the other
/// (each created after the one before ended), two of them reach the provider, the third stays
/// queued; the three others are called at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_person_in_three_callouts_is_called_in_turn_and_within_the_hourly_limit() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let dir = tempfile::tempdir().unwrap();
    let at = Location::for_tests(&dir.path().join("person.sqlite3"));
    let s = pace::dialling_service_with(&at, &fake, 100.0, Duration::from_millis(200), |d| {
        d.max_calls_per_person_per_hour = 2;
    })
    .await;
    let shared = contact(&s, SHARED).await;
    let mut shared_calls = Vec::new();
    for k in 0..3 {
        let callout = s.create_callout(CalloutInput::default()).await.unwrap();
        s.fire_callout_event(callout.id, Some("start"))
            .await
            .unwrap();
        let other = contact(&s, &format!("+8551200010{k}")).await;
        shared_calls.push(pace::queued_call(&s, callout.id, shared).await);
        pace::queued_call(&s, callout.id, other).await;
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let workers = scfm::workers::spawn_all(&s, cancel.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while calls_to(&fake, SHARED).len() < 2 || fake.calls().len() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} calls",
            fake.calls().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Long enough for the third to have gone out if anything let it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    cancel.cancel();
    drop(workers);
    let mine = calls_to(&fake, SHARED);
    assert_eq!(mine.len(), 2, "calls to the person within the hour");
    let ended = mine[0].end_time.expect("the first call ended");
    assert!(
        mine[1].created_at >= ended,
        "the second call was created at {} while the first was in flight (ended {ended})",
        mine[1].created_at
    );
    assert_eq!(fake.calls().len(), 5, "the others were each called once");
    let mut statuses = Vec::new();
    for id in &shared_calls {
        statuses.push(s.phone_call(*id).await.unwrap().status);
    }
    assert_eq!(
        statuses.iter().filter(|st| *st == "queued").count(),
        1,
        "the third call waits in the queue: {statuses:?}"
    );
}
