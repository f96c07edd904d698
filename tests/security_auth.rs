//! Authentication and secrets: every `/api` route (from the route tables in src/http/*.rs)
//! answers 401 to anonymous and wrong credentials before any routing or lookup (so never a 404);
//! the webhook refuses unsigned, wrongly signed and altered requests with 403 and stores
//! nothing; the generated token file is mode 0600; and no secret (provider auth token, API
//! token, basic password) appears in a debug log line or a response body while the binary is
//! driven through errors.

#![allow(clippy::unwrap_used)]

mod support;

use base64::Engine;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::TestServer;
use support::fake_provider::{FakeConfig, FakeProvider, Fault, FaultAction};

/// Every route of the API, with ids that do not exist (a 404 would show auth came too late).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/contacts"),
    ("POST", "/api/contacts"),
    ("GET", "/api/contacts/999"),
    ("PATCH", "/api/contacts/999"),
    ("PUT", "/api/contacts/999"),
    ("DELETE", "/api/contacts/999"),
    ("GET", "/api/contacts/999/callouts"),
    ("GET", "/api/contacts/999/callout_participations"),
    ("GET", "/api/contacts/999/phone_calls"),
    ("GET", "/api/contacts/999/remote_phone_call_events"),
    ("GET", "/api/callouts"),
    ("POST", "/api/callouts"),
    ("GET", "/api/callouts/999"),
    ("PATCH", "/api/callouts/999"),
    ("DELETE", "/api/callouts/999"),
    ("POST", "/api/callouts/999/callout_events"),
    ("GET", "/api/callouts/999/callout_participations"),
    ("POST", "/api/callouts/999/callout_participations"),
    ("GET", "/api/callouts/999/contacts"),
    ("GET", "/api/callouts/999/progress"),
    ("GET", "/api/callouts/999/batch_operations"),
    ("POST", "/api/callouts/999/batch_operations"),
    ("GET", "/api/callouts/999/phone_calls"),
    ("GET", "/api/callouts/999/remote_phone_call_events"),
    ("GET", "/api/callout_participations"),
    ("GET", "/api/callout_participations/999"),
    ("PATCH", "/api/callout_participations/999"),
    ("DELETE", "/api/callout_participations/999"),
    ("GET", "/api/callout_participations/999/phone_calls"),
    ("POST", "/api/callout_participations/999/phone_calls"),
    (
        "GET",
        "/api/callout_participations/999/remote_phone_call_events",
    ),
    ("GET", "/api/batch_operations"),
    ("POST", "/api/batch_operations"),
    ("GET", "/api/batch_operations/999"),
    ("PATCH", "/api/batch_operations/999"),
    ("DELETE", "/api/batch_operations/999"),
    ("POST", "/api/batch_operations/999/batch_operation_events"),
    ("GET", "/api/batch_operations/999/contacts"),
    ("GET", "/api/batch_operations/999/callout_participations"),
    ("GET", "/api/batch_operations/999/phone_calls"),
    ("GET", "/api/batch_operations/999/callouts"),
    ("GET", "/api/phone_calls"),
    ("GET", "/api/phone_calls/999"),
    ("PATCH", "/api/phone_calls/999"),
    ("DELETE", "/api/phone_calls/999"),
    ("POST", "/api/phone_calls/999/phone_call_events"),
    ("GET", "/api/phone_calls/999/remote_phone_call_events"),
    ("GET", "/api/remote_phone_call_events"),
    ("GET", "/api/remote_phone_call_events/999"),
    ("PATCH", "/api/remote_phone_call_events/999"),
    ("GET", "/api/contacts.json"),
    ("GET", "/api/no_such_route"),
];

#[tokio::test]
async fn every_api_route_refuses_anonymous_and_wrong_credentials_first() {
    let s = TestServer::start_with(|c| {
        c.auth.basic_user = Some("admin".into());
        c.auth.basic_password = Some("basic-pass".into());
    })
    .await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let wrong: Vec<Option<String>> = vec![
        None,
        Some("Bearer wrong-token".into()),
        Some(format!("Bearer {}x", support::TOKEN)),
        Some("Bearer ".into()),
        Some(format!("Basic {}", b64("admin:wrong"))),
        Some(format!("Basic {}", b64("other:basic-pass"))),
        Some(format!("Basic {}", b64(":wrong-token"))),
        Some("Basic !!!notbase64".into()),
        Some(format!("Token {}", support::TOKEN)),
        Some(support::TOKEN.to_string()),
    ];
    let mut tried = 0;
    for (method, path) in ROUTES {
        for auth in &wrong {
            let mut req = s
                .http
                .request(method.parse().unwrap(), s.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("msisdn=%2B85512345678");
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{method} {path} with {auth:?}");
            assert!(r.headers().contains_key("www-authenticate"));
            tried += 1;
        }
        // The right credentials get past auth (whatever the route then answers).
        let ok = s
            .http
            .request(method.parse().unwrap(), s.url(path))
            .header(
                "authorization",
                format!("Basic {}", b64("admin:basic-pass")),
            )
            .send()
            .await
            .unwrap();
        assert_ne!(ok.status(), 401, "{method} {path}");
    }
    let r = s.get("/api/contacts").send().await.unwrap();
    assert_eq!(r.status(), 200);
    eprintln!(
        "security_auth: {} routes x {} wrong credentials = {tried} requests, 0 let in",
        ROUTES.len(),
        wrong.len()
    );
    s.stop().await;
}

#[tokio::test]
async fn the_webhook_refuses_unsigned_wrongly_signed_and_altered_requests() {
    const AUTH: &str = "scfm-test-auth-token";
    let s = TestServer::start_with(|c| {
        c.provider.account_sid = Some("AC00000000000000000000000000000001".into());
        c.provider.auth_token = Some(AUTH.into());
    })
    .await;
    let url = s.url("/api/remote_phone_call_events");
    let pairs: Vec<(String, String)> = [
        ("AccountSid", "AC00000000000000000000000000000001"),
        ("CallSid", "CAauth1"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("From", "+85510202101"),
        ("To", "+85512345678"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let body = |p: &[(String, String)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(p)
            .finish()
    };
    let good = scfm::provider::signature::compute(AUTH, &url, &pairs);
    let mut altered = pairs.clone();
    altered[2].1 = "completed".into();
    let mut extra = pairs.clone();
    extra.push(("Digits".into(), "1".into()));
    let cases: Vec<(&str, Option<String>, String, String)> = vec![
        ("unsigned", None, body(&pairs), url.clone()),
        (
            "wrong token",
            Some(scfm::provider::signature::compute(
                "not-the-token",
                &url,
                &pairs,
            )),
            body(&pairs),
            url.clone(),
        ),
        (
            "empty signature",
            Some(String::new()),
            body(&pairs),
            url.clone(),
        ),
        (
            "altered value",
            Some(good.clone()),
            body(&altered),
            url.clone(),
        ),
        ("added param", Some(good.clone()), body(&extra), url.clone()),
        (
            "other query",
            Some(good.clone()),
            body(&pairs),
            format!("{url}?campaign=7"),
        ),
        (
            "garbage",
            Some("AAAA====".into()),
            body(&pairs),
            url.clone(),
        ),
    ];
    for (name, sig, body, target) in &cases {
        let mut req = s
            .http
            .post(target)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone());
        if let Some(sig) = sig {
            req = req.header("x-twilio-signature", sig);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403, "{name}");
    }
    for path in [
        "/api/remote_phone_call_events",
        "/api/phone_calls",
        "/api/contacts",
    ] {
        let r = s.get(path).send().await.unwrap();
        assert_eq!(support::header(&r, "total"), "0", "{path}: nothing stored");
    }
    // The genuine request passes.
    let r = s
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", good)
        .body(body(&pairs))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    eprintln!(
        "security_auth webhook: {} forged requests refused, 0 stored",
        cases.len()
    );
    s.stop().await;
}

#[test]
fn the_generated_token_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut c = scfm::config::Config::for_tests(&dir.path().join("db.sqlite3"));
    c.auth.token = None;
    // A permissive umask must not matter.
    let path = c.ensure_api_credentials().unwrap().unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A pre-existing world-readable empty file is replaced by a private one.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api_token");
    std::fs::write(&file, "").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut c = scfm::config::Config::for_tests(&dir.path().join("db.sqlite3"));
    c.auth.token = None;
    c.ensure_api_credentials().unwrap();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(std::fs::read_to_string(&file).unwrap().len(), 64);
}

const API_TOKEN: &str = "apitoken-SECRET-7f3a9c";
const BASIC_PASSWORD: &str = "basicpass-SECRET-51d2e8";
const PROVIDER_TOKEN: &str = "authtoken-SECRET-c04b6e";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_debug_logs_or_error_bodies() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    // The provider fails, then hangs up, then refuses our credentials (after which dialling is
    // held, so the 401 comes last).
    fake.add_fault(Fault::on_create(FaultAction::server_error()));
    fake.add_fault(Fault::on_create(FaultAction::Drop));
    fake.add_fault(Fault::on_create(FaultAction::unauthorized()));
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let log_path = dir.path().join("stdout.log");
    let err_path = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scfm"))
        .arg("serve")
        .env(
            "DATABASE_URL",
            scfm::store::Location::for_tests(&dir.path().join("s.sqlite3")).as_url(),
        )
        .env("SCFM_DATA_DIR", dir.path())
        .env("SCFM_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCFM_API_TOKEN", API_TOKEN)
        .env("HTTP_BASIC_AUTH_USER", "admin")
        .env("HTTP_BASIC_AUTH_PASSWORD", BASIC_PASSWORD)
        .env("PLATFORM_PROVIDER", "twilio")
        .env("TWILIO_ACCOUNT_SID", fake.account_sid())
        .env("TWILIO_AUTH_TOKEN", PROVIDER_TOKEN)
        .env("SOMLENG_CLIENT_REST_API_BASE_URL", fake.base_url())
        .env("SCFM_CALLS_PER_SECOND", "100")
        .env("SCFM_POLL_INTERVAL", "1")
        .env("SCFM_RECONCILE_AFTER", "1")
        .env("SCFM_UNKNOWN_OUTCOME_GRACE", "1")
        .env("RUST_LOG", "debug")
        // A file, not a pipe: nobody reads a pipe while the test runs, and a full one would
        // block the server's logging.
        .stdout(Stdio::from(std::fs::File::create(&log_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()))
        .spawn()
        .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http
        .get(format!("{base}/api/contacts"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut bodies = Vec::new();
    let auth = |r: reqwest::RequestBuilder| r.bearer_auth(API_TOKEN);
    // Errors of every kind, each carrying a secret somewhere in the request.
    for (method, path, body) in [
        ("POST", "/api/contacts", "msisdn=not-a-number"),
        ("POST", "/api/contacts", "msisdn=%2B85512345001"),
        ("POST", "/api/contacts", "msisdn=%2B85512345002"),
        ("POST", "/api/contacts", "msisdn=%2B85512345003"),
        ("POST", "/api/callouts", ""),
        ("GET", "/api/contacts/999", ""),
        ("GET", "/api/contacts?q[metadata][x]=%25", ""),
        ("POST", "/api/contacts", "a=1&a[b]=2"),
        ("POST", "/api/contacts", "%zz"),
    ] {
        let r = auth(http.request(method.parse().unwrap(), format!("{base}{path}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        bodies.push(r.text().await.unwrap());
    }
    for cp_contact in 1..=3 {
        let r = auth(http.post(format!("{base}/api/callouts/1/callout_participations")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("contact_id={cp_contact}"))
            .send()
            .await
            .unwrap();
        bodies.push(r.text().await.unwrap());
        let r = auth(http.post(format!(
            "{base}/api/callout_participations/{cp_contact}/phone_calls"
        )))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("remote_request_params[from]=345&remote_request_params[url]=https%3A%2F%2Fexample.org%2Ft.xml")
        .send()
        .await
        .unwrap();
        bodies.push(r.text().await.unwrap());
        let r = auth(http.post(format!(
            "{base}/api/phone_calls/{cp_contact}/phone_call_events"
        )))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("event=queue")
        .send()
        .await
        .unwrap();
        bodies.push(r.text().await.unwrap());
    }
    // Wrong credentials that contain parts of the real ones, and forged webhooks.
    for header in [
        format!("Bearer {API_TOKEN}x"),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("admin:{BASIC_PASSWORD}x"))
        ),
    ] {
        let r = http
            .get(format!("{base}/api/contacts"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        bodies.push(r.text().await.unwrap());
    }
    for sig in [None, Some(PROVIDER_TOKEN), Some("bad")] {
        let mut req = http
            .post(format!("{base}/api/remote_phone_call_events"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "CallSid=CA1&Direction=inbound&From=%2B85510202101&CallStatus=ringing&Token={PROVIDER_TOKEN}"
            ));
        if let Some(s) = sig {
            req = req.header("x-twilio-signature", s);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403);
        bodies.push(r.text().await.unwrap());
    }
    // Let the dials fail: a 500 and a reset (claimed: reconciliation asks the provider, which
    // refuses the wrong token, and gives up without redialling) and a 401 (errored, and the
    // dialler holds, probing the provider with the same refused token).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = auth(http.get(format!("{base}/api/phone_calls")))
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        bodies.push(text);
        let calls = v.as_array().unwrap();
        if calls.len() == 3 && calls.iter().all(|c| c["remote_error_message"].is_string()) {
            break;
        }
        assert!(Instant::now() < deadline, "dials did not fail: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A few reconciliation rounds and hold probes (each a refused list request) reach the log.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let log =
        std::fs::read_to_string(&err_path).unwrap() + &std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().count() > 20, "debug logging was on: {log}");
    let mut leaks = Vec::new();
    for secret in [API_TOKEN, BASIC_PASSWORD, PROVIDER_TOKEN] {
        for line in log.lines().filter(|l| l.contains(secret)) {
            leaks.push(format!("log: {line}"));
        }
        for b in bodies.iter().filter(|b| b.contains(secret)) {
            leaks.push(format!("body: {b}"));
        }
    }
    eprintln!(
        "security_auth secrets: {} log lines and {} response bodies scanned for 3 secrets, {} leaks",
        log.lines().count(),
        bodies.len(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "{leaks:#?}");
}
