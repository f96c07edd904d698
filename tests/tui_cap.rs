//! `:cap FILE` in the TUI (issue 14), drawn into ratatui's TestBackend on a real service (a
//! SQLite file, or PostgreSQL with SCFM_TEST_DATABASE): a fixture alert through the example
//! area map becomes a draft callout the callouts pane shows and selects, with its people per
//! area, the ETA and the areas nothing matched on the message line; the default map comes from
//! the App (`SCFM_AREA_MAP`); expired, malformed and missing alerts, and a missing map, are
//! shown as errors and create nothing; an Update of a running callout only asks. The clock is
//! fixed between the fixtures' sent and expiry dates.

#![allow(clippy::unwrap_used)]

mod tui_support;

use scfm::domain::filter::{Family, Filter};
use scfm::domain::{Callout, Page};
use scfm::service::Service;
use scfm::tui::action::PaneId;
use tempfile::TempDir;
use tui_support::cap::cap_service;
use tui_support::{Harness, command, info, message};

const MAP: &str = "assets/area_map.example.toml";
const FLOOD: &str = "tests/fixtures/cap/flood_alert.xml";

async fn all_callouts(svc: &Service) -> Vec<Callout> {
    let page = Page {
        page: 1,
        per_page: 100,
    };
    svc.callouts(None, &Filter::empty(Family::Callout), page)
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn cap_drafts_a_callout_the_tui_shows_and_selects() {
    let dir = TempDir::new().unwrap();
    let svc = cap_service(&dir).await;
    svc.add_operator("ana").await.unwrap();
    let ana = svc.acting_as(svc.operator_named("ana").await.unwrap());
    let mut h = Harness::new(ana, info()).await;

    command(&mut h, &format!("cap {FLOOD} --area-map {MAP}")).await;
    let (text, error) = message(&h);
    assert!(!error, "{text}");
    let drafts = all_callouts(&svc).await;
    assert_eq!(drafts.len(), 1);
    let draft = &drafts[0];
    assert!(
        text.starts_with(&format!("callout {} drafted from CAP: ", draft.id)),
        "{text}"
    );
    assert!(
        text.contains(
            "Kandal 3 · Phnom Penh 2 · Prey Veng riverside 1 = 6 people, about 3 s at 2/s"
        ),
        "{text}"
    );
    assert!(
        text.contains("NOT MATCHED by the area map (nobody there is called): Takeo Province"),
        "{text}"
    );
    assert!(draft.requires_approval && draft.approved_by.is_none());
    assert_eq!(draft.created_by.as_deref(), Some("ana"));
    assert_eq!(draft.status, "initialized");

    // The callouts pane is in front, with the draft selected and its panel beside it.
    assert_eq!(h.app.focus, PaneId::Callouts);
    assert_eq!(
        h.app.callouts.current().map(|s| s.callout.id),
        Some(draft.id)
    );
    let screen = h.screen(160, 48);
    let name = draft.metadata["name"].as_str().unwrap();
    assert!(screen.contains(&name[..20]), "{screen}");
    assert!(
        screen.contains("· by ana · NEEDS APPROVAL by a"),
        "{screen}"
    );
    // Nothing was dialled: no participations, no calls.
    assert_eq!(svc.callout_people(draft.id).await.unwrap(), 0);
    assert_eq!(svc.calls_in_flight().await.unwrap(), 0);

    // The same alert again is refused and changes nothing.
    command(&mut h, &format!("cap {FLOOD} --area-map {MAP}")).await;
    let (text, error) = message(&h);
    assert!(error && text.contains("was imported already"), "{text}");
    assert!(text.ends_with("nothing was changed"), "{text}");
    assert_eq!(all_callouts(&svc).await.len(), 1);
}

#[tokio::test]
async fn cap_errors_are_shown_and_create_nothing() {
    let dir = TempDir::new().unwrap();
    let svc = cap_service(&dir).await;
    let mut h = Harness::new(svc.clone(), info()).await;

    // Without --area-map and without a default map: refused before anything is read.
    command(&mut h, "cap tests/fixtures/cap/flood_alert.xml").await;
    let (text, error) = message(&h);
    assert!(error && text.starts_with("no area map"), "{text}");
    assert!(!format!("{:?}", h.effects).contains("ImportCap"));

    // The default map (SCFM_AREA_MAP) from here on.
    h.app.area_map = Some(MAP.into());
    command(&mut h, "cap tests/fixtures/cap/expired_alert.xml").await;
    let (text, error) = message(&h);
    assert!(error, "{text}");
    assert!(
        text.starts_with("cap tests/fixtures/cap/expired_alert.xml: alert KH-NCDM-2026-0377"),
        "{text}"
    );
    assert!(text.contains("expired at"), "{text}");

    command(&mut h, "cap tests/fixtures/cap/unclosed_tag.xml").await;
    let (text, error) = message(&h);
    assert!(error && text.contains("line "), "{text}");
    assert!(text.contains("column "), "{text}");

    command(&mut h, "cap tests/fixtures/cap/no_such_alert.xml").await;
    let (text, error) = message(&h);
    assert!(
        error && text.contains("cannot read tests/fixtures/cap/no_such_alert.xml"),
        "{text}"
    );

    command(
        &mut h,
        "cap tests/fixtures/cap/flood_alert.xml --area-map nope.toml",
    )
    .await;
    let (text, error) = message(&h);
    assert!(error && text.contains("area map nope.toml"), "{text}");

    assert!(all_callouts(&svc).await.is_empty());
    let ops = svc
        .batch_operations(
            None,
            &[],
            &Filter::empty(Family::BatchOperation),
            Page {
                page: 1,
                per_page: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(ops.total, 0);
    // The message is on screen too.
    assert!(h.screen(200, 24).contains("area map nope.toml"));
}

#[tokio::test]
async fn an_update_of_a_running_callout_only_asks_the_operator_to_stop_it() {
    let dir = TempDir::new().unwrap();
    let svc = cap_service(&dir).await;
    let mut h = Harness::new(svc.clone(), info()).await;
    h.app.area_map = Some(MAP.into());
    command(&mut h, &format!("cap {FLOOD}")).await;
    let id = all_callouts(&svc).await[0].id;
    // Made running behind the TUI's back (the rules are not what this test is about).
    let store_side = svc.callout(id).await.unwrap();
    assert_eq!(store_side.status, "initialized");
    svc.add_operator("bo").await.unwrap();
    svc.add_operator("cy").await.unwrap();
    let bo = svc.acting_as(svc.operator_named("bo").await.unwrap());
    let cy = svc.acting_as(svc.operator_named("cy").await.unwrap());
    bo.fire_callout_event(id, Some("approve")).await.unwrap();
    cy.fire_callout_event(id, Some("start")).await.unwrap();

    command(&mut h, "cap tests/fixtures/cap/flood_update.xml").await;
    let (text, error) = message(&h);
    assert!(error, "{text}");
    assert!(
        text.starts_with(&format!(
            "CAP Update for a callout already dialling (callout {id} is running): nothing was changed and nothing was stopped"
        )),
        "{text}"
    );
    let after = svc.callout(id).await.unwrap();
    assert_eq!(after.status, "running");
    assert_eq!(after.metadata, store_side.metadata);
}
