//! Two `scfm serve` processes on one database (a SQLite file, or PostgreSQL with
//! `SCFM_TEST_DATABASE`), against one fake provider:
//! - 500 queued calls: the fake's request log shows every call created exactly once (the
//!   conditional claim in action);
//! - a campaign with `max_concurrent_calls`: the calls the fake holds in flight never exceed it,
//!   though both processes' campaign runners queue calls (the count is taken inside the write
//!   transaction that queues them), and every participation is called exactly once;
//! - three processes started at the same moment on a new SQLite file all come up: one applies
//!   the migrations, the others wait for its migration lock and find nothing left to apply
//!   (SQLite's own; PostgreSQL's migrations take an advisory lock).

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::fake_provider::{FakeConfig, FakeProvider, Fault, FaultAction};
use support::serve::{self, Serve};

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

/// Both processes dial for the fake, calls go back to the first (public URL) as status
/// callbacks; a call lasts ~180 ms at the fake, so the calls of one round overlap.
fn campaign_command(
    db: &scfm::store::Location,
    dir: &std::path::Path,
    port: u16,
    public: u16,
    fake: &FakeProvider,
) -> Command {
    let mut cmd = serve::command_on(db, dir, port);
    cmd.env("PLATFORM_PROVIDER", "twilio")
        .env("TWILIO_ACCOUNT_SID", fake.account_sid())
        .env("TWILIO_AUTH_TOKEN", fake.auth_token())
        .env("SOMLENG_CLIENT_REST_API_BASE_URL", fake.base_url())
        .env("SCFM_PUBLIC_URL", format!("http://127.0.0.1:{public}"))
        .env("SCFM_CALLS_PER_SECOND", "100")
        .env("SCFM_POLL_INTERVAL", "1")
        .env("RUST_LOG", "warn");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_keep_a_campaign_within_max_concurrent_calls() {
    const CAP: usize = 3;
    const PARTICIPATIONS: usize = 40;
    let mut config = FakeConfig::twilio().tick(Duration::from_millis(20));
    config.run_twiml = false;
    let fake = FakeProvider::start(config).await;
    let dir = tempfile::tempdir().unwrap();
    let db = scfm::store::Location::for_tests(&dir.path().join("shared.sqlite3"));
    let (pa, pb) = (serve::free_port(), serve::free_port());
    // Both started together on the fresh file (the migration lock makes one wait for the
    // other's migrations), so their campaign runners' once-a-second passes come close together.
    let mut a = Serve::spawn(
        campaign_command(&db, dir.path(), pa, pa, &fake),
        pa,
        dir.path().join("a.log"),
    );
    let mut b = Serve::spawn(
        campaign_command(&db, dir.path(), pb, pa, &fake),
        pb,
        dir.path().join("b.log"),
    );
    a.wait_up().await;
    b.wait_up().await;

    let numbers: Vec<String> = (0..PARTICIPATIONS)
        .map(|i| format!("+8551300{i:04}"))
        .collect();
    for n in &numbers {
        a.post_json("/api/contacts", json!({ "msisdn": n })).await;
    }
    let callout = a
        .post_json(
            "/api/callouts",
            json!({"dialing": {"from": "+85510999999", "twiml_url": "https://example.org/t.xml",
                "max_calls_per_second": 100, "max_concurrent_calls": CAP, "max_attempts": 1}}),
        )
        .await;
    let id = callout["id"].as_i64().unwrap();
    let op = a
        .post_json(
            &format!("/api/callouts/{id}/batch_operations"),
            json!({"type": "BatchOperation::CalloutPopulation"}),
        )
        .await;
    a.post_json(
        &format!("/api/batch_operations/{}/batch_operation_events", op["id"]),
        json!({"event": "queue"}),
    )
    .await;
    a.wait_for(&format!("/api/batch_operations/{}", op["id"]), 30, |v| {
        v["status"] == "finished"
    })
    .await;
    // Started through the second process: both runners see it on their next pass.
    b.post_json(
        &format!("/api/callouts/{id}/callout_events"),
        json!({"event": "start"}),
    )
    .await;
    let p = a
        .wait_for(&format!("/api/callouts/{id}/progress"), 120, |p| {
            p["pending"] == 0 && p["in_progress"] == 0
        })
        .await;
    fake.settle(Duration::from_secs(10)).await;

    let in_flight = fake.in_flight_at_creates();
    let most = in_flight.iter().copied().max().unwrap_or(0);
    eprintln!(
        "calls in flight at the fake after each create: {in_flight:?} (max {most}, cap {CAP}); progress {p}"
    );
    assert!(
        most <= CAP,
        "max_concurrent_calls {CAP} exceeded at the provider: {most} in flight ({in_flight:?})"
    );
    // The calls of a round did overlap, so the cap was what held them back.
    assert!(most >= 2, "no two calls ever overlapped: {in_flight:?}");
    assert_eq!(p["reached"], PARTICIPATIONS, "{p}");
    assert_eq!(p["attempts"], PARTICIPATIONS, "{p}");
    assert_eq!(in_flight.len(), PARTICIPATIONS, "creates placed");
    for n in &numbers {
        assert_eq!(fake.create_requests_for(n), 1, "{n}: create requests");
        assert_eq!(fake.creates_for(n), 1, "{n}: calls placed");
    }
    // Nothing went wrong on the way in either process.
    for (name, s) in [("a", &a), ("b", &b)] {
        let log = s.log_text();
        assert!(
            !log.contains("ERROR"),
            "process {name} logged an error: {log}"
        );
    }
}

/// One `scfm serve` dialling `fake`, probing every second while held.
fn hold_command(
    db: &scfm::store::Location,
    dir: &std::path::Path,
    port: u16,
    fake: &FakeProvider,
) -> Command {
    let mut cmd = serve::command_on(db, dir, port);
    cmd.env("PLATFORM_PROVIDER", "twilio")
        .env("TWILIO_ACCOUNT_SID", fake.account_sid())
        .env("TWILIO_AUTH_TOKEN", fake.auth_token())
        .env("SOMLENG_CLIENT_REST_API_BASE_URL", fake.base_url())
        .env("SCFM_CALLS_PER_SECOND", "4")
        .env("SCFM_POLL_INTERVAL", "1")
        .env("RUST_LOG", "warn");
    cmd
}

fn creates(fake: &FakeProvider) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/Calls.json"))
        .count()
}

fn probes(fake: &FakeProvider) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/Calls.json"))
        .count()
}

/// After the provider refuses our credentials in one process, the other sends no create either
/// (the hold is in the database, read before every claim); a probe the provider accepts, from
/// either process, releases it and both dial again. Each process has its own fake provider
/// (same account, same answers) so the fakes' logs say which process sent what.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_credential_in_one_process_holds_both() {
    const HELD: usize = 30;
    let mut fakes = Vec::new();
    for _ in 0..2 {
        let mut config = FakeConfig::twilio();
        config.run_twiml = false;
        let fake = FakeProvider::start(config).await;
        fake.add_fault(Fault::on_create(FaultAction::unauthorized()).always());
        fake.add_fault(Fault::on_list(FaultAction::unauthorized()).always());
        fakes.push(fake);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = scfm::store::Location::for_tests(&dir.path().join("shared.sqlite3"));
    let (pa, pb) = (serve::free_port(), serve::free_port());
    let mut a = Serve::spawn(
        hold_command(&db, dir.path(), pa, &fakes[0]),
        pa,
        dir.path().join("a.log"),
    );
    let mut b = Serve::spawn(
        hold_command(&db, dir.path(), pb, &fakes[1]),
        pb,
        dir.path().join("b.log"),
    );
    a.wait_up().await;
    b.wait_up().await;
    let procs = [&a, &b];

    a.post_json("/api/callouts", json!({})).await;
    let first = a.queue_call(1, "+85515900000").await;
    let v = a.wait_past_queued(first).await;
    assert_eq!(v["status"], "errored", "{v}");
    assert_eq!(
        v["remote_error_message"],
        "Unable to create record: Authenticate"
    );
    let refused: Vec<usize> = fakes.iter().map(creates).collect();
    assert_eq!(refused.iter().sum::<usize>(), 1, "{refused:?}");
    let (x, y) = if refused[0] == 1 { (0, 1) } else { (1, 0) };
    eprintln!("process {x} met the 401; process {y} must hold too");

    // Calls queued through the process that did not meet the 401, after the hold was set.
    let numbers: Vec<String> = (1..=HELD).map(|i| format!("+8551590{i:04}")).collect();
    for n in &numbers {
        procs[y].queue_call(1, n).await;
    }
    // Both processes are held: each asks its provider (and is refused) every second, twice.
    let deadline = Instant::now() + Duration::from_secs(30);
    while fakes.iter().any(|f| probes(f) < 2) {
        assert!(
            Instant::now() < deadline,
            "a process never probed: {:?}",
            fakes.iter().map(probes).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent: Vec<usize> = fakes.iter().map(creates).collect();
    assert_eq!(
        sent.iter().sum::<usize>(),
        1,
        "a create was sent while dialling was held: {sent:?}"
    );
    let r = a
        .get("/api/phone_calls?q[status]=queued")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["total"], HELD.to_string().as_str());

    // The account works again: a probe (whichever process's comes first) releases the hold
    // and both processes dial the held calls, each call once.
    for f in &fakes {
        f.clear_faults();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = a
            .get("/api/phone_calls?q[status]=queued")
            .send()
            .await
            .unwrap();
        if r.headers()["total"] == "0" {
            break;
        }
        assert!(Instant::now() < deadline, "held calls were not dialled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = a
        .get("/api/phone_calls?q[status]=errored")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["total"], "1", "only the refused call errored");
    for n in &numbers {
        let placed: usize = fakes.iter().map(|f| f.creates_for(n)).sum();
        let asked: usize = fakes.iter().map(|f| f.create_requests_for(n)).sum();
        assert_eq!((asked, placed), (1, 1), "{n}");
    }
    let after: Vec<usize> = fakes
        .iter()
        .zip(&refused)
        .map(|(f, r)| creates(f) - r)
        .collect();
    eprintln!("creates per process after the release: {after:?}");
    assert!(
        after.iter().all(|n| *n > 0),
        "both processes dial again: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_started_together_on_a_new_file_all_come_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.sqlite3");
    let ports = [serve::free_port(), serve::free_port(), serve::free_port()];
    let mut servers: Vec<Serve> = ports
        .iter()
        .enumerate()
        .map(|(i, &port)| {
            Serve::spawn(
                serve::command(&db, port),
                port,
                dir.path().join(format!("{i}.log")),
            )
        })
        .collect();
    for s in &mut servers {
        s.wait_up().await;
    }
    // One schema, every migration applied once: each server reads and writes the same file.
    servers[0]
        .post_json("/api/contacts", json!({"msisdn": "+85512000001"}))
        .await;
    for s in &servers {
        let contacts = s.get_json("/api/contacts").await;
        assert_eq!(contacts.as_array().map(Vec::len), Some(1), "{contacts}");
    }
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let applied: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT version, count(*) FROM _sqlx_migrations GROUP BY version HAVING count(*) > 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(applied.is_empty(), "migrations applied twice: {applied:?}");
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE NOT success")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(failed, 0);
}
