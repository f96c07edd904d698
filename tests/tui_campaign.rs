//! Campaigns from the TUI (issue 6), headless: a callout's dialing settings through the form
//! (and the service's validation in the form and status bar), and a campaign on the simulator
//! whose progress reaches everyone in the callouts and live calls panes. No timing assertions:
//! loops wait on state, with a generous deadline.
#![allow(clippy::unwrap_used)]

mod tui_support;

use crossterm::event::KeyCode;
use scfm::tui::action::{Action, PaneId};
use scfm::tui::app::Modal;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tui_support::{Harness, ctrl, fill, fixed_clock, info, message, seed, service_with};

#[tokio::test]
async fn dialing_settings_through_the_callout_form() {
    let (_d, service) = service_with(fixed_clock()).await;
    seed(&service).await;
    let mut h = Harness::new(service, info()).await;
    h.keys("2n").await;
    h.keys("Evacuation").await;
    h.press(ctrl('t')).await; // dialing on: focus on `from`
    fill(
        &mut h,
        &[
            "+85510999999",
            "",
            "https://example.org/warning.xml",
            "2",
            "5",
            "busy,failed",
            "4",
            "300",
            "",
            "08:00",
            "20:00",
            "mon,tue,wed",
            "Asia/Phnom_Penh",
            "yes",
        ],
    )
    .await;
    h.press(ctrl('s')).await;
    assert!(h.app.modals.is_empty(), "saved: {:?}", h.app.message);
    let id = h.app.callouts.current().unwrap().callout.id;
    assert_eq!(id, 3);
    let c = h.service.callout(id).await.unwrap();
    let d = c.dialing.unwrap();
    assert_eq!(d["from"], "+85510999999");
    assert_eq!(d["twiml_url"], "https://example.org/warning.xml");
    assert_eq!(d["max_calls_per_second"], json!(2.0));
    assert_eq!(d["max_concurrent_calls"], 5);
    assert_eq!(d["retry_statuses"], json!(["busy", "failed"]));
    assert_eq!(
        (d["max_attempts"].clone(), d["retry_delay_seconds"].clone()),
        (json!(4), json!(300))
    );
    assert_eq!(d["machine_detection"], true);
    assert_eq!(
        d["calling_window"],
        json!({"start": "08:00", "end": "20:00", "days": ["mon", "tue", "wed"], "time_zone": "Asia/Phnom_Penh"})
    );
    assert_eq!(c.metadata["name"], "Evacuation");
    let screen = h.screen(160, 48);
    assert!(
        screen.contains("window 08:00–20:00 mon,tue,wed"),
        "{screen}"
    );

    // The service's reasons come back into the form and the status bar; the form stays open.
    h.keys("n").await;
    h.keys("Broken").await;
    h.press(ctrl('t')).await;
    h.press(ctrl('s')).await;
    let Some(Modal::Form(f)) = h.app.modals.last() else {
        panic!("the form stays open")
    };
    let e = f.error.clone().unwrap();
    assert!(e.contains("Dialing") && e.contains("from"), "{e}");
    let (text, error) = message(&h);
    assert!(error && text.contains("from"), "{text}");
    assert!(h.screen(80, 24).contains("error: Dialing"));
    // Fixed step by step: the form keeps what was typed between tries.
    h.keys("+85510999999").await;
    h.press(ctrl('s')).await;
    let Some(Modal::Form(f)) = h.app.modals.last() else {
        panic!("the form stays open")
    };
    let e = f.error.clone().unwrap();
    assert!(e.contains("call_flow_logic or twiml_url"), "{e}");
    fill(&mut h, &["", "", "https://x.org/t.xml"]).await;
    for _ in 0..7 {
        h.code(KeyCode::Tab).await;
    }
    fill(&mut h, &["25:00", "20:00", "", "Asia/Phnom_Penh"]).await;
    h.press(ctrl('s')).await;
    let Some(Modal::Form(f)) = h.app.modals.last() else {
        panic!("the form stays open")
    };
    assert!(f.error.clone().unwrap().contains("HH:MM"), "{:?}", f.error);
    assert_eq!(f.fields[5].text(), "+85510999999");
    h.code(KeyCode::Esc).await;

    // Editing shows the settings; ^t off removes them (a manual callout again).
    h.keys("e").await;
    let Some(Modal::Form(f)) = h.app.modals.last() else {
        panic!("edit form")
    };
    assert!(f.section.as_ref().unwrap().on);
    assert_eq!(f.fields[5].text(), "+85510999999");
    h.press(ctrl('t')).await;
    h.press(ctrl('s')).await;
    assert!(h.app.modals.is_empty());
    assert!(h.service.callout(id).await.unwrap().dialing.is_none());

    // A callout saved with the section off has no settings.
    h.keys("n").await;
    h.keys("Manual").await;
    h.press(ctrl('s')).await;
    let manual = h.app.callouts.current().unwrap().callout.id;
    assert!(h.service.callout(manual).await.unwrap().dialing.is_none());
}

#[tokio::test]
async fn a_campaign_on_the_simulator_reaches_everyone() {
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
    // A campaign that retries only `canceled` (which the simulator never ends in), so each
    // participation gets one call and ends reached or not reached.
    h.keys("2n").await;
    h.keys("Flood").await;
    h.press(ctrl('t')).await;
    fill(
        &mut h,
        &[
            "+85510999999",
            "",
            "https://example.org/t.xml",
            "100",
            "10",
            "canceled",
            "2",
        ],
    )
    .await;
    h.press(ctrl('s')).await;
    assert!(h.app.modals.is_empty(), "{:?}", h.app.message);
    let id = h.app.callouts.current().unwrap().callout.id;
    h.keys("3n").await;
    h.code(KeyCode::Enter).await;
    h.keys("Qy").await;
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
    let before = h.app.callouts.current().unwrap().progress.clone();
    assert_eq!((before.pending, before.reached, before.attempts), (4, 0, 0));
    h.keys("s").await;
    assert!(
        matches!(h.app.modals.last(), Some(Modal::Confirm(c)) if c.body[0].contains("4 people")),
        "start asks first"
    );
    h.keys("y").await;
    assert_eq!(h.app.callouts.current().unwrap().callout.status, "running");
    // Follow service events (as the event loop does) until nobody is pending or in progress.
    let progress = loop {
        while let Ok(ev) = events.try_recv() {
            h.act(Action::ServiceChanged(ev)).await;
        }
        h.act(Action::Refresh).await;
        let p = h.app.callouts.current().unwrap().progress.clone();
        if p.pending == 0 && p.in_progress == 0 {
            break p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the campaign never finished: {p:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let not_reached: i64 = progress.not_reached.values().sum();
    assert_eq!(progress.reached + progress.reached_machine + not_reached, 4);
    assert!(progress.reached > 0, "{progress:?}");
    assert_eq!(progress.attempts, 4);
    let screen = h.screen(160, 48);
    assert!(
        screen.contains(&format!("reached {}", progress.reached)),
        "{screen}"
    );
    // The live calls pane shows the same progress for the callout.
    h.keys("4/").await;
    h.keys(&format!("callout={id}")).await;
    h.code(KeyCode::Enter).await;
    let live = h.app.calls.data.clone().unwrap();
    assert_eq!(live.campaigns.len(), 1);
    assert_eq!(live.campaigns[0].1.reached, progress.reached);
    assert!(h.screen(80, 24).contains(&format!("#{id} Flood")));
    cancel.cancel();
    while workers.join_next().await.is_some() {}
}
