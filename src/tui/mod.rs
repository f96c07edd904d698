//! The terminal UI: four panes (contacts, callouts, batch previews, live calls) over the
//! service layer. It never touches the store; everything goes through `Service` methods run as
//! effects off the UI task. See `docs/TUI.md` for the keys.

pub mod action;
pub mod app;
mod csv_jobs;
pub mod effects;
mod effects_cap;
mod effects_csv;
mod effects_sitrep;
pub mod event_loop;
pub mod keymap;
pub mod panes;
mod questions;
pub mod terminal;
pub mod theme;
mod update;
mod update_cap;
mod update_csv;
mod update_sitrep;
pub mod widgets;

use crate::service::Service;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
pub use widgets::status_bar::{Info, Listen};

/// Start-up choices for the TUI.
#[derive(Debug, Clone, Copy, Default)]
pub struct TuiOptions {
    /// Capture the mouse (scroll wheel moves the selection). Off by default.
    pub mouse: bool,
    /// NO_COLOR is set: no colour at all.
    pub no_color: bool,
}

/// Status-bar facts about this process taken from the service.
pub fn info_for(service: &Service, listen: Listen, log_path: String) -> Info {
    let d = service.dialing();
    Info {
        listen,
        provider: d.provider_name.clone(),
        missing_credentials: d.missing_credentials.clone(),
        simulated: d.simulated(),
        database: service.database(),
        log_path,
    }
}

/// Registered call flow logic names, for the callout form.
pub fn flows_of(service: &Service) -> String {
    service.registry().registered().join(", ")
}

/// Runs the TUI on the real terminal until the operator quits or a signal arrives. The
/// terminal is restored on every way out. `area_map` is `:cap`'s default (`SCFM_AREA_MAP`).
pub async fn run(
    service: Service,
    info: Info,
    options: TuiOptions,
    message: Option<String>,
    area_map: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    terminal::install_panic_hook();
    let guard = terminal::enter(options.mouse)?;
    let backend = CrosstermBackend::new(std::io::stdout());
    let mut screen = event_loop::Synced(Terminal::new(backend)?);
    screen.0.clear()?;
    let theme = theme::Theme::from_env(options.no_color);
    let mut app = app::App::new(info, theme, flows_of(&service), message);
    app.area_map = area_map.map(|p| p.display().to_string());
    let events = crossterm::event::EventStream::new();
    let draws = Arc::new(AtomicU64::new(0));
    let result = event_loop::run(
        &mut app,
        &mut screen,
        &service,
        events,
        shutdown_signal(),
        draws,
    )
    .await;
    drop(guard);
    Ok(result?)
}

/// SIGHUP (the SSH session dropped), SIGTERM or SIGINT.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut hup), Ok(mut term)) = (
            signal(SignalKind::hangup()),
            signal(SignalKind::terminate()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = hup.recv() => tracing::info!("SIGHUP: terminal gone, shutting down"),
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
