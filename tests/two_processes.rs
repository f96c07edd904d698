//! Two `scfm serve` processes on one database file with 500 queued calls: the fake provider's
//! request log shows every call created exactly once (the conditional claim in action).

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::fake_provider::{FakeConfig, FakeProvider};

const CALLS: usize = 500;

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(db: &scfm::store::Location, port: u16, fake: &FakeProvider) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_scfm"))
        .arg("serve")
        .env("DATABASE_URL", db.as_url())
        .env("SCFM_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCFM_API_TOKEN", "t")
        .env("PLATFORM_PROVIDER", "twilio")
        .env("TWILIO_ACCOUNT_SID", fake.account_sid())
        .env("TWILIO_AUTH_TOKEN", fake.auth_token())
        .env("SOMLENG_CLIENT_REST_API_BASE_URL", fake.base_url())
        .env("SCFM_CALLS_PER_SECOND", "2000")
        .env("SCFM_POLL_INTERVAL", "600")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn scfm");
    Proc(child)
}

async fn wait_up(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while http
        .get(format!("{base}/api/contacts"))
        .bearer_auth("t")
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "scfm at {base} did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_dial_a_call_twice() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = scfm::store::Location::for_tests(&dir.path().join("shared.sqlite3"));
    let (pa, pb) = (free_port(), free_port());
    let _a = spawn(&db, pa, &fake);
    let a = format!("http://127.0.0.1:{pa}");
    let http = reqwest::Client::new();
    wait_up(&http, &a).await;
    let _b = spawn(&db, pb, &fake);
    wait_up(&http, &format!("http://127.0.0.1:{pb}")).await;

    let post = |path: &str, body: Value| {
        http.post(format!("{a}{path}"))
            .bearer_auth("t")
            .json(&body)
            .send()
    };
    for i in 0..CALLS {
        let r = post(
            "/api/contacts",
            json!({"msisdn": format!("+8551{:07}", 2_000_000 + i)}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 201);
    }
    post("/api/callouts", json!({})).await.unwrap();
    let pop: Value = post(
        "/api/callouts/1/batch_operations",
        json!({"type": "BatchOperation::CalloutPopulation"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    post(
        &format!("/api/batch_operations/{}/batch_operation_events", pop["id"]),
        json!({"event": "queue"}),
    )
    .await
    .unwrap();
    let get = |path: String| http.get(format!("{a}{path}")).bearer_auth("t").send();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = get("/api/callout_participations".into()).await.unwrap();
        if r.headers()["total"] == CALLS.to_string().as_str() {
            break;
        }
        assert!(Instant::now() < deadline, "population did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let create: Value = post(
        "/api/batch_operations",
        json!({"type": "BatchOperation::PhoneCallCreate",
               "parameters": {"remote_request_params": {"from": "+85510999999", "url": "https://example.org/twiml"}}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    post(
        &format!(
            "/api/batch_operations/{}/batch_operation_events",
            create["id"]
        ),
        json!({"event": "queue"}),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = get("/api/phone_calls?q[status]=created".into())
            .await
            .unwrap();
        if r.headers()["total"] == CALLS.to_string().as_str() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "phone call creation did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let queue: Value = post(
        "/api/batch_operations",
        json!({"type": "BatchOperation::PhoneCallQueue", "parameters": {"phone_call_filter_params": {"status": "created"}}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    post(
        &format!(
            "/api/batch_operations/{}/batch_operation_events",
            queue["id"]
        ),
        json!({"event": "queue"}),
    )
    .await
    .unwrap();
    // Both processes' dialers now race for the same 500 queued calls.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = get("/api/phone_calls?q[status]=remotely_queued".into())
            .await
            .unwrap();
        if r.headers()["total"] == CALLS.to_string().as_str() {
            break;
        }
        assert!(Instant::now() < deadline, "calls were not all dialled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let creates: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/Calls.json"))
        .collect();
    assert_eq!(creates.len(), CALLS, "each call created exactly once");
    for i in 0..CALLS {
        let to = format!("+8551{:07}", 2_000_000 + i);
        assert_eq!(fake.creates_for(&to), 1, "{to}");
    }
}
