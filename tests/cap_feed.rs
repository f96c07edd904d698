//! CAP feeds (issue 14), against a real HTTP feed on 127.0.0.1 (Atom, as national warning
//! services publish): one entry embeds its alert, one links to it by a relative URL, one is
//! expired, one links to nothing there. Each alert becomes exactly one draft, poll after poll;
//! a later Update replaces its draft; two services on one database never both take the poll's
//! turn. Then two real `scfm serve --cap-feed` processes on one database: one draft per alert,
//! about one feed read per interval between them (not one each), and the CLI reading the same
//! feed once. Both engines.

#![allow(clippy::unwrap_used)]

mod support;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use chrono::TimeZone;
use scfm::call_flow::Registry;
use scfm::domain::time::Clock;
use scfm::service::{CapOutcome, FeedResult, Service};
use scfm::store::{Location, Store};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::serve::{self, Serve};
use tempfile::TempDir;

const MAP_FILE: &str = "assets/area_map.example.toml";

/// The feed server's state: the feed's body, the alerts it links to, and how often the feed
/// itself was read.
#[derive(Clone, Default)]
struct Feed {
    body: Arc<Mutex<String>>,
    alerts: Arc<Mutex<HashMap<String, String>>>,
    reads: Arc<AtomicUsize>,
}

impl Feed {
    async fn serve(&self) -> String {
        async fn feed(
            State(f): State<Feed>,
        ) -> (StatusCode, [(&'static str, &'static str); 1], String) {
            f.reads.fetch_add(1, Ordering::SeqCst);
            let body = f.body.lock().unwrap().clone();
            (
                StatusCode::OK,
                [("content-type", "application/atom+xml")],
                body,
            )
        }
        async fn alert(
            State(f): State<Feed>,
            UrlPath(name): UrlPath<String>,
        ) -> (StatusCode, String) {
            match f.alerts.lock().unwrap().get(&name) {
                Some(xml) => (StatusCode::OK, xml.clone()),
                None => (StatusCode::NOT_FOUND, "no such alert".into()),
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new()
            .route("/warnings/feed.atom", axum::routing::get(feed))
            .route("/warnings/alerts/{name}", axum::routing::get(alert))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{addr}/warnings/feed.atom")
    }

    fn set(&self, entries: &[String]) {
        *self.body.lock().unwrap() = atom(entries);
    }

    fn link(&self, name: &str, xml: String) {
        self.alerts.lock().unwrap().insert(name.into(), xml);
    }
}

fn atom(entries: &[String]) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>urn:test:feed</id><title>Test warnings</title><updated>2026-12-04T10:00:00Z</updated>
  {}
</feed>"#,
        entries.join("\n")
    )
}

/// An entry that links to `href` (relative to the feed).
fn linked(id: &str, href: &str) -> String {
    format!(
        r#"<entry><id>{id}</id><title>{id}</title><updated>2026-12-04T10:00:00Z</updated>
<link rel="alternate" type="application/cap+xml" href="{href}"/></entry>"#
    )
}

/// An entry with its alert inside.
fn embedded(id: &str, alert: &str) -> String {
    let alert = alert.trim_start_matches(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    format!(
        r#"<entry><id>{id}</id><title>{id}</title><updated>2026-12-04T10:00:00Z</updated>
<content type="application/cap+xml">{alert}</content></entry>"#
    )
}

/// A one-area alert for Prey Veng (geocode KH-14), expiring at `expires`.
fn prey_veng_alert(identifier: &str, expires: &str) -> String {
    format!(
        r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier><sender>warnings@ncdm.example.org</sender>
  <sent>2026-12-04T09:00:00+07:00</sent><status>Actual</status><msgType>Alert</msgType>
  <scope>Public</scope>
  <info><language>en-US</language><category>Met</category><event>Flash flood</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty>
    <expires>{expires}</expires><headline>Flash flood in Prey Veng</headline>
    <instruction>Leave the river bank now.</instruction>
    <area><areaDesc>Prey Veng Province</areaDesc>
      <geocode><valueName>EMMA_ID</valueName><value>KH-14</value></geocode></area>
  </info>
</alert>"#
    )
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("tests/fixtures/cap/{name}")).unwrap()
}

/// A fixture with its expiry moved out of the way of the real clock (for the processes).
fn fixture_for_now(name: &str) -> String {
    fixture(name)
        .replace("2026-12-06T10:00:00", "2099-12-06T10:00:00")
        .replace("2026-12-07T10:00:00", "2099-12-07T10:00:00")
}

async fn service_on(location: &Location) -> Service {
    let store = Store::open(location.clone()).await.unwrap();
    // After the alert (03:00Z) and the update (09:30Z), before their expiry (Dec 6 and 7).
    let clock = Clock::manual(chrono::Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap());
    Service::new(
        store,
        clock,
        Registry::new(&["CallFlowLogic::PlayMessage".into()], None),
    )
}

fn drafted(r: &FeedResult) -> (i64, bool) {
    match r {
        FeedResult::Done(o) => match o.as_ref() {
            CapOutcome::Drafted {
                callout, replaced, ..
            } => (callout.id, *replaced),
            other => panic!("expected a draft, got {other:?}"),
        },
        other => panic!("expected a draft, got {other:?}"),
    }
}

async fn callout_count(svc: &Service) -> usize {
    let f = scfm::domain::filter::Filter::empty(scfm::domain::filter::Family::Callout);
    let page = scfm::domain::Page {
        page: 1,
        per_page: 100,
    };
    svc.callouts(None, &f, page).await.unwrap().items.len()
}

#[tokio::test]
async fn each_alert_of_a_feed_is_drafted_once_poll_after_poll() {
    let dir = TempDir::new().unwrap();
    let location = Location::for_tests(&dir.path().join("feed.sqlite3"));
    let svc = service_on(&location).await;
    let feed = Feed::default();
    let url = feed.serve().await;
    feed.link("0412.xml", fixture("flood_alert.xml"));
    feed.set(&[
        linked("e-0412", "alerts/0412.xml"),
        embedded(
            "e-0500",
            &prey_veng_alert("KH-NCDM-2026-0500", "2026-12-06T00:00:00+07:00"),
        ),
        embedded(
            "e-0300",
            &prey_veng_alert("KH-NCDM-2026-0300", "2026-12-03T00:00:00+07:00"),
        ),
        linked("e-gone", "alerts/gone.xml"),
    ]);
    let map = Path::new(MAP_FILE);

    let first = svc.poll_cap_feed(&url, map).await.unwrap();
    let entries: Vec<&str> = first.iter().map(|r| r.entry.as_str()).collect();
    assert_eq!(entries, ["e-0412", "e-0500", "e-0300", "e-gone"]);
    let (c0412, replaced) = drafted(&first[0].result);
    assert!(!replaced);
    let (c0500, _) = drafted(&first[1].result);
    assert_ne!(c0412, c0500);
    match &first[2].result {
        FeedResult::Skipped(why) => assert!(why.contains("expired"), "{why}"),
        other => panic!("the expired entry: {other:?}"),
    }
    match &first[3].result {
        FeedResult::Refused(why) => assert!(why.contains("404"), "{why}"),
        other => panic!("the broken link: {other:?}"),
    }
    assert_eq!(callout_count(&svc).await, 2);
    let c = svc.callout(c0412).await.unwrap();
    assert_eq!(c.metadata["cap_identifier"], "KH-NCDM-2026-0412");
    assert!(c.requires_approval);
    assert_eq!(c.status, "initialized", "nothing is dialled from a feed");

    // The same feed again: nothing new.
    let second = svc.poll_cap_feed(&url, map).await.unwrap();
    for r in &second[..2] {
        match &r.result {
            FeedResult::Skipped(why) => assert!(why.contains("imported already"), "{why}"),
            other => panic!("{}: {other:?}", r.entry),
        }
    }
    assert_eq!(callout_count(&svc).await, 2);

    // The agency publishes an Update of 0412: its draft is replaced, not a third one made.
    let mut entries = vec![embedded("e-0413", &fixture("flood_update.xml"))];
    entries.push(linked("e-0412", "alerts/0412.xml"));
    feed.set(&entries);
    let third = svc.poll_cap_feed(&url, map).await.unwrap();
    assert_eq!(drafted(&third[0].result), (c0412, true));
    assert!(matches!(third[1].result, FeedResult::Skipped(_)));
    assert_eq!(callout_count(&svc).await, 2);
    let c = svc.callout(c0412).await.unwrap();
    assert_eq!(c.metadata["cap_identifier"], "KH-NCDM-2026-0413");

    // Two services on the one database ask for the poll's turn at once: one gets it.
    let other = service_on(&location).await;
    let every = Duration::from_secs(3600);
    let (a, b) = tokio::join!(
        svc.take_cap_feed_turn(every),
        other.take_cap_feed_turn(every)
    );
    assert!(
        a.unwrap() ^ b.unwrap(),
        "exactly one of the two takes the turn"
    );
    assert!(!svc.take_cap_feed_turn(every).await.unwrap());
    assert!(!other.take_cap_feed_turn(every).await.unwrap());
}

/// `scfm serve` polling `url` every second, on `db`.
fn feed_serve(db: &Location, dir: &Path, name: &str, url: &str) -> (Serve, u16) {
    let port = serve::free_port();
    let mut cmd = serve::command_on(db, dir, port);
    cmd.args(["--cap-feed", url, "--cap-feed-interval", "1"])
        .args(["--area-map", MAP_FILE])
        .env("REGISTERED_CALL_FLOW_LOGIC", "CallFlowLogic::PlayMessage");
    (
        Serve::spawn(cmd, port, dir.join(format!("{name}.log"))),
        port,
    )
}

async fn cap_callouts(s: &Serve) -> Vec<Value> {
    s.get_json("/api/callouts?per_page=100")
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn two_serve_processes_share_one_feed_poll() {
    let dir = TempDir::new().unwrap();
    let db = Location::for_tests(&dir.path().join("serve.sqlite3"));
    // The database and its migrations exist before the two processes start.
    drop(Store::open(db.clone()).await.unwrap());
    let feed = Feed::default();
    let url = feed.serve().await;
    feed.link("0412.xml", fixture_for_now("flood_alert.xml"));
    feed.set(&[
        linked("e-0412", "alerts/0412.xml"),
        embedded(
            "e-0500",
            &prey_veng_alert("KH-NCDM-2026-0500", "2099-01-01T00:00:00+07:00"),
        ),
    ]);
    let (mut a, _) = feed_serve(&db, dir.path(), "a", &url);
    let (mut b, _) = feed_serve(&db, dir.path(), "b", &url);
    a.wait_up().await;
    b.wait_up().await;

    let started = Instant::now();
    let drafts = a
        .wait_for("/api/callouts", 20, |v| v.as_array().unwrap().len() >= 2)
        .await;
    let mut ids: Vec<&str> = drafts
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["metadata"]["cap_identifier"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["KH-NCDM-2026-0412", "KH-NCDM-2026-0500"]);
    for c in drafts.as_array().unwrap() {
        assert_eq!(c["status"], "initialized");
        assert_eq!(c["requires_approval"], true);
    }

    // Several intervals later: still one draft per alert, and the feed was read about once
    // per interval by the two together (each polling on its own would read it twice as often).
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(cap_callouts(&a).await.len(), 2);
    assert_eq!(cap_callouts(&b).await.len(), 2);
    let reads = feed.reads.load(Ordering::SeqCst);
    let secs = started.elapsed().as_secs_f64();
    assert!(
        reads >= 3 && (reads as f64) <= secs + 3.0,
        "{reads} reads of the feed in {secs:.1} s at one poll per second"
    );

    // A Cancel on the feed marks the draft; nothing is dialled, and nothing is made anew.
    let mut cancel = fixture("flood_cancel.xml");
    cancel = cancel.replace(
        "warnings@ncdm.example.org,KH-NCDM-2026-0413,2026-12-04T16:30:00+07:00",
        "",
    );
    feed.set(&[
        linked("e-0412", "alerts/0412.xml"),
        embedded("e-0414", &cancel),
    ]);
    let all = b
        .wait_for("/api/callouts", 20, |v| {
            v.as_array()
                .unwrap()
                .iter()
                .any(|c| c["metadata"]["cap_msg_type"] == "Cancel")
        })
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    for s in [&a, &b] {
        let log = s.log_text();
        assert!(!log.contains("panicked"), "{log}");
    }
}

#[test]
fn the_cli_reads_a_feed_once_and_reports_every_entry() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = TempDir::new().unwrap();
    let feed = Feed::default();
    let url = rt.block_on(feed.serve());
    feed.link("0412.xml", fixture_for_now("flood_alert.xml"));
    feed.set(&[
        linked("e-0412", "alerts/0412.xml"),
        embedded(
            "e-0300",
            &prey_veng_alert("KH-NCDM-2026-0300", "2020-01-01T00:00:00+07:00"),
        ),
        linked("e-gone", "alerts/gone.xml"),
    ]);
    let db = Location::for_tests(&dir.path().join("cli.sqlite3"));
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_scfm"))
            .args(["cap", "import", &url, "--area-map", MAP_FILE])
            .env("DATABASE_URL", db.as_url())
            .env("SCFM_DATA_DIR", dir.path())
            .env("REGISTERED_CALL_FLOW_LOGIC", "CallFlowLogic::PlayMessage")
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("feed: 3 entries"), "{stdout}");
    assert!(stdout.contains("callout 1 drafted"), "{stdout}");
    assert!(stdout.contains("entry e-0300: skipped"), "{stdout}");
    assert!(stdout.contains("expired"), "{stdout}");
    assert!(stderr.contains("entry e-gone: refused"), "{stderr}");
    assert_ne!(out.status.code(), Some(0), "a refused entry is a failure");

    let again = run();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("entry e-0412: skipped"), "{stdout}");
    assert!(!stdout.contains("callout 2"), "{stdout}");
}
