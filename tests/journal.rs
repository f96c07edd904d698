//! The tamper-evident journal (issue 14) on a simulated campaign of just over 10,000 entries:
//! operators' creates, a population, and inbound registration calls whose provider webhooks
//! are journaled. The chain verifies; then, with the append-only triggers taken away by hand
//! (as someone editing the database would), a hand-edited row, a deleted row, two rows'
//! contents swapped, and a cut tail are each caught, naming the entry, by the service and by
//! `scfm journal verify` (exit code 1). Put back, the journal verifies again. Both engines.

#![allow(clippy::unwrap_used)]

use futures::StreamExt;
use scfm::call_flow::Registry;
use scfm::domain::actor::Actor;
use scfm::domain::metadata::MergeMode;
use scfm::domain::time::Clock;
use scfm::service::{BatchOperationInput, CalloutInput, ContactInput, Service, WebhookRequest};
use scfm::store::engine::Db;
use scfm::store::{Location, Store};
use serde_json::json;
use std::process::Command;
use tempfile::TempDir;

const CONTACTS: usize = 2_000;
const INBOUND: usize = 4_000;

type Row = (
    i64,
    String,
    String,
    String,
    String,
    Option<i64>,
    String,
    String,
    String,
);

async fn exec(svc: &Service, sql: &str) -> Result<u64, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match svc.store().db() {
        Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
        Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
    }
}

async fn row(svc: &Service, seq: i64) -> Row {
    let sql = "SELECT seq, at, actor, action, subject, callout_id, details, prev_hash, hash \
               FROM journal WHERE seq = $1";
    match svc.store().db() {
        Db::Sqlite(p) => sqlx::query_as(sql).bind(seq).fetch_one(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_as(sql).bind(seq).fetch_one(p).await.unwrap(),
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Writes `r`'s fields (all but seq) into row `seq`.
async fn put(svc: &Service, seq: i64, r: &Row) {
    let callout = r.5.map(|c| c.to_string()).unwrap_or("NULL".into());
    let sql = format!(
        "UPDATE journal SET at = {}, actor = {}, action = {}, subject = {}, callout_id = {callout}, \
         details = {}, prev_hash = {}, hash = {} WHERE seq = {seq}",
        quote(&r.1),
        quote(&r.2),
        quote(&r.3),
        quote(&r.4),
        quote(&r.6),
        quote(&r.7),
        quote(&r.8)
    );
    assert_eq!(exec(svc, &sql).await.unwrap(), 1);
}

async fn insert(svc: &Service, r: &Row) {
    let callout = r.5.map(|c| c.to_string()).unwrap_or("NULL".into());
    let sql = format!(
        "INSERT INTO journal (seq, at, actor, action, subject, callout_id, details, prev_hash, hash) \
         VALUES ({}, {}, {}, {}, {}, {callout}, {}, {}, {})",
        r.0,
        quote(&r.1),
        quote(&r.2),
        quote(&r.3),
        quote(&r.4),
        quote(&r.6),
        quote(&r.7),
        quote(&r.8)
    );
    exec(svc, &sql).await.unwrap();
}

/// The first broken entry, by the service; and the CLI agrees (its exit code and message).
async fn broken_at(svc: &Service, dir: &TempDir) -> Option<i64> {
    let check = svc.verify_journal().await.unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scfm"))
        .args(["journal", "verify"])
        .env("DATABASE_URL", svc.store().location().as_url())
        .env("SCFM_DATA_DIR", dir.path())
        .env_remove("SCFM_API_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    match &check.broken {
        None => assert!(out.status.success(), "CLI: {stderr}"),
        Some(b) => {
            assert_eq!(out.status.code(), Some(1), "CLI: {stderr}");
            assert!(
                stderr.contains(&format!("entry {}:", b.seq)),
                "CLI said: {stderr}"
            );
        }
    }
    check.broken.map(|b| b.seq)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_entries_verify_and_each_kind_of_tampering_is_named() {
    let dir = TempDir::new().unwrap();
    let at = Location::for_tests(&dir.path().join("journal.sqlite3"));
    let store = Store::open(at).await.unwrap();
    let base = Service::new(store, Clock::System, Registry::default());
    let ana = base.add_operator("ana").await.unwrap();
    let svc = base.acting_as(Actor::Operator(ana.operator.name.clone()));

    let callout = svc.create_callout(CalloutInput::default()).await.unwrap();
    futures::stream::iter(0..CONTACTS)
        .map(|i| {
            let svc = svc.clone();
            async move {
                svc.create_contact(ContactInput {
                    msisdn: Some(format!("+8551600{i:04}")),
                    metadata: Some(
                        json!({"village": format!("V{}", i % 40)})
                            .as_object()
                            .cloned()
                            .unwrap(),
                    ),
                    merge_mode: MergeMode::Merge,
                })
                .await
                .unwrap();
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let op = svc
        .create_batch_operation(
            BatchOperationInput {
                kind: Some("BatchOperation::CalloutPopulation".into()),
                callout_id: Some(callout.id),
                ..Default::default()
            },
            true,
        )
        .await
        .unwrap();
    svc.fire_batch_operation_event(op.id, Some("queue"))
        .await
        .unwrap();
    while svc.run_next_batch_operation().await.unwrap() {}
    // Registration calls: each rings, then completes; both webhooks are journaled.
    futures::stream::iter(0..INBOUND * 2)
        .map(|k| {
            let svc = base.clone();
            async move {
                let (i, status) = (k / 2, ["ringing", "completed"][k % 2]);
                let params = [
                    (
                        "AccountSid",
                        "AC00000000000000000000000000000001".to_string(),
                    ),
                    ("CallSid", format!("CAjournal{i}")),
                    ("CallStatus", status.to_string()),
                    ("Direction", "inbound".to_string()),
                    ("From", format!("+8551210{i:04}")),
                    ("To", "+85512345678".to_string()),
                    ("ApiVersion", "2010-04-01".to_string()),
                ];
                svc.handle_webhook(WebhookRequest {
                    params: params
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect(),
                    url: "https://scfm.example.org/api/remote_phone_call_events".into(),
                })
                .await
                .unwrap();
            }
        })
        .buffered(16)
        .collect::<Vec<_>>()
        .await;

    let check = svc.verify_journal().await.unwrap();
    assert_eq!(check.broken, None);
    let n = check.head_seq;
    // The operator, the callout, the contacts, the population's create and queue, the calls.
    assert_eq!(n, (1 + 1 + CONTACTS + 2 + INBOUND * 2) as i64);
    assert_eq!(check.verified, n);
    eprintln!("journal: {n} entries verify; head {}", check.head_hash);

    // scfm's own connections cannot change or remove an entry.
    let refused = exec(&svc, "UPDATE journal SET actor = 'x' WHERE seq = 5").await;
    assert!(refused.unwrap_err().to_string().contains("append-only"));
    let refused = exec(&svc, "DELETE FROM journal WHERE seq = 5").await;
    assert!(refused.unwrap_err().to_string().contains("append-only"));

    // Someone with the database in hand takes the triggers away first.
    match svc.store().db() {
        Db::Sqlite(_) => {
            exec(&svc, "DROP TRIGGER journal_no_update").await.unwrap();
            exec(&svc, "DROP TRIGGER journal_no_delete").await.unwrap();
        }
        Db::Postgres(_) => {
            exec(&svc, "ALTER TABLE journal DISABLE TRIGGER USER")
                .await
                .unwrap();
        }
    }
    assert_eq!(broken_at(&svc, &dir).await, None);

    // 1. A hand-edited row.
    let original = row(&svc, 4321).await;
    let mut edited = original.clone();
    edited.6 = json!({"forged": true}).to_string();
    put(&svc, 4321, &edited).await;
    assert_eq!(broken_at(&svc, &dir).await, Some(4321));
    put(&svc, 4321, &original).await;
    assert_eq!(broken_at(&svc, &dir).await, None);

    // 2. A deleted row.
    let gone = row(&svc, 777).await;
    exec(&svc, "DELETE FROM journal WHERE seq = 777")
        .await
        .unwrap();
    assert_eq!(broken_at(&svc, &dir).await, Some(777));
    insert(&svc, &gone).await;
    assert_eq!(broken_at(&svc, &dir).await, None);

    // 3. Two rows' contents swapped (reordered), their numbers kept.
    let (a, b) = (row(&svc, 100).await, row(&svc, 101).await);
    put(&svc, 100, &b).await;
    put(&svc, 101, &a).await;
    assert_eq!(broken_at(&svc, &dir).await, Some(100));
    put(&svc, 100, &a).await;
    put(&svc, 101, &b).await;
    assert_eq!(broken_at(&svc, &dir).await, None);

    // 4. The last entry removed.
    let last = row(&svc, n).await;
    exec(&svc, &format!("DELETE FROM journal WHERE seq = {n}"))
        .await
        .unwrap();
    assert_eq!(broken_at(&svc, &dir).await, Some(n));
    insert(&svc, &last).await;
    assert_eq!(broken_at(&svc, &dir).await, None);

    // The callout's own entries, exported by the CLI as JSON lines in order.
    let out = Command::new(env!("CARGO_BIN_EXE_scfm"))
        .args(["journal", "export", &callout.id.to_string()])
        .env("DATABASE_URL", svc.store().location().as_url())
        .env("SCFM_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = lines
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "callout.create",
            "batch_operation.create",
            "batch_operation.queue"
        ]
    );
    assert!(lines.iter().all(|l| l["actor"] == "ana"));
}
