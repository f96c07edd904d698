//! Batch operations over phone calls (PhoneCallCreate, PhoneCallQueue,
//! PhoneCallQueueRemoteFetch): validations, previews with limits, runs and results, against the
//! fake provider.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::fake_provider::{FakeConfig, FakeProvider};
use support::{TestServer, header};

async fn post(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let r = s
        .http
        .post(s.url(path))
        .bearer_auth(support::TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn run(s: &TestServer, id: &Value) {
    let (st, v) = post(
        s,
        &format!("/api/batch_operations/{id}/batch_operation_events"),
        json!({"event": "queue"}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    s.wait_for(&format!("/api/batch_operations/{id}"), |v| {
        v["status"] == "finished"
    })
    .await;
}

async fn total(s: &TestServer, path: &str) -> String {
    header(&s.get(path).send().await.unwrap(), "total")
}

#[tokio::test]
async fn create_queue_and_fetch_in_batches() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let s = TestServer::start_with(|c| {
        c.provider.account_sid = Some(fake.account_sid());
        c.provider.auth_token = Some(fake.auth_token());
        c.provider.base_url = Some(fake.base_url());
        c.provider.calls_per_second = 100.0;
        c.provider.poll_interval = Duration::from_secs(600);
    })
    .await;
    for i in 0..5 {
        post(
            &s,
            "/api/contacts",
            json!({"msisdn": format!("+8551200{i:04}")}),
        )
        .await;
    }
    post(&s, "/api/callouts", json!({})).await;
    let (_, pop) = post(
        &s,
        "/api/callouts/1/batch_operations",
        json!({"type": "BatchOperation::CalloutPopulation"}),
    )
    .await;
    run(&s, &pop["id"]).await;

    // Validations: remote_request_params required; an empty preview refused unless skipped.
    let (st, v) = post(
        &s,
        "/api/batch_operations",
        json!({"type": "BatchOperation::PhoneCallCreate"}),
    )
    .await;
    assert_eq!(
        (st, v),
        (
            422,
            json!({"errors": {"remote_request_params": ["can't be blank"]}})
        )
    );
    let (st, v) = post(
        &s,
        "/api/batch_operations",
        json!({"type": "BatchOperation::PhoneCallQueue"}),
    )
    .await;
    assert_eq!(
        (st, v),
        (
            422,
            json!({"errors": {"phone_calls_preview": ["can't be blank"]}})
        )
    );

    // PhoneCallCreate with a limit: the preview honours it, the run creates that many.
    let rrp = json!({"from": "1234", "url": "https://example.org/twiml"});
    let (st, create) = post(
        &s,
        "/api/batch_operations",
        json!({"type": "BatchOperation::PhoneCallCreate",
        "parameters": {"remote_request_params": rrp, "limit": "3"}}),
    )
    .await;
    assert_eq!(st, 201);
    let id = create["id"].clone();
    assert_eq!(
        total(
            &s,
            &format!("/api/batch_operations/{id}/preview/callout_participations")
        )
        .await,
        "3"
    );
    assert_eq!(
        total(&s, &format!("/api/batch_operations/{id}/preview/contacts")).await,
        "3"
    );
    run(&s, &id).await;
    assert_eq!(
        total(&s, &format!("/api/batch_operations/{id}/phone_calls")).await,
        "3"
    );
    assert_eq!(
        total(
            &s,
            &format!("/api/batch_operations/{id}/callout_participations")
        )
        .await,
        "3"
    );
    assert_eq!(total(&s, "/api/phone_calls?q[status]=created").await, "3");
    let call: Value = s
        .get("/api/phone_calls/1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(call["create_batch_operation_id"], id);
    assert_eq!(call["remote_request_params"], rrp);

    // PhoneCallQueue on created calls; the preview lists what it would act on.
    let (_, queue) = post(
        &s,
        "/api/batch_operations",
        json!({"type": "BatchOperation::PhoneCallQueue",
        "parameters": {"phone_call_filter_params": {"status": "created"}}}),
    )
    .await;
    assert_eq!(
        total(
            &s,
            &format!("/api/batch_operations/{}/preview/phone_calls", queue["id"])
        )
        .await,
        "3"
    );
    run(&s, &queue["id"]).await;
    for i in 1..=3 {
        s.wait_for(&format!("/api/phone_calls/{i}"), |v| {
            v["status"] == "remotely_queued"
        })
        .await;
    }
    assert_eq!(
        total(
            &s,
            &format!("/api/batch_operations/{}/phone_calls", queue["id"])
        )
        .await,
        "3"
    );
    let call: Value = s
        .get("/api/phone_calls/1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(call["queue_batch_operation_id"], queue["id"]);

    // PhoneCallQueueRemoteFetch brings them to their final states.
    for sid in fake.calls().iter().map(|c| c.sid.clone()) {
        fake.wait_final(&sid, Duration::from_secs(5)).await.unwrap();
    }
    let (_, fetch) = post(
        &s,
        "/api/batch_operations",
        json!({"type": "BatchOperation::PhoneCallQueueRemoteFetch",
        "parameters": {"phone_call_filter_params": {"status": "remotely_queued"}}}),
    )
    .await;
    run(&s, &fetch["id"]).await;
    for i in 1..=3 {
        s.wait_for(&format!("/api/phone_calls/{i}"), |v| {
            v["status"] == "completed"
        })
        .await;
    }
    assert_eq!(
        total(
            &s,
            &format!("/api/batch_operations/{}/phone_calls", fetch["id"])
        )
        .await,
        "3"
    );
    // Type gating: a fetch batch has no contacts results.
    let r = s
        .get(&format!("/api/batch_operations/{}/contacts", fetch["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A batch with results cannot be deleted.
    let r = s
        .delete(&format!("/api/batch_operations/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(fake.calls().len(), 3, "each call created once");
    s.stop().await;
}
