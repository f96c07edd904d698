//! CSV export of contacts and of a callout's participations (issue 6). Rows stream in keyset
//! pages, so memory stays flat however large the table.
//!
//! Columns:
//! - contacts: `msisdn`, then one column per metadata key found on any contact (sorted).
//! - callout: `msisdn`, the contacts' metadata keys, the participations' metadata keys prefixed
//!   `participation.` (flow answers are stored there), then `attempts` (phone calls made),
//!   `final_status` (status of the last call, empty without one), `answered_at` (when scfm first
//!   heard the last call was answered: its first webhook event with `CallStatus` in-progress;
//!   empty when the status only came from polling) and `last_call_updated_at`.
//!
//! Spreadsheet safety: a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is
//! prefixed with `'` so a spreadsheet shows it as text instead of running it as a formula. This
//! applies to every cell and header, **except the `msisdn` column**: it always holds an E.164
//! number (`+` and digits only, so it can carry no formula), and a `'` would make it undiallable
//! and break re-import. Open the file as text, or set that column's type to text, to keep the `+`.
//! Metadata values that are not strings are written as JSON (`3`, `true`, `{"a":1}`).

use super::{Error, Result, Service};
use crate::store;
use serde_json::Value;
use std::borrow::Cow;
use std::io::Write;

/// Rows fetched per keyset page.
const PAGE: i64 = 1000;

/// `cell` made safe to open in a spreadsheet: a leading `=`, `+`, `-`, `@`, tab or carriage
/// return gets a `'` in front (OWASP's advice against CSV injection).
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

fn write_error(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("writing the export: {e}"))
}

/// The value of `key` in a stored metadata object as cell text (empty when absent or null).
fn cell(meta: &Value, key: &str) -> String {
    match meta.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn parse_meta(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Writes one record: the msisdn as is, every other cell made spreadsheet-safe.
fn write_record<W: Write>(
    out: &mut csv::Writer<W>,
    msisdn: &str,
    rest: impl IntoIterator<Item = String>,
) -> Result<()> {
    out.write_field(msisdn).map_err(write_error)?;
    for c in rest {
        out.write_field(spreadsheet_safe(&c).as_ref())
            .map_err(write_error)?;
    }
    out.write_record(None::<&[u8]>).map_err(write_error)
}

impl Service {
    /// Writes every contact as CSV to `out`; returns the number of data rows.
    pub async fn export_contacts<W: Write>(&self, out: W) -> Result<u64> {
        let mut out = csv::Writer::from_writer(out);
        let keys = {
            let mut conn = self.store().read().await?;
            store::export::contact_metadata_keys(&mut conn).await?
        };
        write_record(&mut out, "msisdn", keys.iter().cloned())?;
        let (mut after, mut rows) = (0, 0u64);
        loop {
            let page = {
                let mut conn = self.store().read().await?;
                store::export::contacts_page(&mut conn, after, PAGE).await?
            };
            let Some(last) = page.last() else { break };
            after = last.id;
            for c in &page {
                let meta = parse_meta(&c.metadata);
                write_record(&mut out, &c.msisdn, keys.iter().map(|k| cell(&meta, k)))?;
                rows += 1;
            }
        }
        out.flush().map_err(write_error)?;
        Ok(rows)
    }

    /// Writes one row per participation of callout `id` as CSV to `out` (columns in the module
    /// docs); returns the number of data rows. `NotFound` when the callout does not exist.
    pub async fn export_callout<W: Write>(&self, id: i64, out: W) -> Result<u64> {
        let mut out = csv::Writer::from_writer(out);
        let (contact_keys, cp_keys) = {
            let mut conn = self.store().read().await?;
            if !store::callouts::exists(&mut conn, id).await? {
                return Err(Error::NotFound);
            }
            store::export::callout_metadata_keys(&mut conn, id).await?
        };
        let fixed = [
            "attempts",
            "final_status",
            "answered_at",
            "last_call_updated_at",
        ];
        let header = contact_keys
            .iter()
            .cloned()
            .chain(cp_keys.iter().map(|k| format!("participation.{k}")))
            .chain(fixed.iter().map(|s| s.to_string()));
        write_record(&mut out, "msisdn", header)?;
        let (mut after, mut rows) = (0, 0u64);
        loop {
            let page = {
                let mut conn = self.store().read().await?;
                store::export::callout_page(&mut conn, id, after, PAGE).await?
            };
            let Some(last) = page.last() else { break };
            after = last.contact_id;
            for r in &page {
                let contact = parse_meta(&r.contact_metadata);
                let cp = parse_meta(&r.participation_metadata);
                let cells = contact_keys
                    .iter()
                    .map(|k| cell(&contact, k))
                    .chain(cp_keys.iter().map(|k| cell(&cp, k)))
                    .chain([
                        r.attempts.to_string(),
                        r.last_call_status.clone().unwrap_or_default(),
                        r.answered_at.clone().unwrap_or_default(),
                        r.last_call_updated_at.clone().unwrap_or_default(),
                    ]);
                write_record(&mut out, &r.msisdn, cells)?;
                rows += 1;
            }
        }
        out.flush().map_err(write_error)?;
        Ok(rows)
    }
}
