//! The real reqwest provider client (`scfm::provider::HttpProvider`) against the fake provider:
//! wire format of create/fetch/list and the classification of every failure (providers.md §4).

mod support;

use std::time::{Duration, Instant};

use scfm::provider::{
    CreateCall, HttpProvider, Provider, ProviderError, ProviderKind, create_error_text,
    fetch_error_text,
};
use support::fake_provider::{
    FakeConfig, FakeProvider, Fault, FaultAction, Flavour, GhostReply, NumberMatch, Scenario,
};

const TO: &str = "+85512345678";
const FROM: &str = "+85510999999";

fn client_for(fake: &FakeProvider, total: Duration) -> HttpProvider {
    let kind = match fake.flavour() {
        Flavour::Twilio => ProviderKind::Twilio,
        Flavour::Somleng => ProviderKind::Somleng,
    };
    HttpProvider::new(
        kind,
        fake.base_url(),
        Some(fake.account_sid()),
        Some(fake.auth_token()),
        Duration::from_secs(2),
        total,
    )
    .expect("client")
}

fn request(to: &str) -> CreateCall {
    let pairs = [
        ("To", to),
        ("From", FROM),
        (
            "Url",
            "https://scfm.example.org/api/remote_phone_call_events?attempt=7f3c",
        ),
        ("Method", "POST"),
        ("StatusCallbackEvent", "ringing"),
        ("StatusCallbackEvent", "completed"),
        ("Timeout", "45"),
    ];
    CreateCall {
        params: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

async fn twilio() -> (FakeProvider, HttpProvider) {
    // No TwiML run: the Url above is not reachable from tests.
    let mut config = FakeConfig::twilio();
    config.run_twiml = false;
    let fake = FakeProvider::start(config).await;
    let client = client_for(&fake, Duration::from_secs(5));
    (fake, client)
}

#[tokio::test]
async fn create_sends_form_and_parses_call() {
    let (fake, client) = twilio().await;
    let started = chrono::Utc::now();
    let call = client.create_call(&request(TO)).await.expect("created");
    assert!(
        call.sid.starts_with("CA") && call.sid.len() == 34,
        "{}",
        call.sid
    );
    assert_eq!(call.status.as_deref(), Some("queued"));
    assert_eq!(call.direction.as_deref(), Some("outbound-api"));
    assert_eq!(call.to.as_deref(), Some(TO));
    assert!(call.created_at().is_some());
    let reduced = call.reduced();
    assert_eq!(reduced["sid"], call.sid.as_str());
    assert_eq!(reduced["price"], serde_json::json!(0.0));

    let req = fake.requests().into_iter().last().expect("request");
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.path,
        format!("/2010-04-01/Accounts/{}/Calls.json", fake.account_sid())
    );
    let body = String::from_utf8(req.body.clone()).expect("utf8");
    assert!(
        body.starts_with("To=%2B85512345678&From=%2B85510999999&Url=https%3A%2F%2F"),
        "{body}"
    );
    assert!(
        body.contains("StatusCallbackEvent=ringing&StatusCallbackEvent=completed"),
        "{body}"
    );
    assert_eq!(
        req.basic_auth,
        Some((fake.account_sid(), fake.auth_token()))
    );
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("accept").as_deref(), Some("application/json"));
    assert_eq!(
        header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let params = fake.last_create_params().expect("params");
    assert_eq!(params, request(TO).params);
    assert_eq!(fake.creates_for(TO), 1);
    // Reconciliation finds it even though provider dates drop the sub-second part.
    let found = client.list_calls(TO, started).await.expect("list");
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn fetch_follows_the_call_to_its_end() {
    let (fake, client) = twilio().await;
    let created = client.create_call(&request(TO)).await.expect("created");
    let done = fake
        .wait_final(&created.sid, Duration::from_secs(5))
        .await
        .expect("call");
    assert_eq!(done.status, "completed");
    assert_eq!(
        done.history,
        ["queued", "initiated", "ringing", "in-progress", "completed"]
    );
    let fetched = client.fetch_call(&created.sid).await.expect("fetched");
    assert_eq!(fetched.sid, created.sid);
    assert_eq!(fetched.status.as_deref(), Some("completed"));
    assert!(fetched.raw["duration"].as_str().is_some_and(|d| d != "0"));

    let err = client
        .fetch_call("CA00000000000000000000000000000099")
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, ProviderError::Rejected { status: 404, .. }),
        "{err:?}"
    );
    assert!(fetch_error_text(&err).starts_with("Unable to fetch record: The requested resource"));
}

#[tokio::test]
async fn busy_scenario_by_destination() {
    let (fake, client) = twilio().await;
    fake.add_scenario(NumberMatch::Exact("+85512000001".into()), Scenario::busy());
    let created = client
        .create_call(&request("+85512000001"))
        .await
        .expect("created");
    let done = fake
        .wait_final(&created.sid, Duration::from_secs(5))
        .await
        .expect("call");
    assert_eq!(done.status, "busy");
    assert_eq!(done.duration, Some(0));
}

#[tokio::test]
async fn list_pages_newest_first_and_filters_since() {
    let mut config = FakeConfig::twilio();
    config.run_twiml = false;
    config.default_page_size = 2;
    let fake = FakeProvider::start(config).await;
    let client = client_for(&fake, Duration::from_secs(5));
    let before = chrono::Utc::now() - chrono::Duration::seconds(5);
    let mut sids = Vec::new();
    for _ in 0..5 {
        sids.push(client.create_call(&request(TO)).await.expect("created").sid);
    }
    client
        .create_call(&request("+85599999999"))
        .await
        .expect("other number");
    let listed = client.list_calls(TO, before).await.expect("listed");
    let listed: Vec<String> = listed.into_iter().map(|c| c.sid).collect();
    sids.reverse();
    assert_eq!(listed, sids);
    // The client sends PageSize=50, overriding the fake's default of 2: one GET, filtered by To.
    let gets: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(gets.len(), 1);
    assert!(
        gets[0]
            .raw_query
            .as_deref()
            .is_some_and(|q| q.contains("To=%2B85512345678"))
    );

    // Calls created before `since` stop the paging and are left out.
    let none = client
        .list_calls(TO, chrono::Utc::now() + chrono::Duration::seconds(60))
        .await
        .expect("listed");
    assert!(none.is_empty());
}

#[tokio::test]
async fn list_follows_next_page_uri() {
    let mut config = FakeConfig::somleng();
    config.run_twiml = false;
    let fake = FakeProvider::start(config).await;
    let client = client_for(&fake, Duration::from_secs(5));
    for _ in 0..120 {
        client.create_call(&request(TO)).await.expect("created");
    }
    let listed = client
        .list_calls(TO, chrono::Utc::now() - chrono::Duration::seconds(60))
        .await
        .expect("listed");
    assert_eq!(listed.len(), 120);
    let gets = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(gets, 3, "50 + 50 + 20");
}

#[tokio::test]
async fn wrong_token_is_unauthorized() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let client = HttpProvider::new(
        ProviderKind::Twilio,
        fake.base_url(),
        Some(fake.account_sid()),
        Some("wrong".into()),
        Duration::from_secs(2),
        Duration::from_secs(5),
    )
    .expect("client");
    let err = client.create_call(&request(TO)).await.expect_err("401");
    assert!(
        matches!(err, ProviderError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(
        create_error_text(&err),
        "Unable to create record: Authenticate"
    );
    assert!(!err.is_retryable_for_create() && !err.is_retryable_for_fetch());
    assert_eq!(fake.creates_for(TO), 0);
}

#[tokio::test]
async fn empty_sid_gets_twilio_404_text() {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let client = HttpProvider::new(
        ProviderKind::Twilio,
        fake.base_url(),
        None,
        None,
        Duration::from_secs(2),
        Duration::from_secs(5),
    )
    .expect("client");
    let err = client.create_call(&request(TO)).await.expect_err("404");
    assert!(
        matches!(err, ProviderError::Rejected { status: 404, code: Some(ref c), .. } if c == "20404"),
        "{err:?}"
    );
    assert_eq!(
        create_error_text(&err),
        "Unable to create record: The requested resource /2010-04-01/Accounts//Calls.json was not found"
    );
    assert_eq!(fake.requests()[0].path, "/2010-04-01/Accounts//Calls.json");
}

#[tokio::test]
async fn rate_limited_with_retry_after() {
    let (fake, client) = twilio().await;
    fake.add_fault(Fault::on_create(FaultAction::rate_limited(Some(7))));
    let err = client.create_call(&request(TO)).await.expect_err("429");
    match &err {
        ProviderError::RateLimited {
            retry_after,
            message,
        } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(7)));
            assert_eq!(message, "Too Many Requests");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.is_retryable_for_create());
    // Applied once: the retry goes through.
    client.create_call(&request(TO)).await.expect("second try");
    assert_eq!(fake.creates_for(TO), 1);
}

#[tokio::test]
async fn server_errors_are_unknown() {
    let (fake, client) = twilio().await;
    fake.add_fault(Fault::on_create(FaultAction::server_error()));
    let err = client.create_call(&request(TO)).await.expect_err("500");
    assert!(
        matches!(
            err,
            ProviderError::Unknown {
                status: Some(500),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable_for_create() && err.is_retryable_for_fetch());

    fake.add_fault(Fault::on_create(FaultAction::html(502)));
    let err = client.create_call(&request(TO)).await.expect_err("502");
    assert!(
        matches!(
            err,
            ProviderError::Unknown {
                status: Some(502),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.message().contains("502"), "{}", err.message());

    fake.add_fault(Fault::on_create(FaultAction::created_without_sid()));
    let err = client.create_call(&request(TO)).await.expect_err("no sid");
    assert!(
        matches!(
            err,
            ProviderError::Unknown {
                status: Some(201),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn non_json_200_is_unknown() {
    let (fake, client) = twilio().await;
    let created = client.create_call(&request(TO)).await.expect("created");
    fake.add_fault(Fault::on_fetch(FaultAction::non_json_ok()));
    let err = client.fetch_call(&created.sid).await.expect_err("non-json");
    assert!(
        matches!(
            err,
            ProviderError::Unknown {
                status: Some(200),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn hang_times_out_as_unknown() {
    let mut config = FakeConfig::twilio();
    config.run_twiml = false;
    let fake = FakeProvider::start(config).await;
    let client = client_for(&fake, Duration::from_millis(300));
    fake.add_fault(Fault::on_create(FaultAction::Delay(Duration::from_secs(5))));
    let started = Instant::now();
    let err = client.create_call(&request(TO)).await.expect_err("timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, ProviderError::Unknown { status: None, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable_for_create());
}

#[tokio::test]
async fn dropped_connection_is_unknown() {
    let (fake, client) = twilio().await;
    fake.add_fault(Fault::on_create(FaultAction::Drop));
    let err = client.create_call(&request(TO)).await.expect_err("dropped");
    assert!(
        matches!(err, ProviderError::Unknown { status: None, .. }),
        "{err:?}"
    );
    assert_eq!(fake.requests()[0].response_status, 0);
}

#[tokio::test]
async fn ghost_call_is_unknown_but_dialled_once() {
    let (fake, client) = twilio().await;
    fake.add_fault(Fault::on_create(FaultAction::Ghost(GhostReply::Drop)));
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    let err = client.create_call(&request(TO)).await.expect_err("ghost");
    assert!(matches!(err, ProviderError::Unknown { .. }), "{err:?}");
    assert_eq!(fake.creates_for(TO), 1);
    // Reconciliation finds the ghost.
    let found = client.list_calls(TO, since).await.expect("list");
    assert_eq!(found.len(), 1);
    assert!(fake.call(&found[0].sid).is_some_and(|c| c.ghost));
}

#[tokio::test]
async fn connection_refused_is_not_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let client = HttpProvider::new(
        ProviderKind::Twilio,
        base,
        Some("AC1".into()),
        Some("t".into()),
        Duration::from_secs(2),
        Duration::from_secs(5),
    )
    .expect("client");
    let err = client.create_call(&request(TO)).await.expect_err("refused");
    assert!(matches!(err, ProviderError::NotSent { .. }), "{err:?}");
    assert!(err.is_retryable_for_create());
    assert!(create_error_text(&err).starts_with("Unable to create record: "));

    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let client = client_for(&fake, Duration::from_secs(5));
    fake.stop().await;
    let err = client.fetch_call("CA1").await.expect_err("stopped");
    assert!(matches!(err, ProviderError::NotSent { .. }), "{err:?}");
}

#[tokio::test]
async fn somleng_flavour_shapes() {
    let mut config = FakeConfig::somleng();
    config.run_twiml = false;
    let fake = FakeProvider::start(config).await;
    let client = client_for(&fake, Duration::from_secs(5));
    let created = client.create_call(&request(TO)).await.expect("created");
    assert_eq!(created.sid.len(), 36, "uuid: {}", created.sid);
    assert_eq!(created.raw["subresource_uris"], serde_json::json!({}));

    // Validation: 422 with a string code.
    let mut missing_url = request(TO);
    missing_url.params.retain(|(k, _)| k != "Url");
    let err = client.create_call(&missing_url).await.expect_err("422");
    assert!(
        matches!(err, ProviderError::Rejected { status: 422, code: Some(ref c), .. } if c == "20422"),
        "{err:?}"
    );

    let err = client
        .create_call(&request("+85512349004"))
        .await
        .expect_err("invalid number");
    assert!(
        matches!(err, ProviderError::Rejected { status: 422, code: Some(ref c), .. } if c == "21211"),
        "{err:?}"
    );

    // Rails' generic 404: no message, so only the prefix is stored.
    let err = client
        .fetch_call("00000000-0000-4000-a000-000000000000")
        .await
        .expect_err("404");
    assert!(
        matches!(
            err,
            ProviderError::Rejected {
                status: 404,
                code: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fetch_error_text(&err), "Unable to fetch record");

    let bad = HttpProvider::new(
        ProviderKind::Somleng,
        fake.base_url(),
        Some(fake.account_sid()),
        Some("nope".into()),
        Duration::from_secs(2),
        Duration::from_secs(5),
    )
    .expect("client");
    let err = bad.fetch_call(&created.sid).await.expect_err("401");
    assert!(
        matches!(err, ProviderError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn twilio_validation_and_invalid_number() {
    let (_fake, client) = twilio().await;
    let err = client
        .create_call(&request("+85512349004"))
        .await
        .expect_err("21211");
    assert!(
        matches!(err, ProviderError::Rejected { status: 400, code: Some(ref c), .. } if c == "21211"),
        "{err:?}"
    );
    assert!(create_error_text(&err).contains("is not a valid phone number"));
    let mut no_from = request(TO);
    no_from.params.retain(|(k, _)| k != "From");
    let err = client.create_call(&no_from).await.expect_err("no from");
    assert!(
        matches!(err, ProviderError::Rejected { status: 400, .. }),
        "{err:?}"
    );
}
