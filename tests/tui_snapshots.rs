//! Every pane drawn into ratatui's TestBackend at 80x24 and 160x48, snapshot-tested with insta.
//! Data is built through the service on a temp database with a fixed clock, so ids and times
//! are the same on every run.
#![allow(clippy::unwrap_used)]

mod tui_support;

use crossterm::event::KeyCode;
use scfm::tui::action::{Action, PaneId};
use tui_support::{Harness, ctrl, fixed_clock, info, seed, seed_campaign, service_with};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

async fn seeded() -> (tempfile::TempDir, Harness) {
    let (dir, service) = service_with(fixed_clock()).await;
    seed(&service).await;
    let h = Harness::new(service, info()).await;
    (dir, h)
}

fn snap(name: &str, h: &Harness) {
    for (w, ht) in SIZES {
        insta::assert_snapshot!(format!("{name}_{w}x{ht}"), h.screen(w, ht));
    }
}

#[tokio::test]
async fn contacts_pane() {
    let (_d, h) = seeded().await;
    snap("contacts", &h);
}

#[tokio::test]
async fn contacts_empty_and_filtered() {
    let (_d, service) = service_with(fixed_clock()).await;
    let h = Harness::new(service, info()).await;
    insta::assert_snapshot!("contacts_empty_80x24", h.screen(80, 24));
    let (_d, mut h) = seeded().await;
    h.act(Action::ApplyFilter("province=Kandal gender=f".into()))
        .await;
    snap("contacts_filtered", &h);
}

#[tokio::test]
async fn contact_detail() {
    let (_d, mut h) = seeded().await;
    h.code(KeyCode::Enter).await;
    snap("contact_detail", &h);
}

#[tokio::test]
async fn callouts_pane() {
    let (_d, mut h) = seeded().await;
    h.act(Action::Focus(PaneId::Callouts)).await;
    snap("callouts", &h);
    h.code(KeyCode::Enter).await;
    snap("callout_detail", &h);
}

#[tokio::test]
async fn previews_pane() {
    let (_d, mut h) = seeded().await;
    h.act(Action::Focus(PaneId::Previews)).await;
    h.act(Action::Nav(scfm::tui::action::Nav::Bottom)).await;
    h.code(KeyCode::Enter).await;
    snap("previews", &h);
}

#[tokio::test]
async fn live_calls_pane() {
    let (_d, mut h) = seeded().await;
    h.act(Action::Focus(PaneId::Calls)).await;
    snap("live_calls", &h);
}

#[tokio::test]
async fn overlays() {
    let (_d, mut h) = seeded().await;
    h.keys("?").await;
    insta::assert_snapshot!("help_80x24", h.screen(80, 24));
    h.code(KeyCode::Esc).await;
    h.keys("d").await;
    insta::assert_snapshot!("confirm_delete_80x24", h.screen(80, 24));
    h.code(KeyCode::Esc).await;
    h.keys("n").await;
    insta::assert_snapshot!("contact_form_80x24", h.screen(80, 24));
    insta::assert_snapshot!("too_small_50x10", h.screen(50, 10));
}

#[tokio::test]
async fn simulation_and_port_taken_status() {
    let (_d, service) = service_with(fixed_clock()).await;
    let mut i = info();
    i.simulated = true;
    i.provider = "simulator".into();
    i.missing_credentials = None;
    i.listen = scfm::tui::Listen::PortTaken("127.0.0.1:3000".into());
    let msg = "another scfm is serving; this TUI is read/write on the database but not dialling";
    let mut h = Harness::new(service, i).await;
    h.app.say(msg);
    insta::assert_snapshot!("simulation_port_taken_80x24", h.screen(80, 24));
}

#[tokio::test]
async fn callouts_with_campaign_progress() {
    let (_d, service) = service_with(fixed_clock()).await;
    let id = seed_campaign(&service).await;
    let mut h = Harness::new(service, info()).await;
    h.act(Action::Focus(PaneId::Callouts)).await;
    h.act(Action::Nav(scfm::tui::action::Nav::Bottom)).await;
    assert_eq!(h.app.callouts.current().unwrap().callout.id, id);
    snap("callouts_progress", &h);
    h.code(KeyCode::Enter).await;
    snap("callout_progress_detail", &h);
    h.keys("e").await;
    insta::assert_snapshot!("callout_form_dialing_80x24", h.screen(80, 24));
    h.code(KeyCode::Esc).await;
    h.act(Action::Focus(PaneId::Calls)).await;
    snap("live_calls_progress", &h);
}

#[tokio::test]
async fn new_callout_form() {
    let (_d, mut h) = seeded().await;
    h.keys("2n").await;
    insta::assert_snapshot!("callout_form_80x24", h.screen(80, 24));
    h.press(ctrl('t')).await;
    insta::assert_snapshot!("callout_form_dialing_on_80x24", h.screen(80, 24));
    h.code(KeyCode::Esc).await;
    h.keys("?").await;
    insta::assert_snapshot!("help_callouts_160x48", h.screen(160, 48));
}
