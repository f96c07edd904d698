//! The App's CSV state: the import in flight (for the gauge) and the last finished import's
//! report, and how an import's outcome reads. `update_csv.rs` changes this state.

use super::widgets::thousands;
use crate::service::{ImportProgress, ImportReport, InvalidRow};

/// An import in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJob {
    pub path: String,
    pub progress: ImportProgress,
}

/// CSV work the App follows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvState {
    pub import: Option<ImportJob>,
    /// The last finished import's report (its invalid rows for `:invalid`).
    pub last_import: Option<(String, ImportReport)>,
}

/// `line 3: is an invalid number (+12)`.
pub fn invalid_text(r: &InvalidRow) -> String {
    if r.msisdn.is_empty() {
        format!("line {}: {}", r.line, r.reason)
    } else {
        format!("line {}: {} ({})", r.line, r.reason, r.msisdn)
    }
}

/// The status-bar summary of a finished import.
pub fn summary(path: &str, r: &ImportReport) -> String {
    let mut s = format!(
        "imported {path}: {} rows, {} inserted, {} updated, {} invalid",
        thousands(r.rows as i64),
        thousands(r.inserted as i64),
        thousands(r.updated as i64),
        thousands(r.invalid_count as i64)
    );
    if r.duplicates > 0 {
        s.push_str(&format!(
            ", {} repeated in the file",
            thousands(r.duplicates as i64)
        ));
    }
    if let Some(first) = r.invalid.first() {
        s.push_str(&format!(" — {}", invalid_text(first)));
        s.push_str(" — :invalid lists them");
    }
    s
}
