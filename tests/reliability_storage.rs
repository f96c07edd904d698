//! Storage faults, with the real binary: a disk that fills up (the process's file size limit,
//! RLIMIT_FSIZE, set with `prlimit`) and a database file the process may not write (mode 0444,
//! run as an unprivileged user when the test runs as root). Writes answer 503 with a clear JSON
//! message, reads keep working, `PRAGMA integrity_check` stays ok, nothing half-written appears,
//! and writes succeed again once space returns (the limit is lifted on the running process).

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const API: &str = "storage-test-token";
/// Provider credentials, so the server checks (and accepts) signed webhooks.
const HOOK_ACCOUNT: &str = "AC00000000000000000000000000000001";
const HOOK_TOKEN: &str = "storage-test-auth-token";

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

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `scfm serve` on `db`, run through `wrapper` (e.g. prlimit) when given.
fn spawn(db: &Path, port: u16, wrapper: &[String]) -> Proc {
    let bin = env!("CARGO_BIN_EXE_scfm");
    let mut cmd = if wrapper.is_empty() {
        Command::new(bin)
    } else {
        let mut c = Command::new(&wrapper[0]);
        c.args(&wrapper[1..]).arg(bin);
        c
    };
    let child = cmd
        .arg("serve")
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("SCFM_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCFM_DATA_DIR", db.parent().unwrap())
        .env("SCFM_API_TOKEN", API)
        .env("TWILIO_ACCOUNT_SID", HOOK_ACCOUNT)
        .env("TWILIO_AUTH_TOKEN", HOOK_TOKEN)
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
        .bearer_auth(API)
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "scfm at {base} did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn add_contact(http: &reqwest::Client, base: &str, i: usize, pad: usize) -> (u16, Value) {
    let r = http
        .post(format!("{base}/api/contacts"))
        .bearer_auth(API)
        .json(&json!({"msisdn": format!("+8551{:07}", 6_000_000 + i),
            "metadata": {"pad": "x".repeat(pad)}}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn integrity(db: &Path) -> (String, Vec<String>) {
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .read_only(true),
    )
    .await
    .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    let msisdns: Vec<String> = sqlx::query_scalar("SELECT msisdn FROM contacts ORDER BY msisdn")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    (check, msisdns)
}

fn assert_clear_503(status: u16, body: &Value) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], 503);
    assert_eq!(body["error"], "Service Unavailable");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("read-only or disk full"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_answers_503_keeps_the_file_intact_and_recovers() {
    if scfm::store::location::skip_on_postgres(
        "disk_full_answers_503_keeps_the_file_intact_and_recovers",
        "disk-full and read-only faults are injected into the SQLite file",
    ) {
        return;
    }
    if !have("prlimit") {
        eprintln!("SKIPPED: prlimit (util-linux) is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("full.sqlite3");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // 3 MB per file: room for the schema and a few contacts, not for a WAL full of them.
    // SIGXFSZ ignored, so a write past the limit fails with EFBIG as a full disk fails with
    // ENOSPC (instead of the signal killing the process).
    let wrapper: Vec<String> = [
        "sh",
        "-c",
        "trap '' XFSZ; exec prlimit --fsize=3000000:unlimited -- \"$@\"",
        "sh",
    ]
    .map(String::from)
    .to_vec();
    let proc = spawn(&db, port, &wrapper);
    wait_up(&http, &base).await;
    let pid = proc.0.id();

    let mut stored = Vec::new();
    let mut refused = None;
    for i in 0..200 {
        let (status, body) = add_contact(&http, &base, i, 200_000).await;
        match status {
            201 => stored.push(format!("+8551{:07}", 6_000_000 + i)),
            _ => {
                assert_clear_503(status, &body);
                refused = Some(i);
                break;
            }
        }
    }
    let sizes: Vec<(String, u64)> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().to_string(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    if refused.is_none() {
        let r = http
            .get(format!("{base}/api/contacts"))
            .bearer_auth(API)
            .send()
            .await
            .unwrap();
        let total = r.headers()["total"].to_str().unwrap().to_string();
        let (check, m) = integrity(&db).await;
        panic!(
            "the disk never filled: {sizes:?} total {total} check {check} rows {}",
            m.len()
        );
    }
    let refused = refused.unwrap();
    eprintln!("disk full after {} contacts: 503 {}", stored.len(), refused);
    // Reads still work; a second write is refused the same way.
    let r = http
        .get(format!("{base}/api/contacts"))
        .bearer_auth(API)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = add_contact(&http, &base, 500, 200_000).await;
    assert_clear_503(status, &body);
    let (check, msisdns) = integrity(&db).await;
    assert_eq!(check, "ok");
    assert_eq!(
        msisdns, stored,
        "exactly the acknowledged contacts, nothing half-written"
    );

    // Space returns: the same process writes again.
    let out = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--fsize=unlimited:unlimited"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (status, body) = add_contact(&http, &base, refused, 200_000).await;
    assert_eq!(status, 201, "{body}");
    stored.push(format!("+8551{:07}", 6_000_000 + refused));
    let (status, _) = add_contact(&http, &base, 501, 10).await;
    assert_eq!(status, 201);
    stored.push(format!("+8551{:07}", 6_000_501));
    stored.sort();
    drop(proc);
    let (check, msisdns) = integrity(&db).await;
    assert_eq!(check, "ok");
    assert_eq!(msisdns, stored);
    eprintln!(
        "reliability_storage disk full: {} writes acknowledged, 2 refused with 503, 0 lost, recovered",
        stored.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_answers_503_and_keeps_serving_reads() {
    if scfm::store::location::skip_on_postgres(
        "a_read_only_database_answers_503_and_keeps_serving_reads",
        "disk-full and read-only faults are injected into the SQLite file",
    ) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root && !have("setpriv") {
        eprintln!("SKIPPED: running as root without setpriv to drop privileges");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let db = dir.path().join("ro.sqlite3");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    {
        let _p = spawn(&db, port, &[]);
        wait_up(&http, &base).await;
        for i in 0..3 {
            assert_eq!(add_contact(&http, &base, i, 10).await.0, 201);
        }
    }
    // Let the killed process's WAL be folded in by a clean open/close, then make it read-only.
    let (check, before) = integrity(&db).await;
    assert_eq!(check, "ok");
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    let wrapper: Vec<String> = if root {
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ]
        .map(String::from)
        .to_vec()
    } else {
        Vec::new()
    };
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut proc = spawn(&db, port, &wrapper);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http
            .get(format!("{base}/api/contacts"))
            .bearer_auth(API)
            .send()
            .await
        {
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            assert_eq!(v.as_array().unwrap().len(), 3, "reads work");
            break;
        }
        if let Some(status) = proc.0.try_wait().unwrap() {
            panic!("scfm refused to start on a read-only database: {status}");
        }
        assert!(Instant::now() < deadline, "did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = add_contact(&http, &base, 10, 10).await;
    assert_clear_503(status, &body);
    let r = http
        .post(format!("{base}/api/callouts"))
        .bearer_auth(API)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_clear_503(status, &r.json().await.unwrap());
    // A signed provider webhook (it goes through the group-commit writer): 503 too, so the
    // provider knows it was not stored.
    let url = format!("{base}/api/remote_phone_call_events");
    let pairs: Vec<(String, String)> = [
        ("AccountSid", HOOK_ACCOUNT),
        ("CallSid", "CAreadonly"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("From", "+85510202101"),
        ("To", "+85512345678"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let r = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-twilio-signature",
            scfm::provider::signature::compute(HOOK_TOKEN, &url, &pairs),
        )
        .body(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish(),
        )
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_clear_503(status, &r.json().await.unwrap());
    proc.0.kill().unwrap();
    proc.0.wait().unwrap();

    // Writable again: the same file takes writes.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
    let (check, after) = integrity(&db).await;
    assert_eq!(check, "ok");
    assert_eq!(after, before, "nothing changed while read-only");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _p = spawn(&db, port, &wrapper);
    wait_up(&http, &base).await;
    assert_eq!(add_contact(&http, &base, 10, 10).await.0, 201);
    eprintln!("reliability_storage read-only: 3 writes refused with 503, reads served, recovered");
}
