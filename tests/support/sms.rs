//! Helpers of `tests/sms_fallback.rs`: the people of a campaign with known outcomes, the fake
//! configured for texts, the callout's settings, pacing over the fake's log, and a `scfm serve`
//! reachable for its webhooks.

use super::TestServer;
use super::fake_provider::{FakeConfig, FakeProvider, NumberMatch};
use super::serve::Serve;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// GET `path` as JSON.
pub async fn json_at<T: serde::de::DeserializeOwned>(s: &TestServer, path: &str) -> T {
    s.get(path)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

/// Unreached: busy on every attempt (texts delivered) and failed on every attempt (texts
/// fail at the fake); reached: everyone else.
pub fn people(answer: usize, busy: usize, failed: usize) -> (Vec<String>, Vec<String>) {
    let mut reached = Vec::new();
    let mut unreached = Vec::new();
    for i in 0..answer {
        reached.push(format!("+85512{i:02}1000"));
    }
    for i in 0..busy {
        unreached.push(format!("+85512{i:02}9001")); // fake preset: busy
    }
    for i in 0..failed {
        unreached.push(format!("+85512{i:02}9003")); // fake preset: failed
    }
    (reached, unreached)
}

pub fn fake_config() -> FakeConfig {
    FakeConfig {
        message_failures: vec![NumberMatch::Suffix("9003".into())],
        ..FakeConfig::twilio()
    }
}

/// The most creates in any window shorter than a second.
pub fn max_per_second(times: &[chrono::DateTime<chrono::Utc>]) -> usize {
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t - times[i] < chrono::Duration::milliseconds(1000))
                .count()
        })
        .max()
        .unwrap_or(0)
}

pub const KHMER: &str = "ទឹកជំនន់កំពុងកើនឡើង។ សូមចាកចេញទៅកន្លែងខ្ពស់ភ្លាមៗ។ ទូរស័ព្ទ ១១៧ ប្រសិនបើត្រូវការជំនួយ។";

pub fn dialing(mps: f64) -> Value {
    json!({"from": "1234", "twiml_url": "https://example.org/t.xml", "max_calls_per_second": 20,
        "max_concurrent_calls": 20, "max_attempts": 2, "retry_delay_seconds": 0,
        "sms_fallback": {"body": KHMER, "max_messages_per_second": mps}})
}

/// `scfm serve` on `db` against `fake`, its webhooks reachable at its own port.
pub fn spawn(
    db: &scfm::store::Location,
    dir: &std::path::Path,
    fake: &FakeProvider,
    k: usize,
) -> Serve {
    let port = super::serve::free_port();
    let mut cmd = super::campaign::dialling_command(db, dir, port, fake, 50);
    cmd.env("SCFM_POLL_INTERVAL", "1")
        .env("SCFM_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("RUST_LOG", "warn");
    Serve::spawn(cmd, port, dir.join(format!("serve-{k}.log")))
}

/// Waits until callout `id`'s calls are over (nothing pending or in flight).
pub async fn wait_campaign_over(s: &TestServer, id: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p: Value = json_at(s, &format!("/api/callouts/{id}/progress")).await;
        if p["pending"] == 0 && p["in_progress"] == 0 && p["participations"].as_i64() > Some(0) {
            return;
        }
        assert!(Instant::now() < deadline, "campaign did not end: {p}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Provider settings pointing at `fake` (50 calls/s, polls every 300 ms).
pub fn use_fake(c: &mut scfm::config::Config, fake: &FakeProvider) {
    c.provider.account_sid = Some(fake.account_sid());
    c.provider.auth_token = Some(fake.auth_token());
    c.provider.base_url = Some(fake.base_url());
    c.provider.calls_per_second = 50.0;
    c.provider.poll_interval = Duration::from_millis(300);
}

/// Contacts for `numbers` in a new callout with `dialing`, populated and started: its id and
/// its JSON as created (before start).
pub async fn start_campaign(s: &TestServer, numbers: &[String], dialing: Value) -> (i64, Value) {
    for n in numbers {
        s.post_json("/api/contacts", json!({ "msisdn": n })).await;
    }
    let callout = s
        .post_json("/api/callouts", json!({ "dialing": dialing }))
        .await;
    let id = callout["id"].as_i64().expect("callout id");
    s.populate(id).await;
    s.post_json(
        &format!("/api/callouts/{id}/callout_events"),
        json!({"event": "start"}),
    )
    .await;
    (id, callout)
}
