//! Built-in call flows walked through signed webhooks: registration (inbound), the keypad
//! survey, hello world (escaping contact text), play message, and SCFM's default. Every TwiML
//! answer is snapshotted with insta and parsed back with quick-xml.
#![allow(clippy::unwrap_used)]

mod support;

use scfm::call_flow::Registry;
use serde_json::Value;
use std::time::Duration;
use support::fake_provider::{FakeConfig, FakeProvider};
use support::{TestServer, header};

const TOKEN: &str = "scfm-test-auth-token";
const ALL: [&str; 4] = [
    "CallFlowLogic::HelloWorld",
    "CallFlowLogic::PlayMessage",
    "CallFlowLogic::OutcomeMonitoring",
    "CallFlowLogic::Registration",
];

async fn server(default: Option<&str>) -> TestServer {
    let names: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    let default = default.map(str::to_string);
    TestServer::start_with(move |c| {
        c.provider.account_sid = Some("AC00000000000000000000000000000001".into());
        c.provider.auth_token = Some(TOKEN.into());
        c.registry = Registry::new(&names, default.as_deref());
    })
    .await
}

/// Parses the document fully; panics on malformed XML.
fn well_formed(doc: &str) {
    let mut reader = quick_xml::Reader::from_str(doc);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("malformed TwiML {doc}: {e}"),
        }
    }
}

/// A signed voice request to `path` (which may carry the flow's position in its query).
async fn voice(
    s: &TestServer,
    path: &str,
    sid: &str,
    direction: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut pairs: Vec<(String, String)> = vec![
        (
            "AccountSid".into(),
            "AC00000000000000000000000000000001".into(),
        ),
        ("CallSid".into(), sid.into()),
        ("CallStatus".into(), "in-progress".into()),
        ("Direction".into(), direction.into()),
        ("From".into(), "+85510202101".into()),
        ("To".into(), "+85512345678".into()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let r = s
        .post_webhook(path, &pairs, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let doc = r.text().await.unwrap();
    well_formed(&doc);
    doc
}

/// The `action` URL path+query of the first Gather/Record in `doc` (where the next request goes).
fn action(s: &TestServer, doc: &str) -> String {
    let start = doc.find("action=\"").unwrap() + 8;
    let end = start + doc[start..].find('"').unwrap();
    doc[start..end].replace("&amp;", "&").replace(&s.base, "")
}

fn redact(s: &TestServer, doc: &str) -> String {
    doc.replace(&s.base, "http://scfm")
}

#[tokio::test]
async fn registration_creates_then_updates_the_caller() {
    let s = server(Some("CallFlowLogic::Registration")).await;
    let hook = "/api/remote_phone_call_events";
    let doc = voice(&s, hook, "CAreg1", "inbound", &[]).await;
    insta::assert_snapshot!("registration_1_language", redact(&s, &doc));
    // Invalid key: apology and the same question again (try 1).
    let doc = voice(
        &s,
        &action(&s, &doc),
        "CAreg1",
        "inbound",
        &[("Digits", "9")],
    )
    .await;
    insta::assert_snapshot!("registration_2_invalid", redact(&s, &doc));
    let doc = voice(
        &s,
        &action(&s, &doc),
        "CAreg1",
        "inbound",
        &[("Digits", "2")],
    )
    .await;
    insta::assert_snapshot!("registration_3_area_in_khmer", redact(&s, &doc));
    let doc = voice(
        &s,
        &action(&s, &doc),
        "CAreg1",
        "inbound",
        &[("Digits", "1")],
    )
    .await;
    insta::assert_snapshot!("registration_4_done", redact(&s, &doc));
    let c: Value = s
        .get("/api/contacts/1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["msisdn"], "+85510202101");
    assert_eq!(c["metadata"]["language"], "km");
    assert_eq!(c["metadata"]["province"], "Kandal");
    let ev: Value = s
        .get("/api/remote_phone_call_events/4")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ev["metadata"]["answer"], "1");
    assert_eq!(ev["metadata"]["flow_step"], "area");

    // A second call from the same number updates the same contact.
    let doc = voice(&s, hook, "CAreg2", "inbound", &[]).await;
    let doc = voice(
        &s,
        &action(&s, &doc),
        "CAreg2",
        "inbound",
        &[("Digits", "1")],
    )
    .await;
    voice(
        &s,
        &action(&s, &doc),
        "CAreg2",
        "inbound",
        &[("Digits", "2")],
    )
    .await;
    assert_eq!(
        header(&s.get("/api/contacts").send().await.unwrap(), "total"),
        "1"
    );
    let c: Value = s
        .get("/api/contacts/1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["metadata"]["language"], "en");
    assert_eq!(c["metadata"]["province"], "Takeo");

    // Silence until the retries run out: goodbye.
    let doc = voice(&s, hook, "CAreg3", "inbound", &[]).await;
    let doc = voice(&s, &action(&s, &doc), "CAreg3", "inbound", &[]).await;
    let doc = voice(&s, &action(&s, &doc), "CAreg3", "inbound", &[]).await;
    let doc = voice(&s, &action(&s, &doc), "CAreg3", "inbound", &[]).await;
    insta::assert_snapshot!("registration_5_silence", redact(&s, &doc));
    s.stop().await;
}

/// An outbound call whose flow context (callout, participation) is real: dialled through the
/// fake provider to a number it never answers, so only our requests drive the flow.
async fn outbound(
    s: &TestServer,
    fake: &FakeProvider,
    logic: &str,
    callout_meta: &str,
    name: &str,
) -> String {
    let body = format!("msisdn=%2B85512349002&metadata[name]={}", urlencode(name));
    assert_eq!(
        s.post_form("/api/contacts", &body)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let body = format!("call_flow_logic={logic}&{callout_meta}");
    assert_eq!(
        s.post_form("/api/callouts", &body)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    s.post_form("/api/callouts/1/callout_participations", "contact_id=1")
        .send()
        .await
        .unwrap();
    let r = s
        .post_form(
            "/api/callout_participations/1/phone_calls",
            "remote_request_params[from]=1234&remote_request_params[url]=https%3A%2F%2Fexample.org%2Ftwiml",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    s.post_form("/api/phone_calls/1/phone_call_events", "event=queue")
        .send()
        .await
        .unwrap();
    let v = s
        .wait_for("/api/phone_calls/1", |v| v["remote_call_id"].is_string())
        .await;
    let _ = fake;
    v["remote_call_id"].as_str().unwrap().to_string()
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn with_fake() -> (FakeProvider, TestServer) {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let names: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    let s = TestServer::start_with(|c| {
        c.provider.account_sid = Some(fake.account_sid());
        c.provider.auth_token = Some(fake.auth_token());
        c.provider.base_url = Some(fake.base_url());
        c.provider.poll_interval = Duration::from_secs(600);
        c.registry = Registry::new(&names, None);
    })
    .await;
    (fake, s)
}

async fn voice_as(
    s: &TestServer,
    fake: &FakeProvider,
    path: &str,
    sid: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut pairs: Vec<(String, String)> = vec![
        ("AccountSid".into(), fake.account_sid()),
        ("CallSid".into(), sid.into()),
        ("CallStatus".into(), "in-progress".into()),
        ("Direction".into(), "outbound-api".into()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let r = s
        .post_webhook(path, &pairs, Some(&fake.auth_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let doc = r.text().await.unwrap();
    well_formed(&doc);
    doc
}

#[tokio::test]
async fn outcome_monitoring_stores_answers_on_the_participation() {
    let (fake, s) = with_fake().await;
    let sid = outbound(
        &s,
        &fake,
        "CallFlowLogic::OutcomeMonitoring",
        "metadata[name]=Flood",
        "Alice",
    )
    .await;
    let hook = "/api/remote_phone_call_events";
    let doc = voice_as(&s, &fake, hook, &sid, &[]).await;
    insta::assert_snapshot!("survey_1_received", redact(&s, &doc));
    let doc = voice_as(&s, &fake, &action(&s, &doc), &sid, &[("Digits", "1")]).await;
    insta::assert_snapshot!("survey_2_safe", redact(&s, &doc));
    let doc = voice_as(&s, &fake, &action(&s, &doc), &sid, &[("Digits", "2")]).await;
    insta::assert_snapshot!("survey_3_record_help", redact(&s, &doc));
    let doc = voice_as(
        &s,
        &fake,
        &action(&s, &doc),
        &sid,
        &[("RecordingUrl", "https://rec.example/1.wav")],
    )
    .await;
    insta::assert_snapshot!("survey_4_thanks", redact(&s, &doc));
    let p: Value = s
        .get("/api/callout_participations/1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(p["metadata"]["received_warning"], "yes");
    assert_eq!(p["metadata"]["safe"], "no");
    assert_eq!(p["metadata"]["help_recording"], "https://rec.example/1.wav");
    // Hang-up in the middle: the final status callback completes the call and changes no answer.
    let doc = voice_as(
        &s,
        &fake,
        hook,
        &sid,
        &[
            ("CallStatus", "completed"),
            ("CallbackSource", "call-progress-events"),
        ],
    )
    .await;
    assert_eq!(
        doc,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"
    );
    let call: Value = s
        .get("/api/phone_calls/1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(call["status"], "completed");
    s.stop().await;
}

#[tokio::test]
async fn hello_world_escapes_contact_text() {
    let (fake, s) = with_fake().await;
    let sid = outbound(
        &s,
        &fake,
        "CallFlowLogic::HelloWorld",
        "metadata[x]=1",
        "<Bob> & ]]> \"Co\"",
    )
    .await;
    let doc = voice_as(&s, &fake, "/api/remote_phone_call_events", &sid, &[]).await;
    assert!(
        doc.contains("Hello &lt;Bob&gt; &amp; ]]&gt; &quot;Co&quot;."),
        "{doc}"
    );
    insta::assert_snapshot!("hello_world", redact(&s, &doc));
    s.stop().await;
}

#[tokio::test]
async fn play_message_plays_the_callout_audio_or_says_its_message() {
    let (fake, s) = with_fake().await;
    let meta = "metadata[audio_url]=https%3A%2F%2Fmedia.example.org%2Fwarning.wav";
    let sid = outbound(&s, &fake, "CallFlowLogic::PlayMessage", meta, "A").await;
    let doc = voice_as(&s, &fake, "/api/remote_phone_call_events", &sid, &[]).await;
    insta::assert_snapshot!("play_message_audio", redact(&s, &doc));
    // Without audio: the message is said.
    s.patch_form(
        "/api/callouts/1",
        "metadata_merge_mode=replace&metadata[message]=Flood+warning+for+Kandal",
    )
    .send()
    .await
    .unwrap();
    let doc = voice_as(
        &s,
        &fake,
        "/api/remote_phone_call_events",
        &sid,
        &[("Digits", "")],
    )
    .await;
    insta::assert_snapshot!("play_message_say", redact(&s, &doc));
    s.stop().await;
}

#[tokio::test]
async fn flows_check_reports_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"X\"\n[[step]]\nid = \"a\"\ntype = \"gather\"\nbranches = { \"1\" = \"zz\" }\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scfm"))
        .args(["flows", "check"])
        .arg(&bad)
        .env("SCFM_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bad.toml:5: a branch refers to a missing step \"zz\""),
        "{text}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scfm"))
        .args(["flows", "check", "assets/flows/registration.toml"])
        .env("SCFM_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(
        "flows_check_registration",
        String::from_utf8_lossy(&out.stdout)
    );
}
