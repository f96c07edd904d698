//! `scfm demo`: a drill on a throwaway database. Sample contacts from `assets/demo/`, a callout
//! with dialing settings, and the SIMULATED provider, so a newcomer watches a whole campaign run,
//! with retries, within a minute, offline. Nothing here can reach a real phone: the provider is
//! the in-process simulator, chosen explicitly, and every screen says SIMULATION.

use crate::config::{Config, ProviderChoice};
use crate::service::{BatchOperationInput, CalloutInput, ImportOptions, Service};
use serde_json::json;
use std::path::PathBuf;

const CONTACTS: &str = include_str!("../../assets/demo/contacts.csv");

/// A config for the drill: a fresh database in a temp dir, simulator, fast polling, any free port.
pub fn demo_config(base: &Config) -> Config {
    let dir = std::env::temp_dir().join(format!("scfm-demo-{}", std::process::id()));
    let mut c = base.clone();
    c.database = dir.join("demo.sqlite3").into();
    c.data_dir = dir;
    c.listen = "127.0.0.1:0".into();
    c.provider.choice = ProviderChoice::Simulator;
    c.provider.calls_per_second = 5.0;
    c.provider.poll_interval = std::time::Duration::from_secs(1);
    c.auth.token.get_or_insert_with(|| "demo".into());
    c
}

/// Fills the demo database and starts the campaign. Returns the callout id.
pub async fn prepare(service: &Service) -> anyhow::Result<i64> {
    let report = service
        .import_contacts(
            std::io::Cursor::new(CONTACTS.as_bytes()),
            ImportOptions::default(),
            |_| {},
        )
        .await?;
    tracing::info!(contacts = report.inserted, "demo contacts imported");
    let dialing = json!({
        "from": "1234",
        "twiml_url": "https://demo.twilio.com/docs/voice.xml",
        "max_calls_per_second": 5,
        "max_concurrent_calls": 10,
        "max_attempts": 2,
        "retry_delay_seconds": 10,
    });
    let callout = service
        .create_callout(CalloutInput {
            metadata: json!({"name": "Drill: flood warning", "message": "Flood warning. Move to high ground."})
                .as_object()
                .cloned(),
            dialing: Some(dialing.as_object().cloned()),
            ..CalloutInput::default()
        })
        .await?;
    let op = service
        .create_batch_operation(
            BatchOperationInput {
                kind: Some("BatchOperation::CalloutPopulation".into()),
                callout_id: Some(callout.id),
                ..BatchOperationInput::default()
            },
            true,
        )
        .await?;
    service
        .fire_batch_operation_event(op.id, Some("queue"))
        .await?;
    while service.run_next_batch_operation().await? {}
    service
        .fire_callout_event(callout.id, Some("start"))
        .await?;
    Ok(callout.id)
}

/// Runs the drill in the TUI, then removes the throwaway database.
pub async fn run(base: &Config, options: crate::tui::TuiOptions) -> anyhow::Result<PathBuf> {
    let config = demo_config(base);
    let service = crate::startup::build_service(&config).await?;
    prepare(&service).await?;
    let notice =
        "DRILL: simulated calls on a throwaway database; nobody is really called".to_string();
    let result = crate::startup::run_tui_on(service, config.clone(), options, Some(notice)).await;
    let _ = std::fs::remove_dir_all(&config.data_dir);
    result
}
