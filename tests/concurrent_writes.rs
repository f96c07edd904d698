//! Read-then-write paths under truly concurrent requests, on one row each: merge PATCHes keep
//! every key, restricted deletes never answer 500 nor leave children behind, state transitions
//! apply once, and a webhook's flow turn and a PATCH of the same contact both survive. On
//! SQLite the write transaction (`BEGIN IMMEDIATE`) serializes them; on PostgreSQL (read
//! committed) the row locks of `store::locks` must (run with `SCFM_TEST_DATABASE` set).

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use support::TestServer;

/// How many requests race in each test.
const N: usize = 40;

const PARAMS: &str = "remote_request_params[from]=345&remote_request_params[url]=https%3A%2F%2Fdemo.twilio.com%2Fdocs%2Fvoice.xml&remote_request_params[method]=GET";

/// Sends every request at once (each on its own task, on a multi-thread runtime); the status
/// codes, in order.
async fn race(reqs: Vec<reqwest::RequestBuilder>) -> Vec<u16> {
    let tasks: Vec<_> = reqs
        .into_iter()
        .map(|r| tokio::spawn(async move { r.send().await.unwrap().status().as_u16() }))
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes
}

async fn create(s: &TestServer, path: &str, body: &str) -> i64 {
    let r = s.post_form(path, body).send().await.unwrap();
    assert_eq!(r.status(), 201, "{path} {body}");
    let v: Value = r.json().await.unwrap();
    v["id"].as_i64().unwrap()
}

async fn get(s: &TestServer, path: &str) -> (u16, Value) {
    let r = s.get(path).send().await.unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

fn msisdn(i: usize) -> String {
    format!("%2B2526623{i:05}")
}

/// Contact 1, callout 1, and contact 1's participation in it; the participation's id.
async fn participation(s: &TestServer) -> i64 {
    create(s, "/api/contacts", &format!("msisdn={}", msisdn(0))).await;
    create(s, "/api/callouts", "").await;
    create(s, "/api/callouts/1/callout_participations", "contact_id=1").await
}

/// `N` concurrent merge PATCHes of `path`, each adding its own key: every one answers 204 and
/// every key is there afterwards.
async fn merges_keep_every_key(s: &TestServer, path: &str) {
    let reqs = (0..N)
        .map(|i| s.patch_form(path, &format!("metadata[k{i}]={i}")))
        .collect();
    let codes = race(reqs).await;
    assert!(codes.iter().all(|c| *c == 204), "{path}: {codes:?}");
    let (_, v) = get(s, path).await;
    let meta = v["metadata"].as_object().unwrap();
    let lost: Vec<usize> = (0..N)
        .filter(|i| meta.get(&format!("k{i}")) != Some(&Value::from(i.to_string())))
        .collect();
    assert!(lost.is_empty(), "{path}: merge PATCHes lost keys {lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contact_merge_patches_keep_every_key() {
    let s = TestServer::start().await;
    create(&s, "/api/contacts", &format!("msisdn={}", msisdn(0))).await;
    merges_keep_every_key(&s, "/api/contacts/1").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callout_merge_patches_keep_every_key() {
    let s = TestServer::start().await;
    create(&s, "/api/callouts", "").await;
    merges_keep_every_key(&s, "/api/callouts/1").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn participation_merge_patches_keep_every_key() {
    let s = TestServer::start().await;
    let cp = participation(&s).await;
    merges_keep_every_key(&s, &format!("/api/callout_participations/{cp}")).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn phone_call_merge_patches_keep_every_key() {
    let s = TestServer::start().await;
    let cp = participation(&s).await;
    let call = create(
        &s,
        &format!("/api/callout_participations/{cp}/phone_calls"),
        PARAMS,
    )
    .await;
    merges_keep_every_key(&s, &format!("/api/phone_calls/{call}")).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batch_operation_merge_patches_keep_every_key() {
    let s = TestServer::start().await;
    create(&s, "/api/callouts", "").await;
    let op = create(
        &s,
        "/api/callouts/1/batch_operations",
        "type=BatchOperation::CalloutPopulation",
    )
    .await;
    merges_keep_every_key(&s, &format!("/api/batch_operations/{op}")).await;
    s.stop().await;
}

/// Each round: a fresh contact, then one DELETE of it racing `N - 1` participation creates for
/// it (each in a callout of its own). Every answer is a client answer (never 500), and the
/// outcome is one of the two serial orders: the contact is gone with no participation, or it
/// stays and the delete was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contact_delete_racing_participation_creates_is_restricted_or_clean() {
    let s = TestServer::start().await;
    let callouts: Vec<i64> = {
        let mut v = Vec::new();
        for _ in 1..N {
            v.push(create(&s, "/api/callouts", "").await);
        }
        v
    };
    for round in 0..20 {
        let contact = create(&s, "/api/contacts", &format!("msisdn={}", msisdn(round))).await;
        let mut reqs = Vec::new();
        let half = callouts.len() / 2;
        for (i, co) in callouts.iter().enumerate() {
            if i == half {
                reqs.push(s.delete(&format!("/api/contacts/{contact}")));
            }
            reqs.push(s.post_form(
                &format!("/api/callouts/{co}/callout_participations"),
                &format!("contact_id={contact}"),
            ));
        }
        let codes = race(reqs).await;
        assert!(codes.iter().all(|c| *c < 500), "round {round}: {codes:?}");
        let deleted = codes[half] == 204;
        let created = codes.iter().filter(|c| **c == 201).count();
        let (code, _) = get(&s, &format!("/api/contacts/{contact}")).await;
        if deleted {
            assert_eq!(code, 404, "round {round}");
            assert_eq!(
                created, 0,
                "round {round}: created children of a deleted contact"
            );
        } else {
            assert_eq!(code, 200, "round {round}");
            assert_eq!(codes[half], 422, "round {round}: {codes:?}");
            let listed = total(&s, &format!("/api/contacts/{contact}/callouts")).await;
            assert_eq!(listed, created, "round {round}");
        }
    }
    s.stop().await;
}

/// Each round: a fresh participation, then one DELETE of it racing `N - 1` phone call creates
/// on it: never 500, and never a call left whose participation was deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn participation_delete_racing_phone_call_creates_is_restricted_or_clean() {
    let s = TestServer::start().await;
    create(&s, "/api/contacts", &format!("msisdn={}", msisdn(0))).await;
    for round in 0..20 {
        let co = create(&s, "/api/callouts", "").await;
        let cp = create(
            &s,
            &format!("/api/callouts/{co}/callout_participations"),
            "contact_id=1",
        )
        .await;
        let half = N / 2;
        let reqs = (0..N)
            .map(|i| match i == half {
                true => s.delete(&format!("/api/callout_participations/{cp}")),
                false => s.post_form(
                    &format!("/api/callout_participations/{cp}/phone_calls"),
                    PARAMS,
                ),
            })
            .collect();
        let codes = race(reqs).await;
        assert!(codes.iter().all(|c| *c < 500), "round {round}: {codes:?}");
        let created = codes.iter().filter(|c| **c == 201).count();
        let calls = total(&s, &format!("/api/callouts/{co}/phone_calls")).await;
        if codes[half] == 204 {
            assert_eq!((created, calls), (0, 0), "round {round}: {codes:?}");
        } else {
            assert_eq!(codes[half], 422, "round {round}: {codes:?}");
            assert_eq!(calls, created, "round {round}");
        }
    }
    s.stop().await;
}

/// `N` concurrent `queue` events on one `created` call: exactly one applies, the others are
/// refused (never 500).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn phone_call_queue_events_apply_once() {
    let s = TestServer::start().await;
    let cp = participation(&s).await;
    let call = create(
        &s,
        &format!("/api/callout_participations/{cp}/phone_calls"),
        PARAMS,
    )
    .await;
    let reqs = (0..N)
        .map(|_| {
            s.post_form(
                &format!("/api/phone_calls/{call}/phone_call_events"),
                "event=queue",
            )
        })
        .collect();
    let codes = race(reqs).await;
    let applied = codes.iter().filter(|c| **c == 201).count();
    assert_eq!(applied, 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 201 || *c == 422), "{codes:?}");
    s.stop().await;
}

/// `N` concurrent `start` events on one callout: exactly one applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callout_start_events_apply_once() {
    let s = TestServer::start().await;
    create(&s, "/api/callouts", "").await;
    let reqs = (0..N)
        .map(|_| s.post_form("/api/callouts/1/callout_events", "event=start"))
        .collect();
    let codes = race(reqs).await;
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 201 || *c == 422), "{codes:?}");
    s.stop().await;
}

async fn total(s: &TestServer, path: &str) -> usize {
    let r = s.get(path).send().await.unwrap();
    support::header(&r, "total").parse().unwrap()
}

/// A population running while DELETEs of its batch operation keep arriving (four clients, one
/// request after another): each delete is refused (results exist), done before the run wrote
/// anything, or finds it gone; never 500, and the callout ends with all its participations or
/// none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batch_operation_delete_racing_its_run_is_restricted_or_clean() {
    const CONTACTS: usize = 2000;
    let s = TestServer::start().await;
    for chunk in (0..CONTACTS).collect::<Vec<_>>().chunks(N) {
        let reqs = chunk
            .iter()
            .map(|i| s.post_form("/api/contacts", &format!("msisdn={}", msisdn(*i))))
            .collect();
        assert!(race(reqs).await.iter().all(|c| *c == 201));
    }
    for round in 0..4 {
        let co = create(&s, "/api/callouts", "").await;
        let op = create(
            &s,
            &format!("/api/callouts/{co}/batch_operations"),
            "type=BatchOperation::CalloutPopulation",
        )
        .await;
        let path = format!("/api/batch_operations/{op}");
        let deleters: Vec<_> = (0..4)
            .map(|_| {
                let (http, url) = (s.http.clone(), s.url(&path));
                tokio::spawn(async move {
                    let mut codes = Vec::new();
                    for _ in 0..2000 {
                        let r = http.delete(&url).bearer_auth(support::TOKEN).send().await;
                        let code = r.unwrap().status().as_u16();
                        codes.push(code);
                        if code != 422 {
                            break;
                        }
                        let r = http.get(&url).bearer_auth(support::TOKEN).send().await;
                        let v: Value = r.unwrap().json().await.unwrap();
                        if v["status"] == "finished" {
                            break;
                        }
                    }
                    codes
                })
            })
            .collect();
        let r = s
            .post_form(&format!("{path}/batch_operation_events"), "event=queue")
            .send()
            .await
            .unwrap();
        let queued = r.status().as_u16();
        let mut codes = Vec::new();
        for d in deleters {
            codes.extend(d.await.unwrap());
        }
        assert!(
            codes.iter().all(|c| [204, 404, 422].contains(c)),
            "round {round}: {codes:?}"
        );
        // Wait for the run (if the operation survived) to finish.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let gone = loop {
            let (code, v) = get(&s, &path).await;
            if code == 404 {
                break true;
            }
            if v["status"] == "finished" || queued != 201 {
                break false;
            }
            assert!(std::time::Instant::now() < deadline, "round {round}: {v}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let members = total(&s, &format!("/api/callouts/{co}/callout_participations")).await;
        match gone {
            true => assert_eq!(members, 0, "round {round}: results of a deleted operation"),
            false => assert_eq!(members, CONTACTS, "round {round}: {codes:?}"),
        }
    }
    s.stop().await;
}

/// A population of an empty callout while participation creates for its contacts keep arriving
/// in the same callout (four clients, one request after another). The population inserts
/// without `ON CONFLICT` once it found the callout empty, so a create committing a row under it
/// would fail its run; the participation-inserts lock (`store::locks`) makes the create wait or
/// the population see it. Each create is made (201) or taken (422), never 500; the run
/// finishes; every contact is in the callout once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn population_of_an_empty_callout_racing_creates_in_it() {
    const CONTACTS: usize = 2000;
    let s = TestServer::start().await;
    for chunk in (0..CONTACTS).collect::<Vec<_>>().chunks(N) {
        let reqs = chunk
            .iter()
            .map(|i| s.post_form("/api/contacts", &format!("msisdn={}", msisdn(*i))))
            .collect();
        assert!(race(reqs).await.iter().all(|c| *c == 201));
    }
    let (_, contacts) = get(&s, "/api/contacts?per_page=1").await;
    let first = contacts[0]["id"].as_i64().unwrap();
    for round in 0..4 {
        let co = create(&s, "/api/callouts", "").await;
        let op = create(
            &s,
            &format!("/api/callouts/{co}/batch_operations"),
            "type=BatchOperation::CalloutPopulation",
        )
        .await;
        let path = format!("/api/batch_operations/{op}");
        let creators: Vec<_> = (0..4)
            .map(|t| {
                let (http, url) = (s.http.clone(), s.url(&path));
                let create = s.url(&format!("/api/callouts/{co}/callout_participations"));
                tokio::spawn(async move {
                    let mut codes = Vec::new();
                    // Contacts from the far end of the id range, which the run reaches last.
                    for k in 0..CONTACTS / 4 {
                        let contact = first + (CONTACTS - 1 - (4 * k + t)) as i64;
                        let r = http
                            .post(&create)
                            .bearer_auth(support::TOKEN)
                            .header("content-type", "application/x-www-form-urlencoded")
                            .body(format!("contact_id={contact}"))
                            .send()
                            .await;
                        codes.push(r.unwrap().status().as_u16());
                        let r = http.get(&url).bearer_auth(support::TOKEN).send().await;
                        let v: Value = r.unwrap().json().await.unwrap();
                        if v["status"] == "finished" {
                            break;
                        }
                    }
                    codes
                })
            })
            .collect();
        let r = s
            .post_form(&format!("{path}/batch_operation_events"), "event=queue")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "round {round}");
        let mut codes = Vec::new();
        for c in creators {
            codes.extend(c.await.unwrap());
        }
        assert!(
            codes.iter().all(|c| [201, 422].contains(c)),
            "round {round}: {codes:?}"
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (_, v) = get(&s, &path).await;
            if v["status"] == "finished" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "round {round}: {v}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let members = total(&s, &format!("/api/callouts/{co}/callout_participations")).await;
        assert_eq!(members, CONTACTS, "round {round}: {codes:?}");
    }
    s.stop().await;
}

const TOKEN: &str = "scfm-test-auth-token";
const SURVEY: &str = "CallFlowLogic::AvfCapom::CapomLong";

/// A server whose calls run the AVF survey (state kept in the contact's metadata).
async fn survey_server() -> TestServer {
    TestServer::start_with(|c| {
        c.provider.account_sid = Some("AC00000000000000000000000000000001".into());
        c.provider.auth_token = Some(TOKEN.into());
        c.registry = scfm::call_flow::Registry::new(&[SURVEY.into()], Some(SURVEY));
    })
    .await
}

/// One voice request of inbound call `sid` from `from`; `seq` makes each delivery distinct.
fn voice_turn(s: &TestServer, sid: &str, from: &str, seq: usize) -> reqwest::RequestBuilder {
    let seq = seq.to_string();
    let mut p = vec![
        ("AccountSid", "AC00000000000000000000000000000001"),
        ("CallSid", sid),
        ("CallStatus", "in-progress"),
        ("Direction", "inbound"),
        ("From", from),
        ("To", "+85512345678"),
        ("Sequence", seq.as_str()),
    ];
    if seq != "0" {
        p.push(("Digits", "1"));
    }
    s.post_webhook("/api/remote_phone_call_events", &p, Some(TOKEN))
}

/// Survey turns (each reading the caller's contact, then writing its survey state) racing `N`
/// merge PATCHes of that contact: every PATCHed key survives, and so does every turn (the
/// survey ends where the turns, applied in order, lead).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_flow_turns_and_contact_patches_both_survive() {
    let s = survey_server().await;
    let survey = scfm::call_flow::avf::survey(SURVEY).unwrap();
    for round in 0..3 {
        let sid = format!("CAround{round}");
        let from = format!("+8551020210{round}");
        let r = voice_turn(&s, &sid, &from, 0).send().await.unwrap();
        assert_eq!(r.status(), 201, "round {round}");
        let contact = round + 1;
        let mut expected = survey.step("initialized", None);
        let mut turns = 0;
        loop {
            let next = survey.step(&expected, Some("1"));
            if next == expected || next == "finished" {
                break;
            }
            expected = next;
            turns += 1;
        }
        let path = format!("/api/contacts/{contact}");
        let patches: Vec<_> = (0..N)
            .map(|i| s.patch_form(&path, &format!("metadata[k{i}]={i}")))
            .collect();
        let hooks: Vec<_> = (1..=turns)
            .map(|t| voice_turn(&s, &sid, &from, t))
            .collect();
        let webhook_task = tokio::spawn(async move {
            let mut codes = Vec::new();
            for h in hooks {
                codes.push(h.send().await.unwrap().status().as_u16());
            }
            codes
        });
        let codes = race(patches).await;
        assert!(codes.iter().all(|c| *c == 204), "round {round}: {codes:?}");
        let hook_codes = webhook_task.await.unwrap();
        assert!(hook_codes.iter().all(|c| *c == 201), "{hook_codes:?}");
        let (_, v) = get(&s, &path).await;
        let meta = &v["metadata"];
        let lost: Vec<usize> = (0..N)
            .filter(|i| meta[format!("k{i}")].as_str() != Some(i.to_string().as_str()))
            .collect();
        assert!(lost.is_empty(), "round {round}: PATCHes lost keys {lost:?}");
        assert_eq!(
            meta["call_flow_data"][SURVEY]["status"], expected,
            "round {round}: a survey turn was lost ({turns} turns)"
        );
    }
    // The events those turns stored: merge PATCHes of one keep every key.
    merges_keep_every_key(&s, "/api/remote_phone_call_events/1").await;
    s.stop().await;
}
