//! Shared helpers for the TUI tests: a service on a temp SQLite file with a fixed clock, a
//! headless harness that feeds keys to the App and runs its effects against the service, and a
//! renderer into ratatui's TestBackend.
#![allow(dead_code, clippy::unwrap_used)]

use chrono::TimeZone;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scfm::domain::call_flow::Registry;
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
    let store = Store::open(&dir.path().join("scfm.sqlite3")).await.unwrap();
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
}

impl Harness {
    pub async fn new(service: Service, info: Info) -> Harness {
        let app = App::new(info, Theme::plain(), String::new(), None);
        let mut h = Harness {
            app,
            service,
            effects: Vec::new(),
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
                let action = scfm::tui::effects::run(&self.service, e).await;
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
