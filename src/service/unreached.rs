//! The never-reached list of a callout, by area (issue 15): everyone whose last call did not
//! reach a person (never called yet, still being tried, given up, or a machine answered), for
//! door-to-door or loudspeaker follow-up. One CSV with the area as its first column, or one CSV
//! per area in a directory. Rows stream from one sorted statement straight into the files, so
//! memory stays flat at a million participations.
//!
//! Columns: the area (named by the grouping key; absent when not grouped), `name` (the
//! contact's `metadata.name`), `msisdn`, `attempts`, `last_status`, `last_status_at` and
//! `outcome` (`pending`, `in_progress`, `not_yet`, `unreachable`, `reached_machine`; see
//! `domain::outcome`) and `sms_status` (the SMS fallback's text: empty when none was made).
//! Ordered by area, name, number. Cells are spreadsheet-safe as in the
//! other exports (the msisdn is E.164 and left as is).

use super::export::spreadsheet_safe;
use super::sitrep::{grouping, settings_of};
use super::{Error, Result, Service};
use crate::domain::outcome::{self, LastCall};
use crate::store;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Where the list goes.
pub enum UnreachedOut<'a> {
    /// One CSV, the area in its first column.
    One(Box<dyn Write + Send + 'a>),
    /// One CSV per area, created in this directory (which must exist).
    PerArea(&'a Path),
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnreachedReport {
    /// The grouping key, if any.
    pub by: Option<String>,
    pub rows: u64,
    /// Per area: its value (None: people without the key), the file (per-area export only)
    /// and its rows.
    pub areas: Vec<(Option<String>, Option<PathBuf>, u64)>,
}

fn write_error(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("writing the export: {e}"))
}

/// A file name for an area's list: letters and digits of any script kept, anything else `_`.
pub fn area_file_name(callout_id: i64, by: &str, area: Option<&str>) -> String {
    let label = match area {
        Some(a) => a.to_string(),
        None => format!("no {by}"),
    };
    let mut slug: String = label
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if slug.trim_matches('_').is_empty() {
        slug = "area".into();
    }
    format!("unreached-{callout_id}-{slug}.csv")
}

/// The per-area writer: the current area's file, opened when its first row comes.
struct PerArea<'a> {
    dir: &'a Path,
    callout_id: i64,
    by: String,
    header: Vec<String>,
    current: Option<csv::Writer<BufWriter<File>>>,
    used: std::collections::HashSet<String>,
}

impl PerArea<'_> {
    fn open(&mut self, area: Option<&str>) -> Result<PathBuf> {
        if let Some(mut w) = self.current.take() {
            w.flush().map_err(write_error)?;
        }
        let mut name = area_file_name(self.callout_id, &self.by, area);
        // Two areas whose names differ only in dropped characters get distinct files.
        let mut n = 2;
        while !self.used.insert(name.clone()) {
            name = format!(
                "{}-{n}.csv",
                area_file_name(self.callout_id, &self.by, area).trim_end_matches(".csv")
            );
            n += 1;
        }
        let path = self.dir.join(name);
        let file = File::create(&path).map_err(|e| {
            Error::invalid("dir", &format!("cannot create {}: {e}", path.display()))
        })?;
        let mut w = csv::Writer::from_writer(BufWriter::new(file));
        w.write_record(&self.header).map_err(write_error)?;
        self.current = Some(w);
        Ok(path)
    }
}

impl Service {
    /// Writes the never-reached list of callout `id` to `out`, grouped by `by` (default as for
    /// the situation report). `NotFound` when the callout does not exist.
    pub async fn export_unreached(
        &self,
        id: i64,
        by: Option<&str>,
        fallback: Option<&str>,
        out: UnreachedOut<'_>,
    ) -> Result<UnreachedReport> {
        let mut conn = self.store().read().await?;
        let callout = store::callouts::get(&mut conn, id)
            .await?
            .ok_or(Error::NotFound)?;
        let key = grouping(&callout, by, fallback)?;
        if matches!(out, UnreachedOut::PerArea(_)) && key.is_none() {
            return Err(Error::invalid(
                "by",
                "one file per area needs a grouping key (--by KEY)",
            ));
        }
        let settings = settings_of(&callout);
        let mut header: Vec<String> = key.iter().cloned().collect();
        header.extend(
            [
                "name",
                "msisdn",
                "attempts",
                "last_status",
                "last_status_at",
                "outcome",
                "sms_status",
            ]
            .map(String::from),
        );
        let header: Vec<String> = header
            .iter()
            .map(|h| spreadsheet_safe(h).into_owned())
            .collect();
        let mut report = UnreachedReport {
            by: key.clone(),
            ..Default::default()
        };
        let (mut one, mut per) = match out {
            UnreachedOut::One(w) => {
                let mut w = csv::Writer::from_writer(w);
                w.write_record(&header).map_err(write_error)?;
                (Some(w), None)
            }
            UnreachedOut::PerArea(dir) => (
                None,
                Some(PerArea {
                    dir,
                    callout_id: id,
                    by: key.clone().unwrap_or_default(),
                    header: header.clone(),
                    current: None,
                    used: Default::default(),
                }),
            ),
        };
        let grouped = key.is_some();
        store::sitrep::for_each_unreached(&mut conn, id, key.as_deref(), |r| -> Result<()> {
            let same = report.areas.last().is_some_and(|(a, _, _)| *a == r.area);
            if !same {
                let path = match per.as_mut() {
                    Some(p) => Some(p.open(r.area.as_deref())?),
                    None => None,
                };
                report.areas.push((r.area.clone(), path, 0));
            }
            let last = LastCall {
                status: r.last_status.as_deref(),
                answered_by: r.answered_by.as_deref(),
                attempts: r.attempts,
                outcome_unknown: r.outcome_unknown,
            };
            let standing = outcome::classify(&last, settings.as_ref());
            let mut cells: Vec<String> = Vec::with_capacity(7);
            if grouped {
                cells.push(spreadsheet_safe(r.area.as_deref().unwrap_or_default()).into_owned());
            }
            cells.push(spreadsheet_safe(r.name.as_deref().unwrap_or_default()).into_owned());
            cells.push(r.msisdn.clone());
            cells.push(r.attempts.to_string());
            cells.push(spreadsheet_safe(r.last_status.as_deref().unwrap_or_default()).into_owned());
            cells.push(r.last_status_at.clone().unwrap_or_default());
            cells.push(standing.as_str().to_string());
            cells.push(r.text_status.clone().unwrap_or_default());
            let w: &mut dyn CsvOut = match (one.as_mut(), per.as_mut()) {
                (Some(w), _) => w,
                (None, Some(p)) => p.current.as_mut().ok_or_else(|| write_error("no file"))?,
                (None, None) => return Err(write_error("nowhere to write")),
            };
            w.record(&cells)?;
            report.rows += 1;
            if let Some(a) = report.areas.last_mut() {
                a.2 += 1;
            }
            Ok(())
        })
        .await?;
        if let Some(mut w) = one {
            w.flush().map_err(write_error)?;
        }
        if let Some(p) = per.as_mut().and_then(|p| p.current.as_mut()) {
            p.flush().map_err(write_error)?;
        }
        Ok(report)
    }
}

/// A CSV writer over any output.
trait CsvOut {
    fn record(&mut self, cells: &[String]) -> Result<()>;
}

impl<W: Write> CsvOut for csv::Writer<W> {
    fn record(&mut self, cells: &[String]) -> Result<()> {
        self.write_record(cells).map_err(write_error)
    }
}
