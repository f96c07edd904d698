//! `scfm sitrep CALLOUT [--by KEY] [--short|--json] [-o FILE]` and
//! `scfm export unreached CALLOUT [--by KEY] [-o FILE | --dir DIR]`: the situation report and
//! the never-reached list, from the service. Without `--by` the grouping is the callout's own,
//! else the area map's `group_by` (`--area-map`), else none. Exit 0 on success, 1 when the
//! callout, the key or the output cannot be used.

use crate::config::Config;
use crate::domain::sitrep_text;
use crate::domain::time::Clock;
use crate::service::{Error, Service, UnreachedOut, read_area_map};
use crate::store::Store;
use std::io::Write;
use std::path::Path;

async fn open(config: &Config) -> Option<Service> {
    match Store::open(&config.database).await {
        Ok(store) => Some(Service::new(store, Clock::System, config.registry.clone())),
        Err(e) => {
            eprintln!("scfm: cannot open the database {}: {e}", config.database);
            None
        }
    }
}

/// The area map's `group_by`, when a map is configured and readable (a broken map is reported
/// and ignored: the report is still wanted).
async fn map_grouping(config: &Config) -> Option<String> {
    let path = config.area_map.as_ref()?;
    match read_area_map(path).await {
        Ok(map) => map.group_by,
        Err(e) => {
            eprintln!("scfm: the area map is not used for the grouping: {e}");
            None
        }
    }
}

fn say_error(callout: i64, e: &Error) {
    match e {
        Error::NotFound => eprintln!("scfm: callout {callout} does not exist"),
        other => eprintln!("scfm: {other}"),
    }
}

/// Writes `text` to `output` or standard output.
fn emit(text: &str, output: Option<&Path>) -> i32 {
    let written = match output {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display())),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string()),
    };
    match written {
        Ok(()) => {
            if let Some(path) = output {
                eprintln!("situation report written to {}", path.display());
            }
            0
        }
        Err(e) => {
            eprintln!("scfm: cannot write {e}");
            1
        }
    }
}

pub async fn sitrep(
    callout: i64,
    by: Option<&str>,
    short: bool,
    json: bool,
    output: Option<&Path>,
    config: &Config,
) -> i32 {
    let fallback = map_grouping(config).await;
    let Some(service) = open(config).await else {
        return 1;
    };
    let result = service.sitrep(callout, by, fallback.as_deref()).await;
    service.shutdown().await;
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            say_error(callout, &e);
            return 1;
        }
    };
    let text = if json {
        let mut v = serde_json::to_string_pretty(&report).unwrap_or_default();
        v.push('\n');
        v
    } else if short {
        let s = sitrep_text::short(&report);
        if let Some(note) = &s.note {
            eprintln!("note: {note}");
        }
        format!("{}\n", s.text)
    } else {
        sitrep_text::long(&report)
    };
    emit(&text, output)
}

/// What `scfm export unreached` was asked.
pub struct Unreached<'a> {
    pub callout: i64,
    pub by: Option<&'a str>,
    pub output: Option<&'a Path>,
    pub dir: Option<&'a Path>,
}

pub async fn unreached(what: Unreached<'_>, config: &Config) -> i32 {
    let fallback = map_grouping(config).await;
    let out = match (what.dir, what.output) {
        (Some(dir), _) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("scfm: cannot create {}: {e}", dir.display());
                return 1;
            }
            UnreachedOut::PerArea(dir)
        }
        (None, Some(path)) => match std::fs::File::create(path) {
            Ok(f) => UnreachedOut::One(Box::new(std::io::BufWriter::new(f))),
            Err(e) => {
                eprintln!("scfm: cannot write {}: {e}", path.display());
                return 1;
            }
        },
        (None, None) => UnreachedOut::One(Box::new(std::io::BufWriter::new(std::io::stdout()))),
    };
    let Some(service) = open(config).await else {
        return 1;
    };
    let result = service
        .export_unreached(what.callout, what.by, fallback.as_deref(), out)
        .await;
    service.shutdown().await;
    match result {
        Ok(report) => {
            let by = report.by.as_deref().unwrap_or("area");
            for (area, path, rows) in &report.areas {
                let name = area.clone().unwrap_or_else(|| format!("(no {by})"));
                match path {
                    Some(p) => eprintln!("{name}: {rows} people, {}", p.display()),
                    None if report.by.is_some() => eprintln!("{name}: {rows} people"),
                    None => {}
                }
            }
            eprintln!("{} people not reached", report.rows);
            0
        }
        Err(e) => {
            say_error(what.callout, &e);
            1
        }
    }
}
