//! The dialling hold lives in the database: after the provider refuses our credentials (401) in
//! one service, another service on the same file (as another process would be) claims nothing
//! either, learns of the hold (a `DialingHeld` event; its TUI shows it), and a probe from either
//! one that the provider accepts releases both. Two services, two stores, one database (SQLite,
//! or PostgreSQL with `SCFM_TEST_DATABASE`), one fake provider over real HTTP. (`tests/two_processes.rs` does the same with two `scfm serve`.)

#![allow(clippy::unwrap_used)]

mod support;
mod tui_support;

use scfm::service::{
    ContactInput, DialOutcome, ParticipationInput, PhoneCallInput, Service, ServiceEvent,
};
use scfm::store::Location;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::fake_provider::{FakeConfig, FakeProvider, Fault, FaultAction};
use tokio::sync::broadcast::Receiver;

/// A service on `at` dialling the fake (as another process on the same database would).
async fn service(at: &Location, fake: &FakeProvider) -> Service {
    support::pace::dialling_service(at, fake, 100.0, Duration::from_millis(300)).await
}

/// A contact in callout 1 with a queued call to `msisdn`; returns the call id.
async fn queue_call(s: &Service, msisdn: &str) -> i64 {
    let contact = s
        .create_contact(ContactInput {
            msisdn: Some(msisdn.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let cp = s
        .create_participation(
            1,
            ParticipationInput {
                contact_id: Some(contact.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let call = s
        .create_phone_call(
            cp.id,
            PhoneCallInput {
                remote_request_params: json!({"from": "345", "url": "https://example.org/t.xml"})
                    .as_object()
                    .cloned(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let call = s
        .fire_phone_call_event(call.id, Some("queue"))
        .await
        .unwrap();
    assert_eq!(call.status, "queued");
    call.id
}

fn creates(fake: &FakeProvider) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/Calls.json"))
        .count()
}

fn lists(fake: &FakeProvider) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/Calls.json"))
        .count()
}

/// The `DialingHeld` events received so far.
fn holds(events: &mut Receiver<ServiceEvent>) -> Vec<Option<String>> {
    let mut out = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let ServiceEvent::DialingHeld(why) = ev {
            out.push(why);
        }
    }
    out
}

const HELD: &str =
    "the provider refused our credentials (HTTP 401); check the account SID and auth token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_set_by_one_service_holds_another_on_the_file_until_a_probe_releases_it() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    fake.add_fault(Fault::on_create(FaultAction::unauthorized()).always());
    fake.add_fault(Fault::on_list(FaultAction::unauthorized()).always());
    let dir = tempfile::tempdir().unwrap();
    let at = Location::for_tests(&dir.path().join("hold.sqlite3"));
    let (a, b) = (service(&at, &fake).await, service(&at, &fake).await);
    let (mut a_events, mut b_events) = (a.subscribe(), b.subscribe());
    a.create_callout(Default::default()).await.unwrap();
    let first = queue_call(&a, "+85515880000").await;
    assert_eq!(b.dialing_held().await.unwrap(), None);

    // A meets the 401: that call ends errored and dialling is held, in the database.
    let call = a.claim_next_dial().await.unwrap().unwrap();
    assert_eq!(call.id, first);
    assert_eq!(
        a.dial_claimed(call).await.unwrap(),
        DialOutcome::Errored(first)
    );
    assert_eq!(creates(&fake), 1);
    assert_eq!(holds(&mut a_events), vec![Some(HELD.to_string())]);
    assert_eq!(b.dialing_held().await.unwrap().as_deref(), Some(HELD));
    assert_eq!(
        holds(&mut b_events),
        vec![Some(HELD.to_string())],
        "B learns of A's hold"
    );

    // Neither claims a call while held, whoever queued it.
    let second = queue_call(&b, "+85515880001").await;
    assert!(b.claim_dials(5).await.unwrap().is_empty());
    assert!(a.claim_dials(5).await.unwrap().is_empty());
    assert_eq!(b.phone_call(second).await.unwrap().status, "queued");
    // B's probe is refused too: still held.
    b.probe_provider().await.unwrap();
    assert_eq!(lists(&fake), 1);
    assert_eq!(a.dialing_held().await.unwrap().as_deref(), Some(HELD));
    assert_eq!(creates(&fake), 1, "no create while held");

    // The account works again: B's probe releases the hold for A as well.
    fake.clear_faults();
    b.probe_provider().await.unwrap();
    assert_eq!(holds(&mut b_events), vec![None]);
    assert_eq!(a.dialing_held().await.unwrap(), None);
    assert_eq!(holds(&mut a_events), vec![None], "A learns of the release");
    // A probe with nothing held asks the provider nothing.
    a.probe_provider().await.unwrap();
    assert_eq!(lists(&fake), 2);
    let call = a.claim_next_dial().await.unwrap().unwrap();
    assert_eq!(call.id, second);
    assert_eq!(
        a.dial_claimed(call).await.unwrap(),
        DialOutcome::Accepted(second)
    );
    assert_eq!(fake.creates_for("+85515880001"), 1);
}

/// A screen that keeps the text of the last frame drawn.
struct Recorded(Arc<Mutex<String>>);

impl scfm::tui::event_loop::Screen for Recorded {
    fn draw(&mut self, app: &scfm::tui::app::App) -> std::io::Result<()> {
        *self.0.lock().unwrap() = tui_support::render(app, 140, 24);
        Ok(())
    }
}

/// Waits until the last frame contains `text` (20 s at most).
async fn wait_screen(screen: &Arc<Mutex<String>>, text: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = screen.lock().unwrap().clone();
        if now.contains(text) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never shown: {text:?}\n{now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The TUI of a service that never dials itself (as a TUI whose port was taken, in another
/// process) shows a hold another service set, and its release, in the message and status lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tui_shows_a_hold_set_by_another_service_on_the_file() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    fake.add_fault(Fault::on_create(FaultAction::unauthorized()).always());
    let dir = tempfile::tempdir().unwrap();
    let at = Location::for_tests(&dir.path().join("hold.sqlite3"));
    let (a, b) = (service(&at, &fake).await, service(&at, &fake).await);
    a.create_callout(Default::default()).await.unwrap();
    let screen: Arc<Mutex<String>> = Arc::default();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let tui = {
        let (b, screen) = (b.clone(), screen.clone());
        tokio::spawn(async move {
            let mut info = tui_support::info();
            info.missing_credentials = None;
            let mut app = scfm::tui::app::App::new(
                info,
                scfm::tui::theme::Theme::plain(),
                String::new(),
                None,
            );
            let input = futures::stream::pending::<std::io::Result<crossterm::event::Event>>();
            let stop = async {
                let _ = stop_rx.await;
            };
            scfm::tui::event_loop::run(
                &mut app,
                &mut Recorded(screen),
                &b,
                input,
                stop,
                Arc::default(),
            )
            .await
            .unwrap();
        })
    };
    wait_screen(&screen, "twilio: credentials set").await;

    let id = queue_call(&a, "+85515890000").await;
    let call = a.claim_next_dial().await.unwrap().unwrap();
    assert_eq!(
        a.dial_claimed(call).await.unwrap(),
        DialOutcome::Errored(id)
    );
    wait_screen(&screen, &format!("dialling held: {HELD}")).await;
    wait_screen(&screen, "twilio: dialling held").await;

    fake.clear_faults();
    a.probe_provider().await.unwrap();
    wait_screen(&screen, "dialling resumed: the provider answers again").await;
    wait_screen(&screen, "twilio: credentials set").await;
    stop_tx.send(()).unwrap();
    tui.await.unwrap();
}
