//! tracing set-up: stderr for `serve`; a file in the data dir for the TUI (never the screen).
//! Level from `RUST_LOG` (default `info`).

use std::path::Path;
use tracing_subscriber::EnvFilter;

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

pub fn to_stderr() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Logs to `<dir>/scfm.log`; keep the guard alive until exit so buffered lines are flushed.
pub fn to_file(dir: &Path) -> std::io::Result<tracing_appender::non_blocking::WorkerGuard> {
    std::fs::create_dir_all(dir)?;
    let appender = tracing_appender::rolling::never(dir, "scfm.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_ansi(false)
        .with_writer(writer)
        .try_init();
    Ok(guard)
}
