//! The "Getting Started" tutorial's contact, callout, population and participation steps, sent
//! as its curl commands send them (raw bracket keys, `--data-urlencode` bodies, `curl -g` query
//! strings), checking status, headers and JSON bodies key by key.

mod api_common;
mod support;

use api_common::*;
use serde_json::Value;
use support::TestServer;

const ALICE: &str = r#"{"id":1,"msisdn":"+252662345678","metadata":{"name":"Alice","gender":"f"}}"#;
const BOB: &str = r#"{"id":2,"msisdn":"+252662345679","metadata":{"name":"Bob","gender":"m"}}"#;

fn arr(items: &[&str]) -> String {
    format!("[{}]", items.join(","))
}

fn population(status: &str, parameters: &str) -> String {
    format!(
        r#"{{"id":1,"callout_id":1,"parameters":{parameters},"metadata":{{}},"status":"{status}","type":"BatchOperation::CalloutPopulation"}}"#
    )
}

const FEMALE: &str = r#"{"contact_filter_params":{"metadata":{"gender":"f"}}}"#;

fn participation(id: i64, contact: i64, population: &str, msisdn: &str) -> String {
    format!(
        r#"{{"id":{id},"callout_id":1,"contact_id":{contact},"callout_population_id":{population},"msisdn":"{msisdn}","call_flow_logic":null,"metadata":{{}}}}"#
    )
}

/// An index page: 200, JSON, `Per-Page: 25`, the given `Total`, no `Link`, and the body.
async fn index(s: &TestServer, path: &str, total: i64, expected: &str) -> Value {
    let r = get(s, path).await.expect(200);
    assert_eq!(r.paging(), (25, total), "{path}");
    assert_eq!(r.header("link"), "", "{path}");
    let v = r.json();
    assert_json_text(&v, expected);
    v
}

/// "Managing Contacts": create, update, fetch, more contacts, index, filter, delete.
async fn contacts_section(s: &TestServer) {
    index(s, "/api/contacts", 0, "[]").await;

    // curl -XPOST /api/contacts --data-urlencode "msisdn=+252662345678"
    let r = post(s, "/api/contacts", "msisdn=%2B252662345678")
        .await
        .expect(201);
    assert_eq!(r.header("location"), "/api/contacts/1");
    let created = r.json();
    assert_json_text(
        &created,
        r#"{"id":1,"msisdn":"+252662345678","metadata":{}}"#,
    );
    assert_eq!(created["created_at"], created["updated_at"]);

    // curl -XPATCH /api/contacts/1 -d "[metadata][name]=Alice" -d "[metadata][gender]=f"
    let r = patch(
        s,
        "/api/contacts/1",
        "[metadata][name]=Alice&[metadata][gender]=f",
    )
    .await
    .expect(204);
    assert_eq!(r.text, "");

    let fetched = get(s, "/api/contacts/1").await.expect(200).json();
    assert_json_text(&fetched, ALICE);
    assert_eq!(fetched["created_at"], created["created_at"]);
    assert!(fetched["updated_at"].as_str() >= created["updated_at"].as_str());

    let r = post(
        s,
        "/api/contacts",
        "msisdn=%2B252662345679&[metadata][name]=Bob&[metadata][gender]=m",
    )
    .await
    .expect(201);
    assert_eq!(r.header("location"), "/api/contacts/2");
    assert_json_text(&r.json(), BOB);

    let r = post(
        s,
        "/api/contacts",
        "msisdn=%2B85510202103&metadata[name]=Ghostbusters",
    )
    .await
    .expect(201);
    assert_eq!(r.header("location"), "/api/contacts/3");
    let ghost = r#"{"id":3,"msisdn":"+85510202103","metadata":{"name":"Ghostbusters"}}"#;
    assert_json_text(&r.json(), ghost);

    index(s, "/api/contacts", 3, &arr(&[ALICE, BOB, ghost])).await;
    // curl -g "http://scfm:3000/api/contacts?q[metadata][gender]=f"
    index(s, "/api/contacts?q[metadata][gender]=f", 1, &arr(&[ALICE])).await;

    let r = delete(s, "/api/contacts/3").await.expect(204);
    assert_eq!(r.text, "");
    let r = get(s, "/api/contacts/3").await.expect(404);
    assert_eq!(r.text, NOT_FOUND);
    assert_eq!(r.header("content-length"), "34");
}

/// "Managing Callouts" and "Populating a Callout".
async fn callout_and_population_section(s: &TestServer) {
    // curl -XPOST /api/callouts: no body, no Content-Type.
    let r = send(
        s.http
            .post(s.url("/api/callouts"))
            .bearer_auth(support::TOKEN),
    )
    .await
    .expect(201);
    assert_eq!(r.header("location"), "/api/callouts/1");
    assert_json_text(
        &r.json(),
        r#"{"id":1,"status":"initialized","call_flow_logic":null,"metadata":{}}"#,
    );

    let r = post(
        s,
        "/api/callouts/1/batch_operations",
        "type=BatchOperation::CalloutPopulation",
    )
    .await
    .expect(201);
    assert_eq!(r.header("location"), "/api/batch_operations/1");
    let created = r.json();
    assert_json_text(&created, &population("preview", "{}"));
    // `type` comes last, after the timestamps (spec §3, Appendix B).
    let keys: Vec<&String> = created.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "callout_id",
            "parameters",
            "metadata",
            "status",
            "created_at",
            "updated_at",
            "type"
        ]
    );

    let preview = "/api/batch_operations/1/preview/contacts";
    index(s, preview, 2, &arr(&[ALICE, BOB])).await;

    let r = patch(
        s,
        "/api/batch_operations/1",
        "parameters[contact_filter_params][metadata][gender]=f",
    )
    .await
    .expect(204);
    assert_eq!(r.text, "");
    let op = get(s, "/api/batch_operations/1").await.expect(200).json();
    assert_json_text(&op, &population("preview", FEMALE));
    index(s, preview, 1, &arr(&[ALICE])).await;

    let r = post(
        s,
        "/api/batch_operations/1/batch_operation_events",
        "event=queue",
    )
    .await
    .expect(201);
    assert_eq!(r.header("location"), "/api/batch_operations/1");
    assert_json_text(&r.json(), &population("queued", FEMALE));

    let done = s
        .wait_for("/api/batch_operations/1", |v| v["status"] == "finished")
        .await;
    assert_json_text(&done, &population("finished", FEMALE));
    index(s, "/api/batch_operations/1/contacts", 1, &arr(&[ALICE])).await;
}

/// "Managing Callout Participations": list, contacts, create, filter, delete, repopulate.
async fn participations_section(s: &TestServer) {
    let alice_p1 = participation(1, 1, "1", "+252662345678");
    let bob_p2 = participation(2, 2, "null", "+252662345679");
    index(
        s,
        "/api/callouts/1/callout_participations",
        1,
        &arr(&[&alice_p1]),
    )
    .await;
    index(s, "/api/callouts/1/contacts", 1, &arr(&[ALICE])).await;

    let r = post(s, "/api/callouts/1/callout_participations", "contact_id=2")
        .await
        .expect(201);
    assert_eq!(r.header("location"), "/api/callout_participations/2");
    assert_json_text(&r.json(), &bob_p2);
    index(s, "/api/callouts/1/contacts", 2, &arr(&[ALICE, BOB])).await;

    let by_alice = "/api/callouts/1/callout_participations?q[contact_id]=1";
    index(s, by_alice, 1, &arr(&[&alice_p1])).await;

    let r = delete(s, "/api/callout_participations/1").await.expect(204);
    assert_eq!(r.text, "");
    index(s, "/api/callouts/1/contacts", 1, &arr(&[BOB])).await;

    // Repopulating.
    let op = get(s, "/api/batch_operations/1").await.expect(200).json();
    assert_json_text(&op, &population("finished", FEMALE));
    index(
        s,
        "/api/batch_operations/1/preview/contacts",
        1,
        &arr(&[ALICE]),
    )
    .await;
    let r = post(
        s,
        "/api/batch_operations/1/batch_operation_events",
        "event=requeue",
    )
    .await
    .expect(201);
    assert_eq!(r.header("location"), "/api/batch_operations/1");
    assert_json_text(&r.json(), &population("queued", FEMALE));
    let done = s
        .wait_for("/api/batch_operations/1", |v| v["status"] == "finished")
        .await;
    assert_json_text(&done, &population("finished", FEMALE));

    // Only Alice was added back (Bob was already in, and added by hand).
    index(s, "/api/batch_operations/1/contacts", 1, &arr(&[ALICE])).await;
    index(s, "/api/callouts/1/contacts", 2, &arr(&[ALICE, BOB])).await;

    // "Managing Phone Calls: Creating" starts by finding Alice's new participation: id 3, not 1.
    let alice_p3 = participation(3, 1, "1", "+252662345678");
    index(s, by_alice, 1, &arr(&[&alice_p3])).await;
    index(
        s,
        "/api/callouts/1/callout_participations",
        2,
        &arr(&[&bob_p2, &alice_p3]),
    )
    .await;
    // The population's results and the contacts' nested indexes agree.
    index(
        s,
        "/api/batch_operations/1/callout_participations",
        1,
        &arr(&[&alice_p3]),
    )
    .await;
    index(
        s,
        "/api/contacts/1/callout_participations",
        1,
        &arr(&[&alice_p3]),
    )
    .await;
    let callout = r#"{"id":1,"status":"initialized","call_flow_logic":null,"metadata":{}}"#;
    index(s, "/api/contacts/2/callouts", 1, &arr(&[callout])).await;
}

async fn tutorial(s: &TestServer) {
    contacts_section(s).await;
    callout_and_population_section(s).await;
    participations_section(s).await;
}

#[tokio::test]
async fn tutorial_contacts_callouts_population_and_participations() {
    let s = TestServer::start().await;
    tutorial(&s).await;
    s.stop().await;
}

/// `curl -g` puts brackets on the wire unescaped; `curl -d` does not escape them in the body.
#[tokio::test]
async fn raw_brackets_on_the_wire_as_curl_sends_them() {
    let s = TestServer::start().await;
    for body in [
        "msisdn=%2B252662345678&[metadata][name]=Alice&[metadata][gender]=f",
        "msisdn=%2B252662345679&[metadata][name]=Bob&[metadata][gender]=m",
    ] {
        post(&s, "/api/contacts", body).await.expect(201);
    }
    let raw = raw_get(&s, "/api/contacts?q[metadata][gender]=f").await;
    let (head, body) = raw.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    // Title-case header names, as `curl -v` shows them in the tutorial.
    assert!(head.contains("\r\nPer-Page: 25\r\n"), "{head}");
    assert!(head.contains("\r\nTotal: 1\r\n"), "{head}");
    assert!(
        head.contains("\r\nContent-Type: application/json; charset=utf-8\r\n"),
        "{head}"
    );
    let v: Value = serde_json::from_str(body).expect("JSON body");
    assert_json_text(&v, &arr(&[ALICE]));

    let raw = raw_get(&s, "/api/contacts/3").await;
    assert!(raw.starts_with("HTTP/1.1 404 Not Found\r\n"), "{raw}");
    assert!(raw.ends_with(NOT_FOUND), "{raw}");
    s.stop().await;
}

/// Everything the tutorial made is still there after a restart on the same database file, and
/// ids keep counting from where they were (a deleted id is never handed out again).
#[tokio::test]
async fn tutorial_data_survives_restart_and_ids_are_never_reused() {
    let s = TestServer::start().await;
    tutorial(&s).await;
    let paths = [
        "/api/contacts",
        "/api/contacts/1",
        "/api/callouts",
        "/api/batch_operations",
        "/api/batch_operations/1",
        "/api/callout_participations",
        "/api/callouts/1/contacts",
        "/api/batch_operations/1/contacts",
    ];
    let mut before = Vec::new();
    for p in paths {
        let r = get(&s, p).await.expect(200);
        before.push((r.header("total"), r.text));
    }
    let s = s.restart_with(|_| {}).await;
    for (p, (total, text)) in paths.iter().zip(before) {
        let r = get(&s, p).await.expect(200);
        assert_eq!(r.header("total"), total, "{p}");
        assert_eq!(r.text, text, "{p}");
    }
    assert_eq!(get(&s, "/api/contacts/3").await.expect(404).text, NOT_FOUND);

    // Contact 3 and participation 1 were deleted: the next ids are 4, not 3 / 1.
    let r = post(&s, "/api/contacts", "msisdn=%2B85510202101")
        .await
        .expect(201);
    assert_eq!(r.json()["id"], 4);
    assert_eq!(r.header("location"), "/api/contacts/4");
    let r = post(&s, "/api/callouts/1/callout_participations", "contact_id=4")
        .await
        .expect(201);
    assert_eq!(r.json()["id"], 4);
    assert_eq!(r.json()["callout_population_id"], Value::Null);
    s.stop().await;
}
