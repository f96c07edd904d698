//! Phone calls end to end: the tutorial's phone-call steps against the real server, the real
//! reqwest provider client and the local fake provider speaking Twilio's wire format.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use std::time::Duration;
use support::fake_provider::{FakeConfig, FakeProvider, Fault, FaultAction, GhostReply};
use support::{TestServer, header};

const ALICE: &str = "+252662345678";

fn use_fake(c: &mut scfm::config::Config, fake: &FakeProvider) {
    c.provider.account_sid = Some(fake.account_sid());
    c.provider.auth_token = Some(fake.auth_token());
    c.provider.base_url = Some(fake.base_url());
}

/// Alice, a callout and her participation (id 1); returns the participation id.
async fn alice_in_callout(s: &TestServer) -> i64 {
    let r = s
        .post_form(
            "/api/contacts",
            "msisdn=%2B252662345678&metadata[name]=Alice",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        s.post_form("/api/callouts", "")
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let r = s
        .post_form("/api/callouts/1/callout_participations", "contact_id=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    v["id"].as_i64().unwrap()
}

const PARAMS: &str = "remote_request_params[from]=345&remote_request_params[url]=https%3A%2F%2Fdemo.twilio.com%2Fdocs%2Fvoice.xml&remote_request_params[method]=GET";

async fn create_call(s: &TestServer, cp: i64) -> Value {
    let r = s
        .post_form(
            &format!("/api/callout_participations/{cp}/phone_calls"),
            PARAMS,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn fire(s: &TestServer, id: i64, event: &str) -> (u16, Value) {
    let r = s
        .post_form(
            &format!("/api/phone_calls/{id}/phone_call_events"),
            &format!("event={event}"),
        )
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn tutorial_phone_calls_without_then_with_credentials() {
    let s = TestServer::start().await;
    let cp = alice_in_callout(&s).await;

    // Missing remote_request_params.
    let r = s
        .post_form(&format!("/api/callout_participations/{cp}/phone_calls"), "")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"errors":{"remote_request_params":["can't be blank"]}}"#
    );
    // CamelCase keys are refused.
    let r = s
        .post_form(
            &format!("/api/callout_participations/{cp}/phone_calls"),
            "remote_request_params[From]=1",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    let call = create_call(&s, cp).await;
    assert_eq!(call["status"], "created");
    assert_eq!(call["msisdn"], ALICE);
    assert_eq!(call["remote_request_params"]["from"], "345");
    let id = call["id"].as_i64().unwrap();
    assert_eq!(header_of(&s, &format!("/api/phone_calls/{id}")).await, 200);

    // Update while created (204), a second call, index, delete it.
    let r = s
        .patch_form(&format!("/api/phone_calls/{id}"), PARAMS)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let second = create_call(&s, cp).await["id"].as_i64().unwrap();
    let r = s
        .get(&format!("/api/callout_participations/{cp}/phone_calls"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "total"), "2");
    assert_eq!(
        s.delete(&format!("/api/phone_calls/{second}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let r = s.get("/api/phone_calls").send().await.unwrap();
    assert_eq!(header(&r, "total"), "1");

    // Queue without credentials: queued at once, then errored naming what to set.
    let (status, body) = fire(&s, id, "queue").await;
    assert_eq!(status, 201);
    assert_eq!(body["status"], "queued");
    let done = s
        .wait_for(&format!("/api/phone_calls/{id}"), |v| {
            v["status"] == "errored"
        })
        .await;
    let msg = done["remote_error_message"].as_str().unwrap();
    assert!(
        msg.starts_with(
            "Unable to create record: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN not set"
        ),
        "{msg}"
    );
    assert!(done["remotely_queued_at"].is_string());
    // A queued-then-errored call can neither be queued again nor edited nor deleted.
    assert_eq!(fire(&s, id, "queue").await.0, 422);
    assert_eq!(
        s.patch_form(&format!("/api/phone_calls/{id}"), PARAMS)
            .send()
            .await
            .unwrap()
            .status(),
        422
    );
    let r = s
        .delete(&format!("/api/phone_calls/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"errors":{"base":["Cannot delete record because status is errored"]}}"#
    );

    // Restart with credentials for the fake provider (poll slowly so the manual fetch is ours).
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let s = s
        .restart_with(|c| {
            use_fake(c, &fake);
            c.provider.poll_interval = Duration::from_secs(600);
        })
        .await;
    let call = create_call(&s, cp).await;
    let id = call["id"].as_i64().unwrap();
    assert_eq!(fire(&s, id, "queue").await.1["status"], "queued");
    let queued = s
        .wait_for(&format!("/api/phone_calls/{id}"), |v| {
            v["status"] == "remotely_queued"
        })
        .await;
    assert_eq!(queued["remote_status"], "queued");
    assert_eq!(queued["remote_direction"], "outbound-api");
    let sid = queued["remote_call_id"].as_str().unwrap().to_string();
    assert_eq!(queued["remote_queue_response"]["sid"], sid.as_str());
    assert_eq!(queued["remote_queue_response"]["to"], ALICE);
    assert!(
        queued["remote_queue_response"]["date_created"]
            .as_str()
            .unwrap()
            .ends_with("+00:00")
    );
    assert_eq!(fake.creates_for(ALICE), 1);
    let sent = fake.last_create_params().unwrap();
    assert!(sent.contains(&("To".into(), ALICE.into())));
    assert!(sent.contains(&("Method".into(), "GET".into())));

    fake.wait_final(&sid, Duration::from_secs(5)).await.unwrap();
    let (status, body) = fire(&s, id, "queue_remote_fetch").await;
    assert_eq!(status, 201);
    assert_eq!(body["status"], "remote_fetch_queued");
    let done = s
        .wait_for(&format!("/api/phone_calls/{id}"), |v| {
            v["status"] == "completed"
        })
        .await;
    assert_eq!(done["remote_status"], "completed");
    assert_eq!(done["remote_response"]["status"], "completed");
    // Nested indexes reach the call.
    for (path, total) in [
        ("/api/callouts/1/phone_calls", "2"),
        ("/api/contacts/1/phone_calls", "2"),
        ("/api/phone_calls?q[status]=completed", "1"),
        ("/api/phone_calls?q[status]=errored,completed", "2"),
    ] {
        let r = s.get(path).send().await.unwrap();
        assert_eq!(header(&r, "total"), total, "{path}");
    }
    s.stop().await;
}

async fn header_of(s: &TestServer, path: &str) -> u16 {
    s.get(path).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn call_flow_logic_must_be_registered() {
    let s = TestServer::start().await;
    let cp = alice_in_callout(&s).await;
    let id = create_call(&s, cp).await["id"].as_i64().unwrap();
    let r = s
        .patch_form(
            &format!("/api/phone_calls/{id}"),
            "call_flow_logic=CallFlowLogic::OutcomeMonitoring",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"errors":{"call_flow_logic":["is not included in the list"]}}"#
    );
    let s = s
        .restart_with(|c| {
            c.registry =
                scfm::call_flow::Registry::new(&["CallFlowLogic::OutcomeMonitoring".into()], None)
        })
        .await;
    let r = s
        .patch_form(
            &format!("/api/phone_calls/{id}"),
            "call_flow_logic=CallFlowLogic::OutcomeMonitoring",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let v: Value = s
        .get(&format!("/api/phone_calls/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["call_flow_logic"], "CallFlowLogic::OutcomeMonitoring");
    assert_eq!(fire(&s, id, "queue").await.1["status"], "queued");
    s.stop().await;
}

#[tokio::test]
async fn provider_faults_leave_clear_states() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let s = TestServer::start_with(|c| {
        use_fake(c, &fake);
        c.provider.request_timeout = Duration::from_millis(700);
        c.provider.reconcile_after = Duration::from_millis(200);
        c.provider.unknown_outcome_grace = Duration::from_secs(60);
    })
    .await;
    let cp = alice_in_callout(&s).await;

    // 401: errored with the provider's message, not retried.
    fake.add_fault(Fault::on_create(FaultAction::unauthorized()));
    let id = create_call(&s, cp).await["id"].as_i64().unwrap();
    fire(&s, id, "queue").await;
    let v = s
        .wait_for(&format!("/api/phone_calls/{id}"), |v| {
            v["status"] == "errored"
        })
        .await;
    assert_eq!(
        v["remote_error_message"],
        "Unable to create record: Authenticate"
    );

    // 429 twice: retried (nothing was created), then accepted; one call at the provider.
    fake.add_fault(Fault::on_create(FaultAction::rate_limited(Some(0))).times(2));
    let id = create_call(&s, cp).await["id"].as_i64().unwrap();
    fire(&s, id, "queue").await;
    s.wait_for(&format!("/api/phone_calls/{id}"), |v| {
        v["status"] != "queued"
    })
    .await;
    let v: Value = s
        .get(&format!("/api/phone_calls/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["remote_call_id"].is_string(), "{v}");
    assert_eq!(fake.creates_for(ALICE), 1);

    // The provider hangs on create but placed the call (a ghost): the API keeps answering fast,
    // the call is never dialled again, and reconciliation adopts the provider's call.
    fake.add_fault(Fault::on_create(FaultAction::Ghost(GhostReply::Delay(
        Duration::from_secs(3),
    ))));
    let id = create_call(&s, cp).await["id"].as_i64().unwrap();
    fire(&s, id, "queue").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = std::time::Instant::now();
    let r = s.get("/api/contacts").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "API slowed by a hanging provider: {:?}",
        t.elapsed()
    );
    let v = s
        .wait_for(&format!("/api/phone_calls/{id}"), |v| {
            v["remote_call_id"].is_string() || v["status"] == "errored"
        })
        .await;
    assert_eq!(v["status"], "remotely_queued", "{v}");
    assert_eq!(
        fake.creates_for(ALICE),
        2,
        "the ghost call was adopted, not redialled"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_lost_create_ends_errored_without_a_second_dial() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let s = TestServer::start_with(|c| {
        use_fake(c, &fake);
        c.provider.request_timeout = Duration::from_millis(500);
        c.provider.reconcile_after = Duration::from_millis(200);
        c.provider.unknown_outcome_grace = Duration::from_secs(1);
    })
    .await;
    let cp = alice_in_callout(&s).await;
    // The provider reads the request and hangs up without answering (and places no call).
    fake.add_fault(Fault::on_create(FaultAction::Drop));
    let id = create_call(&s, cp).await["id"].as_i64().unwrap();
    fire(&s, id, "queue").await;
    let v = s
        .wait_for(&format!("/api/phone_calls/{id}"), |v| {
            v["status"] == "errored"
        })
        .await;
    let msg = v["remote_error_message"].as_str().unwrap();
    assert!(
        msg.contains("outcome unknown") && msg.contains("not redialled"),
        "{msg}"
    );
    let creates = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/Calls.json"))
        .count();
    assert_eq!(creates, 1, "the lost request was not sent again");
    s.stop().await;
}
