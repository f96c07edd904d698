//! The `contact_metadata` side table (issue 7, row 3): after every write path of
//! `contacts.metadata` it must equal a json_each recomputation, and a metadata filter answered
//! through it must select exactly the contacts the scan selects, for every value type.

#![allow(clippy::unwrap_used)]

use scfm::call_flow::Registry;
use scfm::domain::Page;
use scfm::domain::filter::{Family, Filter};
use scfm::domain::metadata::MergeMode;
use scfm::domain::time::Clock;
use scfm::service::{
    CalloutInput, ContactInput, ImportOptions, Service, WebhookOutcome, WebhookRequest,
};
use scfm::store::Store;
use serde_json::{Map, Value, json};
use std::io::Cursor;
use tempfile::TempDir;

async fn service(dir: &TempDir) -> Service {
    let store = Store::open(&dir.path().join("scfm.sqlite3")).await.unwrap();
    Service::new(store, Clock::System, Registry::default())
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

type SideRow = (String, String, i64);

/// The side table equals one row per top-level string member of every contact, and no import
/// backlog is left.
async fn assert_consistent(svc: &Service, when: &str) {
    let pool = svc.store().sqlite_pool().expect("a SQLite store");
    let side: Vec<SideRow> =
        sqlx::query_as("SELECT key, value, contact_id FROM contact_metadata ORDER BY 1, 2, 3")
            .fetch_all(pool)
            .await
            .unwrap();
    let want: Vec<SideRow> = sqlx::query_as(
        "SELECT DISTINCT j.key, j.value, c.id FROM contacts c, json_each(c.metadata) j \
         WHERE j.type = 'text' ORDER BY 1, 2, 3",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(side, want, "side table after {when}");
    let backlog: i64 = sqlx::query_scalar("SELECT count(*) FROM contact_metadata_backlog")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(backlog, 0, "backlog after {when}");
}

async fn create(svc: &Service, msisdn: &str, meta: Value) -> i64 {
    svc.create_contact(ContactInput {
        msisdn: Some(msisdn.into()),
        metadata: Some(obj(meta)),
        merge_mode: MergeMode::Merge,
    })
    .await
    .unwrap()
    .id
}

async fn update(svc: &Service, id: i64, meta: Value, mode: MergeMode) {
    svc.update_contact(
        id,
        ContactInput {
            msisdn: None,
            metadata: Some(obj(meta)),
            merge_mode: mode,
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn side_table_follows_every_write_path() {
    if scfm::store::location::skip_on_postgres(
        "side_table_follows_every_write_path",
        "the contact_metadata side table exists only on SQLite (PostgreSQL filters use a GIN index)",
    ) {
        return;
    }
    let dir = TempDir::new().unwrap();
    let svc = service(&dir).await;
    assert_consistent(&svc, "an empty database").await;

    let a = create(
        &svc,
        "+85510000001",
        json!({"province": "Kandal", "age": 30, "ok": true, "gone": null, "nested": {"x": "y"}, "a.b": "dot", "$": "dollar"}),
    )
    .await;
    let b = create(
        &svc,
        "+85510000002",
        json!({"province": "Takeo", "list": ["Kandal"]}),
    )
    .await;
    assert_consistent(&svc, "create").await;

    update(
        &svc,
        a,
        json!({"province": "Kep", "new": "n"}),
        MergeMode::Merge,
    )
    .await;
    assert_consistent(&svc, "update (merge)").await;
    update(
        &svc,
        a,
        json!({"nested": {"z": "w"}, "age": "31"}),
        MergeMode::DeepMerge,
    )
    .await;
    assert_consistent(&svc, "update (deep merge)").await;
    update(&svc, a, json!({"only": "this"}), MergeMode::Replace).await;
    assert_consistent(&svc, "update (replace)").await;
    update(&svc, b, json!({"province": 5}), MergeMode::Merge).await;
    assert_consistent(&svc, "update to a number").await;

    // Import: new contacts over several batches, and a merge into existing ones.
    let mut csv = String::from("msisdn,province,gender,home province\n");
    for i in 0..250 {
        csv.push_str(&format!(
            "+8551100{i:04},{},{},P{}\n",
            ["Kandal", "Takeo", "Kep"][i % 3],
            ["f", "m"][i % 2],
            i % 7
        ));
    }
    csv.push_str("+85510000002,Kandal,,\n");
    let opts = ImportOptions {
        batch_rows: 40,
        ..ImportOptions::default()
    };
    let r = svc
        .import_contacts(Cursor::new(csv.into_bytes()), opts.clone(), |_| {})
        .await
        .unwrap();
    assert_eq!((r.inserted, r.updated), (250, 1));
    assert_consistent(&svc, "import").await;
    // Re-import the same numbers: every row is a merge (update trigger).
    let csv2: String = std::iter::once("msisdn,province\n".to_string())
        .chain((0..250).map(|i| format!("+8551100{i:04},Pursat\n")))
        .collect();
    let r = svc
        .import_contacts(Cursor::new(csv2.into_bytes()), opts, |_| {})
        .await
        .unwrap();
    assert_eq!(r.updated, 250);
    assert_consistent(&svc, "re-import").await;

    svc.delete_contact(b).await.unwrap();
    assert_consistent(&svc, "delete").await;

    // An inbound call from an unknown number creates a contact.
    let params = [
        ("AccountSid", "AC00000000000000000000000000000001"),
        ("CallSid", "CAmeta1"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("From", "+85510202101"),
        ("To", "+85512345678"),
        ("ApiVersion", "2010-04-01"),
    ];
    let out = svc
        .handle_webhook(WebhookRequest {
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            url: "https://scfm.example.org/api/remote_phone_call_events".into(),
        })
        .await
        .unwrap();
    assert!(matches!(out, WebhookOutcome::Twiml(_)), "{out:?}");
    let caller = svc
        .contact_by_msisdn("+85510202101")
        .await
        .unwrap()
        .unwrap();
    assert_consistent(&svc, "webhook-created contact").await;
    update(
        &svc,
        caller.id,
        json!({"province": "Kandal"}),
        MergeMode::Merge,
    )
    .await;
    assert_consistent(&svc, "update of the webhook-created contact").await;
}

/// Filters answered through the side table (no backlog) against the same filters forced onto the
/// scan (a backlog row makes every metadata filter scan).
#[tokio::test]
async fn side_table_filters_equal_the_scan() {
    if scfm::store::location::skip_on_postgres(
        "side_table_filters_equal_the_scan",
        "the contact_metadata side table exists only on SQLite (PostgreSQL filters use a GIN index)",
    ) {
        return;
    }
    let dir = TempDir::new().unwrap();
    let svc = service(&dir).await;
    let values = [
        json!("Kandal"),
        json!("30"),
        json!(30),
        json!(30.5),
        json!(true),
        json!("true"),
        json!(null),
        json!("null"),
        json!("Inf"),
        json!(""),
        json!("\"quoted\""),
        json!({"x": "Kandal"}),
        json!(["Kandal"]),
    ];
    let keys = [
        "province",
        "a.b",
        "$",
        "it's",
        "%",
        ") OR 1=1 --",
        "home province",
    ];
    for i in 0..120usize {
        let mut meta = Map::new();
        for (j, k) in keys.iter().enumerate() {
            if (i + j) % 3 != 0 {
                meta.insert(
                    k.to_string(),
                    values[(i * 7 + j * 5) % values.len()].clone(),
                );
            }
        }
        create(&svc, &format!("+8551200{i:04}"), Value::Object(meta)).await;
    }
    assert_consistent(&svc, "creates").await;
    let callout = svc.create_callout(CalloutInput::default()).await.unwrap();

    let mut filters = Vec::new();
    for k in keys {
        for v in [
            json!("Kandal"),
            json!("30"),
            json!(30),
            json!("30.5"),
            json!(true),
            json!("true"),
            json!(null),
            json!("null"),
            json!("Inf"),
            json!(""),
            json!("\"quoted\""),
            json!("nothing"),
        ] {
            filters.push(json!({"metadata": {k: v}}));
        }
        filters.push(json!({"metadata": {k: {"x": "Kandal"}}}));
    }
    filters.push(json!({"metadata": {"province": "Kandal", "a.b": "30"}}));
    filters.push(json!({"metadata": {"province": "Kandal", "$": "Kandal"}}));
    filters.push(json!({"metadata": {"province": "Kandal"}, "msisdn": "+85512000007"}));

    let pool = svc.store().sqlite_pool().expect("a SQLite store").clone();
    let mut hits = 0;
    for q in &filters {
        let f = Filter::parse(Family::Contact, Some(q));
        let ask = || async {
            let count = svc.count_contacts(&f).await.unwrap();
            let page = svc
                .contacts(
                    None,
                    &f,
                    Page {
                        page: 2,
                        per_page: 5,
                    },
                )
                .await
                .unwrap();
            let paged: Vec<i64> = page.items.iter().map(|c| c.id).collect();
            let keyset: Vec<i64> = svc
                .contacts_page(&f, 10, false, 7)
                .await
                .unwrap()
                .iter()
                .map(|c| c.id)
                .collect();
            (count, page.total, paged, keyset)
        };
        let side = ask().await;
        sqlx::query("INSERT INTO contact_metadata_backlog (id, after_id) VALUES (1, 0)")
            .execute(&pool)
            .await
            .unwrap();
        let scan = ask().await;
        sqlx::query("DELETE FROM contact_metadata_backlog")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(side, scan, "filter {q}");
        if side.0 > 0 {
            hits += 1;
        }
    }
    assert!(hits > 20, "only {hits} filters matched anything");

    // Population through the side table selects the same contacts as the count.
    let q = json!({"metadata": {"province": "Kandal"}});
    let want = svc
        .count_contacts(&Filter::parse(Family::Contact, Some(&q)))
        .await
        .unwrap();
    assert!(want > 0);
    let op = svc
        .create_batch_operation(
            scfm::service::BatchOperationInput {
                kind: Some("BatchOperation::CalloutPopulation".into()),
                callout_id: Some(callout.id),
                parameters: Some(obj(json!({"contact_filter_params": q}))),
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
    let got: i64 =
        sqlx::query_scalar("SELECT count(*) FROM callout_participations WHERE callout_id = ?")
            .bind(callout.id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(got, want);
}

/// A backlog left by an interrupted import (contacts without side rows) is filled when the store
/// opens, and filters scan (stay exact) until then.
#[tokio::test]
async fn leftover_backlog_is_filled_on_open() {
    if scfm::store::location::skip_on_postgres(
        "leftover_backlog_is_filled_on_open",
        "the contact_metadata side table exists only on SQLite (PostgreSQL filters use a GIN index)",
    ) {
        return;
    }
    let dir = TempDir::new().unwrap();
    let svc = service(&dir).await;
    for i in 0..30 {
        create(
            &svc,
            &format!("+8551300{i:04}"),
            json!({ "province": (["Kandal", "Kep"][i % 2]) }),
        )
        .await;
    }
    let pool = svc.store().sqlite_pool().expect("a SQLite store").clone();
    sqlx::query("INSERT INTO contact_metadata_backlog (id, after_id) VALUES (1, 10)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM contact_metadata WHERE contact_id > 10")
        .execute(&pool)
        .await
        .unwrap();
    let f = Filter::parse(
        Family::Contact,
        Some(&json!({"metadata": {"province": "Kandal"}})),
    );
    assert_eq!(svc.count_contacts(&f).await.unwrap(), 15, "scan meanwhile");
    svc.store().close().await;
    drop(svc);

    let svc = service(&dir).await;
    assert_consistent(&svc, "reopen").await;
    assert_eq!(svc.count_contacts(&f).await.unwrap(), 15);
}
