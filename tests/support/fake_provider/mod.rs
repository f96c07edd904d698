//! A faithful fake Twilio/Somleng voice provider for integration tests (providers.md §10).
//!
//! A real HTTP server (axum router served connection by connection with hyper, so a fault can
//! drop one connection) on `127.0.0.1:0`. It speaks the REST surface of providers.md §1–§4
//! (create, fetch, list, update), moves calls through queued → ringing → in-progress → final on a
//! compressed clock chosen per destination number, POSTs signed status callbacks (§6.2, §7), and
//! lets tests inject faults (status + body, delay, dropped connection, ghost calls). Everything
//! it saw is recorded for assertions.
//!
//! Layout: `mod.rs` (start/stop, accessors, recorded types), `config.rs` (flavour, scenarios,
//! knobs), `faults.rs` (fault rules), `rest.rs` (routing, auth, create,
//! errors), `resources.rs` (call JSON, list paging), `engine.rs` (call lifecycle, updates),
//! `webhooks.rs` (signed status callbacks and voice requests), `twiml.rs` (the small
//! TwiML interpreter run when a call is answered).
#![allow(dead_code)]

mod config;
mod engine;
mod faults;
mod messages;
mod resources;
mod rest;
mod twiml;
mod webhooks;

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

pub use config::{FakeConfig, Flavour, NumberMatch, Outcome, Scenario, ScenarioRule, WebhookKnobs};
pub use faults::{Fault, FaultAction, GhostReply, PathMatch};
pub use messages::FakeMessage;
pub use twiml::TranscriptEntry;
pub use webhooks::WebhookRecord;

/// One REST request as the fake saw it, with the answer it gave.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub at: DateTime<Utc>,
    pub method: String,
    pub path: String,
    pub raw_query: Option<String>,
    pub headers: Vec<(String, String)>,
    /// Decoded Basic credentials (user, password).
    pub basic_auth: Option<(String, String)>,
    pub body: Vec<u8>,
    pub form: Vec<(String, String)>,
    /// 0 when the connection was dropped without an answer.
    pub response_status: u16,
    pub response_body: String,
    pub fault: Option<String>,
}

/// A call the fake created (also ghost calls).
#[derive(Clone, Debug)]
pub struct FakeCall {
    pub sid: String,
    pub to: String,
    pub from: String,
    /// REST status (`queued`, `ringing`, `in-progress`, final).
    pub status: String,
    /// Every status the call went through, `initiated` included.
    pub history: Vec<String>,
    pub params: Vec<(String, String)>,
    pub scenario: Scenario,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub duration: Option<u64>,
    pub queue_time_ms: u64,
    pub ghost: bool,
    pub next_sequence: u32,
    pub transcript: Vec<TranscriptEntry>,
    /// Calls the fake held in flight (created and not yet final) once this one was created,
    /// this one included: what a provider's concurrency limit counts.
    pub in_flight_at_create: usize,
}

impl FakeCall {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn is_final(&self) -> bool {
        matches!(
            self.status.as_str(),
            "completed" | "busy" | "no-answer" | "failed" | "canceled"
        )
    }
}

#[derive(Default)]
struct State {
    calls: Vec<FakeCall>,
    messages: Vec<FakeMessage>,
    requests: Vec<RecordedRequest>,
    faults: Vec<Fault>,
    webhooks: Vec<WebhookRecord>,
    /// When the CPS queue releases its next call.
    next_slot: Option<tokio::time::Instant>,
    /// Lifecycle tasks and callbacks still running.
    in_flight: usize,
}

struct Shared {
    config: Mutex<FakeConfig>,
    base_url: String,
    state: Mutex<State>,
    http: reqwest::Client,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn config(&self) -> FakeConfig {
        self.config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A running fake. Dropping it stops accepting connections.
pub struct FakeProvider {
    shared: Arc<Shared>,
    shutdown: Arc<Notify>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.shutdown.notify_one();
    }
}

/// Per-connection switch a handler pulls to drop its connection.
#[derive(Clone)]
struct ConnKill(Arc<Notify>);

impl FakeProvider {
    pub async fn start(config: FakeConfig) -> FakeProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake provider");
        let addr = listener.local_addr().expect("fake provider address");
        let shared = Arc::new(Shared {
            config: Mutex::new(config),
            base_url: format!("http://{addr}"),
            state: Mutex::new(State::default()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("webhook client"),
        });
        let shutdown = Arc::new(Notify::new());
        let app = rest::router(shared.clone());
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    _ = stop.notified() => break,
                };
                let app = app.clone();
                tokio::spawn(serve_connection(stream, app));
            }
        });
        FakeProvider { shared, shutdown }
    }

    /// Stop listening: later connections are refused.
    pub async fn stop(&self) {
        self.shutdown.notify_one();
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }
    pub fn account_sid(&self) -> String {
        self.shared.config().account_sid
    }
    pub fn auth_token(&self) -> String {
        self.shared.config().auth_token
    }
    pub fn flavour(&self) -> Flavour {
        self.shared.config().flavour
    }
    pub fn add_fault(&self, fault: Fault) {
        self.shared.state().faults.push(fault);
    }
    pub fn clear_faults(&self) {
        self.shared.state().faults.clear();
    }
    pub fn add_scenario(&self, number: NumberMatch, scenario: Scenario) {
        let mut config = self.shared.config.lock().unwrap_or_else(|p| p.into_inner());
        config
            .scenarios
            .insert(0, ScenarioRule { number, scenario });
    }
    pub fn set_cps(&self, cps: f64) {
        self.shared
            .config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .cps = Some(cps);
    }
    pub fn set_webhook_knobs(&self, knobs: WebhookKnobs) {
        self.shared
            .config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .webhooks = knobs;
    }
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }
    pub fn calls(&self) -> Vec<FakeCall> {
        self.shared.state().calls.clone()
    }
    pub fn call(&self, sid: &str) -> Option<FakeCall> {
        self.shared
            .state()
            .calls
            .iter()
            .find(|c| c.sid == sid)
            .cloned()
    }
    pub fn webhooks(&self) -> Vec<WebhookRecord> {
        self.shared.state().webhooks.clone()
    }
    /// For each call created, in order: how many calls were in flight at the fake right after
    /// its create (see `FakeCall::in_flight_at_create`).
    pub fn in_flight_at_creates(&self) -> Vec<usize> {
        self.shared
            .state()
            .calls
            .iter()
            .map(|c| c.in_flight_at_create)
            .collect()
    }
    /// Calls actually created (dialled) to `to`, ghost calls included.
    pub fn creates_for(&self, to: &str) -> usize {
        self.shared
            .state()
            .calls
            .iter()
            .filter(|c| c.to == to)
            .count()
    }
    /// Create requests that named `to`, whatever the fake answered.
    pub fn create_requests_for(&self, to: &str) -> usize {
        self.shared
            .state()
            .requests
            .iter()
            .filter(|r| r.method == "POST" && rest::is_collection(&r.path))
            .filter(|r| r.form.iter().any(|(k, v)| k == "To" && v == to))
            .count()
    }
    /// Form pairs (CamelCase names, in order) of the last create request.
    pub fn last_create_params(&self) -> Option<Vec<(String, String)>> {
        self.shared
            .state()
            .requests
            .iter()
            .rev()
            .find(|r| r.method == "POST" && rest::is_collection(&r.path))
            .map(|r| r.form.clone())
    }
    /// Texts the fake accepted, in order.
    pub fn messages(&self) -> Vec<FakeMessage> {
        self.shared.state().messages.clone()
    }
    /// Texts created to `to`.
    pub fn message_creates_for(&self, to: &str) -> usize {
        self.shared
            .state()
            .messages
            .iter()
            .filter(|m| m.to == to)
            .count()
    }
    /// When each accepted create-message request arrived, in order.
    pub fn message_create_times(&self) -> Vec<DateTime<Utc>> {
        let mut t: Vec<_> = self
            .shared
            .state()
            .requests
            .iter()
            .filter(|r| {
                r.method == "POST" && messages::is_collection(&r.path) && r.response_status == 201
            })
            .map(|r| r.at)
            .collect();
        t.sort();
        t
    }
    /// Wait until the call is final (or `timeout` passes); returns its last state.
    pub async fn wait_final(&self, sid: &str, timeout: Duration) -> Option<FakeCall> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let call = self.call(sid);
            if call.as_ref().is_some_and(FakeCall::is_final)
                || tokio::time::Instant::now() >= deadline
            {
                return call;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    /// Wait until every call is final and its callbacks were delivered.
    pub async fn settle(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            let busy =
                engine::in_flight(&self.shared) > 0 || self.calls().iter().any(|c| !c.is_final());
            if !busy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, app: axum::Router) {
    use tower::ServiceExt as _;
    let kill = Arc::new(Notify::new());
    let for_requests = kill.clone();
    let service = hyper::service::service_fn(
        move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnKill(for_requests.clone()));
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.oneshot(req).await.unwrap_or_else(|e| match e {})) }
        },
    );
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
    }
}
