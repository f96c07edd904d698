//! Self-test of the fake provider's outgoing side: signed status callbacks (providers.md §6.2,
//! §7) and the TwiML interpreter (§10 "Call engine"), received by a tiny local app that checks
//! every signature with `scfm::provider::signature::validate`.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use scfm::provider::signature;
use support::fake_provider::{
    FakeConfig, FakeProvider, NumberMatch, Scenario, TranscriptEntry, WebhookKnobs,
};

const TOKEN: &str = "scfm-test-auth-token";

#[derive(Clone, Debug)]
struct Hit {
    path: String,
    params: Vec<(String, String)>,
    valid: bool,
}

#[derive(Clone)]
struct App {
    base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

async fn receive(
    State(app): State<App>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (
    axum::http::StatusCode,
    [(&'static str, &'static str); 1],
    String,
) {
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let url = format!(
        "{}{}",
        app.base,
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let header = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok());
    let valid = signature::validate(TOKEN, &url, &params, header);
    app.hits.lock().expect("hits").push(Hit {
        path: uri.path().to_string(),
        params,
        valid,
    });
    let xml =
        |s: &str| format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{s}</Response>");
    let body = match uri.path() {
        "/voice" => xml(
            "<Gather numDigits=\"1\" action=\"/gathered\"><Say>Press 1</Say></Gather><Say>No input</Say>",
        ),
        "/gathered" => xml("<Record action=\"recorded\"/>"),
        "/recorded" => xml("<Say>Bye</Say><Hangup/>"),
        _ => {
            return (
                axum::http::StatusCode::NO_CONTENT,
                [("content-type", "text/plain")],
                String::new(),
            );
        }
    };
    (
        axum::http::StatusCode::CREATED,
        [("content-type", "application/xml; charset=utf-8")],
        body,
    )
}

async fn start_app() -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind app");
    let app = App {
        base: format!("http://{}", listener.local_addr().expect("addr")),
        hits: Arc::default(),
    };
    let router = axum::Router::new()
        .fallback(receive)
        .with_state(app.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    app
}

fn create_params(app: &App, to: &str, events: &[&str]) -> Vec<(String, String)> {
    let mut params = vec![
        ("To".to_string(), to.to_string()),
        ("From".to_string(), "+85510999999".to_string()),
        ("Url".to_string(), format!("{}/voice?attempt=1", app.base)),
        (
            "StatusCallback".to_string(),
            format!("{}/status?attempt=1", app.base),
        ),
    ];
    params.extend(
        events
            .iter()
            .map(|e| ("StatusCallbackEvent".to_string(), e.to_string())),
    );
    params
}

async fn create(fake: &FakeProvider, params: Vec<(String, String)>) -> String {
    use scfm::provider::{CreateCall, HttpProvider, Provider, ProviderKind};
    let kind = match fake.flavour() {
        support::fake_provider::Flavour::Twilio => ProviderKind::Twilio,
        support::fake_provider::Flavour::Somleng => ProviderKind::Somleng,
    };
    let client = HttpProvider::new(
        kind,
        fake.base_url(),
        Some(fake.account_sid()),
        Some(fake.auth_token()),
        Duration::from_secs(2),
        Duration::from_secs(5),
    )
    .expect("client");
    client
        .create_call(&CreateCall { params })
        .await
        .expect("created")
        .sid
}

fn value<'a>(hit: &'a Hit, name: &str) -> Option<&'a str> {
    hit.params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn twilio_runs_twiml_and_sends_signed_callbacks_per_event() {
    let app = start_app().await;
    let fake = FakeProvider::start(FakeConfig::twilio().scenario(
        NumberMatch::Exact("+85512345678".into()),
        Scenario::answers_and_presses(&["1"]),
    ))
    .await;
    let sid = create(
        &fake,
        create_params(
            &app,
            "+85512345678",
            &["initiated", "ringing", "answered", "completed"],
        ),
    )
    .await;
    fake.settle(Duration::from_secs(5)).await;

    let call = fake.call(&sid).expect("call");
    assert_eq!(call.status, "completed");
    let hits = app.hits.lock().expect("hits").clone();
    assert!(hits.iter().all(|h| h.valid), "{hits:#?}");
    let paths: Vec<&str> = hits.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/status",
            "/status",
            "/status",
            "/voice",
            "/gathered",
            "/recorded",
            "/status"
        ]
    );
    let statuses: Vec<&str> = hits
        .iter()
        .filter(|h| h.path == "/status")
        .filter_map(|h| value(h, "CallStatus"))
        .collect();
    assert_eq!(
        statuses,
        ["initiated", "ringing", "in-progress", "completed"]
    );
    let seqs: Vec<&str> = hits
        .iter()
        .filter(|h| h.path == "/status")
        .filter_map(|h| value(h, "SequenceNumber"))
        .collect();
    assert_eq!(seqs, ["0", "1", "2", "3"]);
    assert_eq!(value(&hits[3], "CallStatus"), Some("in-progress"));
    assert_eq!(value(&hits[4], "Digits"), Some("1"));
    assert!(value(&hits[5], "RecordingUrl").is_some());
    assert!(value(&hits[6], "CallDuration").is_some_and(|d| d != "0"));
    assert!(
        call.transcript
            .iter()
            .any(|e| matches!(e, TranscriptEntry::Hangup(r) if r == "<Hangup>")),
        "{:?}",
        call.transcript
    );
}

#[tokio::test]
async fn somleng_sends_final_callback_only_and_ringing_first_voice_request() {
    let app = start_app().await;
    let fake = FakeProvider::start(FakeConfig::somleng()).await;
    let sid = create(
        &fake,
        create_params(&app, "+85512345678", &["ringing", "answered"]),
    )
    .await;
    fake.settle(Duration::from_secs(5)).await;
    assert_eq!(fake.call(&sid).expect("call").status, "completed");
    let hits = app.hits.lock().expect("hits").clone();
    assert!(hits.iter().all(|h| h.valid));
    let status: Vec<&Hit> = hits.iter().filter(|h| h.path == "/status").collect();
    assert_eq!(status.len(), 1);
    assert_eq!(value(status[0], "SequenceNumber"), Some("0"));
    assert_eq!(value(status[0], "CallStatus"), Some("completed"));
    let first_voice = hits.iter().find(|h| h.path == "/voice").expect("voice");
    assert_eq!(value(first_voice, "CallStatus"), Some("ringing"));
}

#[tokio::test]
async fn wrong_token_knob_fails_validation_and_busy_skips_twiml() {
    let app = start_app().await;
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    fake.set_webhook_knobs(WebhookKnobs {
        wrong_token: Some("not-the-token".into()),
        ..WebhookKnobs::default()
    });
    let sid = create(&fake, create_params(&app, "+85512349001", &[])).await;
    fake.settle(Duration::from_secs(5)).await;
    assert_eq!(fake.call(&sid).expect("call").status, "busy");
    let hits = app.hits.lock().expect("hits").clone();
    assert_eq!(hits.len(), 1, "busy: no TwiML, final callback only");
    assert!(!hits[0].valid);
    assert_eq!(value(&hits[0], "CallStatus"), Some("busy"));
    assert_eq!(fake.webhooks()[0].status, Some(204));
}

#[tokio::test]
async fn cps_queue_and_cancel() {
    let app = start_app().await;
    let fake = FakeProvider::start(FakeConfig::twilio().tick(Duration::from_millis(5))).await;
    fake.set_cps(0.01); // one call per 100 call-seconds (500 ms)
    let first = create(&fake, create_params(&app, "+85512345670", &[])).await;
    let second = create(&fake, create_params(&app, "+85512345671", &[])).await;
    let queued = fake.call(&second).expect("second");
    assert!(queued.queue_time_ms >= 50_000, "{}", queued.queue_time_ms);
    // Cancel the queued call through the update route.
    let client = reqwest::Client::new();
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Calls/{second}.json",
        fake.base_url(),
        fake.account_sid()
    );
    let resp = client
        .post(&url)
        .basic_auth(fake.account_sid(), Some(fake.auth_token()))
        .form(&[("Status", "canceled")])
        .send()
        .await
        .expect("update");
    assert_eq!(resp.status().as_u16(), 200);
    fake.settle(Duration::from_secs(5)).await;
    assert_eq!(fake.call(&second).expect("second").status, "canceled");
    assert_eq!(fake.call(&first).expect("first").status, "completed");
    let again = client
        .post(&url)
        .basic_auth(fake.account_sid(), Some(fake.auth_token()))
        .form(&[("Status", "completed")])
        .send()
        .await
        .expect("update");
    assert_eq!(again.status().as_u16(), 400, "21220 on a finished call");
}
