//! Two-person start from the TUI (issue 14), drawn into ratatui's TestBackend: the TUI runs as
//! a named operator (`--operator ana`); its start of a callout that requires approval is refused
//! with the reason on the message line and nothing changes; the callout panel says it needs
//! approval; after a second operator approves, the same keys start it and the panel names the
//! approver. Every attempt is in the journal as ana's or bo's.

#![allow(clippy::unwrap_used)]

mod tui_support;

use scfm::service::{BatchOperationInput, CalloutInput, ContactInput};
use tui_support::{Harness, fixed_clock, info, message};

#[tokio::test]
async fn the_tui_cannot_start_an_unapproved_callout_and_can_once_approved() {
    let dir = tempfile::tempdir().unwrap();
    let store = scfm::store::Store::open(scfm::store::Location::for_tests(
        &dir.path().join("scfm.sqlite3"),
    ))
    .await
    .unwrap();
    // A public URL, so a start would queue real calls: nothing else stands in the way.
    let dialing = scfm::service::Dialing {
        public_url: Some("http://127.0.0.1:3000".into()),
        ..scfm::service::Dialing::default()
    };
    let base =
        scfm::service::Service::with_dialing(store, fixed_clock(), Default::default(), dialing);
    base.add_operator("ana").await.unwrap();
    base.add_operator("bo").await.unwrap();
    let ana = base.acting_as(base.operator_named("ana").await.unwrap());
    let bo = base.acting_as(base.operator_named("bo").await.unwrap());
    let c = ana
        .create_callout(CalloutInput {
            requires_approval: Some(true),
            metadata: Some(
                serde_json::json!({"name": "Flood Kandal"})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    ana.create_contact(ContactInput {
        msisdn: Some("+85512000001".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let op = ana
        .create_batch_operation(
            BatchOperationInput {
                kind: Some("BatchOperation::CalloutPopulation".into()),
                callout_id: Some(c.id),
                ..Default::default()
            },
            true,
        )
        .await
        .unwrap();
    ana.fire_batch_operation_event(op.id, Some("queue"))
        .await
        .unwrap();
    while ana.run_next_batch_operation().await.unwrap() {}

    let mut h = Harness::new(ana.clone(), info()).await;
    h.keys("2").await;
    assert!(
        h.screen(220, 40)
            .contains("NEEDS APPROVAL by a second operator"),
        "{}",
        h.screen(220, 40)
    );
    h.keys("s").await;
    h.keys("y").await;
    let (text, error) = message(&h);
    assert!(error && text.contains("needs approval"), "{text}");
    assert_eq!(base.callout(c.id).await.unwrap().status, "initialized");

    bo.fire_callout_event(c.id, Some("approve")).await.unwrap();
    h.act(scfm::tui::action::Action::AllStale).await;
    h.act(scfm::tui::action::Action::Refresh).await;
    assert!(h.screen(220, 40).contains("approved by bo"));
    h.keys("s").await;
    h.keys("y").await;
    let started = base.callout(c.id).await.unwrap();
    assert_eq!(started.status, "running", "{:?}", h.app.message);
    assert_eq!(started.started_by.as_deref(), Some("ana"));

    let actions: Vec<(String, String)> = base
        .journal_entries(Some(c.id), 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action))
        .collect();
    assert_eq!(
        actions,
        [
            ("ana".to_string(), "callout.create".to_string()),
            ("ana".into(), "batch_operation.create".into()),
            ("ana".into(), "batch_operation.queue".into()),
            ("ana".into(), "callout.start.refused".into()),
            ("bo".into(), "callout.approve".into()),
            ("ana".into(), "callout.start".into()),
            // The start's PhoneCallCreate and PhoneCallQueue for the callout's people.
            ("ana".into(), "batch_operation.create".into()),
            ("ana".into(), "batch_operation.create".into()),
            ("ana".into(), "batch_operation.queue".into()),
            ("ana".into(), "batch_operation.queue".into()),
        ]
    );
}
