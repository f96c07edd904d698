//! A batch campaign through a real `scfm serve`'s API, as an operator would run one: contacts,
//! a callout, its population, phone call creation and queueing (the batch operations), and
//! waits on the phone calls' counts that tolerate a server briefly answering 503 (a database
//! restart) or not at all (a killed process).

use super::serve::Serve;
use futures::future::join_all;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How many phone calls match `query` (`q[status]=queued`), or None when the server did not
/// answer with a success.
pub async fn total(s: &Serve, query: &str) -> Option<usize> {
    let r = s
        .get(&format!("/api/phone_calls?{query}"))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.headers().get("total")?.to_str().ok()?.parse().ok()
}

/// Waits (up to `secs`) until `want` phone calls match `query`.
pub async fn wait_total(s: &Serve, query: &str, want: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let n = total(s, query).await;
        if n == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "{query}: {n:?}, want {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Queues a batch operation of `ty` with `parameters` on callout 1 through `s`.
pub async fn batch(s: &Serve, ty: &str, parameters: Value) {
    let op = s
        .post_json(
            "/api/batch_operations",
            json!({"type": ty, "callout_id": 1, "parameters": parameters}),
        )
        .await;
    s.post_json(
        &format!("/api/batch_operations/{}/batch_operation_events", op["id"]),
        json!({"event": "queue"}),
    )
    .await;
}

/// Contacts for `numbers`, callout 1 populated with them and one call each, all `created`
/// (nothing queued yet). Call [`queue_all`] to start dialling.
pub async fn create_calls(s: &Serve, numbers: &[String]) {
    for chunk in numbers.chunks(50) {
        join_all(
            chunk
                .iter()
                .map(|n| s.post_json("/api/contacts", json!({ "msisdn": n }))),
        )
        .await;
    }
    s.post_json("/api/callouts", json!({})).await;
    let pop = s
        .post_json(
            "/api/callouts/1/batch_operations",
            json!({"type": "BatchOperation::CalloutPopulation"}),
        )
        .await;
    s.post_json(
        &format!("/api/batch_operations/{}/batch_operation_events", pop["id"]),
        json!({"event": "queue"}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = s
            .get("/api/callout_participations")
            .send()
            .await
            .expect("participations");
        if r.headers()["total"] == numbers.len().to_string().as_str() {
            break;
        }
        assert!(Instant::now() < deadline, "population did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    batch(
        s,
        "BatchOperation::PhoneCallCreate",
        json!({"remote_request_params": {"from": "+85510999999", "url": "https://example.org/twiml"}}),
    )
    .await;
    wait_total(s, "q[status]=created", numbers.len(), 60).await;
}

/// Queues every `created` call (the diallers start racing for them).
pub async fn queue_all(s: &Serve) {
    batch(
        s,
        "BatchOperation::PhoneCallQueue",
        json!({"phone_call_filter_params": {"status": "created"}}),
    )
    .await;
}

/// `scfm serve` on `db` dialling `fake` at `cps` calls per second, with reconciliation quick
/// enough for a test to see its end: an unresolved claim is looked at after 2 s and given up
/// after 4 s (defaults 60 s and 300 s); no status polls (the calls stay `remotely_queued`).
pub fn dialling_command(
    db: &scfm::store::Location,
    dir: &std::path::Path,
    port: u16,
    fake: &super::fake_provider::FakeProvider,
    cps: usize,
) -> std::process::Command {
    let mut cmd = super::serve::command_on(db, dir, port);
    cmd.env("PLATFORM_PROVIDER", "twilio")
        .env("TWILIO_ACCOUNT_SID", fake.account_sid())
        .env("TWILIO_AUTH_TOKEN", fake.auth_token())
        .env("SOMLENG_CLIENT_REST_API_BASE_URL", fake.base_url())
        .env("SCFM_CALLS_PER_SECOND", cps.to_string())
        .env("SCFM_POLL_INTERVAL", "600")
        .env("SCFM_RECONCILE_AFTER", "2")
        .env("SCFM_UNKNOWN_OUTCOME_GRACE", "4");
    cmd
}

/// What a finished campaign of `calls` calls came to, from the fake's log and the API.
#[derive(Debug)]
pub struct Tally {
    pub creates: usize,
    pub distinct: usize,
    pub max_per_second: usize,
    pub mean_rate: f64,
    /// Calls the provider accepted, linked to their SID.
    pub placed: usize,
    /// Calls given up by reconciliation (claimed, never reached the provider).
    pub given_up: Vec<Value>,
    /// Calls in neither state.
    pub lost: usize,
    /// Creates in each second since the first.
    pub per_second: Vec<usize>,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} creates, {} distinct numbers, max {} in one second, mean {:.2}/s; {} placed, \
             {} given up unplaced, lost {}; per second {:?}",
            self.creates,
            self.distinct,
            self.max_per_second,
            self.mean_rate,
            self.placed,
            self.given_up.len(),
            self.lost,
            self.per_second
        )
    }
}

/// Waits until no call is `created` or `queued` (every one dialled or resolved by
/// reconciliation), then counts.
pub async fn tally(s: &Serve, fake: &super::fake_provider::FakeProvider, calls: usize) -> Tally {
    wait_total(s, "q[status]=created", 0, 60).await;
    wait_total(s, "q[status]=queued", 0, 120).await;
    let creates = super::pace::creates(fake);
    let times: Vec<_> = creates.iter().map(|(t, _)| *t).collect();
    let distinct: std::collections::HashSet<&str> =
        creates.iter().map(|(_, to)| to.as_str()).collect();
    let given_up = s
        .get_json("/api/phone_calls?q[status]=errored&per_page=1000")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default();
    let placed = total(s, "q[status]=remotely_queued").await.unwrap_or(0);
    Tally {
        creates: creates.len(),
        distinct: distinct.len(),
        max_per_second: super::pace::max_per_second(&times),
        mean_rate: super::pace::mean_rate(&times),
        placed,
        lost: calls.saturating_sub(placed + given_up.len()),
        per_second: super::pace::per_second(&times),
        given_up,
    }
}

impl Tally {
    /// What every campaign must come to, whatever happened to its processes or its database:
    /// no number created twice, never more than `cps` creates in one second, nothing lost,
    /// every create linked to its call, and no call given up that reached the provider.
    pub fn assert_safe(&self, fake: &super::fake_provider::FakeProvider, cps: usize) {
        assert_eq!(self.creates, self.distinct, "a number was created twice");
        assert!(
            self.max_per_second <= cps,
            "{} creates within one second",
            self.max_per_second
        );
        assert_eq!(self.lost, 0);
        assert_eq!(
            self.placed, self.creates,
            "every create is linked to its call"
        );
        for call in &self.given_up {
            let to = call["msisdn"].as_str().unwrap_or_default();
            assert_eq!(fake.creates_for(to), 0, "given up but placed: {call}");
        }
    }
}
