//! Request parsing (spec §2): malformed and oversized bodies, form and multipart bodies, the
//! Rack key grammar and the body < query < path precedence.

mod api_common;
mod support;

use api_common::*;
use serde_json::json;
use support::{TOKEN, TestServer};

async fn seeded() -> TestServer {
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
    s
}

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let s = seeded().await;
    let bad = r#"{"status":400,"error":"Bad Request"}"#;
    let r = send(
        s.http
            .post(s.url("/api/contacts"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(r#"{"msisdn": "+252662345679""#),
    )
    .await
    .expect(400);
    assert_eq!(r.text, bad);
    for body in ["a=1&a[b]=2", "metadata[x]=1&metadata[x][y]=2", "msisdn=%ZZ"] {
        let r = post(&s, "/api/contacts", body).await.expect(400);
        assert_eq!(r.text, bad, "{body}");
    }
    let r = get(&s, "/api/contacts?q=1&q[msisdn]=2").await.expect(400);
    assert_eq!(r.text, bad);

    let big = format!("msisdn=%2B252662345679&metadata[x]={}", "a".repeat(1 << 20));
    let r = post(&s, "/api/contacts", &big).await.expect(413);
    assert_eq!(r.json()["status"], 413);
    // Other content types are not parsed: the body is ignored.
    let r = send(
        s.http
            .post(s.url("/api/contacts"))
            .bearer_auth(TOKEN)
            .header("content-type", "text/plain")
            .body("msisdn=%2B252662345679"),
    )
    .await
    .expect(422);
    assert_eq!(r.json(), json!({"errors": {"msisdn": ["can't be blank"]}}));
    assert_eq!(list_ids(&s, "/api/contacts").await, [1]);
    s.stop().await;
}

/// Rack 2.0 split form bodies on `&` only; `;` stays in the value (query strings split on both).
#[tokio::test]
async fn form_body_semicolons_stay_in_values() {
    let s = seeded().await;
    let r = post(
        &s,
        "/api/contacts",
        "msisdn=%2B252662345679&metadata[note]=a;b&metadata[g]=f",
    )
    .await
    .expect(201);
    assert_eq!(r.json()["metadata"], json!({"note": "a;b", "g": "f"}));
    let r = get(&s, "/api/contacts?q[metadata][g]=f;per_page=1")
        .await
        .expect(200);
    assert_eq!(r.paging(), (1, 1));
    s.stop().await;
}

/// `curl -F` sends multipart/form-data, one of the body types SCFM parsed (spec §2.1).
#[tokio::test]
async fn multipart_form_bodies_are_parsed() {
    let s = seeded().await;
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"msisdn\"\r\n\r\n+252662345679\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"metadata[name]\"\r\n\r\nBob\r\n\
                --XyZ--\r\n";
    let r = send(
        s.http
            .post(s.url("/api/contacts"))
            .bearer_auth(TOKEN)
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(body),
    )
    .await
    .expect(201);
    assert_json_text(
        &r.json(),
        r#"{"id":2,"msisdn":"+252662345679","metadata":{"name":"Bob"}}"#,
    );
    s.stop().await;
}

/// Rack key grammar (spec §2.2) and precedence: body, then query over it per top-level key,
/// then path parameters over both (§2.1).
#[tokio::test]
async fn key_grammar_and_parameter_precedence() {
    let s = seeded().await;
    let c = "/api/contacts/1";
    let body = "metadata[list][][x]=1&metadata[list][][y]=2&metadata[list][][x]=3\
                &metadata[tags][]=a&metadata[tags][]=b&metadata[empty]&=x&[]=y&metadata[=z";
    patch(&s, c, body).await.expect(204);
    assert_eq!(
        serde_json::to_string(&get(&s, c).await.json()["metadata"]).unwrap(),
        r#"{"list":[{"x":"1","y":"2"},{"x":"3"}],"tags":["a","b"],"empty":null}"#
    );
    // 100 levels deep is fine, 101 is a 400.
    let deep = |n: usize| format!("metadata_merge_mode=replace&metadata{}=1", "[a]".repeat(n));
    patch(&s, c, &deep(99)).await.expect(204);
    let r = patch(&s, c, &deep(100)).await.expect(400);
    assert_eq!(r.text, r#"{"status":400,"error":"Bad Request"}"#);

    // Scalar keys given as objects or arrays are ignored.
    let r = post(&s, "/api/contacts", "msisdn[]=%2B252662345679")
        .await
        .expect(422);
    assert_eq!(r.json(), json!({"errors": {"msisdn": ["can't be blank"]}}));

    // Query over body, per top-level key (the whole `metadata` object is replaced).
    let r = post(
        &s,
        "/api/contacts?msisdn=%2B252662345679&metadata[a]=1",
        "msisdn=%2B85510202103&metadata[b]=2",
    )
    .await
    .expect(201);
    assert_json_text(
        &r.json(),
        r#"{"id":2,"msisdn":"+252662345679","metadata":{"a":"1"}}"#,
    );
    // Path over query and body.
    post(&s, "/api/callouts", "").await.expect(201);
    let r = post(
        &s,
        "/api/callouts/1/batch_operations?callout_id=2",
        "type=BatchOperation::CalloutPopulation&callout_id=2",
    )
    .await
    .expect(201);
    assert_eq!(r.json()["callout_id"], 1);
    s.stop().await;
}
