//! Start-up glue: open the store, build the service, spawn workers and the HTTP server.
//! `main` and the integration tests both use `start`.

use crate::config::{Config, ProviderChoice};
use crate::http::{self, AppState};
use crate::provider::simulator::Simulator;
use crate::provider::{HttpProvider, Provider, ProviderKind};
use crate::service::Service;
use crate::service::{Dialing, Fallback};
use crate::store::Store;
use crate::workers;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A running scfm: HTTP server plus workers.
pub struct Running {
    pub service: Service,
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    cancel: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    workers: tokio::task::JoinSet<()>,
}

impl Running {
    /// Stops accepting, lets in-flight requests and worker steps finish, closes the database.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.cancel.cancel();
        let _ = self.server.await;
        while self.workers.join_next().await.is_some() {}
        self.service.shutdown().await;
    }
}

/// Opens the database and builds the service (no server, no workers).
pub async fn build_service(config: &Config) -> anyhow::Result<Service> {
    let store = Store::open(&config.database).await?;
    let dialing = dialing(config)?;
    let clock = crate::domain::time::Clock::System;
    Ok(Service::with_dialing(
        store,
        clock,
        config.registry.clone(),
        dialing,
    ))
}

/// The provider and dialling settings from configuration. Without credentials, calls are
/// refused locally with a message naming what to set; the simulator only when asked for.
pub fn dialing(config: &Config) -> anyhow::Result<Dialing> {
    let p = &config.provider;
    let (kind, prefix) = match p.choice {
        ProviderChoice::Simulator => {
            tracing::warn!("SIMULATION: PLATFORM_PROVIDER=simulator; no real call will be placed");
            return Ok(Dialing {
                provider: Some(Arc::new(Simulator::new(1.0))),
                provider_name: "simulator".into(),
                missing_credentials: None,
                auth_token: Some("simulator".into()),
                public_url: config.public_url.clone(),
                poll_interval: p.poll_interval.min(std::time::Duration::from_secs(2)),
                calls_per_second: p.calls_per_second,
                congestion: p.congestion.clone(),
                ..Dialing::default()
            });
        }
        ProviderChoice::Twilio => (ProviderKind::Twilio, "TWILIO"),
        ProviderChoice::Somleng => (ProviderKind::Somleng, "SOMLENG"),
    };
    let mut missing = Vec::new();
    if p.account_sid.is_none() {
        missing.push(format!("{prefix}_ACCOUNT_SID"));
    }
    if p.auth_token.is_none() {
        missing.push(format!("{prefix}_AUTH_TOKEN"));
    }
    if p.base_url.is_none() {
        // Somleng has no public default host: never guess one (that would hand a Somleng SID and
        // token to whoever runs it).
        missing.push("SOMLENG_CLIENT_REST_API_BASE_URL".into());
    }
    let missing_credentials = match missing.split_last() {
        None => None,
        Some((last, [])) => Some(last.clone()),
        Some((last, rest)) => Some(format!("{} and {last}", rest.join(", "))),
    }
    .map(|names| format!("{names} not set (PLATFORM_PROVIDER={})", kind.name()));
    if let Some(why) = &missing_credentials {
        tracing::warn!("dialling off: {why}; queued calls end errored and no request is sent");
    }
    // Without a base URL there is nowhere to send anything: no provider at all, so no create,
    // status fetch or reconciliation request leaves the machine.
    let provider: Option<Arc<dyn Provider>> = match &p.base_url {
        Some(base_url) => Some(Arc::new(
            HttpProvider::new(
                kind,
                base_url.clone(),
                p.account_sid.clone(),
                p.auth_token.clone(),
                p.connect_timeout,
                p.request_timeout,
            )
            .map_err(|e| anyhow::anyhow!("provider: {e}"))?,
        )),
        None => None,
    };
    Ok(Dialing {
        provider,
        provider_name: kind.name().into(),
        missing_credentials,
        auth_token: p.auth_token.clone(),
        public_url: config.public_url.clone(),
        poll_interval: p.poll_interval,
        calls_per_second: p.calls_per_second,
        reconcile_after: p.reconcile_after,
        unknown_outcome_grace: p.unknown_outcome_grace,
        max_calls_per_person_per_hour: p.max_calls_per_person_per_hour,
        congestion: p.congestion.clone(),
        fallback: fallback(p)?,
    })
}

/// The fallback route's provider client, if one is configured.
fn fallback(p: &crate::config::ProviderSettings) -> anyhow::Result<Option<Fallback>> {
    let Some(f) = &p.fallback else {
        return Ok(None);
    };
    let provider = HttpProvider::new(
        f.kind,
        f.base_url.clone(),
        Some(f.account_sid.clone()),
        Some(f.auth_token.clone()),
        p.connect_timeout,
        p.request_timeout,
    )
    .map_err(|e| anyhow::anyhow!("fallback provider: {e}"))?;
    tracing::info!(
        provider = f.kind.name(),
        calls_per_second = f.calls_per_second,
        "fallback route configured"
    );
    Ok(Some(Fallback {
        provider: Arc::new(provider),
        provider_name: f.kind.name().into(),
        auth_token: Some(f.auth_token.clone()),
        calls_per_second: f.calls_per_second,
    }))
}

/// Starts everything on an already bound listener.
pub async fn start(config: Config, listener: TcpListener) -> anyhow::Result<Running> {
    if let Some(feed) = &config.cap_feed {
        // A feed without a usable map would refuse every alert, poll after poll: say so now.
        let Some(map) = &config.area_map else {
            anyhow::bail!(
                "--cap-feed {} needs the area map: --area-map MAP (or SCFM_AREA_MAP)",
                feed.url
            );
        };
        crate::service::read_area_map(map)
            .await
            .map_err(|e| anyhow::anyhow!("--cap-feed: {e}"))?;
    }
    let service = build_service(&config).await?;
    Ok(start_with(service, config, listener))
}

/// Starts server and workers around an existing service.
pub fn start_with(service: Service, config: Config, listener: TcpListener) -> Running {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let cancel = CancellationToken::new();
    let mut workers = workers::spawn_all(&service, cancel.clone());
    if let (Some(feed), Some(map)) = (&config.cap_feed, &config.area_map) {
        workers::spawn_cap_feed(
            &mut workers,
            &service,
            feed.clone(),
            map.clone(),
            cancel.clone(),
        );
    }
    let (shutdown, rx) = watch::channel(false);
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(config.auth.clone()),
    };
    let server = tokio::spawn(http::serve(listener, http::router(state), rx));
    Running {
        service,
        addr,
        shutdown,
        cancel,
        server,
        workers,
    }
}

/// `scfm serve`: run until Ctrl-C or SIGTERM.
pub async fn run_serve(mut config: Config) -> anyhow::Result<()> {
    if let Some(path) = config.ensure_api_credentials()? {
        tracing::info!(path = %path.display(), "API token (bearer) is in this file");
    }
    let listener = TcpListener::bind(&config.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, database = %config.database, provider = ?config.provider.choice, "scfm serving");
    let running = start(config, listener).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `scfm` with no subcommand: the TUI, with the HTTP server and workers in the same process.
/// If the listen port is taken (another scfm on this machine, most likely), the TUI still runs
/// on the database but without server and workers, and says so. Logs go to
/// `<data dir>/scfm.log`, never to the screen. Returns the log file's path.
pub async fn run_tui(
    mut config: Config,
    options: crate::tui::TuiOptions,
) -> anyhow::Result<std::path::PathBuf> {
    if let Some(path) = config.ensure_api_credentials()? {
        tracing::info!(path = %path.display(), "API token (bearer) is in this file");
    }
    let service = build_service(&config).await?;
    run_tui_on(service, config, options, None).await
}

/// The TUI around an existing service (`scfm demo` prepares one first). `notice` is shown in
/// the status bar at start when nothing more urgent is.
pub async fn run_tui_on(
    service: Service,
    config: Config,
    options: crate::tui::TuiOptions,
    notice: Option<String>,
) -> anyhow::Result<std::path::PathBuf> {
    use crate::tui::Listen;
    let log_path = config.data_dir.join("scfm.log");
    let (running, listen, message) = match TcpListener::bind(&config.listen).await {
        Ok(listener) => {
            let url = match listener.local_addr() {
                Ok(a) => format!("http://{a}"),
                Err(_) => config.listen.clone(),
            };
            tracing::info!(listen = %url, database = %config.database, "scfm TUI serving");
            let running = start_with(service.clone(), config.clone(), listener);
            (Some(running), Listen::Serving(url), notice)
        }
        Err(e) => {
            tracing::warn!(listen = %config.listen, error = %e, "not serving: cannot bind");
            let why = if e.kind() == std::io::ErrorKind::AddrInUse {
                "another scfm is serving; this TUI is read/write on the database but not dialling"
                    .to_string()
            } else {
                format!(
                    "cannot listen on {} ({e}); this TUI is read/write on the database but not dialling",
                    config.listen
                )
            };
            (None, Listen::PortTaken(config.listen.clone()), Some(why))
        }
    };
    // The TUI acts as its operator; the server and workers beside it stay scfm's own.
    let tui_service = match &config.operator {
        Some(name) => match service.operator_named(name).await {
            Ok(actor) => service.acting_as(actor),
            Err(e) => {
                if let Some(r) = running {
                    r.shutdown().await;
                }
                anyhow::bail!("--operator {name}: {e}");
            }
        },
        None => service.clone(),
    };
    let info = crate::tui::info_for(&tui_service, listen, log_path.display().to_string());
    let area_map = config.area_map.clone();
    let result = crate::tui::run(tui_service, info, options, message, area_map).await;
    match running {
        Some(r) => r.shutdown().await,
        None => service.shutdown().await,
    }
    result.map(|()| log_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn somleng_without_a_base_url_has_no_provider_and_names_the_setting() {
        let mut config = Config::for_tests(std::path::Path::new("/tmp/scfm-app-test/db.sqlite3"));
        config.provider.choice = ProviderChoice::Somleng;
        config.provider.base_url = None;
        let d = dialing(&config).expect("dialing");
        assert!(d.provider.is_none(), "nowhere to send anything");
        assert_eq!(
            d.missing_credentials.as_deref(),
            Some(
                "SOMLENG_ACCOUNT_SID, SOMLENG_AUTH_TOKEN and SOMLENG_CLIENT_REST_API_BASE_URL not set (PLATFORM_PROVIDER=somleng)"
            )
        );
        config.provider.account_sid = Some("sid".into());
        config.provider.auth_token = Some("token".into());
        let d = dialing(&config).expect("dialing");
        assert!(d.provider.is_none());
        assert_eq!(
            d.missing_credentials.as_deref(),
            Some("SOMLENG_CLIENT_REST_API_BASE_URL not set (PLATFORM_PROVIDER=somleng)")
        );
        config.provider.base_url = Some("https://api.somleng.org".into());
        let d = dialing(&config).expect("dialing");
        assert!(d.provider.is_some() && d.missing_credentials.is_none());
    }
}
