//! The campaign runner against the fake provider: pacing, concurrency, retries by status with
//! max attempts, calling window (controllable clock), pause/resume, restart without a double
//! dial, and two running callouts sharing the rate.
#![allow(clippy::unwrap_used)]

mod support;

use chrono::TimeZone;
use serde_json::{Value, json};
use std::time::Duration;
use support::fake_provider::{FakeConfig, FakeProvider, NumberMatch, Scenario};
use support::{TestServer, header};

fn use_fake(c: &mut scfm::config::Config, fake: &FakeProvider, cps: f64) {
    c.provider.account_sid = Some(fake.account_sid());
    c.provider.auth_token = Some(fake.auth_token());
    c.provider.base_url = Some(fake.base_url());
    c.provider.calls_per_second = cps;
    c.provider.poll_interval = Duration::from_millis(300);
}

async fn post_json(s: &TestServer, path: &str, body: Value) -> Value {
    s.post_json(path, body).await
}

/// Contacts with these numbers in callout 1 with `dialing`; returns the callout JSON.
async fn campaign(s: &TestServer, numbers: &[String], dialing: Value) -> Value {
    for n in numbers {
        post_json(s, "/api/contacts", json!({ "msisdn": n })).await;
    }
    let callout = post_json(s, "/api/callouts", json!({ "dialing": dialing })).await;
    s.populate(callout["id"].as_i64().unwrap()).await;
    callout
}

fn numbers(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

async fn progress(s: &TestServer, id: i64) -> Value {
    s.get(&format!("/api/callouts/{id}/progress"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_done(s: &TestServer, id: i64, secs: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let p = progress(s, id).await;
        if p["pending"] == 0 && p["in_progress"] == 0 {
            return p;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "campaign did not finish: {p}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn create_times(fake: &FakeProvider) -> Vec<chrono::DateTime<chrono::Utc>> {
    let mut t: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST" && r.path.ends_with("/Calls.json") && r.response_status == 201
        })
        .map(|r| r.at)
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn pacing_and_concurrency_hold() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let s = TestServer::start_with(|c| use_fake(c, &fake, 5.0)).await;
    // Without dialing settings a callout keeps SCFM's JSON exactly (no `dialing` key).
    let plain = post_json(&s, "/api/callouts", json!({})).await;
    assert!(plain.get("dialing").is_none());
    let nums = numbers("+8551234", 20);
    let c = campaign(&s, &nums, json!({"from": "1234", "twiml_url": "https://example.org/t.xml", "max_calls_per_second": 5, "max_concurrent_calls": 4})).await;
    let id = c["id"].as_i64().unwrap();
    assert_eq!(c["dialing"]["max_attempts"], 3);
    post_json(
        &s,
        &format!("/api/callouts/{id}/callout_events"),
        json!({"event": "start"}),
    )
    .await;
    let mut max_in_flight = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let p = progress(&s, id).await;
        max_in_flight = max_in_flight.max(p["in_progress"].as_i64().unwrap());
        if p["reached"] == 20 {
            assert_eq!(p["attempts"], 20);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{p}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        max_in_flight <= 4,
        "max concurrent calls exceeded: {max_in_flight}"
    );
    // No window of one second carries more than 5 creates (50 ms allowed for network jitter).
    let t = create_times(&fake);
    assert_eq!(t.len(), 20);
    for (i, start) in t.iter().enumerate() {
        let n = t[i..]
            .iter()
            .take_while(|x| **x - *start < chrono::Duration::milliseconds(950))
            .count();
        assert!(n <= 5, "{n} creates within a second starting at {start}");
    }
    s.stop().await;
}

#[tokio::test]
async fn retries_follow_what_happened() {
    let fake = FakeProvider::start(
        FakeConfig::twilio()
            .scenario(NumberMatch::Exact("+85512349001".into()), Scenario::busy())
            .scenario(
                NumberMatch::Exact("+85512349003".into()),
                Scenario::failed(),
            ),
    )
    .await;
    let s = TestServer::start_with(|c| use_fake(c, &fake, 50.0)).await;
    let nums = vec![
        "+85512340001".to_string(),
        "+85512349001".into(),
        "+85512349003".into(),
    ];
    let c = campaign(&s, &nums, json!({"from": "1234", "twiml_url": "https://example.org/t.xml",
        "max_calls_per_second": 50, "max_attempts": 3, "retry_delay_seconds": 1, "retry_statuses": ["busy"]})).await;
    let id = c["id"].as_i64().unwrap();
    post_json(
        &s,
        &format!("/api/callouts/{id}/callout_events"),
        json!({"event": "start"}),
    )
    .await;
    let p = wait_done(&s, id, 30).await;
    assert_eq!(fake.creates_for("+85512340001"), 1, "answered: called once");
    assert_eq!(
        fake.creates_for("+85512349001"),
        3,
        "busy: retried up to max attempts"
    );
    assert_eq!(
        fake.creates_for("+85512349003"),
        1,
        "failed is not in retry_statuses"
    );
    assert_eq!(p["reached"], 1);
    assert_eq!(p["not_reached"], json!({"busy": 1, "failed": 1}));
    assert_eq!(p["attempts"], 5);
    // Retries waited at least the delay between attempts.
    let busy: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST" && r.form.iter().any(|(k, v)| k == "To" && v == "+85512349001")
        })
        .map(|r| r.at)
        .collect();
    for w in busy.windows(2) {
        assert!(
            w[1] - w[0] >= chrono::Duration::milliseconds(1000),
            "retry came too soon"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn pause_holds_calls_and_restart_never_redials() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let s = TestServer::start_with(|c| use_fake(c, &fake, 2.0)).await;
    let nums = numbers("+8551235", 10);
    let c = campaign(&s, &nums, json!({"from": "1234", "twiml_url": "https://example.org/t.xml", "max_calls_per_second": 2, "max_concurrent_calls": 10})).await;
    let id = c["id"].as_i64().unwrap();
    post_json(
        &s,
        &format!("/api/callouts/{id}/callout_events"),
        json!({"event": "start"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    post_json(
        &s,
        &format!("/api/callouts/{id}/callout_events"),
        json!({"event": "pause"}),
    )
    .await;
    // Within a second of the pause nothing new is dialled.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after_pause = create_times(&fake).len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        create_times(&fake).len(),
        after_pause,
        "dialled while paused"
    );
    assert!(after_pause < 10);
    // Restart the process mid-campaign, then resume: it continues where it left off.
    let s = s.restart_with(|c| use_fake(c, &fake, 20.0)).await;
    post_json(
        &s,
        &format!("/api/callouts/{id}/callout_events"),
        json!({"event": "resume"}),
    )
    .await;
    let p = wait_done(&s, id, 30).await;
    assert_eq!(p["reached"], 10);
    for n in &nums {
        assert_eq!(fake.creates_for(n), 1, "{n} dialled more than once");
    }
    assert_eq!(
        header(&s.get("/api/phone_calls").send().await.unwrap(), "total"),
        "10"
    );
    s.stop().await;
}

#[tokio::test]
async fn two_running_callouts_share_the_rate() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let s = TestServer::start_with(|c| use_fake(c, &fake, 4.0)).await;
    let a = campaign(&s, &numbers("+8551236", 8), json!({"from": "1", "twiml_url": "https://e.org/t", "max_calls_per_second": 10, "max_concurrent_calls": 50})).await;
    // The second callout: its own contacts, so populate it with a filter on those numbers.
    for n in numbers("+8551237", 8) {
        post_json(
            &s,
            "/api/contacts",
            json!({ "msisdn": n, "metadata": {"group": "b"} }),
        )
        .await;
    }
    let b = post_json(&s, "/api/callouts", json!({"dialing": {"from": "1", "twiml_url": "https://e.org/t", "max_calls_per_second": 10, "max_concurrent_calls": 50}})).await;
    let op = post_json(&s, &format!("/api/callouts/{}/batch_operations", b["id"]),
        json!({"type": "BatchOperation::CalloutPopulation", "parameters": {"contact_filter_params": {"metadata": {"group": "b"}}}})).await;
    post_json(
        &s,
        &format!("/api/batch_operations/{}/batch_operation_events", op["id"]),
        json!({"event": "queue"}),
    )
    .await;
    s.wait_for(&format!("/api/batch_operations/{}", op["id"]), |v| {
        v["status"] == "finished"
    })
    .await;
    for c in [&a, &b] {
        post_json(
            &s,
            &format!("/api/callouts/{}/callout_events", c["id"]),
            json!({"event": "start"}),
        )
        .await;
    }
    wait_done(&s, a["id"].as_i64().unwrap(), 30).await;
    wait_done(&s, b["id"].as_i64().unwrap(), 30).await;
    // Of the first 8 creates, each callout got a fair part.
    let mut reqs: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.response_status == 201)
        .collect();
    reqs.sort_by_key(|r| r.at);
    let first_b = reqs
        .iter()
        .take(8)
        .filter(|r| {
            r.form
                .iter()
                .any(|(k, v)| k == "To" && v.starts_with("+8551237"))
        })
        .count();
    assert!(
        (2..=6).contains(&first_b),
        "unfair share: {first_b} of the first 8 creates went to the second callout"
    );
    s.stop().await;
}

#[tokio::test]
async fn calling_window_uses_a_controllable_clock() {
    let dir = tempfile::tempdir().unwrap();
    let store = scfm::store::Store::open(scfm::store::Location::for_tests(
        &dir.path().join("w.sqlite3"),
    ))
    .await
    .unwrap();
    // Monday 2026-11-30 06:00 in Phnom Penh (23:00 UTC the day before).
    let clock = scfm::domain::time::Clock::manual(
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 29, 23, 0, 0)
            .unwrap(),
    );
    let service =
        scfm::service::Service::new(store, clock.clone(), scfm::call_flow::Registry::default());
    service
        .create_contact(scfm::service::ContactInput {
            msisdn: Some("+85512345678".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let dialing = json!({"from": "1", "twiml_url": "https://e.org/t",
        "calling_window": {"start": "08:00", "end": "20:00", "days": ["mon","tue","wed","thu","fri"], "time_zone": "Asia/Phnom_Penh"}});
    let callout = service
        .create_callout(scfm::service::CalloutInput {
            dialing: Some(dialing.as_object().cloned()),
            ..Default::default()
        })
        .await
        .unwrap();
    service
        .create_participation(
            callout.id,
            scfm::service::ParticipationInput {
                contact_id: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    service
        .fire_callout_event(callout.id, Some("start"))
        .await
        .unwrap();
    assert_eq!(
        service.run_campaigns_once().await.unwrap(),
        0,
        "06:00 local: outside the window"
    );
    // A second running campaign allowing a single attempt: no retry clause at all.
    let single = json!({"from": "1", "twiml_url": "https://e.org/t", "max_attempts": 1});
    let other = service
        .create_callout(scfm::service::CalloutInput {
            dialing: Some(single.as_object().cloned()),
            ..Default::default()
        })
        .await
        .unwrap();
    service
        .create_participation(
            other.id,
            scfm::service::ParticipationInput {
                contact_id: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    service
        .fire_callout_event(other.id, Some("start"))
        .await
        .unwrap();
    clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        service.run_campaigns_once().await.unwrap(),
        2,
        "08:00 local: inside (the single-attempt campaign dials too)"
    );
    assert_eq!(
        service.run_campaigns_once().await.unwrap(),
        0,
        "the call is in flight; nothing more"
    );
    // Paused: the queued call is held back from the dialler.
    service
        .fire_callout_event(callout.id, Some("pause"))
        .await
        .unwrap();
    service
        .fire_callout_event(other.id, Some("stop"))
        .await
        .unwrap();
    assert!(service.claim_next_dial().await.unwrap().is_none());
    service
        .fire_callout_event(callout.id, Some("resume"))
        .await
        .unwrap();
    assert!(service.claim_next_dial().await.unwrap().is_some());
}

/// The participations' call summary (call_count, last call id, status and when it was reached —
/// at or before the call's last update; kept by triggers) equals a recomputation from phone_calls after manual calls, a deleted call,
/// a campaign with retries and the provider's status changes.
#[tokio::test]
async fn the_call_summary_follows_every_write() {
    let fake = FakeProvider::start(
        FakeConfig::twilio().scenario(NumberMatch::Exact("+85512360001".into()), Scenario::busy()),
    )
    .await;
    let s = TestServer::start_with(|c| use_fake(c, &fake, 50.0)).await;
    let nums = numbers("+8551236", 4);
    let c = campaign(&s, &nums, json!({"from": "1234", "twiml_url": "https://example.org/t.xml",
        "max_calls_per_second": 50, "max_attempts": 2, "retry_delay_seconds": 1, "retry_statuses": ["busy"]})).await;
    let id = c["id"].as_i64().unwrap();
    // A manual call created and deleted before the start leaves the participation uncalled.
    let parts: Value = s
        .get(&format!("/api/callouts/{id}/callout_participations"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = parts[0]["id"].as_i64().unwrap();
    let call = post_json(
        &s,
        &format!("/api/callout_participations/{first}/phone_calls"),
        json!({"remote_request_params": {"from": "1234", "url": "https://example.org/t.xml"}}),
    )
    .await;
    let r = s
        .delete(&format!("/api/phone_calls/{}", call["id"]))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    post_json(
        &s,
        &format!("/api/callouts/{id}/callout_events"),
        json!({"event": "start"}),
    )
    .await;
    let p = wait_done(&s, id, 30).await;
    assert_eq!(p["reached"], 3, "{p}");
    assert_eq!(p["not_reached"], json!({"busy": 1}), "{p}");
    assert_eq!(fake.creates_for("+85512360001"), 2, "busy: retried once");
    assert_eq!(fake.creates_for("+85512360000"), 1);

    // A second store on the same database (either engine) recomputes the summary.
    let check = scfm::store::Store::open(&s.config.database).await.unwrap();
    let mut conn = check.read().await.unwrap();
    let wrong: Vec<(i64,)> = scfm::on_engine!(&mut conn, ex => sqlx::query_as(
        "SELECT cp.id FROM callout_participations cp \
         LEFT JOIN (SELECT callout_participation_id AS pid, count(*) AS n, max(id) AS last_id FROM phone_calls \
                    GROUP BY callout_participation_id) s ON s.pid = cp.id \
         LEFT JOIN phone_calls l ON l.id = s.last_id \
         WHERE cp.call_count IS DISTINCT FROM COALESCE(s.n, 0) OR cp.last_call_id IS DISTINCT FROM s.last_id \
            OR cp.last_call_status IS DISTINCT FROM l.status OR cp.last_call_status_at > l.updated_at \
            OR (l.id IS NOT NULL AND cp.last_call_status_at IS NULL)",
    )
    .fetch_all(ex)
    .await)
    .unwrap();
    assert!(
        wrong.is_empty(),
        "summary differs for participations {wrong:?}"
    );
    let calls: i64 = scfm::on_engine!(&mut conn, ex => sqlx::query_scalar(
        "SELECT CAST(sum(call_count) AS BIGINT) FROM callout_participations",
    )
    .fetch_one(ex)
    .await)
    .unwrap();
    assert_eq!(calls, 5);
    drop(conn);
    check.close().await;
    s.stop().await;
}

/// Two services on one database file (as two processes are) run a pass of their campaign
/// runners at the same moment: both start while a third connection holds the write lock, so
/// each has read whatever it reads before the lock is free, and then they queue one after
/// the other. Counting the calls in flight inside the write transaction keeps them, together,
/// at `max_concurrent_calls`; a count read before it let each queue a full round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_on_one_file_never_exceed_max_concurrent_calls() {
    const CAP: i64 = 3;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("two.sqlite3");
    let open = || async {
        let store = scfm::store::Store::open(&db).await.unwrap();
        // A fast pace, so the per-pass limit is the concurrency cap, not the rate.
        let dialing = scfm::service::Dialing {
            calls_per_second: 100.0,
            ..scfm::service::Dialing::default()
        };
        scfm::service::Service::with_dialing(
            store,
            scfm::domain::time::Clock::System,
            scfm::call_flow::Registry::default(),
            dialing,
        )
    };
    let (a, b) = (open().await, open().await);
    let dialing = json!({"from": "1", "twiml_url": "https://e.org/t",
        "max_calls_per_second": 100, "max_concurrent_calls": CAP});
    let callout = a
        .create_callout(scfm::service::CalloutInput {
            dialing: Some(dialing.as_object().cloned()),
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..10 {
        let contact = a
            .create_contact(scfm::service::ContactInput {
                msisdn: Some(format!("+8551240{i:04}")),
                ..Default::default()
            })
            .await
            .unwrap();
        a.create_participation(
            callout.id,
            scfm::service::ParticipationInput {
                contact_id: Some(contact.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    a.fire_callout_event(callout.id, Some("start"))
        .await
        .unwrap();

    for round in 0..3 {
        let holder = scfm::store::Store::open(&db).await.unwrap();
        let lock = holder.write().await.unwrap();
        let busy = |s: &scfm::service::Service| {
            let pool = s.store().sqlite_pool().expect("a SQLite store");
            pool.size() as usize - pool.num_idle()
        };
        let (ta, tb) = (a.clone(), b.clone());
        let runs = (
            tokio::spawn(async move { ta.run_campaigns_once().await.unwrap() }),
            tokio::spawn(async move { tb.run_campaigns_once().await.unwrap() }),
        );
        // Both passes are under way (each holds a connection, waiting for the lock at the
        // latest when it wants to write); give them a moment to read what they read first.
        while busy(&a) == 0 || busy(&b) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        lock.rollback().await.unwrap();
        let queued = runs.0.await.unwrap() + runs.1.await.unwrap();
        holder.close().await;
        let p = a.callout_progress(callout.id).await.unwrap();
        if round == 0 {
            assert_eq!(queued, CAP as u64, "round {round}: {p:?}");
        } else {
            assert_eq!(queued, 0, "round {round}: the cap is reached: {p:?}");
        }
        assert_eq!(p.in_progress, CAP, "round {round}: {p:?}");
        assert_eq!(p.attempts, CAP, "round {round}: {p:?}");
    }
}
