//! The account-wide calls-per-second cap lives in the database (`schedules`), so it holds for
//! every process on it together:
//! - the schedule: reservations from two stores on one database (as two processes would be)
//!   never share a slot and are never closer than the interval; an idle schedule saves nothing
//!   up; routes are independent;
//! - the real dialler: two services on one database, each configured with the account's cap,
//!   dial a fake provider over HTTP; the fake's request log shows each number created once and
//!   no one-second window (sliding) over the cap.
//!
//! Written once; runs on PostgreSQL with `SCFM_TEST_DATABASE`.

#![allow(clippy::unwrap_used)]

mod support;

use scfm::service::{CalloutInput, ContactInput, Service};
use scfm::store::{Location, Store, schedules};
use std::collections::HashSet;
use std::time::Duration;
use support::fake_provider::{FakeConfig, FakeProvider};
use support::pace;

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// A reserved run of slots: the first, on the schedule's time line, and microseconds from now
/// until it.
#[derive(Debug, Clone, Copy)]
struct Reserved {
    first_slot_us: i64,
    wait_us: i64,
}

/// Reserves `n` slots `interval` apart on `route` the way the dialler does: lock the schedule's
/// row, read its next free slot, write the next one back, in one write transaction.
async fn reserve_with(store: &Store, route: &str, n: i64, interval: i64, slack: i64) -> Reserved {
    let mut tx = store.write().await.unwrap();
    let locked = schedules::lock_next(&mut tx, route, slack, now_us())
        .await
        .unwrap();
    let (next, now) = (locked.next_us, locked.now_us);
    schedules::set_next(&mut tx, route, next + n * interval)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    Reserved {
        first_slot_us: next,
        wait_us: next - now,
    }
}

async fn reserve(store: &Store, route: &str, n: i64, interval: i64) -> Reserved {
    reserve_with(store, route, n, interval, 0).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reservations_from_two_stores_never_share_a_slot() {
    let dir = tempfile::tempdir().unwrap();
    let at = Location::for_tests(&dir.path().join("pace.sqlite3"));
    let a = Store::open(at.clone()).await.unwrap();
    let b = Store::open(at).await.unwrap();
    const INTERVAL: i64 = 2_000;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            reserve(&store, "default", 1, INTERVAL).await.first_slot_us
        }));
    }
    let mut slots = Vec::new();
    for t in tasks {
        slots.push(t.await.unwrap());
    }
    slots.sort();
    let distinct: HashSet<i64> = slots.iter().copied().collect();
    assert_eq!(distinct.len(), 200, "two reservations got one slot");
    for w in slots.windows(2) {
        assert!(
            w[1] - w[0] >= INTERVAL,
            "slots {} and {} are closer than the interval",
            w[0],
            w[1]
        );
    }
}

#[tokio::test]
async fn an_idle_schedule_saves_nothing_up_and_routes_are_independent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(Location::for_tests(&dir.path().join("idle.sqlite3")))
        .await
        .unwrap();
    const INTERVAL: i64 = 100_000;
    let first = reserve(&store, "default", 1, INTERVAL).await;
    assert_eq!(first.wait_us, 0, "a fresh route's first slot is now");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Idle for three intervals: the next slots start now, not three intervals ago.
    let after_idle = reserve(&store, "default", 3, INTERVAL).await;
    assert_eq!(after_idle.wait_us, 0, "{after_idle:?}");
    assert!(after_idle.first_slot_us >= first.first_slot_us + 300_000);
    // Three slots taken: the next is about three intervals away.
    let next = reserve(&store, "default", 1, INTERVAL).await;
    assert_eq!(next.first_slot_us, after_idle.first_slot_us + 3 * INTERVAL);
    assert!(next.wait_us > 2 * INTERVAL, "{next:?}");
    let mut conn = store.read().await.unwrap();
    let wait = schedules::wait_us(&mut conn, "default", now_us())
        .await
        .unwrap();
    assert!(
        wait > 3 * INTERVAL,
        "the next free slot is after the reserved one: {wait}"
    );
    // Another route has its own schedule.
    drop(conn);
    let other = reserve(&store, "fallback", 1, INTERVAL).await;
    assert_eq!(other.wait_us, 0);
    // With slack, a caller late for the due slot gets it (in the past), never an earlier one.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let late = reserve_with(&store, "fallback", 1, INTERVAL, 50_000).await;
    assert!((-50_000..=-49_000).contains(&late.wait_us), "{late:?}");
    assert!(late.first_slot_us >= other.first_slot_us + INTERVAL);
}

async fn queue_calls(s: &Service, n: usize) {
    let callout = s.create_callout(CalloutInput::default()).await.unwrap();
    for i in 0..n {
        let contact = s
            .create_contact(ContactInput {
                msisdn: Some(format!("+8551{:07}", 3_000_000 + i)),
                ..Default::default()
            })
            .await
            .unwrap();
        pace::queued_call(s, callout.id, contact.id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_diallers_on_one_database_keep_the_accounts_cap_together() {
    const CPS: f64 = 10.0;
    const CALLS: usize = 40;
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let dir = tempfile::tempdir().unwrap();
    let at = Location::for_tests(&dir.path().join("two.sqlite3"));
    let a = pace::dialling_service(&at, &fake, CPS, Duration::from_secs(600)).await;
    let b = pace::dialling_service(&at, &fake, CPS, Duration::from_secs(600)).await;
    queue_calls(&a, CALLS).await;
    let cancel = tokio_util::sync::CancellationToken::new();
    let wa = scfm::workers::spawn_all(&a, cancel.clone());
    let wb = scfm::workers::spawn_all(&b, cancel.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while pace::creates(&fake).len() < CALLS {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {CALLS} calls were created",
            pace::creates(&fake).len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A little longer: nothing more may come.
    tokio::time::sleep(Duration::from_millis(500)).await;
    cancel.cancel();
    drop((wa, wb));
    let creates = pace::creates(&fake);
    let numbers: HashSet<&str> = creates.iter().map(|(_, to)| to.as_str()).collect();
    let times: Vec<_> = creates.iter().map(|(t, _)| *t).collect();
    let max = pace::max_per_second(&times);
    let mean = pace::mean_rate(&times);
    eprintln!(
        "two diallers at {CPS} cps: {} creates, {} numbers, max {max} in one second, mean {mean:.2}/s",
        creates.len(),
        numbers.len()
    );
    assert_eq!(creates.len(), CALLS, "a call was created twice");
    assert_eq!(numbers.len(), CALLS);
    assert!(max <= CPS as usize, "{max} creates within one second");
    assert!(mean <= CPS, "mean rate {mean:.2} over the cap");
}
