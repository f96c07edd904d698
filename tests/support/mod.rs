//! Shared helpers for integration tests: a real scfm server on 127.0.0.1 over a temp SQLite
//! file (or, with `SCFM_TEST_DATABASE=postgres://…`, a fresh database of its own on that
//! PostgreSQL server: `Config::for_tests`), a reqwest client with API credentials, and the fake
//! provider.
#![allow(dead_code)]

pub mod campaign;
pub mod fake_provider;
pub mod pace;
pub mod serve;
pub mod sms;

use scfm::config::Config;
use scfm::startup::Running;
use std::path::PathBuf;
use tempfile::TempDir;

pub const TOKEN: &str = "test-token";

/// A running server plus the directory holding its database.
pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    /// The SQLite file (empty on PostgreSQL; tests that read it skip there).
    pub db: PathBuf,
    pub config: Config,
    pub dir: TempDir,
    pub http: reqwest::Client,
}

impl TestServer {
    /// Starts on a fresh database with `tweak` applied to the test configuration.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("scfm.sqlite3");
        let mut config = Config::for_tests(&db);
        tweak(&mut config);
        Self::start_in(dir, config).await
    }

    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// As `start_with`, with `SCFM_PUBLIC_URL` set to the server's own address, so a fake
    /// provider's webhooks reach it (and are signed over that URL).
    pub async fn start_reachable(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("scfm.sqlite3");
        let mut config = Config::for_tests(&db);
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local address");
        config.public_url = Some(format!("http://{addr}"));
        Self::start_on(dir, config, listener).await
    }

    async fn start_in(dir: TempDir, config: Config) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Self::start_on(dir, config, listener).await
    }

    async fn start_on(
        dir: TempDir,
        config: Config,
        listener: tokio::net::TcpListener,
    ) -> TestServer {
        let running = scfm::startup::start(config.clone(), listener)
            .await
            .expect("start scfm");
        let base = format!("http://{}", running.addr);
        TestServer {
            running: Some(running),
            base,
            db: config
                .database
                .sqlite_path()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default(),
            config,
            dir,
            http: reqwest::Client::new(),
        }
    }

    /// Stops the server and starts a new one on the same database file (same port not kept).
    pub async fn restart_with(mut self, tweak: impl FnOnce(&mut Config)) -> TestServer {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        let mut config = self.config.clone();
        tweak(&mut config);
        Self::start_in(self.dir, config).await
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(TOKEN)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(TOKEN)
    }

    /// A form body sent exactly as curl `-d` would (raw brackets, `+` as given).
    pub fn post_form(&self, path: &str, body: &str) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string())
    }

    /// A provider webhook: `pairs` as a form body to `path`, signed with `token` over the URL
    /// the server sees (no `x-twilio-signature` when `token` is None).
    pub fn post_webhook<K: AsRef<str>, V: AsRef<str>>(
        &self,
        path: &str,
        pairs: &[(K, V)],
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let url = self.url(path);
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect();
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let mut req = self
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(t) = token {
            req = req.header(
                "x-twilio-signature",
                scfm::provider::signature::compute(t, &url, &pairs),
            );
        }
        req
    }

    pub fn patch_form(&self, path: &str, body: &str) -> reqwest::RequestBuilder {
        self.http
            .patch(self.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string())
    }

    /// POSTs `body` as JSON to `path`; panics unless it succeeds; its JSON (null for a 204).
    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("post");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        if r.status() == reqwest::StatusCode::NO_CONTENT {
            return serde_json::Value::Null;
        }
        r.json().await.expect("json")
    }

    /// Populates callout `id` with every contact (a `CalloutPopulation` run to its end).
    pub async fn populate(&self, id: i64) {
        let op = self
            .post_json(
                &format!("/api/callouts/{id}/batch_operations"),
                serde_json::json!({"type": "BatchOperation::CalloutPopulation"}),
            )
            .await;
        self.post_json(
            &format!("/api/batch_operations/{}/batch_operation_events", op["id"]),
            serde_json::json!({"event": "queue"}),
        )
        .await;
        self.wait_for(&format!("/api/batch_operations/{}", op["id"]), |v| {
            v["status"] == "finished"
        })
        .await;
    }

    /// Polls `path` until `pred` holds on its JSON, or panics after 10 s.
    pub async fn wait_for(
        &self,
        path: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let v: serde_json::Value = self
                .get(path)
                .send()
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            if pred(&v) {
                return v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting on {path}: {v}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// Header value as a string ("" when absent).
pub fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}
