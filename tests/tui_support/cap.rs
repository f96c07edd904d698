//! The CAP fixtures' world for the TUI tests: a service on a fixed clock between the flood
//! alert's sending and its expiry, PlayMessage registered, and the people the example area map
//! reaches.

use chrono::TimeZone;
use scfm::call_flow::Registry;
use scfm::domain::time::Clock;
use scfm::service::{ContactInput, Service};
use scfm::store::{Location, Store};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A service between the flood alert (Dec 4, 03:00Z) and its expiry (Dec 6), with the eight
/// people of `tests/cap_import.rs` (3 Kandal, 2 Phnom Penh, 1 riverside Prey Veng, 1 Takeo...).
pub async fn cap_service(dir: &TempDir) -> Service {
    let store = Store::open(Location::for_tests(&dir.path().join("tui-cap.sqlite3")))
        .await
        .unwrap();
    let clock = Clock::manual(chrono::Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap());
    let dialing = scfm::service::Dialing {
        public_url: Some("http://127.0.0.1:3000".into()),
        calls_per_second: 2.0,
        ..scfm::service::Dialing::default()
    };
    let svc = Service::with_dialing(
        store,
        clock,
        Registry::new(&["CallFlowLogic::PlayMessage".into()], None),
        dialing,
    );
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
            ..Default::default()
        })
        .await
        .unwrap();
    }
    svc
}
