//! Metadata preview counts and filters by (key, value), on both engines. SQLite answers them from
//! the `contact_metadata` side table (issue 7, row 3), PostgreSQL's counts from the
//! `contact_metadata_counts` deltas (issue 12, row P3). After every write path of
//! `contacts.metadata` each must equal a recomputation from the contacts (SQLite: json_each in
//! SQL; PostgreSQL: the metadata parsed here, in Rust), and a count or filter answered through it
//! must select exactly the contacts the scan selects, for every value type. The backlog tests are
//! SQLite's own (PostgreSQL's import has no backlog).

#![allow(clippy::unwrap_used)]

use scfm::call_flow::Registry;
use scfm::domain::Page;
use scfm::domain::filter::{Family, Filter};
use scfm::domain::metadata::MergeMode;
use scfm::domain::time::Clock;
use scfm::service::{
    CalloutInput, ContactInput, ImportOptions, Service, WebhookOutcome, WebhookRequest,
};
use scfm::store::engine::Db;
use scfm::store::{Location, Store};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::Cursor;
use tempfile::TempDir;

async fn service(dir: &TempDir) -> Service {
    let store = Store::open(Location::for_tests(&dir.path().join("scfm.sqlite3")))
        .await
        .unwrap();
    Service::new(store, Clock::System, Registry::default())
}

/// The same store again (SQLite: the file; PostgreSQL: the same database).
async fn reopen(svc: Service) -> Service {
    let at = svc.store().location().clone();
    svc.store().close().await;
    drop(svc);
    Service::new(
        Store::open(at).await.unwrap(),
        Clock::System,
        Registry::default(),
    )
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

type SideRow = (String, String, i64);

/// SQLite: the side table equals one row per top-level string member of every contact, and no
/// import backlog is left. PostgreSQL: the deltas sum, per pair, to the number of contacts with
/// that top-level string member, recomputed here from the stored metadata text.
async fn assert_consistent(svc: &Service, when: &str) {
    let pool = match svc.store().db() {
        Db::Sqlite(pool) => pool,
        Db::Postgres(pool) => return assert_counts_consistent(pool, when).await,
    };
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

/// Per (key, value): how many contacts have that top-level string member (serde_json keeps the
/// last of repeated keys, as `jsonb` does).
fn recount(metadata: &[String]) -> BTreeMap<(String, String), i64> {
    let mut want = BTreeMap::new();
    for m in metadata {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(m) {
            for (k, v) in map {
                if let Value::String(v) = v {
                    *want.entry((k, v)).or_insert(0) += 1;
                }
            }
        }
    }
    want
}

/// The counts of every key not marked wide (migration 0019: a wide key keeps no counts, its
/// counts are answered by the GIN index) equal a recount of the contacts.
async fn assert_counts_consistent(pool: &sqlx::PgPool, when: &str) {
    let wide: Vec<String> = sqlx::query_scalar("SELECT key FROM contact_metadata_wide_keys")
        .fetch_all(pool)
        .await
        .unwrap();
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT key, value, sum(n)::bigint FROM contact_metadata_counts \
         WHERE key NOT IN (SELECT key FROM contact_metadata_wide_keys) GROUP BY 1, 2 \
         HAVING sum(n) <> 0 ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let got: BTreeMap<(String, String), i64> =
        rows.into_iter().map(|(k, v, n)| ((k, v), n)).collect();
    let metadata: Vec<String> = sqlx::query_scalar("SELECT metadata FROM contacts")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut want = recount(&metadata);
    want.retain(|(k, _), _| !wide.contains(k));
    assert_eq!(got, want, "metadata counts after {when}");
}

/// One integer from `sql` with one bind, on the service's engine.
async fn scalar(svc: &Service, sql: &str, bind: i64) -> i64 {
    match svc.store().db() {
        Db::Sqlite(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(bind)
            .fetch_one(pool)
            .await
            .unwrap(),
        Db::Postgres(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(bind)
            .fetch_one(pool)
            .await
            .unwrap(),
    }
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

    let metadata: Vec<String> = match svc.store().db() {
        Db::Sqlite(_) => Vec::new(),
        Db::Postgres(pool) => sqlx::query_scalar("SELECT metadata FROM contacts")
            .fetch_all(pool)
            .await
            .unwrap(),
    };
    let recounted = recount(&metadata);
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
        match svc.store().db() {
            // The scan: a backlog row makes every metadata filter scan.
            Db::Sqlite(pool) => {
                sqlx::query("INSERT INTO contact_metadata_backlog (id, after_id) VALUES (1, 0)")
                    .execute(pool)
                    .await
                    .unwrap();
                let scan = ask().await;
                sqlx::query("DELETE FROM contact_metadata_backlog")
                    .execute(pool)
                    .await
                    .unwrap();
                assert_eq!(side, scan, "filter {q}");
            }
            // The count (from the deltas for one pair) equals the page's total (the filter's
            // own SQL, GIN containment or the walk) and, for one pair, the recount.
            Db::Postgres(_) => {
                assert_eq!(side.0, side.1, "count vs list total, filter {q}");
                if let [only] = f.conds.as_slice() {
                    if let Some((k, v)) = scfm::store::filter::side_table_pair(only) {
                        let want = recounted
                            .get(&(k.to_string(), v.to_string()))
                            .copied()
                            .unwrap_or(0);
                        assert_eq!(side.0, want, "count vs recount, filter {q}");
                    }
                }
            }
        }
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
    let got = scalar(
        &svc,
        "SELECT count(*) FROM callout_participations WHERE callout_id = $1",
        callout.id,
    )
    .await;
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
    let svc = reopen(svc).await;
    assert_consistent(&svc, "reopen").await;
    assert_eq!(svc.count_contacts(&f).await.unwrap(), 15);
}

/// Delta rows of one pair (PostgreSQL), or `None` on SQLite.
async fn delta_rows(svc: &Service, key: &str, value: &str) -> Option<i64> {
    match svc.store().db() {
        Db::Sqlite(_) => None,
        Db::Postgres(pool) => Some(
            sqlx::query_scalar(
                "SELECT count(*) FROM contact_metadata_counts WHERE key = $1 AND value = $2",
            )
            .bind(key)
            .bind(value)
            .fetch_one(pool)
            .await
            .unwrap(),
        ),
    }
}

/// Many one-contact writes, some at the same time as counts: each count is exact. On
/// PostgreSQL each write appends a delta row; a count that finds more than
/// `FOLD_ABOVE` folds them into one, and a pair whose contacts are all gone folds away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_stay_exact_through_small_writes_and_folds() {
    let dir = TempDir::new().unwrap();
    let svc = std::sync::Arc::new(service(&dir).await);
    let kandal = Filter::parse(
        Family::Contact,
        Some(&json!({"metadata": {"province": "Kandal"}})),
    );
    let fold_above = scfm::store::metadata_counts::FOLD_ABOVE;
    let n = (fold_above as usize) * 3;
    // Writers and a counter at once: every count lies between what was committed before it
    // started and what was committed when it ended.
    let writer = {
        let svc = svc.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..n {
                let province = ["Kandal", "Kep"][i % 2];
                ids.push(
                    create(
                        &svc,
                        &format!("+8551400{i:04}"),
                        json!({"province": province}),
                    )
                    .await,
                );
            }
            ids
        })
    };
    let mut last = 0;
    while !writer.is_finished() {
        let c = svc.count_contacts(&kandal).await.unwrap();
        assert!(
            c >= last && c <= n.div_ceil(2) as i64,
            "count {c} after {last}"
        );
        last = c;
        tokio::task::yield_now().await;
    }
    let ids = writer.await.unwrap();
    let half = n.div_ceil(2) as i64;
    assert_eq!(svc.count_contacts(&kandal).await.unwrap(), half);
    if let Some(rows) = delta_rows(&svc, "province", "Kandal").await {
        assert!(rows <= fold_above, "{rows} delta rows left after counting");
    }
    assert_consistent(&svc, "small creates").await;

    // Move every Kandal contact to Kep one by one, then delete every contact.
    for (i, id) in ids.iter().enumerate() {
        if i % 2 == 0 {
            update(&svc, *id, json!({"province": "Kep"}), MergeMode::Merge).await;
        }
    }
    assert_eq!(svc.count_contacts(&kandal).await.unwrap(), 0);
    if let Some(rows) = delta_rows(&svc, "province", "Kandal").await {
        assert_eq!(rows, 0, "a pair counted to zero folds away");
    }
    assert_consistent(&svc, "small updates").await;
    for id in &ids {
        svc.delete_contact(*id).await.unwrap();
    }
    let kep = Filter::parse(
        Family::Contact,
        Some(&json!({"metadata": {"province": "Kep"}})),
    );
    assert_eq!(svc.count_contacts(&kep).await.unwrap(), 0);
    assert_consistent(&svc, "deletes").await;
}

/// A key with more distinct values in one statement than migration 0019's threshold (names)
/// is marked wide on PostgreSQL and keeps no counts; every count and filter on it and on the
/// other keys still equals the scan, through the import, updates and deletes (both engines).
#[tokio::test]
async fn a_key_with_many_distinct_values_is_counted_from_the_contacts() {
    let dir = TempDir::new().unwrap();
    let svc = service(&dir).await;
    let n = 1500;
    let mut csv = String::from("msisdn,province,name\n");
    for i in 0..n {
        csv.push_str(&format!(
            "+8551200{i:04},{},Person {i}\n",
            ["Kandal", "Takeo", "Kep"][i % 3]
        ));
    }
    let report = svc
        .import_contacts(
            Cursor::new(csv.into_bytes()),
            ImportOptions::default(),
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(report.inserted, n as u64);
    if let Db::Postgres(pool) = svc.store().db() {
        let wide: Vec<String> = sqlx::query_scalar("SELECT key FROM contact_metadata_wide_keys")
            .fetch_all(pool)
            .await
            .unwrap();
        assert_eq!(wide, ["name"], "names are wide, provinces are not");
        let name_rows: i64 =
            sqlx::query_scalar("SELECT count(*) FROM contact_metadata_counts WHERE key = 'name'")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(name_rows, 0, "no deltas are kept for a wide key");
    }
    assert_consistent(&svc, "the import").await;
    let count = |m: Value| {
        let svc = svc.clone();
        async move {
            svc.count_contacts(&Filter::parse(
                Family::Contact,
                Some(&json!({ "metadata": m })),
            ))
            .await
            .unwrap()
        }
    };
    assert_eq!(count(json!({"name": "Person 7"})).await, 1);
    assert_eq!(count(json!({"name": "Nobody"})).await, 0);
    assert_eq!(count(json!({"province": "Kandal"})).await, 500);

    // A new contact with a name, an update of one and a delete: still exact.
    let id = create(
        &svc,
        "+85512999999",
        json!({"name": "Person 7", "province": "Kep"}),
    )
    .await;
    assert_eq!(count(json!({"name": "Person 7"})).await, 2);
    update(&svc, id, json!({"name": "Somebody"}), MergeMode::Merge).await;
    assert_eq!(count(json!({"name": "Person 7"})).await, 1);
    assert_eq!(count(json!({"name": "Somebody"})).await, 1);
    svc.delete_contact(id).await.unwrap();
    assert_eq!(count(json!({"name": "Somebody"})).await, 0);
    assert_eq!(count(json!({"province": "Kep"})).await, 500);
    assert_consistent(&svc, "writes after the key went wide").await;
}
