//! Key sequences driving the App headless (no terminal): create a contact, filter, build and
//! preview a population, confirmations default to No, and a callout started with the simulator
//! whose calls reach final states.
#![allow(clippy::unwrap_used)]

mod tui_support;

use crossterm::event::KeyCode;
use scfm::service::tui_queries::IN_FLIGHT;
use scfm::tui::action::{Action, Effect, PaneId};
use std::sync::Arc;
use std::time::Duration;
use tui_support::{Harness, ctrl, fixed_clock, info, seed, service_with};

#[tokio::test]
async fn create_a_contact_then_filter() {
    let (_d, service) = service_with(fixed_clock()).await;
    seed(&service).await;
    let mut h = Harness::new(service, info()).await;
    h.keys("n").await;
    h.keys("+855 12 999 888").await;
    h.code(KeyCode::Tab).await;
    h.keys("province=Pursat").await;
    h.code(KeyCode::Enter).await;
    h.keys("gender=f").await;
    h.press(ctrl('s')).await;
    assert!(h.app.modals.is_empty(), "form closes after saving");
    let msg = h.app.message.clone().unwrap();
    assert!(msg.text.contains("saved"), "{msg:?}");
    assert_eq!(h.app.contacts.total, Some(6));
    let c = h
        .service
        .contact_by_msisdn("+85512999888")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.metadata["province"], "Pursat");

    // A validation error keeps the form open with the service's reason.
    h.keys("n").await;
    h.keys("123").await;
    h.press(ctrl('s')).await;
    assert_eq!(h.app.modals.len(), 1);
    assert!(h.app.message.clone().unwrap().error);
    h.code(KeyCode::Esc).await;

    // `/province=Kandal gender=f` narrows the table; Esc clears it.
    h.keys("/").await;
    h.keys("province=Kandal gender=f").await;
    h.code(KeyCode::Enter).await;
    let shown: Vec<&str> = h
        .app
        .contacts
        .rows
        .iter()
        .map(|c| c.msisdn.as_str())
        .collect();
    assert_eq!(shown, ["+85512000001", "+85512000005"]);
    assert_eq!(h.app.contacts.total, Some(2));
    h.keys("/").await;
    h.code(KeyCode::Backspace).await;
    for _ in 0..30 {
        h.code(KeyCode::Backspace).await;
    }
    h.keys("+85512000003").await;
    h.code(KeyCode::Enter).await;
    assert_eq!(h.app.contacts.rows.len(), 1);
    h.code(KeyCode::Esc).await;
    assert_eq!(h.app.contacts.rows.len(), 6);
}

#[tokio::test]
async fn keyset_paging_never_loads_the_whole_table() {
    let (_d, service) = service_with(fixed_clock()).await;
    for i in 0..250 {
        service
            .create_contact(scfm::service::ContactInput {
                msisdn: Some(format!("+8551230{i:05}")),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let mut h = Harness::new(service, info()).await;
    assert_eq!(h.app.contacts.rows.len(), 100);
    h.keys("G").await;
    assert_eq!(h.app.contacts.selected().unwrap().id, 250);
    h.keys("g").await;
    for _ in 0..100 {
        h.keys("j").await;
    }
    assert_eq!(h.app.contacts.selected().unwrap().id, 101);
    h.keys("k").await;
    assert_eq!(h.app.contacts.selected().unwrap().id, 100);
    for e in &h.effects {
        if let Effect::LoadContacts { limit, .. } = e {
            assert!(*limit <= 100);
        }
    }
}

#[tokio::test]
async fn build_preview_and_confirmations_default_to_no() {
    let (_d, service) = service_with(fixed_clock()).await;
    seed(&service).await;
    let mut h = Harness::new(service, info()).await;
    h.keys("2").await;
    h.keys("j").await; // callout 2, "Drill", nobody in it yet
    h.keys("3n").await;
    h.keys("gender=f").await;
    h.code(KeyCode::Enter).await;
    let p = h.app.previews.preview.clone().unwrap();
    assert_eq!(
        (p.op.callout_id, p.total, p.op.status.as_str()),
        (Some(2), 3, "preview")
    );
    let shown: Vec<&str> = p.first.iter().map(|c| c.msisdn.as_str()).collect();
    assert_eq!(shown, ["+85512000001", "+85512000003", "+85512000005"]);

    // Q asks, naming the number of people; Enter on the fresh dialog means No.
    h.keys("Q").await;
    assert!(
        matches!(h.app.modals.last(), Some(scfm::tui::app::Modal::Confirm(c)) if c.body[0].contains("3 people"))
    );
    h.code(KeyCode::Enter).await;
    assert!(h.app.modals.is_empty());
    let op = h.service.batch_operation(p.op.id, &[]).await.unwrap();
    assert_eq!(op.status, "preview", "No was the default");
    // n also says no; y queues.
    h.keys("Qn").await;
    assert_eq!(
        h.service
            .batch_operation(p.op.id, &[])
            .await
            .unwrap()
            .status,
        "preview"
    );
    h.keys("Qy").await;
    assert_eq!(
        h.service
            .batch_operation(p.op.id, &[])
            .await
            .unwrap()
            .status,
        "queued"
    );

    // Deleting a contact asks too, and defaults to No.
    h.keys("1d").await;
    h.code(KeyCode::Enter).await;
    assert!(h.service.contact(1).await.is_ok());
    // q with nothing in flight quits without asking.
    h.keys("q").await;
    assert!(h.app.quit);
}

#[tokio::test]
async fn command_line_and_disabled_keys() {
    let (_d, service) = service_with(fixed_clock()).await;
    seed(&service).await;
    let mut h = Harness::new(service, info()).await;
    h.keys(":callout 1").await;
    h.code(KeyCode::Enter).await;
    assert_eq!(h.app.focus, PaneId::Callouts);
    assert_eq!(
        h.app.callouts.detail.as_ref().unwrap().participations_total,
        3
    );
    h.keys("p").await; // not running: refused with the reason, nothing asked
    assert!(h.app.modals.is_empty());
    assert!(
        h.app
            .message
            .clone()
            .unwrap()
            .text
            .contains("only a running")
    );
    h.code(KeyCode::Esc).await;
    assert!(h.app.callouts.detail_id.is_none());
    h.keys(":bogus").await;
    h.code(KeyCode::Enter).await;
    assert!(h.app.message.clone().unwrap().error);
    h.code(KeyCode::Tab).await;
    h.code(KeyCode::Tab).await;
    assert_eq!(h.app.focus, PaneId::Calls);
    h.press(tui_support::key(KeyCode::BackTab)).await;
    assert_eq!(h.app.focus, PaneId::Previews);
}

#[tokio::test]
async fn start_a_callout_with_the_simulator_and_watch_calls_finish() {
    let dir = tempfile::tempdir().unwrap();
    let store = scfm::store::Store::open(scfm::store::Location::for_tests(
        &dir.path().join("scfm.sqlite3"),
    ))
    .await
    .unwrap();
    let dialing = scfm::service::Dialing {
        provider: Some(Arc::new(scfm::provider::simulator::Simulator::new(200.0))),
        provider_name: "simulator".into(),
        missing_credentials: None,
        auth_token: Some("simulator".into()),
        poll_interval: Duration::from_millis(100),
        calls_per_second: 1000.0,
        ..scfm::service::Dialing::default()
    };
    let service = scfm::service::Service::with_dialing(
        store,
        scfm::domain::time::Clock::System,
        Default::default(),
        dialing,
    );
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut workers = scfm::workers::spawn_all(&service, cancel.clone());
    for i in 1..=4 {
        service
            .create_contact(scfm::service::ContactInput {
                msisdn: Some(format!("+8551200000{i}")),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let mut i = info();
    i.simulated = true;
    let mut events = service.subscribe();
    let mut h = Harness::new(service, i).await;
    // A callout, a population for everyone, queued.
    h.keys("2n").await;
    h.keys("Evacuation").await;
    h.press(ctrl('s')).await;
    h.keys("3n").await;
    h.code(KeyCode::Enter).await;
    assert_eq!(h.app.previews.preview.as_ref().unwrap().total, 4);
    h.keys("Qy").await;
    // Start: the confirmation names the people; y dials.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        h.act(Action::Focus(PaneId::Callouts)).await;
        h.act(Action::AllStale).await;
        h.act(Action::Refresh).await;
        if h.app
            .callouts
            .current()
            .is_some_and(|s| s.participations == 4)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "population never ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.keys("s").await;
    match h.app.modals.last() {
        Some(scfm::tui::app::Modal::Confirm(c)) => {
            assert!(
                c.body[0].contains("4 people") && c.body[0].contains("SIMULATION"),
                "{:?}",
                c.body
            )
        }
        _ => panic!("start must ask first"),
    }
    h.keys("y").await;
    assert_eq!(h.app.callouts.current().unwrap().callout.status, "running");
    // Watch the live pane follow service events until every call is final.
    h.keys("4").await;
    loop {
        while let Ok(ev) = events.try_recv() {
            h.act(Action::ServiceChanged(ev)).await;
        }
        h.act(Action::Refresh).await;
        let data = h.app.calls.data.clone().unwrap();
        let total: i64 = data.counts.iter().map(|(_, n)| n).sum();
        let moving: i64 = data
            .counts
            .iter()
            .filter(|(s, _)| IN_FLIGHT.contains(&s.as_str()) || s == "created")
            .map(|(_, n)| n)
            .sum();
        if total == 4 && moving == 0 {
            assert!(data.calls.iter().all(|c| scfm::domain::status::PHONE_CALL_TERMINAL.contains(&c.status.as_str())));
            assert_eq!(data.outcomes_per_minute.iter().sum::<u64>(), 4);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "calls never finished: {:?}",
            data.counts
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cancel.cancel();
    while workers.join_next().await.is_some() {}
}

#[tokio::test]
async fn a_dialing_hold_is_shown_on_the_message_line() {
    let (_d, service) = service_with(fixed_clock()).await;
    let mut h = Harness::new(service, info()).await;
    let why =
        "the provider refused our credentials (HTTP 401); check the account SID and auth token";
    h.act(Action::ServiceChanged(
        scfm::service::ServiceEvent::DialingHeld(Some(why.into())),
    ))
    .await;
    let screen = h.screen(140, 24);
    assert!(
        screen.contains("dialling held: the provider refused our credentials (HTTP 401)"),
        "{screen}"
    );
    assert!(h.app.message.clone().unwrap().error);
    h.act(Action::ServiceChanged(
        scfm::service::ServiceEvent::DialingHeld(None),
    ))
    .await;
    let screen = h.screen(140, 24);
    assert!(screen.contains("dialling resumed"), "{screen}");
}

/// Congestion control slowing dialling down (here or in another process) shows on the message
/// and status lines, and so does its end.
#[tokio::test]
async fn a_slowed_pace_is_shown_on_the_message_and_status_lines() {
    let (_d, service) = service_with(fixed_clock()).await;
    let with_credentials = scfm::tui::Info {
        missing_credentials: None,
        ..info()
    };
    let mut h = Harness::new(service, with_credentials).await;
    let why = "5.0 of 20/s: the provider answered 429 Too Many Requests (Retry-After 1 s)";
    h.act(Action::ServiceChanged(
        scfm::service::ServiceEvent::DialingSlowed(Some(why.into())),
    ))
    .await;
    let screen = h.screen(160, 24);
    assert!(
        screen.contains("dialling slowed: 5.0 of 20/s: the provider answered 429"),
        "{screen}"
    );
    assert!(screen.contains(": dialling slowed"), "{screen}");
    h.act(Action::ServiceChanged(
        scfm::service::ServiceEvent::DialingSlowed(None),
    ))
    .await;
    let screen = h.screen(160, 24);
    assert!(
        screen.contains("dialling back at the full pace"),
        "{screen}"
    );
    assert!(!screen.contains(": dialling slowed"), "{screen}");
}

/// The live pane's lists are the newest rows, newest first, with totals from the status counts,
/// for all calls and for one callout, with and without a status filter.
#[tokio::test]
async fn live_calls_are_the_newest_first() {
    let (_d, service) = service_with(fixed_clock()).await;
    seed(&service).await; // callout 1 with 3 participations, one created call each
    for round in 0..40 {
        for participation in 1..=3 {
            let call = service
                .create_phone_call(
                    participation,
                    scfm::service::PhoneCallInput {
                        remote_request_params:
                            serde_json::json!({"from": "1234", "url": "https://example.org/flow"})
                                .as_object()
                                .cloned(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            if round % 4 == 0 {
                service
                    .fire_phone_call_event(call.id, Some("queue"))
                    .await
                    .unwrap();
            }
        }
    }
    let live = service.live_calls(None, &[], 50).await.unwrap();
    let ids: Vec<i64> = live.calls.iter().map(|c| c.id).collect();
    assert_eq!(ids, (74..=123).rev().collect::<Vec<i64>>());
    assert_eq!(live.total, 123);
    let queued = ["queued".to_string()];
    let live = service.live_calls(Some(1), &queued, 5).await.unwrap();
    let ids: Vec<i64> = live.calls.iter().map(|c| c.id).collect();
    // Rounds 36, 32, … queued their three calls (ids 3·round + 4 … + 6).
    assert_eq!(ids, vec![114, 113, 112, 102, 101]);
    assert_eq!(live.total, 30);
    assert!(live.calls.iter().all(|c| c.status == "queued"));
    assert!(service.live_calls(Some(99), &[], 5).await.is_err());
}
