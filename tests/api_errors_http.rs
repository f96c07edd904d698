//! Routing, formats and authentication errors (spec §1, §5), and that a rejected request
//! changes nothing. Body parsing errors are in `api_errors_parsing.rs`.

mod api_common;
mod support;

use api_common::*;
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
async fn unknown_routes_and_bad_ids_are_json_404s() {
    let s = seeded().await;
    let cases: [(&str, &str); 21] = [
        ("GET", "/api/nope"),
        ("GET", "/nope"),
        ("DELETE", "/api/remote_phone_call_events/1"),
        ("POST", "/api/phone_calls"),
        ("POST", "/api/callout_participations"),
        ("PUT", "/api/contacts"),
        ("POST", "/api/contacts/1"),
        ("GET", "/api/contacts/abc"),
        ("GET", "/api/contacts/0"),
        ("GET", "/api/contacts/-1"),
        ("GET", "/api/contacts/99999999999999999999"),
        ("PATCH", "/api/contacts/abc"),
        ("DELETE", "/api/callouts/x"),
        ("GET", "/api/callout_participations/1x"),
        ("GET", "/api/batch_operations/foo"),
        ("GET", "/api/batch_operations/foo/preview/contacts"),
        ("GET", "/api/callouts/abc/contacts"),
        ("GET", "/api/callouts/abc/callout_participations"),
        ("GET", "/api/contacts/abc/callouts"),
        ("POST", "/api/callouts/abc/callout_events"),
        ("POST", "/api/batch_operations/x/batch_operation_events"),
    ];
    for (method, path) in cases {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = send(s.http.request(m, s.url(path)).bearer_auth(TOKEN))
            .await
            .expect(404);
        assert_eq!(r.text, NOT_FOUND, "{method} {path}");
    }
    // Missing parents of nested indexes are 404 too; a missing callout's batch ops are `[]`.
    for path in [
        "/api/callouts/9/contacts",
        "/api/callouts/9/callout_participations",
        "/api/contacts/9/callouts",
        "/api/contacts/9/callout_participations",
        "/api/batch_operations/9/contacts",
    ] {
        assert_eq!(get(&s, path).await.expect(404).text, NOT_FOUND, "{path}");
    }
    assert_eq!(
        get(&s, "/api/callouts/9/batch_operations")
            .await
            .expect(200)
            .text,
        "[]"
    );
    s.stop().await;
}

#[tokio::test]
async fn format_suffixes() {
    let s = seeded().await;
    for path in [
        "/api/contacts.json",
        "/api/contacts/1.json",
        "/api/callouts/1/contacts.json",
        "/api/batch_operations/1/preview/contacts.json",
    ] {
        get(&s, path).await.expect(200);
    }
    let r = post(&s, "/api/contacts.json", "msisdn=%2B252662345679")
        .await
        .expect(201);
    assert_eq!(r.header("location"), "/api/contacts/2");
    patch(&s, "/api/contacts/2.json", "metadata[a]=1")
        .await
        .expect(204);
    // PUT is an update too.
    let r = send(
        s.http
            .put(s.url("/api/contacts/2.json"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("metadata[b]=2"),
    )
    .await
    .expect(204);
    assert_eq!(r.text, "");
    assert_eq!(
        get(&s, "/api/contacts/2").await.json()["metadata"],
        serde_json::json!({"a": "1", "b": "2"})
    );
    let r = get(&s, "/api/contacts.json?per_page=1").await.expect(200);
    assert!(
        r.header("link").contains("/api/contacts.json?page=2"),
        "{:?}",
        r.headers
    );
    // JSON whatever the Accept header says.
    let r = send(s.get("/api/contacts/1").header("accept", "application/xml"))
        .await
        .expect(200);
    assert_eq!(r.json()["id"], 1);
    for path in [
        "/api/contacts.xml",
        "/api/contacts/1.xml",
        "/api/contacts/1.html",
    ] {
        let r = get(&s, path).await.expect(406);
        assert_eq!(
            r.text, r#"{"status":406,"error":"Not Acceptable"}"#,
            "{path}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn token_auth_is_checked_before_lookups() {
    let s = seeded().await;
    let unauthorized = r#"{"status":401,"error":"Unauthorized"}"#;
    for path in ["/api/contacts", "/api/contacts/999", "/api/nope"] {
        let r = send(s.http.get(s.url(path))).await.expect(401);
        assert_eq!(r.text, unauthorized, "{path}");
        let r = send(s.http.get(s.url(path)).bearer_auth("wrong"))
            .await
            .expect(401);
        assert_eq!(r.text, unauthorized, "{path}");
    }
    let r = send(
        s.http
            .post(s.url("/api/contacts"))
            .body("msisdn=%2B252662345679"),
    )
    .await
    .expect(401);
    assert_eq!(r.text, unauthorized);
    assert_eq!(list_ids(&s, "/api/contacts").await, [1]);

    // GET / redirects to the project, without credentials.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client.get(s.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(
        support::header(&r, "location"),
        "https://github.com/somleng/somleng-scfm"
    );
    s.stop().await;
}

#[tokio::test]
async fn basic_auth() {
    let s = TestServer::start_with(|c| {
        c.auth.basic_user = Some("u".into());
        c.auth.basic_password = Some("p".into());
        c.auth.token = None;
    })
    .await;
    let r = send(
        s.http
            .get(s.url("/api/contacts"))
            .basic_auth("u", Some("p")),
    )
    .await
    .expect(200);
    assert_eq!(r.paging(), (25, 0));
    let r = send(
        s.http
            .post(s.url("/api/contacts"))
            .basic_auth("u", Some("p"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("msisdn=%2B252662345678"),
    )
    .await
    .expect(201);
    assert_eq!(r.json()["id"], 1);
    let rejected = [
        s.http
            .get(s.url("/api/contacts/1"))
            .basic_auth("u", Some("x")),
        s.http
            .get(s.url("/api/contacts/1"))
            .basic_auth("x", Some("p")),
        s.http
            .get(s.url("/api/contacts/1"))
            .basic_auth("u", None::<&str>),
        s.http.get(s.url("/api/contacts/1")),
        s.http.get(s.url("/api/contacts/1")).bearer_auth(TOKEN),
        s.http.get(s.url("/api/nope")).basic_auth("u", Some("x")),
    ];
    for rb in rejected {
        let r = send(rb).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.header("www-authenticate"), r#"Basic realm="Application""#);
    }
    s.stop().await;
}

/// A rejected request leaves every record as it was (422, 400, 401, 404, 413).
#[tokio::test]
async fn rejected_requests_change_nothing() {
    let s = seeded().await;
    patch(&s, "/api/contacts/1", "metadata[keep]=1")
        .await
        .expect(204);
    let paths = [
        "/api/contacts",
        "/api/callouts",
        "/api/batch_operations",
        "/api/callout_participations",
    ];
    let mut before = Vec::new();
    for p in paths {
        before.push(get(&s, p).await.expect(200).text);
    }
    post(&s, "/api/contacts", "msisdn=abc&metadata[x]=1")
        .await
        .expect(422);
    patch(&s, "/api/contacts/1", "msisdn=abc&metadata[keep]=2")
        .await
        .expect(422);
    patch(&s, "/api/contacts/1", "a=1&a[b]=2").await.expect(400);
    post(&s, "/api/callouts", "call_flow_logic=Bogus")
        .await
        .expect(422);
    patch(&s, "/api/callouts/1", "call_flow_logic=Bogus&metadata[x]=1")
        .await
        .expect(422);
    post(&s, "/api/callouts/1/callout_participations", "contact_id=9")
        .await
        .expect(422);
    patch(
        &s,
        "/api/batch_operations/1",
        "parameters[contact_filter_params]=x&metadata[x]=1",
    )
    .await
    .expect(422);
    delete(&s, "/api/callouts/1").await.expect(422);
    post(&s, "/api/callouts/1/callout_events", "event=stop")
        .await
        .expect(422);
    send(s.http.delete(s.url("/api/contacts/1")))
        .await
        .expect(401);
    let big = format!("metadata[keep]={}", "b".repeat(1 << 20));
    patch(&s, "/api/contacts/1", &big).await.expect(413);
    for (p, b) in paths.iter().zip(before) {
        let now = get(&s, p).await.expect(200).text;
        assert_eq!(
            strip_ts(&serde_json::from_str(&now).unwrap()),
            strip_ts(&serde_json::from_str(&b).unwrap()),
            "{p}"
        );
    }
    s.stop().await;
}
