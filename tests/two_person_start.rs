//! Two-person start through the real HTTP API (issue 14): named operators' tokens, a callout
//! that requires approval, a start refused without approval, an approval refused from its own
//! creator and from the shared credential, allowed from a second operator, then the start; all
//! of it in the journal, which verifies. A change after approval withdraws it. Both engines.

#![allow(clippy::unwrap_used)]

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TOKEN, TestServer};

async fn send(s: &TestServer, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let r = s
        .http
        .post(s.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn event(id: &Value) -> String {
    format!("/api/callouts/{id}/callout_events")
}

#[tokio::test]
async fn a_callout_that_requires_approval_starts_only_after_a_second_operator() {
    let s = TestServer::start().await;
    let svc = &s.running.as_ref().unwrap().service;
    let ana = svc.add_operator("ana").await.unwrap().token;
    let bo = svc.add_operator("bo").await.unwrap().token;
    let cy = svc.add_operator("cy").await.unwrap();
    svc.revoke_operator("cy").await.unwrap();

    // A revoked token, or one never issued, is a 401.
    let (st, _) = send(&s, &cy.token, "/api/callouts", json!({})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = send(&s, "scfm_op_00", "/api/callouts", json!({})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    let (st, c) = send(
        &s,
        &ana,
        "/api/callouts",
        json!({"requires_approval": true}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    assert_eq!(c["created_by"], "ana");
    assert_eq!(c["requires_approval"], true);
    let id = c["id"].clone();

    let (st, e) = send(&s, &ana, &event(&id), json!({"event": "start"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e.to_string().contains("needs approval"), "{e}");
    let (st, e) = send(&s, &ana, &event(&id), json!({"event": "approve"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e.to_string().contains("second operator"), "{e}");
    let (st, e) = send(&s, TOKEN, &event(&id), json!({"event": "approve"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e.to_string().contains("named operator"), "{e}");

    // Callout events answer 201, as SCFM's do.
    let (st, c) = send(&s, &bo, &event(&id), json!({"event": "approve"})).await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    assert_eq!(c["approved_by"], "bo");
    assert_eq!(c["status"], "initialized");

    // A change withdraws the approval; bo approves again.
    let r = s
        .http
        .patch(s.url(&format!("/api/callouts/{id}")))
        .bearer_auth(&ana)
        .json(&json!({"metadata": {"note": "new text"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let c: Value = s
        .get(&format!("/api/callouts/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(c.get("approved_by").is_none(), "{c}");
    let (st, _) = send(&s, &ana, &event(&id), json!({"event": "start"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, _) = send(&s, &bo, &event(&id), json!({"event": "approve"})).await;
    assert_eq!(st, StatusCode::CREATED);

    let (st, c) = send(&s, &ana, &event(&id), json!({"event": "start"})).await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    assert_eq!(c["status"], "running");
    assert_eq!(c["started_by"], "ana");

    // Everyone's attempt is in the journal, in order, and the chain holds.
    let entries = svc.journal_entries(id.as_i64(), 0, 100).await.unwrap();
    let seen: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e.actor.clone(), e.action.clone()))
        .collect();
    let want: Vec<(String, String)> = [
        ("ana", "callout.create"),
        ("ana", "callout.start.refused"),
        ("ana", "callout.approve.refused"),
        ("api", "callout.approve.refused"),
        ("bo", "callout.approve"),
        ("ana", "callout.update"),
        ("ana", "callout.start.refused"),
        ("bo", "callout.approve"),
        ("ana", "callout.start"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(seen, want);
    let check = svc.verify_journal().await.unwrap();
    assert_eq!(check.broken, None);
    // 3 operators added, 1 revoked, then the callout's 9.
    assert_eq!(check.verified, 13);

    // A callout without the flag starts with the shared credential, as in SCFM.
    let (_, plain) = send(&s, TOKEN, "/api/callouts", json!({})).await;
    assert!(plain.get("created_by").is_none() && plain.get("requires_approval").is_none());
    let (st, _) = send(&s, TOKEN, &event(&plain["id"]), json!({"event": "start"})).await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, e) = send(
        &s,
        TOKEN,
        "/api/callouts",
        json!({"requires_approval": "maybe"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
}

/// Made without a named operator (shared credential): the approver may not also start it.
#[tokio::test]
async fn without_a_named_creator_the_approver_cannot_start_alone() {
    let s = TestServer::start().await;
    let svc = &s.running.as_ref().unwrap().service;
    let ana = svc.add_operator("ana").await.unwrap().token;
    let bo = svc.add_operator("bo").await.unwrap().token;
    let (_, c) = send(
        &s,
        TOKEN,
        "/api/callouts",
        json!({"requires_approval": true}),
    )
    .await;
    let id = c["id"].clone();
    let (st, _) = send(&s, &bo, &event(&id), json!({"event": "approve"})).await;
    assert_eq!(st, StatusCode::CREATED);
    for token in [bo.as_str(), TOKEN] {
        let (st, e) = send(&s, token, &event(&id), json!({"event": "start"})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    }
    let (st, c) = send(&s, &ana, &event(&id), json!({"event": "start"})).await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    assert_eq!(c["started_by"], "ana");
}
