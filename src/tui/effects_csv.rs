//! The CSV effects: `:import` (with progress for the gauge) and `:export`. The service does the
//! parsing and writing; these open and name the files. Opening, renaming and removing files run
//! on the blocking pool; the export writes through a large buffer into a temporary file beside
//! the target, renamed over it only when complete, so a failed export (an unknown callout, a
//! full disk) never truncates an existing file.

use super::action::{Action, ExportTarget};
use crate::service::{Error, ImportOptions, Service, UnreachedOut};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc::{self, UnboundedSender};

/// `~/x.csv` -> `$HOME/x.csv`; anything else as typed (relative to the working directory).
pub fn expand(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

fn reason(e: Error) -> String {
    match e {
        Error::BadRequest(m) => m,
        other => other.to_string(),
    }
}

/// Imports `path`; each committed batch's totals go to `progress` as `ImportProgress`, all of
/// them before the returned `ImportFinished`.
pub async fn import(
    service: &Service,
    path: String,
    msisdn_column: Option<String>,
    progress: Option<&UnboundedSender<Action>>,
) -> Action {
    let (ptx, mut prx) = mpsc::unbounded_channel();
    let forward = progress.cloned().map(|tx| {
        tokio::spawn(async move {
            while let Some(p) = prx.recv().await {
                if tx.send(Action::ImportProgress(p)).is_err() {
                    return;
                }
            }
        })
    });
    let mut opts = ImportOptions::default();
    if let Some(c) = msisdn_column {
        opts.msisdn_column = c;
    }
    let result = service
        .import_contacts_file(&expand(&path), opts, ptx)
        .await
        .map(Box::new)
        .map_err(|e| {
            tracing::warn!(error = %e, path, "TUI import failed");
            reason(e)
        });
    if let Some(f) = forward {
        let _ = f.await;
    }
    Action::ImportFinished { path, result }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
}

/// Writes the export to a temporary file next to `dest`, then renames it into place.
async fn write(
    service: &Service,
    target: ExportTarget,
    dest: PathBuf,
    area_map: Option<String>,
) -> Result<u64, String> {
    let Some(name) = dest.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Err(format!("{}: expected a file name", dest.display()));
    };
    let partial = dest.with_file_name(format!(".{name}.partial"));
    let cannot = |e: std::io::Error| format!("cannot write {}: {e}", dest.display());
    let file = {
        let p = partial.clone();
        blocking(move || std::fs::File::create(p)).await
    }
    .map_err(cannot)?;
    let out = BufWriter::with_capacity(256 * 1024, file);
    let written = match target {
        ExportTarget::Contacts => service.export_contacts(out).await,
        ExportTarget::Callout(id) => service.export_callout(id, out).await,
        ExportTarget::Unreached(id) => {
            let by = super::effects_sitrep::map_grouping(area_map).await;
            service
                .export_unreached(id, None, by.as_deref(), UnreachedOut::One(Box::new(out)))
                .await
                .map(|r| r.rows)
        }
    };
    let done = {
        let (partial, dest) = (partial.clone(), dest.clone());
        let ok = written.is_ok();
        blocking(move || {
            if ok {
                std::fs::rename(&partial, &dest)
            } else {
                std::fs::remove_file(&partial)
            }
        })
        .await
    };
    match (written, done) {
        (Ok(rows), Ok(())) => Ok(rows),
        (Ok(_), Err(e)) => Err(cannot(e)),
        (Err(Error::NotFound), _) => Err(format!("{} not found", target.describe_owner())),
        (Err(e), _) => Err(reason(e)),
    }
}

pub async fn export(
    service: &Service,
    target: ExportTarget,
    path: String,
    area_map: Option<String>,
) -> Action {
    let result = write(service, target, expand(&path), area_map).await;
    if let Err(e) = &result {
        tracing::warn!(error = %e, path, "TUI export failed");
    }
    Action::ExportFinished {
        target,
        path,
        result,
    }
}
