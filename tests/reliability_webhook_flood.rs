//! Webhook flood: N signed status callbacks (CI 5,000; `SCFM_SOAK=1` 50,000) at 64 concurrent
//! connections against the real server, for calls that exist (created first by an inbound
//! `ringing` webhook each), with every payload sent twice and all of them shuffled (so
//! `ringing` often lands after `completed`). No 5xx, every call ends in the state of its final
//! callback, and each distinct payload is stored exactly once. Prints requests per second.

#![allow(clippy::unwrap_used)]

mod support;

use futures::StreamExt;
use rand::seq::SliceRandom;
use scfm::provider::signature;
use scfm::store::Handle;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::TestServer;

const AUTH: &str = "scfm-test-auth-token";
const ACCOUNT: &str = "AC00000000000000000000000000000001";
const CONCURRENCY: usize = 64;
/// Distinct payloads per call; each is sent twice.
const DISTINCT: usize = 5;

fn soak() -> bool {
    std::env::var("SCFM_SOAK").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn sid(i: usize) -> String {
    format!("CAflood{i:026}")
}

/// Final provider status of call `i`.
fn final_status(i: usize) -> &'static str {
    match i % 4 {
        0 | 1 => "completed",
        2 => "busy",
        _ => "no-answer",
    }
}

fn payload(i: usize, status: &str, seq: u32) -> Vec<(String, String)> {
    let mut p = vec![
        ("AccountSid", ACCOUNT.to_string()),
        ("ApiVersion", "2010-04-01".into()),
        ("CallSid", sid(i)),
        ("CallStatus", status.to_string()),
        ("Direction", "inbound".into()),
        ("From", format!("+8551{:07}", 4_000_000 + i)),
        ("To", "+85510999999".into()),
        ("SequenceNumber", seq.to_string()),
    ];
    if seq > 0 {
        p.push(("CallbackSource", "call-progress-events".into()));
    }
    if status == "completed" {
        p.push(("CallDuration", "12".into()));
    }
    p.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The distinct payloads of call `i`: ringing, in-progress, final, then a late ringing and a late
/// in-progress (which must not move the call backwards).
fn payloads(i: usize) -> Vec<Vec<(String, String)>> {
    vec![
        payload(i, "ringing", 0),
        payload(i, "in-progress", 1),
        payload(i, final_status(i), 2),
        payload(i, "ringing", 3),
        payload(i, "in-progress", 4),
    ]
}

struct Signed {
    body: String,
    signature: String,
}

fn sign(url: &str, pairs: &[(String, String)]) -> Signed {
    Signed {
        body: form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish(),
        signature: signature::compute(AUTH, url, pairs),
    }
}

/// Sends every request at `CONCURRENCY` at once; returns (status counts, elapsed).
async fn blast(
    http: &reqwest::Client,
    url: &str,
    reqs: Vec<Arc<Signed>>,
    limit: Duration,
) -> (HashMap<u16, usize>, Duration) {
    let failures = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let run = futures::stream::iter(reqs)
        .map(|s| {
            let (http, url, failures) = (http.clone(), url.to_string(), failures.clone());
            async move {
                let r = http
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-twilio-signature", s.signature.clone())
                    .body(s.body.clone())
                    .send()
                    .await;
                match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let _ = r.bytes().await;
                        status
                    }
                    Err(_) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        0
                    }
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .fold(HashMap::new(), |mut m, status| async move {
            *m.entry(status).or_insert(0usize) += 1;
            m
        });
    let counts = tokio::time::timeout(limit, run)
        .await
        .expect("flood did not finish in time");
    (counts, t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_callback_flood_stores_each_event_once_and_ends_in_final_states() {
    let total: usize = if soak() { 50_000 } else { 5_000 };
    let calls = total / (DISTINCT * 2);
    let s = TestServer::start_with(|c| {
        c.provider.account_sid = Some(ACCOUNT.into());
        c.provider.auth_token = Some(AUTH.into());
        c.provider.poll_interval = Duration::from_secs(600);
    })
    .await;
    let url = s.url("/api/remote_phone_call_events");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // The calls exist first: one inbound `ringing` each (the same payload is resent below).
    let warm: Vec<Arc<Signed>> = (0..calls)
        .map(|i| Arc::new(sign(&url, &payloads(i)[0])))
        .collect();
    let (counts, _) = blast(&http, &url, warm, Duration::from_secs(120)).await;
    assert_eq!(counts.get(&201).copied(), Some(calls), "{counts:?}");

    // The flood: every distinct payload twice, shuffled.
    let mut flood: Vec<Arc<Signed>> = Vec::with_capacity(total);
    for i in 0..calls {
        for p in payloads(i) {
            let signed = Arc::new(sign(&url, &p));
            flood.push(signed.clone());
            flood.push(signed);
        }
    }
    flood.shuffle(&mut rand::rng());
    let sent = flood.len();
    let limit = Duration::from_secs(if soak() { 900 } else { 90 });
    let (counts, elapsed) = blast(&http, &url, flood, limit).await;
    let rate = sent as f64 / elapsed.as_secs_f64();
    let server_errors: usize = counts
        .iter()
        .filter(|(s, _)| **s >= 500 || **s == 0)
        .map(|(_, n)| n)
        .sum();
    eprintln!(
        "reliability_webhook_flood: {sent} signed callbacks for {calls} calls at {CONCURRENCY} connections \
         in {:.2}s = {rate:.0} req/s; answers {counts:?}",
        elapsed.as_secs_f64()
    );
    assert_eq!(server_errors, 0, "5xx or transport errors: {counts:?}");
    assert_eq!(counts.get(&201).copied(), Some(sent), "{counts:?}");

    // The database (either engine, through a store of its own): every distinct payload once,
    // each call in its final callback's state.
    let check_store = scfm::store::Store::open(&s.config.database).await.unwrap();
    let mut conn = check_store.read().await.unwrap();
    let (events, distinct): (i64, i64) = scfm::on_engine!(&mut conn, ex => sqlx::query_as(
        "SELECT count(*), count(DISTINCT CAST(phone_call_id AS TEXT) || ':' || details) \
         FROM remote_phone_call_events",
    )
    .fetch_one(ex)
    .await)
    .unwrap();
    let rows: Vec<(String, String, Option<String>)> =
        scfm::on_engine!(&mut conn, ex => sqlx::query_as(
            "SELECT remote_call_id, status, remote_status FROM phone_calls",
        )
        .fetch_all(ex)
        .await)
        .unwrap();
    assert_eq!(rows.len(), calls, "one call per CallSid");
    let mut wrong = Vec::new();
    for (remote, status, remote_status) in &rows {
        let i: usize = remote.trim_start_matches("CAflood").parse().unwrap();
        let want = final_status(i);
        let local = match want {
            "no-answer" => "not_answered",
            other => other,
        };
        if status != local || remote_status.as_deref() != Some(want) {
            wrong.push(format!(
                "{remote}: {status}/{remote_status:?}, want {local}/{want}"
            ));
        }
    }
    // SQLite's own check of the file; PostgreSQL has no equivalent statement.
    let check: String = match conn.engine() {
        scfm::store::Engine::Sqlite(c) => sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(c)
            .await
            .unwrap(),
        scfm::store::Engine::Postgres(_) => "ok".into(),
    };
    eprintln!(
        "events stored {events} (distinct payloads {}, duplicates sent {}), calls in a wrong final state {}",
        calls * DISTINCT,
        sent + calls - calls * DISTINCT,
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "{} wrong: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    assert_eq!(
        events as usize,
        calls * DISTINCT,
        "each distinct payload stored once"
    );
    assert_eq!(events, distinct);
    assert_eq!(check, "ok");
    drop(conn);
    check_store.close().await;
    s.stop().await;
}
