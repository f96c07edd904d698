//! `q[...]` filters (spec §6) on contacts, callouts, callout participations and batch
//! operations: msisdn, JSON paths (including hostile keys), comma lists, participation scopes
//! and statuses. Timestamps and pagination are in `api_filters_time_paging.rs`.

mod api_common;
mod support;

use api_common::*;
use serde_json::json;
use support::TestServer;

/// Contacts 1-4, callouts 1-3, a finished population of callout 1 (participations 1-4), a manual
/// participation of contact 1 in callout 2 (id 5) and a second population in preview (op 2).
async fn fixture() -> TestServer {
    let s = TestServer::start().await;
    post(
        &s,
        "/api/contacts",
        "msisdn=%2B252662345678&metadata[name]=Alice&metadata[gender]=f&metadata[bar][baz]=foo",
    )
    .await
    .expect(201);
    post(
        &s,
        "/api/contacts",
        "msisdn=%2B252662345679&metadata[name]=Bob&metadata[gender]=m",
    )
    .await
    .expect(201);
    // Typed JSON values, and the same values as strings.
    let typed = json!({"msisdn": "+85510202103", "metadata": {"age": 30, "ok": true}});
    post_json(&s, "/api/contacts", &typed).await.expect(201);
    let strings =
        json!({"msisdn": "+85510202101", "metadata": {"age": "30", "ok": "true", "gender": "F"}});
    post_json(&s, "/api/contacts", &strings).await.expect(201);

    for _ in 0..3 {
        post(&s, "/api/callouts", "").await.expect(201);
    }
    for (id, event) in [(1, "start"), (3, "start"), (3, "pause")] {
        post(
            &s,
            &format!("/api/callouts/{id}/callout_events"),
            &format!("event={event}"),
        )
        .await
        .expect(201);
    }
    patch(
        &s,
        "/api/callouts/2",
        "call_flow_logic=CallFlowLogic::Application",
    )
    .await
    .expect(204);

    let pop = "type=BatchOperation::CalloutPopulation";
    post(&s, "/api/callouts/1/batch_operations", pop)
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
    post(&s, "/api/callouts/2/callout_participations", "contact_id=1")
        .await
        .expect(201);
    post(
        &s,
        "/api/callouts/2/batch_operations",
        &format!("{pop}&parameters[contact_filter_params][metadata][gender]=f"),
    )
    .await
    .expect(201);
    s
}

async fn check(s: &TestServer, path: &str, expected: &[i64]) {
    assert_eq!(list_ids(s, path).await, expected, "{path}");
}

#[tokio::test]
async fn msisdn_filter_normalises_like_a_stored_number() {
    let s = fixture().await;
    for q in [
        "252662345678",
        "%2B252662345678",
        "%2B252+66+234+5678",
        "+252662345678", // a raw `+` in a query string is a space
        "00252662345678",
    ] {
        check(&s, &format!("/api/contacts?q[msisdn]={q}"), &[1]).await;
        check(
            &s,
            &format!("/api/callout_participations?q[msisdn]={q}"),
            &[1, 5],
        )
        .await;
    }
    check(&s, "/api/contacts?q[msisdn]=85510202101", &[4]).await;
    check(&s, "/api/contacts?q[msisdn]=wrong", &[]).await;
    check(&s, "/api/callout_participations?q[msisdn]=wrong", &[]).await;
    check(&s, "/api/contacts?q[msisdn]=252662345670", &[]).await;
    s.stop().await;
}

#[tokio::test]
async fn metadata_filters_exact_nested_and_by_json_text() {
    let s = fixture().await;
    check(&s, "/api/contacts?q[metadata][gender]=f", &[1]).await;
    check(&s, "/api/contacts?q[metadata][gender]=F", &[4]).await;
    check(
        &s,
        "/api/contacts?q[metadata][name]=Alice&q[metadata][gender]=m",
        &[],
    )
    .await;
    check(
        &s,
        "/api/contacts?q[metadata][name]=Alice&q[metadata][gender]=f",
        &[1],
    )
    .await;
    check(&s, "/api/contacts?q[metadata][name]=alice", &[]).await;
    check(&s, "/api/contacts?q[metadata][name]=Ali", &[]).await;
    check(&s, "/api/contacts?q[metadata][bar][baz]=foo", &[1]).await;
    check(&s, "/api/contacts?q[metadata][bar][baz]=fo", &[]).await;
    check(&s, "/api/contacts?q[metadata][bar]=foo", &[]).await;
    check(&s, "/api/contacts?q[metadata][baz]=foo", &[]).await;
    check(&s, "/api/contacts?q[metadata][nope]=x", &[]).await;
    // Numbers and booleans compare by their JSON text, so typed and string values both match.
    check(&s, "/api/contacts?q[metadata][age]=30", &[3, 4]).await;
    check(&s, "/api/contacts?q[metadata][ok]=true", &[3, 4]).await;
    check(&s, "/api/contacts?q[metadata][age]=30.0", &[]).await;
    check(&s, "/api/contacts?q[metadata][ok]=1", &[]).await;
    // A scalar where an object is expected is ignored (spec §6.3 [fix]), not a 500.
    check(&s, "/api/contacts?q[metadata]=x", &[1, 2, 3, 4]).await;
    // Unknown q keys are ignored.
    check(&s, "/api/contacts?q[bogus]=1&q[status]=x", &[1, 2, 3, 4]).await;
    // Metadata filters on callouts and participations too.
    patch(&s, "/api/callouts/3", "metadata[area]=north")
        .await
        .expect(204);
    check(&s, "/api/callouts?q[metadata][area]=north", &[3]).await;
    patch(&s, "/api/callout_participations/2", "metadata[tries]=2")
        .await
        .expect(204);
    check(&s, "/api/callout_participations?q[metadata][tries]=2", &[2]).await;
    s.stop().await;
}

/// A typed value stored in batch-op filter params (JSON body) compares by its JSON text too.
#[tokio::test]
async fn typed_filter_params_from_a_json_body() {
    let s = fixture().await;
    let body =
        json!({"parameters": {"contact_filter_params": {"metadata": {"age": 30, "ok": true}}}});
    patch_json(&s, "/api/batch_operations/2", &body)
        .await
        .expect(204);
    let op = get(&s, "/api/batch_operations/2").await.expect(200).json();
    assert_eq!(op["parameters"], body["parameters"]);
    check(&s, "/api/batch_operations/2/preview/contacts", &[3, 4]).await;
    // `q` on the preview narrows it further.
    check(
        &s,
        "/api/batch_operations/2/preview/contacts?q[msisdn]=85510202103",
        &[3],
    )
    .await;
    s.stop().await;
}

/// Keys full of JSON-path and SQL syntax match only a contact holding that literal key.
#[tokio::test]
async fn hostile_metadata_keys_match_only_themselves() {
    let s = TestServer::start().await;
    let keys = ["a'b", "a.b", "$", "%", "*", "\"", ") OR 1=1 --"];
    let decoys = [
        json!({"a": {"b": "v"}}),
        json!({"a": "v", "b": "v", "ab": "v"}),
        json!({"x": "v", "$.a": "v"}),
    ];
    let mut n = 10;
    let mut msisdn = || {
        n += 1;
        format!("+855102021{n}")
    };
    for k in keys {
        let body = json!({"msisdn": msisdn(), "metadata": {k: "v"}});
        post_json(&s, "/api/contacts", &body).await.expect(201);
    }
    for d in decoys {
        let body = json!({"msisdn": msisdn(), "metadata": d});
        post_json(&s, "/api/contacts", &body).await.expect(201);
    }
    let encoded = ["a'b", "a.b", "$", "%25", "*", "%22", ")+OR+1%3D1+--"];
    for (i, e) in encoded.iter().enumerate() {
        let id = i as i64 + 1;
        check(&s, &format!("/api/contacts?q[metadata][{e}]=v"), &[id]).await;
        check(&s, &format!("/api/contacts?q[metadata][{e}]=w"), &[]).await;
    }
    check(&s, "/api/contacts?q[metadata][a][b]=v", &[8]).await;
    check(&s, "/api/contacts?q[metadata][a]=v", &[9]).await;
    check(&s, "/api/contacts?q[metadata][x]=v", &[10]).await;
    check(&s, "/api/contacts?q[metadata][$.a]=v", &[10]).await;
    // Hostile values are plain values.
    check(&s, "/api/contacts?q[metadata][x]='+OR+'1'%3D'1", &[]).await;
    check(&s, "/api/contacts?q[metadata][x]=v'+OR+1%3D1+--", &[]).await;
    let r = get(&s, "/api/contacts").await.expect(200);
    assert_eq!(r.paging().1, 10, "nothing was harmed");
    s.stop().await;
}

#[tokio::test]
async fn participation_list_keys_split_on_commas() {
    let s = fixture().await;
    let base = "/api/callout_participations";
    check(&s, base, &[1, 2, 3, 4, 5]).await;
    check(&s, &format!("{base}?q[contact_id]=1"), &[1, 5]).await;
    check(&s, &format!("{base}?q[contact_id]=1,3"), &[1, 3, 5]).await;
    check(&s, &format!("{base}?q[contact_id]=+2+,+3+,"), &[2, 3]).await;
    check(&s, &format!("{base}?q[contact_id]=abc"), &[]).await;
    check(&s, &format!("{base}?q[contact_id]="), &[]).await;
    check(&s, &format!("{base}?q[contact_id][]=1"), &[]).await;
    check(&s, &format!("{base}?q[callout_id]=2"), &[5]).await;
    check(
        &s,
        &format!("{base}?q[callout_id]=1,2&q[contact_id]=1"),
        &[1, 5],
    )
    .await;
    check(
        &s,
        &format!("{base}?q[callout_population_id]=1"),
        &[1, 2, 3, 4],
    )
    .await;
    // Nested routes apply `q` on top of their base set.
    check(
        &s,
        "/api/callouts/1/callout_participations?q[contact_id]=1,2",
        &[1, 2],
    )
    .await;
    check(
        &s,
        "/api/callouts/2/callout_participations?q[contact_id]=2",
        &[],
    )
    .await;
    check(
        &s,
        "/api/contacts/1/callout_participations?q[callout_id]=2",
        &[5],
    )
    .await;
    // call_flow_logic filters match the stored column only (participation 5's own value is
    // null; it renders its callout's).
    let p5 = get(&s, "/api/callout_participations/5")
        .await
        .expect(200)
        .json();
    assert_eq!(p5["call_flow_logic"], "CallFlowLogic::Application");
    check(
        &s,
        &format!("{base}?q[call_flow_logic]=CallFlowLogic::Application"),
        &[],
    )
    .await;
    s.stop().await;
}

/// No phone calls exist here: `has_phone_calls` truthy gives nothing, falsy gives everything.
#[tokio::test]
async fn has_phone_calls_scope() {
    let s = fixture().await;
    let base = "/api/callout_participations?q[has_phone_calls]=";
    for v in ["true", "1", "yes", "False", "t"] {
        check(&s, &format!("{base}{v}"), &[]).await;
    }
    for v in ["false", "0", "f", "F", "FALSE", "off", "OFF"] {
        check(&s, &format!("{base}{v}"), &[1, 2, 3, 4, 5]).await;
    }
    check(&s, base, &[1, 2, 3, 4, 5]).await;
    check(
        &s,
        "/api/callouts/1/callout_participations?q[has_phone_calls]=false",
        &[1, 2, 3, 4],
    )
    .await;
    check(
        &s,
        "/api/callout_participations?q[no_phone_calls_or_last_attempt]=failed",
        &[1, 2, 3, 4, 5],
    )
    .await;
    check(
        &s,
        "/api/callout_participations?q[last_phone_call_attempt]=failed,errored",
        &[],
    )
    .await;
    s.stop().await;
}

#[tokio::test]
async fn callout_and_batch_operation_status_filters() {
    let s = fixture().await;
    check(&s, "/api/callouts?q[status]=running", &[1]).await;
    check(&s, "/api/callouts?q[status]=running,paused", &[1, 3]).await;
    check(&s, "/api/callouts?q[status]=initialized", &[2]).await;
    check(&s, "/api/callouts?q[status]=Running", &[]).await;
    check(&s, "/api/callouts?q[status]=", &[]).await;
    check(&s, "/api/callouts?q[status][]=running", &[]).await;
    check(
        &s,
        "/api/callouts?q[call_flow_logic]=CallFlowLogic::Application",
        &[2],
    )
    .await;
    check(&s, "/api/contacts/1/callouts?q[status]=initialized", &[2]).await;
    check(&s, "/api/contacts/2/callouts?q[status]=initialized", &[]).await;

    check(&s, "/api/batch_operations?q[status]=finished", &[1]).await;
    check(&s, "/api/batch_operations?q[status]=preview", &[2]).await;
    check(
        &s,
        "/api/batch_operations?q[status]=preview,finished",
        &[1, 2],
    )
    .await;
    check(&s, "/api/batch_operations?q[status]=queued", &[]).await;
    check(
        &s,
        "/api/callouts/2/batch_operations?q[status]=preview",
        &[2],
    )
    .await;
    check(
        &s,
        "/api/callouts/1/batch_operations?q[status]=preview",
        &[],
    )
    .await;
    check(
        &s,
        "/api/batch_operations?q[parameters][contact_filter_params][metadata][gender]=f",
        &[2],
    )
    .await;
    s.stop().await;
}
