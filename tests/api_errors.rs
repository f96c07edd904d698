//! Validations and their 422 bodies: metadata merge modes (spec §7), msisdn rules and uniqueness
//! under concurrency (§8.1), delete restrictions (§8.4), state machine events (§9) and batch
//! operation validations (§10.3). Routing, parsing and auth errors are in `api_errors_http.rs`.

mod api_common;
mod support;

use api_common::*;
use serde_json::{Value, json};
use support::TestServer;

fn errors(attr: &str, message: &str) -> Value {
    json!({ "errors": { attr: [message] } })
}

const OLD: &str = r#"{"a":"b","foo":"bar","baz":{"c":[1,2,3]}}"#;
const NEW: &str = r#"{"foo":"baz","bar":"baz","baz":{"x":[4,5,6]}}"#;
const MERGED: &str = r#"{"a":"b","foo":"baz","baz":{"x":[4,5,6]},"bar":"baz"}"#;
const DEEP: &str = r#"{"a":"b","foo":"baz","baz":{"c":[1,2,3],"x":[4,5,6]},"bar":"baz"}"#;

/// Sets `OLD` on `path` (replace), then PATCHes `NEW` with `mode`; returns the stored metadata
/// as JSON text.
async fn merged(s: &TestServer, path: &str, mode: Option<&str>) -> String {
    let old: Value = serde_json::from_str(OLD).expect("json");
    let new: Value = serde_json::from_str(NEW).expect("json");
    let reset = json!({"metadata_merge_mode": "replace", "metadata": old});
    patch_json(s, path, &reset).await.expect(204);
    let mut body = json!({ "metadata": new });
    if let Some(m) = mode {
        body["metadata_merge_mode"] = json!(m);
    }
    patch_json(s, path, &body).await.expect(204);
    let v = get(s, path).await.expect(200).json();
    serde_json::to_string(&v["metadata"]).expect("serialize")
}

/// Contact 1, callout 1, participation 1 and batch operation 1 (a population).
async fn one_of_each(s: &TestServer) {
    post(s, "/api/contacts", "msisdn=%2B252662345678")
        .await
        .expect(201);
    post(s, "/api/callouts", "").await.expect(201);
    post(s, "/api/callouts/1/callout_participations", "contact_id=1")
        .await
        .expect(201);
    post(
        s,
        "/api/callouts/1/batch_operations",
        "type=BatchOperation::CalloutPopulation",
    )
    .await
    .expect(201);
}

/// `metadata` that is not an object (a string, number, boolean or array, in JSON or as a form
/// scalar) is a 422 naming metadata on every resource that takes it, on create and on update,
/// and nothing is stored or changed. SCFM answered 201 and stored `{}`.
#[tokio::test]
async fn metadata_that_is_not_an_object_is_refused_everywhere() {
    let s = TestServer::start().await;
    one_of_each(&s).await;
    let rrp =
        json!({"from": "345", "url": "https://demo.twilio.com/docs/voice.xml", "method": "GET"});
    post_json(
        &s,
        "/api/callout_participations/1/phone_calls",
        &json!({"remote_request_params": rrp}),
    )
    .await
    .expect(201);
    let bad = [
        json!("foo"),
        json!(42),
        json!(true),
        json!([1, 2]),
        json!([]),
    ];
    let creates = [
        ("/api/contacts", json!({"msisdn": "+252662345679"})),
        ("/api/callouts", json!({})),
        (
            "/api/callouts/1/callout_participations",
            json!({"msisdn": "+252662345679"}),
        ),
        (
            "/api/callouts/1/batch_operations",
            json!({"type": "BatchOperation::CalloutPopulation"}),
        ),
        (
            "/api/callout_participations/1/phone_calls",
            json!({"remote_request_params": rrp}),
        ),
    ];
    let expected = errors("metadata", "must be an object (key/value pairs)");
    for (path, body) in &creates {
        let before = get(&s, path).await.expect(200).header("total");
        for b in &bad {
            let mut body = body.clone();
            body["metadata"] = b.clone();
            let r = post_json(&s, path, &body).await.expect(422);
            assert_eq!(r.json(), expected, "POST {path} {b}");
        }
        let r = post(&s, path, "metadata=foo").await.expect(422);
        assert_eq!(r.json(), expected, "POST {path} metadata=foo");
        let after = get(&s, path).await.expect(200).header("total");
        assert_eq!(before, after, "{path}: nothing created");
    }
    for path in [
        "/api/contacts/1",
        "/api/callouts/1",
        "/api/callout_participations/1",
        "/api/batch_operations/1",
        "/api/phone_calls/1",
    ] {
        patch_json(&s, path, &json!({"metadata": {"kept": "yes"}}))
            .await
            .expect(204);
        for b in &bad {
            let r = patch_json(
                &s,
                path,
                &json!({"metadata": b, "metadata_merge_mode": "replace"}),
            )
            .await
            .expect(422);
            assert_eq!(r.json(), expected, "PATCH {path} {b}");
        }
        let v = get(&s, path).await.expect(200).json();
        assert_eq!(v["metadata"]["kept"], "yes", "{path} unchanged");
    }
    s.stop().await;
}

#[tokio::test]
async fn metadata_merge_modes_on_every_resource() {
    let s = TestServer::start().await;
    one_of_each(&s).await;
    for path in [
        "/api/contacts/1",
        "/api/callouts/1",
        "/api/callout_participations/1",
        "/api/batch_operations/1",
    ] {
        assert_eq!(merged(&s, path, None).await, MERGED, "{path} default");
        assert_eq!(merged(&s, path, Some("merge")).await, MERGED, "{path}");
        assert_eq!(merged(&s, path, Some("deep_merge")).await, DEEP, "{path}");
        assert_eq!(merged(&s, path, Some("replace")).await, NEW, "{path}");
        for unknown in ["REPLACE", "Deep_Merge", "bogus", ""] {
            assert_eq!(merged(&s, path, Some(unknown)).await, MERGED, "{path}");
        }
        // Omitting metadata leaves it untouched.
        patch(&s, path, "").await.expect(204);
        let v = get(&s, path).await.expect(200).json();
        assert_eq!(serde_json::to_string(&v["metadata"]).unwrap(), MERGED);
    }

    // Form bodies: the mode applies whatever its position among the parameters.
    let c = "/api/contacts/1";
    patch(&s, c, "metadata[z]=1&metadata_merge_mode=replace")
        .await
        .expect(204);
    assert_eq!(get(&s, c).await.json()["metadata"], json!({"z": "1"}));
    patch(&s, c, "metadata[y][k]=1").await.expect(204);
    patch(&s, c, "metadata_merge_mode=deep_merge&metadata[y][j]=2")
        .await
        .expect(204);
    assert_eq!(
        serde_json::to_string(&get(&s, c).await.json()["metadata"]).unwrap(),
        r#"{"z":"1","y":{"k":"1","j":"2"}}"#
    );
    // A scalar for metadata is refused (SCFM ignored it); nothing changes.
    patch(&s, c, "metadata=x").await.expect(422);
    assert_eq!(get(&s, c).await.json()["metadata"]["z"], "1");

    // Batch op parameters are replaced wholesale, never merged.
    let b = "/api/batch_operations/1";
    patch(&s, b, "parameters[contact_filter_params][metadata][a]=1")
        .await
        .expect(204);
    patch(
        &s,
        b,
        "parameters[contact_filter_params][msisdn]=252662345678",
    )
    .await
    .expect(204);
    assert_eq!(
        get(&s, b).await.json()["parameters"],
        json!({"contact_filter_params": {"msisdn": "252662345678"}})
    );
    s.stop().await;
}

#[tokio::test]
async fn msisdn_validation_and_uniqueness() {
    let s = TestServer::start().await;
    for (body, message) in [
        ("msisdn=abc", "can't be blank"),
        ("", "can't be blank"),
        ("msisdn=", "can't be blank"),
        ("msisdn=252123456", "is an invalid number"),
        ("msisdn=%2B85510202103+x12", "is an invalid number"),
        ("msisdn=12", "is an invalid number"),
    ] {
        let r = post(&s, "/api/contacts", body).await.expect(422);
        assert_eq!(r.json(), errors("msisdn", message), "{body}");
    }
    let r = post(&s, "/api/contacts", "msisdn=252662345678")
        .await
        .expect(201);
    assert_eq!(r.json()["msisdn"], "+252662345678");
    // Uniqueness is on the normalised value.
    for dup in [
        "msisdn=%2B252662345678",
        "msisdn=%2B252+66-(2)-345-678",
        "msisdn=00252662345678",
        "msisdn=+252662345678", // `-d`: the `+` arrives as a space
    ] {
        let r = post(&s, "/api/contacts", dup).await.expect(422);
        assert_eq!(
            r.json(),
            errors("msisdn", "has already been taken"),
            "{dup}"
        );
    }
    let r = post(&s, "/api/contacts", "msisdn=00252662345679")
        .await
        .expect(201);
    assert_eq!(r.json()["msisdn"], "+252662345679");

    // Updates validate too; keeping one's own number is fine.
    for (body, message) in [
        ("msisdn=%2B252662345678", "has already been taken"),
        ("msisdn=abc", "can't be blank"),
        ("msisdn=252123456", "is an invalid number"),
    ] {
        let r = patch(&s, "/api/contacts/2", body).await.expect(422);
        assert_eq!(r.json(), errors("msisdn", message), "{body}");
    }
    patch(&s, "/api/contacts/2", "msisdn=%2B252662345679")
        .await
        .expect(204);
    assert_eq!(list_ids(&s, "/api/contacts").await, [1, 2]);
    s.stop().await;
}

#[tokio::test]
async fn participation_validations() {
    let s = TestServer::start().await;
    post(&s, "/api/contacts", "msisdn=%2B252662345678")
        .await
        .expect(201);
    post(&s, "/api/contacts", "msisdn=%2B252662345679")
        .await
        .expect(201);
    post(&s, "/api/callouts", "").await.expect(201);
    let path = "/api/callouts/1/callout_participations";
    let missing = json!({"errors": {"msisdn": ["can't be blank"], "contact": ["must exist"]}});
    assert_eq!(post(&s, path, "").await.expect(422).json(), missing);
    assert_eq!(
        post(&s, path, "contact_id=99").await.expect(422).json(),
        missing
    );
    let r = post(&s, path, "contact_id=1&msisdn=abc").await.expect(422);
    assert_eq!(r.json(), errors("msisdn", "can't be blank"));
    post(&s, path, "contact_id=1").await.expect(201);
    let r = post(&s, path, "contact_id=1").await.expect(422);
    assert_eq!(
        r.json(),
        json!({"errors": {"msisdn": ["has already been taken"], "contact_id": ["has already been taken"]}})
    );
    // Contact 2 under contact 1's number: the msisdn is taken within the callout.
    let r = post(&s, path, "contact_id=2&msisdn=%2B252662345678")
        .await
        .expect(422);
    assert_eq!(r.json(), errors("msisdn", "has already been taken"));
    post(
        &s,
        "/api/callouts/99/callout_participations",
        "contact_id=1",
    )
    .await
    .expect(404);
    // Updates: msisdn normalised, unique within the callout.
    post(&s, path, "contact_id=2").await.expect(201);
    let r = patch(
        &s,
        "/api/callout_participations/2",
        "msisdn=%2B252662345678",
    )
    .await
    .expect(422);
    assert_eq!(r.json(), errors("msisdn", "has already been taken"));
    let r = patch(&s, "/api/callout_participations/2", "msisdn=abc")
        .await
        .expect(422);
    assert_eq!(r.json(), errors("msisdn", "can't be blank"));
    patch(&s, "/api/callout_participations/2", "msisdn=0085510202103")
        .await
        .expect(204);
    let p = get(&s, "/api/callout_participations/2").await.json();
    assert_eq!(p["msisdn"], "+85510202103");
    delete(&s, "/api/callout_participations/2")
        .await
        .expect(204);
    // `contact_id` is not permitted on update.
    patch(&s, "/api/callout_participations/1", "contact_id=2")
        .await
        .expect(204);
    let p = get(&s, "/api/callout_participations/1").await.json();
    assert_eq!(p["contact_id"], 1);
    assert_eq!(list_ids(&s, "/api/callout_participations").await, [1]);
    s.stop().await;
}

/// Twenty simultaneous creates of one number: exactly one 201, the rest 422, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_get_422_not_500() {
    let s = TestServer::start().await;
    let spellings = ["%2B252662345678", "252662345678", "00252662345678"];
    let mut tasks = Vec::new();
    for i in 0..20 {
        let rb = s.post_form("/api/contacts", &format!("msisdn={}", spellings[i % 3]));
        tasks.push(tokio::spawn(send(rb)));
    }
    let mut created = 0;
    for t in tasks {
        let r = t.await.expect("task");
        match r.status {
            201 => created += 1,
            422 => assert_eq!(r.json(), errors("msisdn", "has already been taken")),
            other => panic!("status {other}: {}", r.text),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(list_ids(&s, "/api/contacts").await.len(), 1);

    post(&s, "/api/callouts", "").await.expect(201);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let rb = s.post_form("/api/callouts/1/callout_participations", "contact_id=1");
        tasks.push(tokio::spawn(send(rb)));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task").status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 19);
    assert_eq!(list_ids(&s, "/api/callout_participations").await, [1]);
    s.stop().await;
}

#[tokio::test]
async fn delete_restrictions() {
    let s = TestServer::start().await;
    post(&s, "/api/contacts", "msisdn=%2B252662345678")
        .await
        .expect(201);
    post(&s, "/api/callouts", "").await.expect(201);
    post(
        &s,
        "/api/callouts/1/batch_operations",
        "type=BatchOperation::CalloutPopulation",
    )
    .await
    .expect(201);
    post(
        &s,
        "/api/batch_operations/1/batch_operation_events",
        "event=queue",
    )
    .await
    .expect(201);
    s.wait_for("/api/batch_operations/1", |v| v["status"] == "finished")
        .await;
    let blocked = |children: &str| {
        errors(
            "base",
            &format!("Cannot delete record because dependent {children} exist"),
        )
    };

    let r = delete(&s, "/api/contacts/1").await.expect(422);
    assert_eq!(
        r.text,
        r#"{"errors":{"base":["Cannot delete record because dependent callout participations exist"]}}"#
    );
    let r = delete(&s, "/api/callouts/1").await.expect(422);
    assert_eq!(r.json(), blocked("callout participations"));
    let r = delete(&s, "/api/batch_operations/1").await.expect(422);
    assert_eq!(r.json(), blocked("callout participations"));
    get(&s, "/api/contacts/1").await.expect(200);
    get(&s, "/api/callouts/1").await.expect(200);
    get(&s, "/api/batch_operations/1").await.expect(200);

    // Participation gone: the batch op may go; the callout still has another batch op.
    delete(&s, "/api/callout_participations/1")
        .await
        .expect(204);
    post(
        &s,
        "/api/callouts/1/batch_operations",
        "type=BatchOperation::CalloutPopulation",
    )
    .await
    .expect(201);
    delete(&s, "/api/batch_operations/1").await.expect(204);
    let r = delete(&s, "/api/callouts/1").await.expect(422);
    assert_eq!(r.json(), blocked("batch operations"));
    delete(&s, "/api/batch_operations/2").await.expect(204);
    delete(&s, "/api/callouts/1").await.expect(204);
    delete(&s, "/api/contacts/1").await.expect(204);
    for p in [
        "/api/contacts/1",
        "/api/callouts/1",
        "/api/batch_operations/1",
        "/api/callout_participations/1",
    ] {
        assert_eq!(delete(&s, p).await.expect(404).text, NOT_FOUND, "{p}");
    }
    s.stop().await;
}
