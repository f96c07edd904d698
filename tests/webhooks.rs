//! The provider webhook: signatures (fail closed), events stored once, calls never moved
//! backwards, inbound callers, call flow TwiML, and a full outbound call where the fake provider
//! fetches TwiML and posts status callbacks to the real server.

#![allow(clippy::unwrap_used)]

mod support;

use scfm::provider::signature;
use serde_json::Value;
use std::time::Duration;
use support::fake_provider::{FakeConfig, FakeProvider};
use support::{TestServer, header};

const TOKEN: &str = "scfm-test-auth-token";

async fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.provider.account_sid = Some("AC00000000000000000000000000000001".into());
        c.provider.auth_token = Some(TOKEN.into());
        c.registry =
            scfm::call_flow::Registry::new(&["CallFlowLogic::OutcomeMonitoring".into()], None);
    })
    .await
}

/// POSTs a webhook signed over the URL the server sees; `token` None sends no signature.
async fn post(s: &TestServer, params: &[(&str, &str)], token: Option<&str>) -> reqwest::Response {
    s.post_webhook("/api/remote_phone_call_events", params, token)
        .send()
        .await
        .unwrap()
}

/// A server dialling through a fresh fake provider (polling every `poll`), with contact 1
/// (`msisdn`, form-encoded) in callout 1 as participation 1.
async fn fake_with_participation(msisdn: &str, poll: Duration) -> (FakeProvider, TestServer) {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let s = TestServer::start_with(|c| {
        c.provider.account_sid = Some(fake.account_sid());
        c.provider.auth_token = Some(fake.auth_token());
        c.provider.base_url = Some(fake.base_url());
        c.provider.poll_interval = poll;
    })
    .await;
    for (path, body) in [
        ("/api/contacts", format!("msisdn={msisdn}")),
        ("/api/callouts", String::new()),
        (
            "/api/callouts/1/callout_participations",
            "contact_id=1".into(),
        ),
    ] {
        let r = s.post_form(path, &body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{path}");
    }
    (fake, s)
}

async fn total(s: &TestServer, path: &str) -> String {
    header(&s.get(path).send().await.unwrap(), "total")
}

fn inbound<'a>(sid: &'a str, status: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", "AC00000000000000000000000000000001"),
        ("CallSid", sid),
        ("CallStatus", status),
        ("Direction", "inbound"),
        ("From", "+85510202101"),
        ("To", "+85512345678"),
        ("ApiVersion", "2010-04-01"),
    ]
}

#[tokio::test]
async fn signatures_fail_closed_and_store_nothing() {
    let s = server().await;
    let params = inbound("CAin1", "ringing");
    let r = post(&s, &params, None).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.text().await.unwrap(), "Twilio Request Validation Failed.");
    assert_eq!(post(&s, &params, Some("wrong-token")).await.status(), 403);
    // Signed, then one value altered in transit (replayed with altered params).
    let url = s.url("/api/remote_phone_call_events");
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sig = signature::compute(TOKEN, &url, &pairs);
    let altered = "AccountSid=AC00000000000000000000000000000001&CallSid=CAin1&CallStatus=completed&Direction=inbound&From=%2B85510202101&To=%2B85512345678&ApiVersion=2010-04-01";
    let r = s
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(altered)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(total(&s, "/api/remote_phone_call_events").await, "0");
    assert_eq!(total(&s, "/api/phone_calls").await, "0");
    // Behind a tunnel: the signature covers the public URL.
    let s = s
        .restart_with(|c| c.public_url = Some("https://abc.example.org".into()))
        .await;
    let public = "https://abc.example.org/api/remote_phone_call_events";
    let r = s
        .http
        .post(s.url("/api/remote_phone_call_events"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-twilio-signature",
            signature::compute(TOKEN, public, &pairs),
        )
        .body(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    s.stop().await;
}

#[tokio::test]
async fn inbound_caller_duplicates_and_out_of_order() {
    let s = server().await;
    let r = post(&s, &inbound("CAin1", "ringing"), Some(TOKEN)).await;
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "content-type"), "application/xml; charset=utf-8");
    assert_eq!(
        r.text().await.unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Thanks for trying our documentation. Enjoy!</Say><Play>http://demo.twilio.com/docs/classic.mp3</Play></Response>"
    );
    let contacts: Value = s
        .get("/api/contacts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(contacts[0]["msisdn"], "+85510202101");
    let call: Value = s
        .get("/api/phone_calls/1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(call["status"], "in_progress");
    assert_eq!(call["remote_direction"], "inbound");
    assert_eq!(call["callout_participation_id"], Value::Null);
    assert_eq!(call["call_flow_logic"], "CallFlowLogic::Application");

    // Final callback, then the same callback again, then a late `ringing`.
    let mut done = inbound("CAin1", "completed");
    done.push(("CallDuration", "12"));
    done.push(("CallbackSource", "call-progress-events"));
    assert_eq!(post(&s, &done, Some(TOKEN)).await.status(), 201);
    assert_eq!(post(&s, &done, Some(TOKEN)).await.status(), 201);
    let mut late = inbound("CAin1", "ringing");
    late.push(("SequenceNumber", "1"));
    assert_eq!(post(&s, &late, Some(TOKEN)).await.status(), 201);
    let call: Value = s
        .get("/api/phone_calls/1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(call["status"], "completed");
    assert_eq!(call["remote_status"], "completed");
    assert_eq!(
        total(&s, "/api/remote_phone_call_events").await,
        "3",
        "duplicate stored once"
    );
    assert_eq!(
        total(&s, "/api/phone_calls/1/remote_phone_call_events").await,
        "3"
    );
    let ev: Value = s
        .get("/api/remote_phone_call_events/1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ev["details"]["CallSid"], "CAin1");
    assert_eq!(ev["remote_direction"], "inbound");
    // A second call from the same number reuses the contact.
    assert_eq!(
        post(&s, &inbound("CAin2", "ringing"), Some(TOKEN))
            .await
            .status(),
        201
    );
    assert_eq!(total(&s, "/api/contacts").await, "1");
    // Event metadata can be updated; events cannot be deleted.
    let r = s
        .patch_form("/api/remote_phone_call_events/1", "metadata[seen]=yes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.delete("/api/remote_phone_call_events/1")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    s.stop().await;
}

#[tokio::test]
async fn invalid_webhook_answers_xml_errors() {
    let s = server().await;
    let r = post(&s, &[("CallSid", "CAx")], Some(TOKEN)).await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.text().await.unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<errors>\n  <error>Phone call is invalid</error>\n  <error>Remote direction can't be blank</error>\n</errors>\n"
    );
    // `.json` on the webhook is refused, `.xml` accepted.
    let r = s
        .http
        .post(s.url("/api/remote_phone_call_events.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
    s.stop().await;
}

#[tokio::test]
async fn outcome_monitoring_survey_steps_on_voice_requests_only() {
    let s = server().await;
    // An inbound caller on a contact whose calls run the survey: register the logic as default.
    let s = s
        .restart_with(|c| {
            c.registry = scfm::call_flow::Registry::new(
                &["CallFlowLogic::AvfCapom::CapomLong".into()],
                Some("CallFlowLogic::AvfCapom::CapomLong"),
            )
        })
        .await;
    let step = |digits: Option<&'static str>| {
        let mut p = inbound("CAsurvey", "in-progress");
        if let Some(d) = digits {
            p.push(("Digits", d));
        }
        p
    };
    let body = post(&s, &step(None), Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("playing_introduction.wav</Play><Redirect>"),
        "{body}"
    );
    let body = post(&s, &step(Some("")), Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("<Gather numDigits=\"1\"><Play>"), "{body}");
    assert!(body.contains("gathering_received_transfer.wav"), "{body}");
    // A status callback does not advance the flow.
    let mut cb = inbound("CAsurvey", "in-progress");
    cb.push(("CallbackSource", "call-progress-events"));
    post(&s, &cb, Some(TOKEN)).await;
    let body = post(&s, &step(Some("1")), Some(TOKEN))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("gathering_received_transfer_amount.wav") && body.contains("numDigits=\"3\""),
        "{body}"
    );
    let contact: Value = s
        .get("/api/contacts/1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        contact["metadata"]["call_flow_data"]["CallFlowLogic::AvfCapom::CapomLong"]["status"],
        "gathering_received_transfer_amount"
    );
    s.stop().await;
}

#[tokio::test]
async fn fake_provider_drives_a_real_call_through_the_webhook() {
    let (fake, s) = fake_with_participation("%2B85512345678", Duration::from_secs(600)).await;
    let hook = s.url("/api/remote_phone_call_events");
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("remote_request_params[from]", "+85510999999")
        .append_pair("remote_request_params[url]", &hook)
        .append_pair("remote_request_params[status_callback]", &hook)
        .append_pair("remote_request_params[status_callback_event][]", "ringing")
        .append_pair(
            "remote_request_params[status_callback_event][]",
            "completed",
        )
        .finish();
    let r = s
        .post_form("/api/callout_participations/1/phone_calls", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    s.post_form("/api/phone_calls/1/phone_call_events", "event=queue")
        .send()
        .await
        .unwrap();
    let v = s
        .wait_for("/api/phone_calls/1", |v| v["status"] == "completed")
        .await;
    assert_eq!(v["remote_status"], "completed");
    let hooks = fake.webhooks();
    assert!(!hooks.is_empty());
    assert!(
        hooks.iter().all(|h| format!("{h:?}").contains("201")),
        "{hooks:?}"
    );
    let events: u64 = total(&s, "/api/phone_calls/1/remote_phone_call_events")
        .await
        .parse()
        .unwrap();
    assert!(events >= 2, "voice request and callbacks stored: {events}");
    s.stop().await;
}

/// Forty calls dialled at once through the fake, whose compressed clock sends each call's
/// callbacks and voice request within milliseconds of its create: many arrive while the dialler
/// is still storing the create's answer. Every one must find its call (answered 201, never
/// "Phone call is invalid") and every call must complete from its webhooks alone (polling is
/// an hour away). On PostgreSQL such a webhook waits on the call's row lock and must then see
/// the stored `remote_call_id`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_racing_the_create_answer_find_their_call() {
    const CALLS: usize = 40;
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let s = TestServer::start_with(|c| {
        c.provider.account_sid = Some(fake.account_sid());
        c.provider.auth_token = Some(fake.auth_token());
        c.provider.base_url = Some(fake.base_url());
        c.provider.poll_interval = Duration::from_secs(3600);
    })
    .await;
    let hook = s.url("/api/remote_phone_call_events");
    let params = form_urlencoded::Serializer::new(String::new())
        .append_pair("remote_request_params[from]", "+85510999999")
        .append_pair("remote_request_params[url]", &hook)
        .append_pair("remote_request_params[status_callback]", &hook)
        .append_pair("remote_request_params[status_callback_event][]", "ringing")
        .append_pair("remote_request_params[status_callback_event][]", "answered")
        .append_pair(
            "remote_request_params[status_callback_event][]",
            "completed",
        )
        .finish();
    let r = s.post_form("/api/callouts", "").send().await.unwrap();
    assert_eq!(r.status(), 201);
    for i in 1..=CALLS {
        for (path, body) in [
            (
                "/api/contacts".to_string(),
                format!("msisdn=%2B8551230{i:04}"),
            ),
            (
                "/api/callouts/1/callout_participations".to_string(),
                format!("contact_id={i}"),
            ),
            (
                format!("/api/callout_participations/{i}/phone_calls"),
                params.clone(),
            ),
        ] {
            let r = s.post_form(&path, &body).send().await.unwrap();
            assert_eq!(r.status(), 201, "{path}: {}", r.text().await.unwrap());
        }
    }
    let queues: Vec<_> = (1..=CALLS)
        .map(|i| {
            let req = s.post_form(
                &format!("/api/phone_calls/{i}/phone_call_events"),
                "event=queue",
            );
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for q in queues {
        assert_eq!(q.await.unwrap(), 201);
    }
    for i in 1..=CALLS {
        s.wait_for(&format!("/api/phone_calls/{i}"), |v| {
            v["status"] == "completed"
        })
        .await;
    }
    let hooks = fake.webhooks();
    let refused: Vec<String> = hooks
        .iter()
        .filter(|h| h.status != Some(201) && h.status != Some(200))
        .map(|h| format!("{} {} {:?} {}", h.kind, h.call_sid, h.status, h.body))
        .collect();
    assert!(hooks.len() >= 3 * CALLS, "{} webhooks", hooks.len());
    assert!(refused.is_empty(), "webhooks refused: {refused:#?}");
    s.stop().await;
}

/// 64 status callbacks at once (so the group-commit writer batches them), one of which fails
/// inside its savepoint after its event was inserted (a trigger raises when that call is
/// completed): the 63 others are stored, answered 201 and visible to a fresh connection the
/// moment their answer arrives; the failing one gets its own apology, and neither its event nor
/// its call change is kept.
#[tokio::test]
async fn batched_webhooks_fail_alone_and_answer_after_commit() {
    if scfm::store::location::skip_on_postgres(
        "batched_webhooks_fail_alone_and_answer_after_commit",
        "injects faults with a SQLite trigger and reads the file with its own SQLite pool",
    ) {
        return;
    }
    const N: usize = 64;
    let s = server().await;
    let sids: Vec<String> = (0..N).map(|i| format!("CAbatch{i:03}")).collect();
    let froms: Vec<String> = (0..N).map(|i| format!("+8551020{i:04}")).collect();
    for (sid, from) in sids.iter().zip(&froms) {
        let mut p = inbound(sid, "ringing");
        p.retain(|(k, _)| *k != "From");
        p.push(("From", from));
        assert_eq!(post(&s, &p, Some(TOKEN)).await.status(), 201);
    }
    let bad = &sids[N / 2];
    assert_eq!(bad, "CAbatch032");
    let db = sqlx::sqlite::SqliteConnectOptions::new().filename(&s.db);
    let pool = sqlx::SqlitePool::connect_with(db.clone()).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER fault_injection BEFORE UPDATE ON phone_calls \
         WHEN OLD.remote_call_id = 'CAbatch032' AND NEW.remote_status = 'completed' \
         BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    let readers = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(N as u32)
        .connect_with(db.read_only(true))
        .await
        .unwrap();

    let url = s.url("/api/remote_phone_call_events");
    let mut tasks = Vec::new();
    for (sid, from) in sids.iter().zip(&froms) {
        let pairs: Vec<(String, String)> = [
            ("AccountSid", "AC00000000000000000000000000000001"),
            ("CallSid", sid),
            ("CallStatus", "completed"),
            ("CallDuration", "7"),
            ("CallbackSource", "call-progress-events"),
            ("Direction", "inbound"),
            ("From", from),
            ("To", "+85512345678"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let req = s
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "x-twilio-signature",
                signature::compute(TOKEN, &url, &pairs),
            )
            .body(body);
        let readers = readers.clone();
        let sid = sid.clone();
        tasks.push(tokio::spawn(async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            // Read at once on another connection: a 201 means the event is committed.
            let stored: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM remote_phone_call_events \
                 WHERE remote_call_id = ? AND details LIKE '%\"CallStatus\":\"completed\"%'",
            )
            .bind(&sid)
            .fetch_one(&readers)
            .await
            .unwrap();
            (sid, status, text, stored)
        }));
    }
    for t in tasks {
        let (sid, status, text, stored) = t.await.unwrap();
        if &sid == bad {
            assert_eq!(status, 200, "{sid}: {text}");
            assert_eq!(text, scfm::call_flow::twiml::apology(), "{sid}");
            assert_eq!(
                stored, 0,
                "{sid}: the failed webhook's event was rolled back"
            );
        } else {
            assert_eq!(status, 201, "{sid}: {text}");
            assert_eq!(stored, 1, "{sid} answered before its event was committed");
        }
    }
    let statuses: Vec<(String, String)> =
        sqlx::query_as("SELECT remote_call_id, status FROM phone_calls ORDER BY remote_call_id")
            .fetch_all(&readers)
            .await
            .unwrap();
    assert_eq!(statuses.len(), N);
    for (sid, status) in statuses {
        let want = if &sid == bad {
            "in_progress"
        } else {
            "completed"
        };
        assert_eq!(status, want, "{sid}");
    }
    assert_eq!(
        total(&s, "/api/remote_phone_call_events").await,
        (2 * N - 1).to_string()
    );
    // Once the fault is gone the provider's retry is stored.
    sqlx::query("DROP TRIGGER fault_injection")
        .execute(&pool)
        .await
        .unwrap();
    let from = &froms[N / 2];
    let retry = [
        ("AccountSid", "AC00000000000000000000000000000001"),
        ("CallSid", bad.as_str()),
        ("CallStatus", "completed"),
        ("CallDuration", "7"),
        ("CallbackSource", "call-progress-events"),
        ("Direction", "inbound"),
        ("From", from.as_str()),
        ("To", "+85512345678"),
    ];
    assert_eq!(post(&s, &retry, Some(TOKEN)).await.status(), 201);
    assert_eq!(
        total(&s, "/api/remote_phone_call_events").await,
        (2 * N).to_string()
    );
    let service = &s.running.as_ref().unwrap().service;
    let batches = service.webhook_batches().unwrap();
    eprintln!(
        "batched webhooks: {} jobs in {} batches",
        batches.jobs.load(std::sync::atomic::Ordering::Relaxed),
        batches.batches.load(std::sync::atomic::Ordering::Relaxed)
    );
    pool.close().await;
    readers.close().await;
    s.stop().await;
}

/// A webhook moves a dialled call to in_progress; its final webhook never comes. The poller must
/// still fetch it (a webhook keeps the poll already scheduled) and find it completed.
#[tokio::test]
async fn a_call_whose_final_webhook_is_lost_is_completed_by_polling() {
    let (fake, s) = fake_with_participation("%2B85512349555", Duration::from_secs(2)).await;
    s.post_form(
        "/api/callout_participations/1/phone_calls",
        "remote_request_params[from]=1234&remote_request_params[url]=https%3A%2F%2Fexample.org%2Ft",
    )
    .send()
    .await
    .unwrap();
    s.post_form("/api/phone_calls/1/phone_call_events", "event=queue")
        .send()
        .await
        .unwrap();
    let v = s
        .wait_for("/api/phone_calls/1", |v| v["remote_call_id"].is_string())
        .await;
    let sid = v["remote_call_id"].as_str().unwrap().to_string();
    // "ringing", well before the first poll (2 s after the dial).
    let pairs = [
        ("AccountSid", fake.account_sid()),
        ("CallSid", sid),
        ("CallStatus", "ringing".into()),
        ("Direction", "outbound-api".into()),
    ];
    let r = s
        .post_webhook(
            "/api/remote_phone_call_events",
            &pairs,
            Some(&fake.auth_token()),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let v: Value = s
        .get("/api/phone_calls/1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "in_progress", "{v}");
    let v = s
        .wait_for("/api/phone_calls/1", |v| v["status"] == "completed")
        .await;
    assert_eq!(v["remote_status"], "completed", "{v}");
    s.stop().await;
}
