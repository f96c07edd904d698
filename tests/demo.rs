//! `scfm demo`: the drill's data and campaign are set up, on the simulator only.
#![allow(clippy::unwrap_used)]

use scfm::config::{Config, ProviderChoice};

#[tokio::test]
async fn demo_prepares_a_simulated_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let base = Config::for_tests(&dir.path().join("real.sqlite3"));
    let config = scfm::cli::demo::demo_config(&base);
    assert_eq!(config.provider.choice, ProviderChoice::Simulator);
    assert_ne!(config.database, base.database, "never the real database");
    let service = scfm::startup::build_service(&config).await.unwrap();
    assert!(service.dialing().simulated());
    let id = scfm::cli::demo::prepare(&service).await.unwrap();
    let callout = service.callout(id).await.unwrap();
    assert_eq!(callout.status, "running");
    let p = service.callout_progress(id).await.unwrap();
    assert_eq!(p.participations, 30);
    assert_eq!(p.pending, 30);
    assert!(
        service.run_campaigns_once().await.unwrap() > 0,
        "the runner queues calls at once"
    );
    service.store().close().await;
    std::fs::remove_dir_all(&config.data_dir).unwrap();
}
