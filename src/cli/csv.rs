//! `scfm import contacts FILE` and `scfm export contacts|callout ID`: thin glue between the
//! command line and the service's CSV import and export. Progress goes to stderr (a bar only when
//! stderr is a terminal), the summary to stdout; the exit code is 0 when the import ran, even with
//! invalid rows (they are listed), and 1 when the file or the database could not be used.

use super::{ExportCommand, ImportCommand};
use crate::call_flow::Registry;
use crate::config::Config;
use crate::domain::time::Clock;
use crate::service::{ImportOptions, ImportProgress, ImportReport, Service};
use crate::store::Store;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Invalid rows printed in the summary; the rest are counted.
const INVALID_SHOWN: usize = 20;

async fn open_service(config: &Config) -> anyhow::Result<Service> {
    let store = Store::open(&config.database).await?;
    let registry: Registry = config.registry.clone();
    Ok(Service::new(store, Clock::System, registry))
}

/// Runs an `import` subcommand; returns the process exit code.
pub async fn import(cmd: &ImportCommand, config: &Config) -> i32 {
    let ImportCommand::Contacts {
        file,
        msisdn_column,
    } = cmd;
    let service = match open_service(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("scfm: cannot open the database {}: {e}", config.database);
            return 1;
        }
    };
    let opts = ImportOptions {
        msisdn_column: msisdn_column.clone(),
        ..ImportOptions::default()
    };
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = {
        let (service, file) = (service.clone(), file.clone());
        tokio::spawn(async move { service.import_contacts_file(&file, opts, tx).await })
    };
    let bar = progress_bar();
    while let Some(p) = rx.recv().await {
        show_progress(&bar, &p, started);
    }
    bar.finish_and_clear();
    let result = match task.await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scfm: import stopped: {e}");
            return 1;
        }
    };
    service.shutdown().await;
    match result {
        Ok(report) => {
            let mut out = std::io::stdout().lock();
            match write_summary(&mut out, file, &report, started.elapsed()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("scfm: {e}");
                    1
                }
            }
        }
        Err(e) => {
            eprintln!("scfm: import of {} failed: {e}", file.display());
            1
        }
    }
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {msg} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

fn show_progress(bar: &ProgressBar, p: &ImportProgress, started: Instant) {
    if let Some(total) = p.total_bytes {
        bar.set_length(total);
    }
    bar.set_position(p.bytes);
    let secs = started.elapsed().as_secs_f64().max(1e-3);
    bar.set_message(format!(
        "{} rows ({:.0} rows/s), {} invalid",
        p.rows,
        p.rows as f64 / secs,
        p.invalid
    ));
}

/// The summary: totals, then the first invalid rows as `line 7: "abc": can't be blank`.
pub fn write_summary(
    out: &mut dyn Write,
    file: &Path,
    r: &ImportReport,
    elapsed: Duration,
) -> std::io::Result<()> {
    let secs = elapsed.as_secs_f64();
    writeln!(
        out,
        "{}: {} rows in {secs:.1} s ({:.0} rows/s)",
        file.display(),
        r.rows,
        r.rows as f64 / secs.max(1e-3)
    )?;
    writeln!(out, "  inserted:   {}", r.inserted)?;
    writeln!(out, "  updated:    {}", r.updated)?;
    writeln!(
        out,
        "  duplicates: {} (merged into an earlier row)",
        r.duplicates
    )?;
    writeln!(out, "  invalid:    {}", r.invalid_count)?;
    for bad in r.invalid.iter().take(INVALID_SHOWN) {
        writeln!(out, "line {}: {:?}: {}", bad.line, bad.msisdn, bad.reason)?;
    }
    let shown = r.invalid.len().min(INVALID_SHOWN) as u64;
    if r.invalid_count > shown {
        writeln!(out, "... and {} more invalid rows", r.invalid_count - shown)?;
    }
    Ok(())
}

/// Runs an `export` subcommand; returns the process exit code.
pub async fn export(cmd: &ExportCommand, config: &Config) -> i32 {
    let (callout, output) = match cmd {
        ExportCommand::Contacts { output } => (None, output),
        ExportCommand::Callout { id, output } => (Some(*id), output),
        ExportCommand::Unreached {
            callout,
            by,
            output,
            dir,
        } => {
            let what = super::sitrep::Unreached {
                callout: *callout,
                by: by.as_deref(),
                output: output.as_deref(),
                dir: dir.as_deref(),
            };
            return super::sitrep::unreached(what, config).await;
        }
    };
    let service = match open_service(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("scfm: cannot open the database {}: {e}", config.database);
            return 1;
        }
    };
    let out: Box<dyn Write> = match output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("scfm: cannot write {}: {e}", path.display());
                return 1;
            }
        },
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let result = match callout {
        None => service.export_contacts(out).await,
        Some(id) => service.export_callout(id, out).await,
    };
    service.shutdown().await;
    match result {
        Ok(rows) => {
            if let Some(path) = output {
                eprintln!("{rows} rows written to {}", path.display());
            }
            0
        }
        Err(crate::service::Error::NotFound) => {
            eprintln!("scfm: no callout {}", callout.unwrap_or_default());
            1
        }
        Err(e) => {
            eprintln!("scfm: export failed: {e}");
            1
        }
    }
}
