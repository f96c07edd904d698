//! The approvals list (issue 14's two-person start in the TUI), drawn into ratatui's
//! TestBackend on a real service (SQLite file, or PostgreSQL with SCFM_TEST_DATABASE): ana
//! drafts a callout from a CAP alert with `:cap`; the list (`A`) shows it with its count, its
//! areas and its message; ana's own approval is refused with the rule's reason, as is the
//! shared credential's, and nothing changes; bo approves from his TUI; ana then starts it.

#![allow(clippy::unwrap_used)]

mod tui_support;

use scfm::service::Service;
use tempfile::TempDir;
use tui_support::{Harness, command, info, message};

async fn as_operator(svc: &Service, name: &str) -> Service {
    svc.acting_as(svc.operator_named(name).await.unwrap())
}

#[tokio::test]
async fn the_creator_is_refused_a_second_operator_approves_then_it_starts() {
    let dir = TempDir::new().unwrap();
    let svc = tui_support::cap::cap_service(&dir).await;
    svc.add_operator("ana").await.unwrap();
    svc.add_operator("bo").await.unwrap();
    let ana = as_operator(&svc, "ana").await;
    let bo = as_operator(&svc, "bo").await;

    let mut h_ana = Harness::new(ana.clone(), info()).await;
    h_ana.app.area_map = Some("assets/area_map.example.toml".into());
    command(&mut h_ana, "cap tests/fixtures/cap/flood_alert.xml").await;
    let id = h_ana.app.callouts.current().unwrap().callout.id;

    // The list: one callout, its people, areas and message.
    h_ana.keys("A").await;
    let screen = h_ana.screen(120, 40);
    assert!(screen.contains("Waiting for approval 1"), "{screen}");
    assert!(
        screen.contains(&format!(
            "Callout {id} Flood warning for Kandal & Phnom Penh · requested by ana"
        )),
        "{screen}"
    );
    assert!(
        screen.contains("people: up to 6 people (areas may overlap)"),
        "{screen}"
    );
    assert!(
        screen.contains("areas: Kandal 3 · Phnom Penh 2 · Prey Veng riverside 1"),
        "{screen}"
    );
    assert!(screen.contains("The Mekong is rising"), "{screen}");
    assert!(
        screen.contains("message [en-US]: Flood warning"),
        "{screen}"
    );
    assert!(screen.contains("a approve"), "{screen}");
    insta::assert_snapshot!("approvals_80x24", h_ana.screen(80, 24));
    let row = h_ana.app.approvals.selected().unwrap();
    assert_eq!((row.callout.id, row.people), (id, 6));

    // ana asked for it: refused with the rule's reason, nothing changes, it stays listed.
    h_ana.keys("a").await;
    assert!(
        h_ana
            .screen(120, 40)
            .contains(&format!("Approve callout {id}?"))
    );
    h_ana.keys("y").await;
    let (text, error) = message(&h_ana);
    assert!(error, "{text}");
    assert_eq!(
        text,
        format!(
            "callout {id}: approval must come from a second operator: the one who created the callout cannot approve it"
        )
    );
    assert!(svc.callout(id).await.unwrap().approved_by.is_none());
    assert_eq!(h_ana.app.approvals.items.len(), 1);

    // A TUI without --operator (acting as scfm, not a named person) is refused too.
    let mut h_api = Harness::new(svc.clone(), info()).await;
    h_api.keys("Aay").await;
    let (text, error) = message(&h_api);
    assert!(
        error && text.contains("approval needs a named operator"),
        "{text}"
    );
    assert!(svc.callout(id).await.unwrap().approved_by.is_none());

    // bo approves from his own TUI; the list empties.
    let mut h_bo = Harness::new(bo.clone(), info()).await;
    h_bo.keys("A").await;
    assert!(h_bo.screen(120, 40).contains("requested by ana"));
    h_bo.keys("ay").await;
    let (text, error) = message(&h_bo);
    assert!(!error, "{text}");
    assert_eq!(
        text,
        format!("callout {id} approved by bo; it may start now (2, select it, s)")
    );
    assert_eq!(
        svc.callout(id).await.unwrap().approved_by.as_deref(),
        Some("bo")
    );
    assert!(h_bo.app.approvals.items.is_empty());
    assert!(
        h_bo.screen(120, 40)
            .contains("No callout waits for approval."),
    );
    // A second approval is refused (the list is empty, so the key says why).
    h_bo.keys("a").await;
    assert_eq!(message(&h_bo).0, "nothing waits for approval");

    // ana queues the draft's populations (approved as they were) and starts it from the TUI.
    for a in ana
        .batch_operations(
            Some(id),
            &[],
            &scfm::domain::filter::Filter::empty(scfm::domain::filter::Family::BatchOperation),
            scfm::domain::Page {
                page: 1,
                per_page: 10,
            },
        )
        .await
        .unwrap()
        .items
    {
        ana.fire_batch_operation_event(a.id, Some("queue"))
            .await
            .unwrap();
    }
    while ana.run_next_batch_operation().await.unwrap() {}
    assert_eq!(
        svc.callout(id).await.unwrap().approved_by.as_deref(),
        Some("bo")
    );
    h_ana.code(crossterm::event::KeyCode::Esc).await;
    h_ana.act(scfm::tui::action::Action::AllStale).await;
    h_ana.act(scfm::tui::action::Action::Refresh).await;
    assert!(h_ana.screen(160, 48).contains("approved by bo"));
    h_ana.keys("sy").await;
    let started = svc.callout(id).await.unwrap();
    assert_eq!(started.status, "running", "{:?}", h_ana.app.message);
    assert_eq!(started.started_by.as_deref(), Some("ana"));
    assert_eq!(svc.callout_people(id).await.unwrap(), 6);

    let actions: Vec<(String, String)> = svc
        .journal_entries(Some(id), 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action))
        .filter(|(_, a)| a.starts_with("callout."))
        .collect();
    assert_eq!(
        actions,
        [
            ("ana".to_string(), "callout.create".to_string()),
            ("ana".into(), "callout.approve.refused".into()),
            ("scfm".into(), "callout.approve.refused".into()),
            ("bo".into(), "callout.approve".into()),
            ("ana".into(), "callout.start".into()),
        ]
    );
}
