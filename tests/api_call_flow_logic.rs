//! Call flow logic (spec §3, §8.2, §12.3): validated against the registry on callouts and
//! participations, and rendered on participations as their own value, else their callout's.

mod api_common;
mod support;

use api_common::*;
use scfm::call_flow::Registry;
use serde_json::{Value, json};
use support::TestServer;

fn cfl_not_in_list() -> Value {
    json!({"errors": {"call_flow_logic": ["is not included in the list"]}})
}

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
async fn call_flow_logic_must_be_registered() {
    let s = seeded().await;
    let om = "call_flow_logic=CallFlowLogic::OutcomeMonitoring";
    for body in [
        om,
        "call_flow_logic=",
        "call_flow_logic=Bogus",
        "call_flow_logic=callflowlogic::application",
    ] {
        let r = post(&s, "/api/callouts", body).await.expect(422);
        assert_eq!(r.json(), cfl_not_in_list(), "{body}");
        let r = patch(&s, "/api/callouts/1", body).await.expect(422);
        assert_eq!(r.json(), cfl_not_in_list(), "{body}");
        let r = post(
            &s,
            "/api/callouts/1/callout_participations",
            &format!("contact_id=1&{body}"),
        )
        .await
        .expect(422);
        assert_eq!(r.json(), cfl_not_in_list(), "{body}");
    }
    assert_eq!(list_ids(&s, "/api/callouts").await, [1]);
    let app = "call_flow_logic=CallFlowLogic::Application";
    let r = post(&s, "/api/callouts", app).await.expect(201);
    assert_eq!(r.json()["call_flow_logic"], "CallFlowLogic::Application");
    // JSON null and a bare key clear it.
    patch_json(&s, "/api/callouts/2", &json!({"call_flow_logic": null}))
        .await
        .expect(204);
    assert_eq!(
        get(&s, "/api/callouts/2").await.json()["call_flow_logic"],
        Value::Null
    );
    patch(&s, "/api/callouts/2", app).await.expect(204);
    patch(&s, "/api/callouts/2", "call_flow_logic")
        .await
        .expect(204);
    assert_eq!(
        get(&s, "/api/callouts/2").await.json()["call_flow_logic"],
        Value::Null
    );
    s.stop().await;

    let s = TestServer::start_with(|c| {
        c.registry = Registry::new(&["CallFlowLogic::OutcomeMonitoring".into()], None)
    })
    .await;
    let r = post(&s, "/api/callouts", om).await.expect(201);
    assert_eq!(
        r.json()["call_flow_logic"],
        "CallFlowLogic::OutcomeMonitoring"
    );
    let r = post(
        &s,
        "/api/callouts",
        "call_flow_logic=CallFlowLogic::AvfCapom::CapomLong",
    )
    .await
    .expect(422);
    assert_eq!(r.json(), cfl_not_in_list());
    s.stop().await;
}

/// A participation renders its own call flow logic, else its callout's (read at render time).
#[tokio::test]
async fn effective_call_flow_logic_on_participations() {
    let s = TestServer::start_with(|c| {
        c.registry = Registry::new(&["CallFlowLogic::OutcomeMonitoring".into()], None)
    })
    .await;
    let om = "CallFlowLogic::OutcomeMonitoring";
    let app = "CallFlowLogic::Application";
    post(&s, "/api/contacts", "msisdn=%2B252662345678")
        .await
        .expect(201);
    post(&s, "/api/contacts", "msisdn=%2B252662345679")
        .await
        .expect(201);
    post(&s, "/api/callouts", &format!("call_flow_logic={om}"))
        .await
        .expect(201);
    let r = post(&s, "/api/callouts/1/callout_participations", "contact_id=1")
        .await
        .expect(201);
    assert_eq!(r.json()["call_flow_logic"], om);
    let r = post(
        &s,
        "/api/callouts/1/callout_participations",
        &format!("contact_id=2&call_flow_logic={app}"),
    )
    .await
    .expect(201);
    assert_eq!(r.json()["call_flow_logic"], app);
    let effective = |v: &Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| p["call_flow_logic"].clone())
            .collect()
    };
    for path in [
        "/api/callout_participations",
        "/api/callouts/1/callout_participations",
    ] {
        let v = get(&s, path).await.expect(200).json();
        assert_eq!(effective(&v), [json!(om), json!(app)], "{path}");
    }
    // The callout changes: participation 1 follows, participation 2 keeps its own.
    patch(&s, "/api/callouts/1", &format!("call_flow_logic={app}"))
        .await
        .expect(204);
    patch_json(
        &s,
        "/api/callout_participations/2",
        &json!({"call_flow_logic": om}),
    )
    .await
    .expect(204);
    let v = get(&s, "/api/callout_participations").await.json();
    assert_eq!(effective(&v), [json!(app), json!(om)]);
    patch_json(&s, "/api/callouts/1", &json!({"call_flow_logic": null}))
        .await
        .expect(204);
    let v = get(&s, "/api/callout_participations/1").await.json();
    assert_eq!(v["call_flow_logic"], Value::Null);
    // Filters see the stored column only.
    let ids = list_ids(
        &s,
        &format!("/api/callout_participations?q[call_flow_logic]={om}"),
    )
    .await;
    assert_eq!(ids, [2]);
    s.stop().await;
}
