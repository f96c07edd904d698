//! Shared helpers for the TUI tests: a service on a temp SQLite file with a fixed clock, a
//! headless harness that feeds keys to the App and runs its effects against the service, and a
//! renderer into ratatui's TestBackend.
#![allow(dead_code, clippy::unwrap_used)]

pub mod cap;

use chrono::TimeZone;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scfm::call_flow::Registry;
use scfm::domain::time::Clock;
use scfm::service::Service;
use scfm::store::Store;
use scfm::tui::action::{Action, Effect};
use scfm::tui::app::App;
use scfm::tui::theme::Theme;
use scfm::tui::{Info, Listen};
use serde_json::json;
use tempfile::TempDir;

pub fn fixed_clock() -> Clock {
    Clock::manual(chrono::Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).unwrap())
}

pub async fn service_with(clock: Clock) -> (TempDir, Service) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(scfm::store::Location::for_tests(
        &dir.path().join("scfm.sqlite3"),
    ))
    .await
    .unwrap();
    (dir, Service::new(store, clock, Registry::default()))
}

/// Status-bar facts fixed for snapshots (the real database path is a temp dir).
pub fn info() -> Info {
    Info {
        listen: Listen::Serving("http://127.0.0.1:3000".into()),
        provider: "twilio".into(),
        missing_credentials: Some(
            "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN not set (PLATFORM_PROVIDER=twilio)".into(),
        ),
        simulated: false,
        database: "/srv/scfm/scfm.sqlite3".into(),
        log_path: "/srv/scfm/scfm.log".into(),
    }
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// Drives an App without a terminal: keys in, effects run to completion against the service.
pub struct Harness {
    pub app: App,
    pub service: Service,
    /// Every effect the App asked for, in order.
    pub effects: Vec<Effect>,
    /// Progress actions effects reported (an import's), in order.
    pub reported: Vec<Action>,
}

impl Harness {
    pub async fn new(service: Service, info: Info) -> Harness {
        let app = App::new(info, Theme::plain(), String::new(), None);
        let mut h = Harness {
            app,
            service,
            effects: Vec::new(),
            reported: Vec::new(),
        };
        let start = h.app.start();
        h.settle(start).await;
        h
    }

    /// Runs effects (and the effects their results ask for) until none are left.
    pub async fn settle(&mut self, mut pending: Vec<Effect>) {
        while !pending.is_empty() {
            let mut next = Vec::new();
            for e in pending {
                self.effects.push(e.clone());
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let action = scfm::tui::effects::run_reporting(&self.service, e, Some(&tx)).await;
                while let Ok(p) = rx.try_recv() {
                    self.reported.push(p.clone());
                    next.extend(self.app.update(p));
                }
                next.extend(self.app.update(action));
            }
            pending = next;
        }
    }

    pub async fn press(&mut self, k: KeyEvent) {
        let effects = self.app.handle_key(k);
        self.settle(effects).await;
    }

    pub async fn code(&mut self, c: KeyCode) {
        self.press(key(c)).await;
    }

    /// Types each character as a key press.
    pub async fn keys(&mut self, text: &str) {
        for c in text.chars() {
            self.press(key(KeyCode::Char(c))).await;
        }
    }

    pub async fn act(&mut self, a: Action) {
        let effects = self.app.update(a);
        self.settle(effects).await;
    }

    pub fn screen(&self, w: u16, h: u16) -> String {
        render(&self.app, w, h)
    }
}

/// Draws the App into a TestBackend and returns the screen as text.
pub fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| {
        let area = f.area();
        app.render(area, f.buffer_mut())
    })
    .unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Types `:cmd` and Enter.
pub async fn command(h: &mut Harness, cmd: &str) {
    h.keys(&format!(":{cmd}")).await;
    h.code(KeyCode::Enter).await;
}

/// The message line: text and whether it is an error.
pub fn message(h: &Harness) -> (String, bool) {
    let m = h.app.message.clone().unwrap();
    (m.text, m.error)
}

/// Types `values` into the focused field and the ones after it, Tab between them.
pub async fn fill(h: &mut Harness, values: &[&str]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            h.code(KeyCode::Tab).await;
        }
        h.keys(v).await;
    }
}

/// Contacts, a callout with a queued-and-run population, and calls created for it.
pub async fn seed(service: &Service) {
    use scfm::service::{BatchOperationInput, CalloutInput, ContactInput};
    let people = [
        (
            "+85512000001",
            json!({"province": "Kandal", "gender": "f", "name": "Sokha"}),
        ),
        (
            "+85512000002",
            json!({"province": "Kandal", "gender": "m", "name": "Dara"}),
        ),
        (
            "+85512000003",
            json!({"province": "Takeo", "gender": "f", "name": "Chenda"}),
        ),
        (
            "+85512000004",
            json!({"province": "Kampot", "gender": "m", "name": "Vuthy"}),
        ),
        (
            "+85512000005",
            json!({"province": "Kandal", "gender": "f", "name": "Srey"}),
        ),
    ];
    for (m, meta) in people {
        service
            .create_contact(ContactInput {
                msisdn: Some(m.into()),
                metadata: meta.as_object().cloned(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let callout = service
        .create_callout(CalloutInput {
            metadata: json!({"name": "Flood warning", "message": "Move to high ground"})
                .as_object()
                .cloned(),
            ..Default::default()
        })
        .await
        .unwrap();
    service
        .create_callout(CalloutInput {
            metadata: json!({"name": "Drill"}).as_object().cloned(),
            ..Default::default()
        })
        .await
        .unwrap();
    let pop = service
        .create_batch_operation(
            BatchOperationInput {
                kind: Some("BatchOperation::CalloutPopulation".into()),
                callout_id: Some(callout.id),
                parameters: json!({"contact_filter_params": {"metadata": {"province": "Kandal"}}})
                    .as_object()
                    .cloned(),
                ..Default::default()
            },
            true,
        )
        .await
        .unwrap();
    service
        .fire_batch_operation_event(pop.id, Some("queue"))
        .await
        .unwrap();
    while service.run_next_batch_operation().await.unwrap() {}
    let create = service
        .create_batch_operation(
            BatchOperationInput {
                kind: Some("BatchOperation::PhoneCallCreate".into()),
                parameters: json!({"remote_request_params": {"from": "1234", "url": "https://example.org/flow"}})
                    .as_object()
                    .cloned(),
                ..Default::default()
            },
            false,
        )
        .await
        .unwrap();
    service
        .fire_batch_operation_event(create.id, Some("queue"))
        .await
        .unwrap();
    while service.run_next_batch_operation().await.unwrap() {}
}

/// `seed`, then callout 3 "Evacuation" with dialing settings over all five contacts, started,
/// one runner pass per call (fixed clock), and its five calls set to: completed (a person),
/// completed (a machine), failed, busy (retried: pending), queued (in progress).
pub async fn seed_campaign(service: &Service) -> i64 {
    use scfm::service::{BatchOperationInput, CalloutInput};
    seed(service).await;
    let dialing = json!({
        "from": "+85510999999", "twiml_url": "https://example.org/warning.xml",
        "max_calls_per_second": 5, "max_concurrent_calls": 10, "retry_statuses": ["busy"],
        "max_attempts": 2, "retry_delay_seconds": 600, "machine_detection": true,
        "calling_window": {"start": "07:00", "end": "19:00", "days": [], "time_zone": "Asia/Phnom_Penh"}
    });
    let callout = service
        .create_callout(CalloutInput {
            metadata: json!({"name": "Evacuation"}).as_object().cloned(),
            dialing: Some(dialing.as_object().cloned()),
            ..Default::default()
        })
        .await
        .unwrap();
    let pop = service
        .create_batch_operation(
            BatchOperationInput {
                kind: Some("BatchOperation::CalloutPopulation".into()),
                callout_id: Some(callout.id),
                parameters: json!({"contact_filter_params": {}}).as_object().cloned(),
                ..Default::default()
            },
            true,
        )
        .await
        .unwrap();
    service
        .fire_batch_operation_event(pop.id, Some("queue"))
        .await
        .unwrap();
    while service.run_next_batch_operation().await.unwrap() {}
    service
        .fire_callout_event(callout.id, Some("start"))
        .await
        .unwrap();
    while service.run_campaigns_once().await.unwrap() > 0 {}
    let calls = service
        .phone_calls(
            scfm::service::PhoneCallParent::Callout(callout.id),
            &scfm::domain::filter::Filter::empty(scfm::domain::filter::Family::PhoneCall),
            scfm::domain::Page {
                page: 1,
                per_page: 10,
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(calls.len(), 5, "the runner queued a call for everyone");
    let outcomes = [
        ("completed", r#"{"answered_by":"human"}"#),
        ("completed", r#"{"answered_by":"machine_start"}"#),
        ("failed", "{}"),
        ("busy", "{}"),
    ];
    let mut tx = service.store().write().await.unwrap();
    for (call, (status, response)) in calls.iter().zip(outcomes) {
        scfm::on_engine!(&mut tx, ex => sqlx::query(
            "UPDATE phone_calls SET status = $1, remote_response = $2 WHERE id = $3",
        )
        .bind(status)
        .bind(response)
        .bind(call.id)
        .execute(ex)
        .await
        .map(|_| ()))
        .unwrap();
    }
    tx.commit().await.unwrap();
    callout.id
}
