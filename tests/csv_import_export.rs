//! CSV import and export (issue 6) through the service on a real SQLite file. The binary is
//! tested in `csv_cli.rs`.

#![allow(clippy::unwrap_used)]

use scfm::call_flow::Registry;
use scfm::domain::filter::{Family, Filter};
use scfm::domain::time::Clock;
use scfm::service::{
    CalloutInput, ContactInput, Error, ImportOptions, ImportReport, InvalidRow, ParticipationInput,
    PhoneCallInput, Service, ServiceEvent, WebhookOutcome, WebhookRequest,
};
use scfm::store::Store;
use serde_json::{Map, Value, json};
use std::io::Cursor;
use tempfile::TempDir;

async fn service(dir: &TempDir) -> Service {
    let store = Store::open(scfm::store::Location::for_tests(
        &dir.path().join("scfm.sqlite3"),
    ))
    .await
    .unwrap();
    Service::new(store, Clock::System, Registry::default())
}

fn all_contacts() -> Filter {
    Filter::empty(Family::Contact)
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

async fn import(svc: &Service, csv: &str, opts: ImportOptions) -> ImportReport {
    svc.import_contacts(Cursor::new(csv.as_bytes().to_vec()), opts, |_| {})
        .await
        .unwrap()
}

async fn metadata_of(svc: &Service, msisdn: &str) -> Value {
    svc.contact_by_msisdn(msisdn)
        .await
        .unwrap()
        .unwrap()
        .metadata
}

async fn export_contacts(svc: &Service) -> String {
    let mut out = Vec::new();
    svc.export_contacts(&mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

fn records(csv: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn bad(line: u64, msisdn: &str, reason: &str) -> InvalidRow {
    InvalidRow {
        line,
        msisdn: msisdn.into(),
        reason: reason.into(),
    }
}

/// A BOM, Windows line endings, a header in other case, quoted cells with commas and a newline,
/// bad rows, a number twice in the file and one already stored: then export and re-import.
#[tokio::test]
async fn import_reports_bad_rows_merges_duplicates_and_round_trips() {
    let dir = TempDir::new().unwrap();
    let svc = service(&dir).await;
    svc.create_contact(ContactInput {
        msisdn: Some("+85510202101".into()),
        metadata: Some(obj(json!({"name": "Old", "keep": "yes"}))),
        ..ContactInput::default()
    })
    .await
    .unwrap();
    let mut events = svc.subscribe();

    let csv = "\u{feff}name,MSISDN,province\r\n\
               Alice,+252662345678,Kandal\r\n\
               Bob,abc,Kandal\r\n\
               \"Carol, Jr.\",+85510202103,\"Phnom\r\nPenh\"\r\n\
               Dave,+252123456,X\r\n\
               ,+252 66 234 5678,Takeo\r\n\
               ,,\r\n\
               Eve,  ,Kampot\r\n\
               New Name,85510202101,\r\n";
    let report = import(&svc, csv, ImportOptions::default()).await;
    assert_eq!(
        report,
        ImportReport {
            rows: 7,
            inserted: 2,
            updated: 1,
            duplicates: 1,
            invalid_count: 3,
            invalid: vec![
                bad(3, "abc", "can't be blank"),
                bad(6, "+252123456", "is an invalid number"),
                bad(9, "  ", "can't be blank"),
            ],
        }
    );
    assert_eq!(events.try_recv().unwrap(), ServiceEvent::ContactsChanged);

    assert_eq!(
        metadata_of(&svc, "+252662345678").await,
        json!({"name": "Alice", "province": "Takeo"})
    );
    assert_eq!(
        metadata_of(&svc, "+85510202103").await,
        json!({"name": "Carol, Jr.", "province": "Phnom\r\nPenh"})
    );
    // Merge: new keys overwrite, others kept in their place; the empty cell changed nothing.
    let old = metadata_of(&svc, "+85510202101").await;
    assert_eq!(
        serde_json::to_string(&old).unwrap(),
        r#"{"name":"New Name","keep":"yes"}"#
    );
    assert_eq!(
        svc.count_contacts(&all_contacts()).await.unwrap(),
        3,
        "never two contacts for one number"
    );

    // Importing the same file again only updates.
    let again = import(&svc, csv, ImportOptions::default()).await;
    assert_eq!((again.inserted, again.updated), (0, 3));
    assert_eq!(svc.count_contacts(&all_contacts()).await.unwrap(), 3);

    // Export, then import the export into an empty database: the same contacts come back.
    let exported = export_contacts(&svc).await;
    assert_eq!(
        records(&exported),
        vec![
            vec!["msisdn", "keep", "name", "province"],
            vec!["+85510202101", "yes", "New Name", ""],
            vec!["+252662345678", "", "Alice", "Takeo"],
            vec!["+85510202103", "", "Carol, Jr.", "Phnom\r\nPenh"],
        ]
    );
    let dir2 = TempDir::new().unwrap();
    let svc2 = service(&dir2).await;
    let report2 = import(&svc2, &exported, ImportOptions::default()).await;
    assert_eq!((report2.rows, report2.inserted), (3, 3));
    assert_eq!(report2.invalid_count, 0);
    for m in ["+85510202101", "+252662345678", "+85510202103"] {
        let a = metadata_of(&svc, m).await;
        let b = metadata_of(&svc2, m).await;
        assert_eq!(a.as_object().unwrap(), b.as_object().unwrap(), "{m}");
    }
}

#[tokio::test]
async fn line_numbers_count_every_line_of_a_quoted_multiline_cell() {
    let dir = TempDir::new().unwrap();
    let svc = service(&dir).await;
    let csv = "msisdn,note\n\
               +252662345678,\"one\ntwo\nthree\"\n\
               \n\
               nope,x\n\
               \"+85510202103\",\"a, b\"\"c\"\"\"\n\
               12,\n";
    let report = import(&svc, csv, ImportOptions::default()).await;
    assert_eq!(
        report.invalid,
        vec![
            bad(6, "nope", "can't be blank"),
            bad(8, "12", "is an invalid number")
        ]
    );
    assert_eq!(
        metadata_of(&svc, "+85510202103").await,
        json!({"note": "a, b\"c\""})
    );
    assert_eq!(
        metadata_of(&svc, "+252662345678").await,
        json!({"note": "one\ntwo\nthree"})
    );
}

#[tokio::test]
async fn custom_msisdn_column_and_a_missing_one() {
    let dir = TempDir::new().unwrap();
    let svc = service(&dir).await;
    let opts = ImportOptions {
        msisdn_column: "Phone Number".into(),
        ..ImportOptions::default()
    };
    let csv = "name, phone number ,msisdn\nAlice,+252662345678,not me\n";
    let report = import(&svc, csv, opts).await;
    assert_eq!((report.inserted, report.invalid_count), (1, 0));
    // The other `msisdn` column is just metadata here.
    assert_eq!(
        metadata_of(&svc, "+252662345678").await,
        json!({"name": "Alice", "msisdn": "not me"})
    );

    let err = svc
        .import_contacts(
            Cursor::new(b"name,phone\nBob,+85510202103\n".to_vec()),
            ImportOptions::default(),
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::BadRequest(m) if m.contains("\"msisdn\"") && m.contains("phone")),
        "{err}"
    );
    assert_eq!(svc.count_contacts(&all_contacts()).await.unwrap(), 1);
}

#[tokio::test]
async fn batches_commit_separately_and_count_duplicates_across_them() {
    let dir = TempDir::new().unwrap();
    let svc = service(&dir).await;
    let mut events = svc.subscribe();
    let csv = "msisdn,n,extra\n\
               +252662345678,1,a\n\
               +252662345679,2,\n\
               +85510202103,3,\n\
               +252662345678,4,\n\
               +85510202101,5,,\n\
               +85510202102,6,,oops\n";
    let mut seen = Vec::new();
    let report = svc
        .import_contacts(
            Cursor::new(csv.as_bytes().to_vec()),
            ImportOptions {
                batch_rows: 2,
                ..ImportOptions::default()
            },
            |p| seen.push(p.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            report.rows,
            report.inserted,
            report.updated,
            report.duplicates
        ),
        (6, 4, 0, 1)
    );
    assert_eq!(
        report.invalid,
        vec![bad(7, "+85510202102", "has more cells than the header")]
    );
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen.last().unwrap().rows, 6);
    assert_eq!(seen.last().unwrap().bytes, csv.len() as u64);
    let mut changed = 0;
    while events.try_recv().is_ok() {
        changed += 1;
    }
    assert_eq!(changed, 3, "one ContactsChanged per committed batch");
    assert_eq!(
        metadata_of(&svc, "+252662345678").await,
        json!({"n": "4", "extra": "a"})
    );
}

#[tokio::test]
async fn export_makes_formula_cells_safe_but_keeps_the_msisdn_dialable() {
    let dir = TempDir::new().unwrap();
    let svc = service(&dir).await;
    svc.create_contact(ContactInput {
        msisdn: Some("+252662345678".into()),
        metadata: Some(obj(json!({
            "formula": "=SUM(A1)", "plus": "+1", "minus": "-2", "at": "@x", "tab": "\tx",
            "cr": "\rx", "ok": "fine", "n": 3, "=key": "v"
        }))),
        ..ContactInput::default()
    })
    .await
    .unwrap();
    let rows = records(&export_contacts(&svc).await);
    assert_eq!(
        rows,
        vec![
            vec![
                "msisdn", "'=key", "at", "cr", "formula", "minus", "n", "ok", "plus", "tab"
            ],
            vec![
                "+252662345678",
                "v",
                "'@x",
                "'\rx",
                "'=SUM(A1)",
                "'-2",
                "3",
                "fine",
                "'+1",
                "'\tx"
            ],
        ]
    );
    assert_eq!(scfm::service::spreadsheet_safe("a=b"), "a=b");
}

/// A callout with two participants: one called twice (the second call answered through the
/// simulator and webhooks), one never called.
#[tokio::test]
async fn export_callout_lists_attempts_final_status_and_answers() {
    use scfm::provider::simulator::Simulator;
    use scfm::service::Dialing;
    use std::sync::Arc;

    let dir = TempDir::new().unwrap();
    let store = Store::open(scfm::store::Location::for_tests(
        &dir.path().join("scfm.sqlite3"),
    ))
    .await
    .unwrap();
    let dialing = Dialing {
        provider: Some(Arc::new(Simulator::new(1000.0))),
        provider_name: "simulator".into(),
        missing_credentials: None,
        ..Dialing::default()
    };
    let svc = Service::with_dialing(store, Clock::System, Registry::default(), dialing);
    import(
        &svc,
        "msisdn,name\n+252662345678,Alice\n+85510202103,=cmd()\n",
        ImportOptions::default(),
    )
    .await;
    let callout = svc.create_callout(CalloutInput::default()).await.unwrap();
    let mut cps = Vec::new();
    for (contact_id, answer) in [(1, "yes"), (2, "-1")] {
        let cp = svc
            .create_participation(
                callout.id,
                ParticipationInput {
                    contact_id: Some(contact_id),
                    metadata: Some(obj(json!({ "answer": answer }))),
                    ..ParticipationInput::default()
                },
            )
            .await
            .unwrap();
        cps.push(cp.id);
    }
    let params = obj(
        json!({"from": "345", "url": "https://demo.twilio.com/docs/voice.xml", "method": "GET"}),
    );
    let call_input = || PhoneCallInput {
        remote_request_params: Some(params.clone()),
        ..PhoneCallInput::default()
    };
    svc.create_phone_call(cps[0], call_input()).await.unwrap();
    let second = svc.create_phone_call(cps[0], call_input()).await.unwrap();
    svc.fire_phone_call_event(second.id, Some("queue"))
        .await
        .unwrap();
    let claimed = svc.claim_next_dial().await.unwrap().unwrap();
    assert_eq!(claimed.id, second.id);
    svc.dial_claimed(claimed).await.unwrap();
    let sid = svc
        .phone_call(second.id)
        .await
        .unwrap()
        .remote_call_id
        .unwrap();
    for status in ["ringing", "in-progress", "completed"] {
        let out = svc
            .handle_webhook(WebhookRequest {
                params: vec![
                    ("CallSid".into(), sid.clone()),
                    ("Direction".into(), "outbound-api".into()),
                    ("CallStatus".into(), status.into()),
                ],
                url: "https://scfm.example.org/api/remote_phone_call_events".into(),
            })
            .await
            .unwrap();
        assert!(matches!(out, WebhookOutcome::Twiml(_)), "{out:?}");
    }
    let call = svc.phone_call(second.id).await.unwrap();
    assert_eq!(call.status, "completed");
    let answered_event = svc
        .remote_phone_call_events(
            scfm::service::EventParent::PhoneCall(second.id),
            &Filter::empty(Family::Event),
            scfm::domain::Page::default(),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|e| e.details["CallStatus"] == "in-progress")
        .unwrap();

    let mut out = Vec::new();
    assert_eq!(svc.export_callout(callout.id, &mut out).await.unwrap(), 2);
    let rows = records(&String::from_utf8(out).unwrap());
    assert_eq!(
        rows,
        vec![
            vec![
                "msisdn",
                "name",
                "participation.answer",
                "attempts",
                "final_status",
                "answered_at",
                "last_call_updated_at"
            ],
            vec![
                "+252662345678",
                "Alice",
                "yes",
                "2",
                "completed",
                &answered_event.created_at,
                &call.updated_at
            ],
            vec!["+85510202103", "'=cmd()", "'-1", "0", "", "", ""],
        ]
    );

    let err = svc.export_callout(99, &mut Vec::new()).await.unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err}");
}
