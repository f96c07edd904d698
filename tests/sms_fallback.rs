//! The SMS fallback of issue 15 against the fake provider, on either engine
//! (`Location::for_tests`: PostgreSQL when SCFM_TEST_DATABASE is set): a text goes exactly once
//! to each person the calls did not reach and to nobody reached, at the callout's own
//! messages-per-second, its signed status callbacks stored (delivered / failed); bad settings
//! are a 422 that changes nothing; and a `scfm serve` killed with `kill -9` mid-run and
//! restarted loses no text and sends none twice.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::TestServer;
use support::fake_provider::{FakeProvider, Fault, FaultAction, GhostReply, PathMatch};
use support::sms::{
    KHMER, dialing, fake_config, json_at, max_per_second, people, spawn, start_campaign, use_fake,
    wait_campaign_over,
};

#[tokio::test]
async fn texts_go_once_to_each_unreached_person_paced_and_their_callbacks_are_stored() {
    let fake = FakeProvider::start(fake_config()).await;
    let s = TestServer::start_reachable(|c| use_fake(c, &fake)).await;
    let (reached, unreached) = people(6, 5, 4);
    let (id, callout) = start_campaign(
        &s,
        &[reached.clone(), unreached.clone()].concat(),
        dialing(3.0),
    )
    .await;
    // Seen before start: the Khmer text needs UCS-2 and two segments.
    let f = &callout["dialing"]["sms_fallback"];
    assert_eq!(
        (f["encoding"].as_str(), f["segments"].as_i64()),
        (Some("UCS-2"), Some(2)),
        "{f}"
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    let summary = loop {
        let v: Value = json_at(&s, &format!("/api/callouts/{id}/text_message_summary")).await;
        let done = v["by_status"]["delivered"].as_i64().unwrap_or(0)
            + v["by_status"]["failed"].as_i64().unwrap_or(0);
        if done == unreached.len() as i64 {
            break v;
        }
        assert!(Instant::now() < deadline, "texts did not finish: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(summary["texts"], unreached.len() as i64, "{summary}");
    assert_eq!(summary["segments"], 2 * unreached.len() as i64, "{summary}");
    assert_eq!(summary["by_status"]["delivered"], 5, "{summary}");
    assert_eq!(summary["by_status"]["failed"], 4, "{summary}");

    // Exactly once to each unreached person, never to anyone reached.
    let messages = fake.messages();
    assert_eq!(messages.len(), unreached.len());
    for n in &unreached {
        assert_eq!(fake.message_creates_for(n), 1, "{n}");
    }
    for n in &reached {
        assert_eq!(
            fake.message_creates_for(n),
            0,
            "{n} was reached and got a text"
        );
    }
    assert!(messages.iter().all(|m| m.body == KHMER && m.from == "1234"));
    // Each person's calls were over before their text: both attempts made.
    for n in &unreached {
        assert_eq!(fake.creates_for(n), 2, "{n}");
    }

    // Paced: no one-second window at the fake over the callout's 3 texts per second.
    let times = fake.message_create_times();
    let max = max_per_second(&times);
    assert!(max <= 3, "{max} texts within one second: {times:?}");
    println!(
        "texts sent: {}, distinct numbers: {}, max in any 1 s: {max} (cap 3)",
        times.len(),
        messages
            .iter()
            .map(|m| &m.to)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );

    // Every callback was signed, accepted and stored.
    let hooks: Vec<_> = fake
        .webhooks()
        .into_iter()
        .filter(|w| w.kind == "message_status")
        .collect();
    assert_eq!(hooks.len(), 2 * unreached.len());
    assert!(hooks.iter().all(|w| w.status == Some(204)), "{hooks:?}");
    let texts: Vec<Value> = json_at(&s, &format!("/api/callouts/{id}/text_messages")).await;
    let by_number: BTreeMap<&str, &Value> = texts
        .iter()
        .map(|t| (t["msisdn"].as_str().unwrap(), t))
        .collect();
    for m in &messages {
        let t = by_number[m.to.as_str()];
        assert_eq!(t["remote_message_id"], m.sid.as_str());
        if m.to.ends_with("9003") {
            assert_eq!(
                (t["status"].as_str(), t["error_code"].as_str()),
                (Some("failed"), Some("30003")),
                "{t}"
            );
        } else {
            assert_eq!(t["status"], "delivered", "{t}");
        }
    }

    // A callback without a valid signature is refused and changes nothing.
    let sid = messages[0].sid.clone();
    let forged = [
        ("MessageSid", sid.as_str()),
        ("MessageStatus", "undelivered"),
    ];
    for token in [None, Some("not-the-token")] {
        let r = s
            .post_webhook("/api/remote_text_message_events", &forged, token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    // A late `sent` never moves a delivered text back; a signed one is accepted.
    let late = [("MessageSid", sid.as_str()), ("MessageStatus", "sent")];
    let r = s
        .post_webhook(
            "/api/remote_text_message_events",
            &late,
            Some(&fake.auth_token()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let again: Vec<Value> = json_at(&s, &format!("/api/callouts/{id}/text_messages")).await;
    assert_eq!(again, texts, "a forged or late callback changed a text");

    // Journaled like call events: each create's answer and each applied status, by the provider.
    let service = &s.running.as_ref().unwrap().service;
    let entries = service.journal_entries(Some(id), 0, 5000).await.unwrap();
    let of = |action: &str| {
        entries
            .iter()
            .filter(|e| e.action == action && e.subject.starts_with("text_message:"))
            .inspect(|e| assert_eq!(e.actor, "provider"))
            .count()
    };
    assert_eq!(of("provider.text_message_created"), unreached.len());
    // queued -> sent -> delivered/failed: two applied statuses each (callback or poll).
    assert_eq!(of("provider.text_message_status"), 2 * unreached.len());
    assert!(service.verify_journal().await.unwrap().broken.is_none());
    s.stop().await;
}

#[tokio::test]
async fn bad_fallback_settings_are_a_422_that_changes_nothing() {
    let s = TestServer::start().await;
    for bad in [
        json!({"body": ""}),
        json!({"body": "x".repeat(1601)}),
        json!({"body": "ok", "max_messages_per_second": 0}),
        json!({"body": "ok", "bogus": 1}),
    ] {
        let r = s
            .http
            .post(s.url("/api/callouts"))
            .bearer_auth(support::TOKEN)
            .json(&json!({"dialing": {"from": "1", "twiml_url": "u", "sms_fallback": bad}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let v: Value = r.json().await.unwrap();
        assert!(v["errors"]["dialing"].is_array(), "{v}");
    }
    let r = s.get("/api/callouts").send().await.unwrap();
    assert_eq!(r.headers()["total"], "0");
    // A GSM-7 text that fits one message says so.
    let c = s
        .post_json(
            "/api/callouts",
            json!({"dialing": {"from": "1", "twiml_url": "u",
            "sms_fallback": {"body": "Flood warning: go to high ground now."}}}),
        )
        .await;
    let f = &c["dialing"]["sms_fallback"];
    assert_eq!(
        (f["encoding"].as_str(), f["segments"].as_i64()),
        (Some("GSM-7"), Some(1))
    );
    assert_eq!(f["max_messages_per_second"], 1.0);
    s.stop().await;
}

#[tokio::test]
async fn kill_dash_nine_mid_run_loses_no_text_and_sends_none_twice() {
    let fake = FakeProvider::start(fake_config()).await;
    // Each create is processed at once but answered 300 ms later: a kill is likely to land
    // between a text's claim and its answer, the case reconciliation must settle.
    fake.add_fault(
        Fault::new(
            Some("POST"),
            PathMatch::Contains("/Messages.json".into()),
            FaultAction::Ghost(GhostReply::Delay(Duration::from_millis(300))),
        )
        .always(),
    );
    let dir = tempfile::tempdir().unwrap();
    let db = scfm::store::Location::for_tests(&dir.path().join("sms.sqlite3"));
    let mut s = spawn(&db, dir.path(), &fake, 0);
    s.wait_up().await;
    let (reached, unreached) = people(5, 15, 10);
    let mut d = dialing(5.0);
    d["max_attempts"] = json!(1);
    for n in reached.iter().chain(&unreached) {
        s.post_json("/api/contacts", json!({ "msisdn": n })).await;
    }
    let callout = s.post_json("/api/callouts", json!({ "dialing": d })).await;
    let id = callout["id"].as_i64().unwrap();
    let pop = s
        .post_json(
            &format!("/api/callouts/{id}/batch_operations"),
            json!({"type": "BatchOperation::CalloutPopulation"}),
        )
        .await;
    s.post_json(
        &format!("/api/batch_operations/{}/batch_operation_events", pop["id"]),
        json!({"event": "queue"}),
    )
    .await;
    s.wait_for(&format!("/api/batch_operations/{}", pop["id"]), 20, |v| {
        v["status"] == "finished"
    })
    .await;
    s.post_json(
        &format!("/api/callouts/{id}/callout_events"),
        json!({"event": "start"}),
    )
    .await;

    // Kill twice while texts go out, restarting each time.
    for k in 1..=2 {
        let want = k * unreached.len() / 3;
        let deadline = Instant::now() + Duration::from_secs(60);
        while fake.messages().len() < want {
            assert!(Instant::now() < deadline, "texts stalled before kill {k}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        s.kill(); // SIGKILL
        s = spawn(&db, dir.path(), &fake, k);
        s.wait_up().await;
    }

    // Every text settles: sent once and final, or (killed before its request left) unknown.
    let deadline = Instant::now() + Duration::from_secs(90);
    let texts: Vec<Value> = loop {
        let texts: Vec<Value> = s
            .get_json(&format!("/api/callouts/{id}/text_messages"))
            .await
            .as_array()
            .cloned()
            .unwrap_or_default();
        let settled = texts.len() == unreached.len()
            && texts.iter().all(|t| {
                matches!(
                    t["status"].as_str(),
                    Some("delivered" | "failed" | "unknown")
                )
            });
        if settled {
            break texts;
        }
        assert!(Instant::now() < deadline, "texts did not settle: {texts:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut unknown = 0;
    for t in &texts {
        let n = t["msisdn"].as_str().unwrap();
        let creates = fake.message_creates_for(n);
        assert!(creates <= 1, "{n} got {creates} texts");
        if t["status"] == "unknown" {
            // Only a text whose request never reached the provider may stay unknown.
            assert_eq!(creates, 0, "{t}");
            unknown += 1;
        } else {
            assert_eq!(creates, 1, "{t}");
        }
    }
    for n in &reached {
        assert_eq!(
            fake.message_creates_for(n),
            0,
            "{n} was reached and got a text"
        );
    }
    // Paced across the restarts: when the fake created each text (answered or not).
    let mut times: Vec<_> = fake.messages().iter().map(|m| m.created_at).collect();
    times.sort();
    let max = max_per_second(&times);
    assert!(max <= 5, "{max} texts within one second");
    // Texts whose create was processed but never answered (the process died): reconciled.
    let answered = fake.message_create_times().len();
    let distinct = fake
        .messages()
        .iter()
        .map(|m| m.to.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    println!(
        "after 2 kills: {} texts sent to {distinct} distinct numbers of {} unreached, {} of them \
         settled by reconciliation, {unknown} unknown, max in any 1 s: {max} (cap 5)",
        times.len(),
        unreached.len(),
        times.len() - answered
    );
    s.kill();
}

#[tokio::test]
async fn two_services_on_one_database_never_claim_one_text_twice() {
    // No provider: every call ends errored (unreached), and no sender runs in the server.
    let s = TestServer::start().await;
    for i in 0..40 {
        s.post_json(
            "/api/contacts",
            json!({ "msisdn": format!("+85512{i:02}5555") }),
        )
        .await;
    }
    let callout = s
        .post_json("/api/callouts", json!({"dialing": dialing(1000.0)}))
        .await;
    let id = callout["id"].as_i64().unwrap();
    s.populate(id).await;
    s.post_json(
        &format!("/api/callouts/{id}/callout_events"),
        json!({"event": "start"}),
    )
    .await;
    wait_campaign_over(&s, id).await;
    let open = || async {
        let store = scfm::store::Store::open(s.config.database.clone())
            .await
            .unwrap();
        scfm::service::Service::new(
            store,
            scfm::domain::time::Clock::System,
            scfm::call_flow::Registry::new(&[], None),
        )
    };
    let (a, b) = (open().await, open().await);
    // Both queue at once: one text per participation whatever the race.
    let (qa, qb) = tokio::join!(a.enqueue_text_messages(), b.enqueue_text_messages());
    assert_eq!(qa.unwrap() + qb.unwrap(), 40);
    assert_eq!(a.enqueue_text_messages().await.unwrap(), 0);
    async fn drain(svc: &scfm::service::Service) -> Vec<i64> {
        let mut got = Vec::new();
        loop {
            match svc.claim_text().await.unwrap() {
                scfm::service::TextTurn::Claimed(t, _) => got.push(t.id),
                scfm::service::TextTurn::Wait(d) => tokio::time::sleep(d).await,
                scfm::service::TextTurn::Idle => return got,
            }
        }
    }
    let (ga, gb) = tokio::join!(drain(&a), drain(&b));
    let mut all: Vec<i64> = ga.iter().chain(&gb).copied().collect();
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), n, "a text was claimed twice");
    assert_eq!(n, 40);
    println!(
        "claims: {} by one service, {} by the other",
        ga.len(),
        gb.len()
    );
    let summary = a.text_message_summary(id).await.unwrap();
    assert_eq!(summary.by_status.get("sending"), Some(&40));
    s.stop().await;
}

#[tokio::test]
async fn an_unknown_outcome_is_never_resent_and_a_429_is() {
    let fake = FakeProvider::start(fake_config()).await;
    // The first create request is refused with 429 (not processed: that text is sent again),
    // the second is processed but answered 500 (outcome unknown: never sent again).
    fake.add_fault(Fault::new(
        Some("POST"),
        PathMatch::Contains("/Messages.json".into()),
        FaultAction::rate_limited(None),
    ));
    // Faults apply in order, each once: the second create request meets this one.
    fake.add_fault(Fault::new(
        Some("POST"),
        PathMatch::Contains("/Messages.json".into()),
        FaultAction::Ghost(GhostReply::Status(500)),
    ));
    // Not reachable: no status callback could adopt the unknown text (one would, with the
    // SID it carries); polls see the others delivered.
    let s = TestServer::start_with(|c| use_fake(c, &fake)).await;
    let (_, unreached) = people(0, 3, 0);
    let mut d = dialing(5.0);
    d["max_attempts"] = json!(1);
    let (id, _) = start_campaign(&s, &unreached, d).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let summary = loop {
        let v: Value = json_at(&s, &format!("/api/callouts/{id}/text_message_summary")).await;
        if v["by_status"]["delivered"].as_i64().unwrap_or(0)
            + v["by_status"]["unknown"].as_i64().unwrap_or(0)
            == 3
        {
            break v;
        }
        assert!(Instant::now() < deadline, "texts did not finish: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Whichever text met the 500 stays unknown with its one (ghost) message; the others were
    // delivered once, the 429'd one after a second request.
    assert_eq!(summary["by_status"]["unknown"], 1, "{summary}");
    assert_eq!(summary["by_status"]["delivered"], 2, "{summary}");
    let texts: Vec<Value> = json_at(&s, &format!("/api/callouts/{id}/text_messages")).await;
    for t in &texts {
        let n = t["msisdn"].as_str().unwrap();
        assert_eq!(fake.message_creates_for(n), 1, "{t}");
        if t["status"] == "unknown" {
            assert!(
                t["error_message"].as_str().unwrap().contains("not resent"),
                "{t}"
            );
        } else {
            // The 429'd text, accepted later, carries no error.
            assert!(t["error_message"].is_null(), "{t}");
        }
    }
    let requests = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/Messages.json"))
        .count();
    assert_eq!(requests, 4, "one 429, one 500, two accepted");
    s.stop().await;
}

#[tokio::test]
async fn refused_credentials_hold_texts_until_the_provider_answers_again() {
    let fake = FakeProvider::start(fake_config()).await;
    fake.add_fault(Fault::new(
        Some("POST"),
        PathMatch::Contains("/Messages.json".into()),
        FaultAction::unauthorized(),
    ));
    let s = TestServer::start_reachable(|c| use_fake(c, &fake)).await;
    let (_, unreached) = people(0, 2, 0);
    let mut d = dialing(5.0);
    d["max_attempts"] = json!(1);
    let (id, _) = start_campaign(&s, &unreached, d).await;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let v: Value = json_at(&s, &format!("/api/callouts/{id}/text_message_summary")).await;
        if v["by_status"]["delivered"] == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "texts not delivered after the hold: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The refused request was not processed: that text went out once afterwards.
    for n in &unreached {
        assert_eq!(fake.message_creates_for(n), 1, "{n}");
    }
    let posts = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/Messages.json"))
        .count();
    assert_eq!(posts, 3, "one refused, two accepted");
    s.stop().await;
}
