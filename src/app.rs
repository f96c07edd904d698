//! Start-up glue: open the store, build the service, spawn workers and the HTTP server.
//! `main` and the integration tests both use `start`.

use crate::config::Config;
use crate::http::{self, AppState};
use crate::service::Service;
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
        self.service.store().close().await;
    }
}

/// Opens the database and builds the service (no server, no workers).
pub async fn build_service(config: &Config) -> anyhow::Result<Service> {
    let store = Store::open(&config.database).await?;
    Ok(Service::new(
        store,
        crate::domain::time::Clock::System,
        config.registry.clone(),
    ))
}

/// Starts everything on an already bound listener.
pub async fn start(config: Config, listener: TcpListener) -> anyhow::Result<Running> {
    let service = build_service(&config).await?;
    Ok(start_with(service, config, listener))
}

/// Starts server and workers around an existing service.
pub fn start_with(service: Service, config: Config, listener: TcpListener) -> Running {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let cancel = CancellationToken::new();
    let workers = workers::spawn_all(&service, cancel.clone());
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
    tracing::info!(listen = %listener.local_addr()?, database = %config.database.display(), provider = ?config.provider.choice, "scfm serving");
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
