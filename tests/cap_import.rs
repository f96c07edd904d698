//! CAP alerts in (issue 14): real-shaped CAP 1.2 alerts (tests/fixtures/cap/) through the
//! example area map (assets/area_map.example.toml) become draft callouts with the right areas,
//! filters and counts; nothing is dialled until a second operator approves; Update replaces
//! the draft, Cancel marks it, and both only ask when the callout is already dialling; expired,
//! malformed and hostile alerts are refused with a message (and a line). The CLI once. Both
//! engines (the clock is fixed, so the fixtures' expiry dates never make this fail).

#![allow(clippy::unwrap_used)]

use chrono::TimeZone;
use scfm::call_flow::Registry;
use scfm::domain::actor::Actor;
use scfm::domain::cap::parse_area_map;
use scfm::domain::metadata::MergeMode;
use scfm::domain::time::Clock;
use scfm::service::{CapOutcome, ContactInput, Error, Service};
use scfm::store::{Location, Store};
use serde_json::{Value, json};
use tempfile::TempDir;

const MAP: &str = include_str!("../assets/area_map.example.toml");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("tests/fixtures/cap/{name}")).unwrap()
}

async fn service(dir: &TempDir) -> Service {
    let store = Store::open(Location::for_tests(&dir.path().join("cap.sqlite3")))
        .await
        .unwrap();
    // Between the alert (03:00Z) and its expiry (Dec 6), after the update was sent (09:30Z).
    let clock = Clock::manual(chrono::Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap());
    Service::new(
        store,
        clock,
        Registry::new(&["CallFlowLogic::PlayMessage".into()], None),
    )
}

async fn people(svc: &Service) {
    let rows: [(&str, Value); 8] = [
        ("+85512000001", json!({"province": "Kandal"})),
        ("+85512000002", json!({"province": "Kandal"})),
        ("+85512000003", json!({"province": "Kandal"})),
        ("+85512000004", json!({"province": "Phnom Penh"})),
        ("+85512000005", json!({"province": "Phnom Penh"})),
        (
            "+85512000006",
            json!({"province": "Prey Veng", "riverside": true}),
        ),
        (
            "+85512000007",
            json!({"province": "Prey Veng", "riverside": false}),
        ),
        ("+85512000008", json!({"province": "Takeo"})),
    ];
    for (m, meta) in rows {
        svc.create_contact(ContactInput {
            msisdn: Some(m.into()),
            metadata: meta.as_object().cloned(),
            merge_mode: MergeMode::Merge,
        })
        .await
        .unwrap();
    }
}

fn refused(r: Result<CapOutcome, Error>) -> String {
    match r {
        Err(Error::Invalid(v)) => v.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn alerts_become_drafts_with_the_right_areas_and_follow_ups_update_them() {
    let dir = TempDir::new().unwrap();
    let svc = service(&dir).await;
    people(&svc).await;
    let map = parse_area_map(MAP).unwrap();

    let CapOutcome::Drafted {
        callout,
        areas,
        unmatched,
        replaced,
    } = svc
        .import_cap(&fixture("flood_alert.xml"), &map)
        .await
        .unwrap()
    else {
        panic!("no draft")
    };
    assert!(!replaced);
    assert!(callout.requires_approval);
    assert_eq!(callout.status, "initialized");
    assert_eq!(
        callout.call_flow_logic.as_deref(),
        Some("CallFlowLogic::PlayMessage")
    );
    assert_eq!(callout.metadata["cap_identifier"], "KH-NCDM-2026-0412");
    assert!(!callout.metadata["message"].as_str().unwrap().is_empty());
    let got: Vec<(String, i64)> = areas.iter().map(|a| (a.name.clone(), a.people)).collect();
    assert_eq!(
        got,
        [
            ("Kandal".to_string(), 3),
            ("Phnom Penh".into(), 2),
            ("Prey Veng riverside".into(), 1)
        ]
    );
    assert!(
        unmatched.iter().any(|u| u == "Takeo Province"),
        "{unmatched:?}"
    );
    // The previews select exactly those people.
    for a in &areas {
        let op = svc
            .batch_operation(a.batch_operation_id, &[])
            .await
            .unwrap();
        assert_eq!(op.status, "preview");
        let filter = op.parameters["contact_filter_params"].clone();
        let f = scfm::domain::filter::Filter::parse(
            scfm::domain::filter::Family::Contact,
            Some(&filter),
        );
        assert_eq!(svc.count_contacts(&f).await.unwrap(), a.people);
    }
    // Nothing starts without a second operator.
    assert!(
        svc.fire_callout_event(callout.id, Some("start"))
            .await
            .is_err()
    );
    let msg = refused(svc.import_cap(&fixture("flood_alert.xml"), &map).await);
    assert!(msg.contains("imported already"), "{msg}");

    // Update: the same callout, its message and areas replaced (Prey Veng only now).
    let CapOutcome::Drafted {
        callout: updated,
        areas,
        replaced,
        ..
    } = svc
        .import_cap(&fixture("flood_update.xml"), &map)
        .await
        .unwrap()
    else {
        panic!("no update")
    };
    assert!(replaced);
    assert_eq!(updated.id, callout.id);
    assert_eq!(updated.metadata["cap_identifier"], "KH-NCDM-2026-0413");
    assert_eq!(areas.len(), 1);
    assert_eq!(areas[0].name, "Prey Veng riverside");
    let ops = svc
        .batch_operations(
            Some(callout.id),
            &[],
            &scfm::domain::filter::Filter::empty(scfm::domain::filter::Family::BatchOperation),
            scfm::domain::Page {
                page: 1,
                per_page: 50,
            },
        )
        .await
        .unwrap();
    assert_eq!(ops.items.len(), 1, "the old previews were replaced");

    // Cancel of the draft: marked, never dialled.
    let CapOutcome::Cancelled { callout: c } = svc
        .import_cap(&fixture("flood_cancel.xml"), &map)
        .await
        .unwrap()
    else {
        panic!("no cancel")
    };
    assert_eq!(c.metadata["cap_msg_type"], "Cancel");
    assert_eq!(c.status, "initialized");
}

#[tokio::test]
async fn follow_ups_of_a_dialling_callout_only_ask_and_bad_alerts_are_refused() {
    let dir = TempDir::new().unwrap();
    let svc = service(&dir).await;
    people(&svc).await;
    let map = parse_area_map(MAP).unwrap();
    let CapOutcome::Drafted { callout, .. } = svc
        .import_cap(&fixture("flood_alert.xml"), &map)
        .await
        .unwrap()
    else {
        panic!("no draft")
    };
    svc.add_operator("ana").await.unwrap();
    svc.add_operator("bo").await.unwrap();
    let ana = svc.acting_as(Actor::Operator("ana".into()));
    let bo = svc.acting_as(Actor::Operator("bo".into()));
    bo.fire_callout_event(callout.id, Some("approve"))
        .await
        .unwrap();
    ana.fire_callout_event(callout.id, Some("start"))
        .await
        .unwrap();
    for f in ["flood_update.xml", "flood_cancel.xml"] {
        let CapOutcome::AskToStop { callouts, .. } =
            svc.import_cap(&fixture(f), &map).await.unwrap()
        else {
            panic!("{f}: changed a running callout")
        };
        assert_eq!(callouts[0].id, callout.id);
        assert_eq!(
            svc.callout(callout.id).await.unwrap().metadata["cap_identifier"],
            "KH-NCDM-2026-0412"
        );
    }

    let msg = refused(svc.import_cap(&fixture("expired_alert.xml"), &map).await);
    assert!(msg.contains("expired"), "{msg}");
    for f in [
        "unclosed_tag.xml",
        "missing_identifier.xml",
        "bad_msg_type.xml",
        "billion_laughs.xml",
        "xxe.xml",
    ] {
        let msg = refused(svc.import_cap(&fixture(f), &map).await);
        assert!(msg.contains("line "), "{f}: {msg}");
    }
    let huge = format!("<alert>{}</alert>", " ".repeat(3 << 20));
    assert!(refused(svc.import_cap(&huge, &map).await).contains("line "));
}

#[test]
fn the_cli_drafts_from_a_file_and_lists_what_it_could_not_match() {
    let dir = TempDir::new().unwrap();
    // The fixture's expiry moved out of the way of the real clock.
    let alert = fixture("flood_alert.xml")
        .replace("2026-12-06T10:00:00+07:00", "2099-12-06T10:00:00+07:00")
        .replace("2026-12-04T10:00:00+07:00", "2026-12-01T10:00:00+07:00");
    let path = dir.path().join("alert.xml");
    std::fs::write(&path, alert).unwrap();
    let db = Location::for_tests(&dir.path().join("cli.sqlite3"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scfm"))
        .args(["cap", "import"])
        .arg(&path)
        .args(["--area-map", "assets/area_map.example.toml"])
        .env("DATABASE_URL", db.as_url())
        .env("SCFM_DATA_DIR", dir.path())
        .env("REGISTERED_CALL_FLOW_LOGIC", "CallFlowLogic::PlayMessage")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("callout 1 drafted"), "{stdout}");
    assert!(
        stdout.contains("a second operator must approve"),
        "{stdout}"
    );
    assert!(
        stdout.contains("NOT MATCHED by the area map: Takeo Province"),
        "{stdout}"
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_scfm"))
        .args([
            "cap",
            "import",
            "tests/fixtures/cap/xxe.xml",
            "--area-map",
            "assets/area_map.example.toml",
        ])
        .env("DATABASE_URL", db.as_url())
        .env("SCFM_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("line "));
}
