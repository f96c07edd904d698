//! State machine events (spec §9: callout start/pause/resume/stop, batch op queue/requeue),
//! CalloutPopulation runs (§10.4), batch operation validations and type gating (§1.2, §10.3).

mod api_common;
mod support;

use api_common::*;
use serde_json::{Value, json};
use support::TestServer;

fn errors(attr: &str, message: &str) -> Value {
    json!({ "errors": { attr: [message] } })
}

fn not_in_list() -> Value {
    errors("event", "is not included in the list")
}

async fn callout_event(s: &TestServer, event_body: &str) -> Resp {
    post(s, "/api/callouts/1/callout_events", event_body).await
}

#[tokio::test]
async fn callout_events_follow_the_state_machine() {
    let s = TestServer::start().await;
    let created = post(&s, "/api/callouts", "").await.expect(201).json();
    let mut last_updated = created["updated_at"].as_str().unwrap().to_string();
    for (event, status) in [
        ("start", "running"),
        ("pause", "paused"),
        ("resume", "running"),
        ("stop", "stopped"),
        ("resume", "running"),
        ("pause", "paused"),
        ("stop", "stopped"),
    ] {
        let r = callout_event(&s, &format!("event={event}"))
            .await
            .expect(201);
        assert_eq!(r.header("location"), "/api/callouts/1");
        let v = r.json();
        assert_json_text(
            &v,
            &format!(r#"{{"id":1,"status":"{status}","call_flow_logic":null,"metadata":{{}}}}"#),
        );
        let updated = v["updated_at"].as_str().unwrap().to_string();
        assert!(updated >= last_updated, "{event}: updated_at moved back");
        last_updated = updated;
        assert_eq!(get(&s, "/api/callouts/1").await.json()["status"], status);
    }
    // From stopped: only resume is possible.
    for body in [
        "event=start",
        "event=pause",
        "event=stop",
        "event=complete",
        "event=",
        "event",
        "",
        "event[]=resume",
    ] {
        let r = callout_event(&s, body).await.expect(422);
        assert_eq!(r.json(), not_in_list(), "{body}");
    }
    assert_eq!(get(&s, "/api/callouts/1").await.json()["status"], "stopped");
    // A JSON body works as well.
    let r = post_json(
        &s,
        "/api/callouts/1/callout_events",
        &json!({"event": "resume"}),
    )
    .await
    .expect(201);
    assert_eq!(r.json()["status"], "running");
    let r = callout_event(&s, "event=start").await.expect(422);
    assert_eq!(r.json(), not_in_list());
    let r = post(&s, "/api/callouts/9/callout_events", "event=start")
        .await
        .expect(404);
    assert_eq!(r.text, NOT_FOUND);
    s.stop().await;
}

#[tokio::test]
async fn batch_operation_events_follow_the_state_machine() {
    let s = TestServer::start().await;
    post(&s, "/api/callouts", "").await.expect(201);
    let pop = "type=BatchOperation::CalloutPopulation";
    for _ in 0..2 {
        post(&s, "/api/callouts/1/batch_operations", pop)
            .await
            .expect(201);
    }
    let events = "/api/batch_operations/1/batch_operation_events";
    // From preview only queue is possible.
    for body in [
        "event=requeue",
        "event=start",
        "event=finish",
        "event=bogus",
        "",
    ] {
        let r = post(&s, events, body).await.expect(422);
        assert_eq!(r.json(), not_in_list(), "{body}");
    }
    let r = post(&s, events, "event=queue").await.expect(201);
    assert_eq!(r.header("location"), "/api/batch_operations/1");
    assert_eq!(r.json()["status"], "queued");
    s.wait_for("/api/batch_operations/1", |v| v["status"] == "finished")
        .await;
    // From finished only requeue is possible.
    for body in ["event=queue", "event=start", "event=finish"] {
        let r = post(&s, events, body).await.expect(422);
        assert_eq!(r.json(), not_in_list(), "{body}");
    }
    let op = get(&s, "/api/batch_operations/1").await.json();
    assert_eq!(op["status"], "finished");
    let r = post(&s, events, "event=requeue").await.expect(201);
    assert_eq!(r.json()["status"], "queued");
    s.wait_for("/api/batch_operations/1", |v| v["status"] == "finished")
        .await;
    let r = post(
        &s,
        "/api/batch_operations/2/batch_operation_events",
        "event=requeue",
    )
    .await
    .expect(422);
    assert_eq!(r.json(), not_in_list());
    let r = post(
        &s,
        "/api/batch_operations/9/batch_operation_events",
        "event=queue",
    )
    .await
    .expect(404);
    assert_eq!(r.text, NOT_FOUND);
    s.stop().await;
}

#[tokio::test]
async fn batch_operation_validations() {
    let s = TestServer::start().await;
    post(&s, "/api/callouts", "").await.expect(201);
    let type_blank = errors("type", "can't be blank");
    for body in [
        "",
        "type=",
        "type=BatchOperation::Bogus",
        "type=CalloutPopulation",
        "type[]=BatchOperation::CalloutPopulation",
    ] {
        let r = post(&s, "/api/batch_operations", body).await.expect(422);
        assert_eq!(r.json(), type_blank, "{body}");
        let r = post(&s, "/api/callouts/1/batch_operations", body)
            .await
            .expect(422);
        assert_eq!(r.json(), type_blank, "nested {body}");
    }
    let pop = "type=BatchOperation::CalloutPopulation";
    let r = post(&s, "/api/batch_operations", pop).await.expect(422);
    assert_eq!(r.json(), errors("callout", "must exist"));
    let r = post(&s, "/api/batch_operations", &format!("{pop}&callout_id=9"))
        .await
        .expect(422);
    assert_eq!(r.json(), errors("callout", "must exist"));
    assert_eq!(
        post(&s, "/api/callouts/9/batch_operations", pop)
            .await
            .expect(404)
            .text,
        NOT_FOUND
    );

    // Filter parameters must be objects.
    let invalid = errors("parameters", "is invalid");
    for p in [
        "parameters[contact_filter_params]=x",
        "parameters[contact_filter_params][]=x",
    ] {
        let r = post(
            &s,
            "/api/callouts/1/batch_operations",
            &format!("{pop}&{p}"),
        )
        .await
        .expect(422);
        assert_eq!(r.json(), invalid, "{p}");
    }
    let body = json!({"type": "BatchOperation::CalloutPopulation", "parameters": {"contact_filter_params": 1}});
    let r = post_json(&s, "/api/callouts/1/batch_operations", &body)
        .await
        .expect(422);
    assert_eq!(r.json(), invalid);
    assert_eq!(
        list_ids(&s, "/api/batch_operations").await,
        Vec::<i64>::new()
    );

    // Via /api/batch_operations with callout_id as a parameter (spec §1.3).
    let r = post(&s, "/api/batch_operations", &format!("{pop}&callout_id=1"))
        .await
        .expect(201);
    assert_eq!(r.json()["callout_id"], 1);
    // A scalar for `parameters` itself is ignored.
    let r = post(
        &s,
        "/api/callouts/1/batch_operations",
        &format!("{pop}&parameters=x"),
    )
    .await
    .expect(201);
    assert_eq!(r.json()["parameters"], json!({}));

    // Updates validate too, and a rejected update changes nothing.
    let b = "/api/batch_operations/1";
    patch(&s, b, "parameters[contact_filter_params][metadata][g]=f")
        .await
        .expect(204);
    let before = get(&s, b).await.expect(200).text;
    let r = patch(
        &s,
        b,
        "parameters[contact_filter_params]=x&metadata[note]=changed",
    )
    .await
    .expect(422);
    assert_eq!(r.json(), invalid);
    assert_eq!(get(&s, b).await.text, before);
    // `type` cannot be changed by an update: another type name restricts the lookup (404).
    patch(&s, b, "type=BatchOperation::PhoneCallQueue")
        .await
        .expect(404);
    assert_eq!(
        get(&s, b).await.json()["type"],
        "BatchOperation::CalloutPopulation"
    );
    s.stop().await;
}

/// Result and preview routes look the batch op up among their types only (spec §1.2).
#[tokio::test]
async fn batch_operation_type_gating() {
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
    for route in [
        "preview/phone_calls",
        "preview/callout_participations",
        "phone_calls",
    ] {
        let r = get(&s, &format!("/api/batch_operations/1/{route}"))
            .await
            .expect(404);
        assert_eq!(r.text, NOT_FOUND, "{route}");
    }
    for route in ["preview/contacts", "contacts", "callout_participations"] {
        get(&s, &format!("/api/batch_operations/1/{route}"))
            .await
            .expect(200);
    }
    // A top-level `type` restricts lookups to that type.
    let b = "/api/batch_operations/1";
    get(&s, &format!("{b}?type=BatchOperation::CalloutPopulation"))
        .await
        .expect(200);
    let other = "type=BatchOperation::PhoneCallCreate";
    assert_eq!(
        get(&s, &format!("{b}?{other}")).await.expect(404).text,
        NOT_FOUND
    );
    patch(&s, &format!("{b}?{other}"), "metadata[x]=1")
        .await
        .expect(404);
    delete(&s, &format!("{b}?{other}")).await.expect(404);
    assert_eq!(
        list_ids(&s, &format!("/api/batch_operations?{other}")).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        list_ids(
            &s,
            "/api/batch_operations?type=BatchOperation::CalloutPopulation"
        )
        .await,
        [1]
    );
    // An unknown type name is no restriction.
    get(&s, &format!("{b}?type=Bogus")).await.expect(200);
    get(&s, b).await.expect(200);
    s.stop().await;
}

/// Simultaneous events: the transition applies once, the others are refused with 422.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_events_apply_once() {
    let s = TestServer::start().await;
    post(&s, "/api/callouts", "").await.expect(201);
    post(
        &s,
        "/api/callouts/1/batch_operations",
        "type=BatchOperation::CalloutPopulation",
    )
    .await
    .expect(201);
    for (path, event) in [
        ("/api/callouts/1/callout_events", "event=start"),
        (
            "/api/batch_operations/1/batch_operation_events",
            "event=queue",
        ),
    ] {
        let tasks: Vec<_> = (0..10)
            .map(|_| tokio::spawn(send(s.post_form(path, event))))
            .collect();
        let mut statuses = Vec::new();
        for t in tasks {
            let r = t.await.expect("task");
            if r.status == 422 {
                assert_eq!(r.json(), not_in_list());
            }
            statuses.push(r.status);
        }
        statuses.sort();
        assert_eq!(
            statuses,
            [201, 422, 422, 422, 422, 422, 422, 422, 422, 422],
            "{path}"
        );
    }
    s.stop().await;
}

/// A population adds each matching contact once: contacts (or numbers) already in the callout
/// are skipped, and its preview is not reduced by existing participations.
#[tokio::test]
async fn population_skips_contacts_and_numbers_already_in_the_callout() {
    let s = TestServer::start().await;
    for m in ["%2B252662345678", "%2B252662345679", "%2B85510202103"] {
        post(&s, "/api/contacts", &format!("msisdn={m}"))
            .await
            .expect(201);
    }
    post(&s, "/api/callouts", "").await.expect(201);
    // Contact 2 is in already, and so is contact 3's number (a participation of contact 1).
    post(&s, "/api/callouts/1/callout_participations", "contact_id=2")
        .await
        .expect(201);
    post(
        &s,
        "/api/callouts/1/callout_participations",
        "contact_id=1&msisdn=%2B85510202103",
    )
    .await
    .expect(201);
    post(
        &s,
        "/api/callouts/1/batch_operations",
        "type=BatchOperation::CalloutPopulation",
    )
    .await
    .expect(201);
    assert_eq!(
        list_ids(&s, "/api/batch_operations/1/preview/contacts").await,
        [1, 2, 3]
    );
    post(
        &s,
        "/api/batch_operations/1/batch_operation_events",
        "event=queue",
    )
    .await
    .expect(201);
    s.wait_for("/api/batch_operations/1", |v| v["status"] == "finished")
        .await;
    // Contact 1 and 2 are in by contact, contact 3 by number: nothing was added.
    assert_eq!(list_ids(&s, "/api/callout_participations").await, [1, 2]);
    assert_eq!(
        list_ids(&s, "/api/batch_operations/1/contacts").await,
        Vec::<i64>::new()
    );
    // Free contact 3's number: a requeue adds contact 3 alone.
    delete(&s, "/api/callout_participations/2")
        .await
        .expect(204);
    post(
        &s,
        "/api/batch_operations/1/batch_operation_events",
        "event=requeue",
    )
    .await
    .expect(201);
    s.wait_for("/api/batch_operations/1", |v| v["status"] == "finished")
        .await;
    let v = get(&s, "/api/batch_operations/1/callout_participations")
        .await
        .expect(200)
        .json();
    // Skipped contacts use up no ids: the two new participations are 3 and 4.
    assert_eq!(ids(&v), [3, 4]);
    assert_eq!(v[0]["contact_id"], 1);
    assert_eq!(v[0]["msisdn"], "+252662345678");
    assert_eq!(v[1]["contact_id"], 3);
    assert_eq!(v[1]["callout_population_id"], 1);
    assert_eq!(
        list_ids(&s, "/api/batch_operations/1/preview/contacts").await,
        [1, 2, 3]
    );
    // A requeue that adds nobody uses up no ids either.
    post(
        &s,
        "/api/batch_operations/1/batch_operation_events",
        "event=requeue",
    )
    .await
    .expect(201);
    s.wait_for("/api/batch_operations/1", |v| v["status"] == "finished")
        .await;
    post(&s, "/api/callouts", "").await.expect(201);
    let r = post(&s, "/api/callouts/2/callout_participations", "contact_id=1")
        .await
        .expect(201);
    assert_eq!(r.json()["id"], 5);
    s.stop().await;
}
