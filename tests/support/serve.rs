//! A real `scfm serve` child process on a loopback port over a given database file, its log
//! (stderr) in a file, killed when dropped. The provider settings of the environment the tests
//! run in are removed, so each test says exactly what it configures.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The API token every spawned server accepts.
pub const API: &str = "serve-test-token";

/// A free port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("local address")
        .port()
}

/// `scfm serve` on the SQLite file `db` at `127.0.0.1:port`, with no provider settings yet.
pub fn command(db: &Path, port: u16) -> Command {
    command_on(
        &scfm::store::Location::Sqlite(db.to_path_buf()),
        db.parent().expect("database directory"),
        port,
    )
}

/// `scfm serve` on `db` (either engine; see `Location::for_tests`) at `127.0.0.1:port`, with its
/// data directory in `data_dir` and no provider settings yet.
pub fn command_on(db: &scfm::store::Location, data_dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scfm"));
    cmd.arg("serve")
        .env("DATABASE_URL", db.as_url())
        .env("SCFM_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCFM_DATA_DIR", data_dir)
        .env("SCFM_API_TOKEN", API)
        .env("RUST_LOG", "info");
    for name in [
        "PLATFORM_PROVIDER",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "SOMLENG_ACCOUNT_SID",
        "SOMLENG_AUTH_TOKEN",
        "SOMLENG_CLIENT_REST_API_BASE_URL",
        "SCFM_TWILIO_BASE_URL",
        "SCFM_PUBLIC_URL",
        "HTTP_BASIC_AUTH_USER",
        "HTTP_BASIC_AUTH_PASSWORD",
    ] {
        cmd.env_remove(name);
    }
    cmd
}

pub struct Serve {
    child: Child,
    pub base: String,
    pub log: PathBuf,
    pub http: reqwest::Client,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Spawns `cmd` (from [`command`] with `port`), logging to `log`, and waits until it answers.
    pub async fn start(cmd: Command, port: u16, log: PathBuf) -> Serve {
        let mut serve = Self::spawn(cmd, port, log);
        serve.wait_up().await;
        serve
    }

    /// Spawns `cmd` without waiting for it to answer (see [`Serve::wait_up`]).
    pub fn spawn(mut cmd: Command, port: u16, log: PathBuf) -> Serve {
        // A file, not a pipe: nobody reads a pipe while the test runs, and a full one would
        // block the server's logging.
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("log file")))
            .spawn()
            .expect("spawn scfm serve");
        Serve {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
        }
    }

    /// Waits until the server answers (panics if it exits, or after 20 s).
    pub async fn wait_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.get("/api/contacts").send().await.is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("scfm serve exited with {status}: {}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "scfm at {} did not start",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(API)
    }

    /// GET `path` as JSON, asserting success.
    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).send().await.expect("get");
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.expect("json")
    }

    /// Waits (up to 20 s) until call `id` has left `queued`, and returns it.
    pub async fn wait_past_queued(&self, id: i64) -> Value {
        self.wait_for(&format!("/api/phone_calls/{id}"), 20, |v| {
            v["status"] != "queued"
        })
        .await
    }

    /// A contact for `msisdn`, its participation in callout `callout_id` and a call, queued
    /// through the API (the `queue` event); returns the call's id.
    pub async fn queue_call(&self, callout_id: i64, msisdn: &str) -> i64 {
        let contact = self
            .post_json("/api/contacts", serde_json::json!({ "msisdn": msisdn }))
            .await;
        let cp = self
            .post_json(
                &format!("/api/callouts/{callout_id}/callout_participations"),
                serde_json::json!({ "contact_id": contact["id"] }),
            )
            .await;
        let call = self
            .post_json(
                &format!("/api/callout_participations/{}/phone_calls", cp["id"]),
                serde_json::json!({"remote_request_params": {"from": "345", "url": "https://example.org/t.xml"}}),
            )
            .await;
        let id = call["id"].as_i64().expect("call id");
        let v = self
            .post_json(
                &format!("/api/phone_calls/{id}/phone_call_events"),
                serde_json::json!({"event": "queue"}),
            )
            .await;
        assert_eq!(v["status"], "queued", "{v}");
        id
    }

    /// POST a JSON body to `path`, asserting success; returns the answer.
    pub async fn post_json(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(API)
            .json(&body)
            .send()
            .await
            .expect("post");
        let status = r.status();
        let text = r.text().await.expect("body");
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).expect("json")
    }

    /// Polls `path` until `pred` holds on its JSON, or panics after `secs` seconds.
    pub async fn wait_for(&self, path: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.get_json(path).await;
            if pred(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting on {path}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the server logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the process now (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
