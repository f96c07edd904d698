//! Where provider credentials may go. `scfm serve` with `PLATFORM_PROVIDER=somleng`, a Somleng
//! SID and token but no `SOMLENG_CLIENT_REST_API_BASE_URL` must not fall back to Twilio's API:
//! a queued call ends `errored` naming the missing setting, the log says so, and a stand-in for
//! Twilio's API (a plain TCP listener on 127.0.0.1 that `SCFM_TWILIO_BASE_URL` points the
//! Twilio default at) sees no connection at all. The control: the same stand-in does receive
//! a Twilio account's create when no base URL is set, so it would have seen a Somleng one.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::serve::{self, Serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SOMLENG_SID: &str = "2ab9b23d-14de-4fa8-a5a2-75cb6dfd59b8";
const SOMLENG_TOKEN: &str = "somleng-SECRET-token-4411";
const TWILIO_SID: &str = "AC00000000000000000000000000000001";
const TWILIO_TOKEN: &str = "twilio-SECRET-token-9932";

/// A stand-in for `https://api.twilio.com`: counts connections, keeps each request's head, and
/// answers every request with Twilio's 401.
struct StandIn {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl StandIn {
    async fn start() -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let index = {
                    let mut log = log.lock().unwrap();
                    log.push(String::new());
                    log.len() - 1
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    log.lock().unwrap()[index] = String::from_utf8_lossy(&head).into_owned();
                    let body = r#"{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}"#;
                    let answer = format!(
                        "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        StandIn { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// A new callout with one participation for `msisdn` and its call, queued; returns the call id.
async fn queue_a_call(s: &Serve, msisdn: &str) -> i64 {
    let callout = s.post_json("/api/callouts", json!({})).await;
    s.queue_call(callout["id"].as_i64().unwrap(), msisdn).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn somleng_without_a_base_url_sends_nothing_to_twilio() {
    let twilio = StandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = serve::free_port();
    let at = scfm::store::Location::for_tests(&dir.path().join("s.sqlite3"));
    let mut cmd = serve::command_on(&at, dir.path(), port);
    cmd.env("PLATFORM_PROVIDER", "somleng")
        .env("SOMLENG_ACCOUNT_SID", SOMLENG_SID)
        .env("SOMLENG_AUTH_TOKEN", SOMLENG_TOKEN)
        .env("SCFM_TWILIO_BASE_URL", &twilio.url)
        .env("SCFM_POLL_INTERVAL", "1")
        .env("SCFM_RECONCILE_AFTER", "1");
    let s = Serve::start(cmd, port, dir.path().join("serve.log")).await;
    let log = s.log_text();
    assert!(
        log.contains(
            "dialling off: SOMLENG_CLIENT_REST_API_BASE_URL not set (PLATFORM_PROVIDER=somleng)"
        ),
        "the log does not name the missing setting: {log}"
    );

    let id = queue_a_call(&s, "+85512345678").await;
    let v: Value = s.wait_past_queued(id).await;
    assert_eq!(v["status"], "errored", "{v}");
    assert_eq!(
        v["remote_error_message"],
        "Unable to create record: SOMLENG_CLIENT_REST_API_BASE_URL not set (PLATFORM_PROVIDER=somleng) (no request was sent)"
    );
    assert!(v["remote_call_id"].is_null(), "{v}");
    // Give the status poller and reconciliation a few of their (1 s) turns too.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        twilio.seen(),
        Vec::<String>::new(),
        "a Somleng account's request reached the Twilio default"
    );
    let log = s.log_text();
    assert!(
        !log.contains(SOMLENG_TOKEN),
        "the token reached the log: {log}"
    );
}

/// The control: `SCFM_TWILIO_BASE_URL` really is where the Twilio default points, so the
/// stand-in above would have seen a request had one gone to Twilio.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_twilio_default_goes_where_scfm_twilio_base_url_says() {
    let twilio = StandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = serve::free_port();
    let at = scfm::store::Location::for_tests(&dir.path().join("s.sqlite3"));
    let mut cmd = serve::command_on(&at, dir.path(), port);
    cmd.env("PLATFORM_PROVIDER", "twilio")
        .env("TWILIO_ACCOUNT_SID", TWILIO_SID)
        .env("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
        .env("SCFM_TWILIO_BASE_URL", &twilio.url);
    let s = Serve::start(cmd, port, dir.path().join("serve.log")).await;
    assert!(!s.log_text().contains("dialling off"), "{}", s.log_text());
    let id = queue_a_call(&s, "+85512345678").await;
    let v: Value = s.wait_past_queued(id).await;
    assert_eq!(v["status"], "errored", "{v}");
    assert_eq!(
        v["remote_error_message"],
        "Unable to create record: Authenticate"
    );
    let seen = twilio.seen();
    // The create came first (nothing else is asked before a call is dialled).
    assert!(
        seen.first().is_some_and(|head| head.starts_with(&format!(
            "POST /2010-04-01/Accounts/{TWILIO_SID}/Calls.json HTTP/1.1\r\n"
        ))),
        "{seen:?}"
    );
}
