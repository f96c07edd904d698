//! CSV import of contacts (issue 6): one msisdn column plus any other columns into metadata.
//!
//! Rules, in the order they apply to a file:
//! - A header row is required. The msisdn column is found by name (default `msisdn`), ignoring
//!   case and surrounding spaces; a UTF-8 byte order mark on the first header is ignored. A file
//!   without that column is refused before anything is written.
//! - Every other column with a non-empty name becomes a metadata key whose value is the cell as a
//!   string, trimmed of surrounding whitespace. Empty (or whitespace-only) cells are skipped, so an
//!   import never blanks a value already stored. Cells past the last header are ignored when
//!   empty; a row with a non-empty one is reported as invalid (a likely unquoted comma).
//! - A row whose msisdn is blank or not a plausible number (`Msisdn::parse`) is reported with its
//!   line number (the header is line 1; a quoted multi-line cell counts all its lines) and reason,
//!   and the other rows still go in. A row whose cells are all empty is skipped and not counted.
//! - An msisdn that exists is updated with SCFM's default `merge` (new keys overwrite, others
//!   kept), never duplicated. The same msisdn repeated in the file is merged in file order (the
//!   last non-empty cell wins) into one contact.
//! - Rows are written in batches, each in its own `BEGIN IMMEDIATE` transaction, so a long import
//!   never holds the write lock for long and what was committed stays if a later batch fails.
//!   `ServiceEvent::ContactsChanged` follows each commit.
//!
//! Parsing and validation run on a blocking thread and hand finished batches to the async writer
//! through a small bounded channel: on two cores, parsing the next batch overlaps writing this one.

use super::csv_lines::LineEnds;
use super::{Error, Result, Service, ServiceEvent};
use crate::domain::Msisdn;
use crate::store::{self, StoreError, import::ImportRow};
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::io::Read;
use std::path::Path;
use tokio::sync::mpsc;

/// Most invalid rows kept in [`ImportReport::invalid`]; all are counted.
pub const MAX_INVALID_LISTED: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Header of the msisdn column, matched without regard to case.
    pub msisdn_column: String,
    /// Distinct contacts per write transaction.
    pub batch_rows: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            msisdn_column: "msisdn".into(),
            batch_rows: 20_000,
        }
    }
}

/// Running totals, reported after each committed batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportProgress {
    /// Bytes of the input read so far.
    pub bytes: u64,
    /// Size of the input when known (a file), for a percentage and an ETA.
    pub total_bytes: Option<u64>,
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub duplicates: u64,
    pub invalid: u64,
}

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRow {
    /// 1-based line where the row starts; the header is line 1.
    pub line: u64,
    /// The msisdn cell as found in the file.
    pub msisdn: String,
    /// `can't be blank`, `is an invalid number`, or what else was wrong with the row.
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Data rows read (rows with every cell empty are not counted).
    pub rows: u64,
    /// Contacts created.
    pub inserted: u64,
    /// Contacts that existed before the import and were merged into.
    pub updated: u64,
    /// Rows merged into a contact an earlier row of the same file had created or updated.
    pub duplicates: u64,
    /// All invalid rows.
    pub invalid_count: u64,
    /// The first [`MAX_INVALID_LISTED`] invalid rows, in file order.
    pub invalid: Vec<InvalidRow>,
}

impl ImportReport {
    fn progress(&self, bytes: u64) -> ImportProgress {
        ImportProgress {
            bytes,
            total_bytes: None,
            rows: self.rows,
            inserted: self.inserted,
            updated: self.updated,
            duplicates: self.duplicates,
            invalid: self.invalid_count,
        }
    }
}

/// What the parser hands to the writer.
struct Batch {
    contacts: Vec<ImportRow>,
    rows: u64,
    /// Rows merged into another row of the same batch.
    duplicates: u64,
    invalid_count: u64,
    invalid: Vec<InvalidRow>,
    /// Input bytes consumed up to the end of this batch.
    bytes: u64,
}

impl Service {
    /// Imports contacts from CSV (see the module docs for the rules). `progress` is called after
    /// each committed batch. Fails without writing if the header lacks the msisdn column; fails
    /// mid-way (keeping the batches already committed) if the input cannot be read or the
    /// database refuses a write.
    pub async fn import_contacts<R>(
        &self,
        reader: R,
        opts: ImportOptions,
        mut progress: impl FnMut(&ImportProgress),
    ) -> Result<ImportReport>
    where
        R: Read + Send + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<Result<Batch>>(2);
        let parser = tokio::task::spawn_blocking(move || parse(reader, &opts, &tx));
        let import_baseline = {
            let mut conn = self.store().read().await?;
            store::import::max_contact_id(&mut conn).await?
        };
        let result = self
            .import_batches(&mut rx, import_baseline, &mut progress)
            .await;
        // The import wrote contacts without their metadata side rows; fill them in now, also
        // after a failure (filters scan until this is done, so they stay exact either way).
        let synced = store::import::sync_contact_metadata(self.store()).await;
        let report = result?;
        synced?;
        parser
            .await
            .map_err(|e| Error::Internal(format!("CSV parser stopped: {e}")))?;
        // One entry for the whole import (its batches committed one by one before it).
        let mut tx = self.store().write().await?;
        self.record(
            &mut tx,
            "contact.import",
            "contacts".into(),
            None,
            serde_json::json!({"rows": report.rows, "inserted": report.inserted,
                               "updated": report.updated, "duplicates": report.duplicates,
                               "invalid": report.invalid_count}),
        )
        .await?;
        tx.commit().await.map_err(crate::store::StoreError::from)?;
        Ok(report)
    }

    async fn import_batches(
        &self,
        rx: &mut mpsc::Receiver<Result<Batch>>,
        import_baseline: i64,
        progress: &mut impl FnMut(&ImportProgress),
    ) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        while let Some(batch) = rx.recv().await {
            let batch = batch?;
            if !batch.contacts.is_empty() {
                let mut txn = self.store().write().await?;
                let batch_baseline = store::import::max_contact_id(&mut txn).await?;
                let ids =
                    store::import::upsert_contacts(&mut txn, &batch.contacts, &self.now()).await?;
                txn.commit().await.map_err(StoreError::from)?;
                self.publish(ServiceEvent::ContactsChanged);
                for id in ids {
                    if id > batch_baseline {
                        report.inserted += 1;
                    } else if id > import_baseline {
                        // Created (or merged into) by an earlier batch of this import.
                        report.duplicates += 1;
                    } else {
                        report.updated += 1;
                    }
                }
            }
            report.rows += batch.rows;
            report.duplicates += batch.duplicates;
            report.invalid_count += batch.invalid_count;
            report.invalid.extend(batch.invalid);
            progress(&report.progress(batch.bytes));
        }
        Ok(report)
    }

    /// [`Service::import_contacts`] over a file, for the CLI and the TUI: progress goes to
    /// `progress_tx` (with the file size, for a gauge); the parse runs off the async threads.
    pub async fn import_contacts_file(
        &self,
        path: &Path,
        opts: ImportOptions,
        progress_tx: mpsc::UnboundedSender<ImportProgress>,
    ) -> Result<ImportReport> {
        let cannot_read =
            |e: std::io::Error| Error::BadRequest(format!("cannot read {}: {e}", path.display()));
        let file = std::fs::File::open(path).map_err(cannot_read)?;
        let total = file.metadata().map_err(cannot_read)?.len();
        self.import_contacts(file, opts, |p| {
            let mut p = p.clone();
            p.total_bytes = Some(total);
            // A closed receiver only means nobody watches the progress any more.
            let _ = progress_tx.send(p);
        })
        .await
    }
}

/// The header: which column holds the msisdn, and the metadata key of every other column
/// (`None` for a column with an empty name, which is ignored).
struct Columns {
    msisdn: usize,
    keys: Vec<Option<String>>,
}

fn columns(header: &csv::ByteRecord, wanted: &str) -> Result<Columns> {
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let raw = if i == 0 {
                raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
            } else {
                raw
            };
            String::from_utf8_lossy(raw).trim().to_string()
        })
        .collect();
    let wanted_lc = wanted.trim().to_lowercase();
    let msisdn = names
        .iter()
        .position(|n| n.to_lowercase() == wanted_lc)
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "the header has no {wanted:?} column (found: {})",
                names.join(", ")
            ))
        })?;
    let keys = names
        .into_iter()
        .enumerate()
        .map(|(i, n)| (i != msisdn && !n.is_empty()).then_some(n))
        .collect();
    Ok(Columns { msisdn, keys })
}

/// Runs on a blocking thread: reads `reader`, validates rows, sends batches. Stops early when
/// the writer has gone away (it failed).
fn parse<R: Read>(reader: R, opts: &ImportOptions, tx: &mpsc::Sender<Result<Batch>>) {
    let (reader, mut lines) = LineEnds::new(reader);
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .buffer_capacity(256 * 1024)
        .from_reader(reader);
    let cols = match csv
        .byte_headers()
        .map_err(csv_error)
        .and_then(|h| columns(h, &opts.msisdn_column))
    {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.blocking_send(Err(e));
            return;
        }
    };
    let batch_rows = opts.batch_rows.max(1);
    let mut listed = 0usize;
    let mut batch = BatchBuilder::default();
    let mut record = csv::ByteRecord::new();
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let _ = tx.blocking_send(Err(csv_error(e)));
                return;
            }
        }
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        if let Err(bad) = batch.add(&record, &cols, line) {
            batch.invalid_count += 1;
            if listed < MAX_INVALID_LISTED {
                listed += 1;
                batch.invalid.push(bad);
            }
        }
        if batch.contacts.len() >= batch_rows {
            let bytes = csv.position().byte();
            if tx
                .blocking_send(Ok(std::mem::take(&mut batch).finish(bytes)))
                .is_err()
            {
                return;
            }
        }
    }
    let bytes = csv.position().byte();
    let _ = tx.blocking_send(Ok(batch.finish(bytes)));
}

fn csv_error(e: csv::Error) -> Error {
    match e.position() {
        Some(p) => Error::BadRequest(format!("CSV line {}: {e}", p.line())),
        None => Error::BadRequest(format!("CSV: {e}")),
    }
}

#[derive(Default)]
struct BatchBuilder {
    contacts: IndexMap<String, Map<String, Value>>,
    rows: u64,
    duplicates: u64,
    invalid_count: u64,
    invalid: Vec<InvalidRow>,
}

impl BatchBuilder {
    /// Adds one data row: merged into `contacts`, skipped when entirely empty, or refused.
    fn add(
        &mut self,
        record: &csv::ByteRecord,
        cols: &Columns,
        line: u64,
    ) -> std::result::Result<(), InvalidRow> {
        if record.iter().all(|c| c.trim_ascii().is_empty()) {
            return Ok(());
        }
        self.rows += 1;
        let raw_msisdn = record.get(cols.msisdn).unwrap_or_default();
        let invalid = |reason: &str| InvalidRow {
            line,
            msisdn: String::from_utf8_lossy(raw_msisdn).into_owned(),
            reason: reason.to_string(),
        };
        let not_utf8 = || invalid("is not UTF-8 text (save the file as CSV UTF-8)");
        // The reasons are `MsisdnError`'s messages: `can't be blank`, `is an invalid number`.
        let msisdn = Msisdn::parse(std::str::from_utf8(raw_msisdn).map_err(|_| not_utf8())?)
            .map_err(|e| invalid(&e.to_string()))?;
        let mut metadata = Map::new();
        for (i, cell) in record.iter().enumerate() {
            let cell = std::str::from_utf8(cell).map_err(|_| not_utf8())?.trim();
            match cols.keys.get(i) {
                Some(Some(key)) if !cell.is_empty() => {
                    metadata.insert(key.clone(), Value::String(cell.to_string()));
                }
                Some(_) => {}
                None if cell.is_empty() => {}
                None => return Err(invalid("has more cells than the header")),
            }
        }
        match self.contacts.entry(msisdn.into_string()) {
            indexmap::map::Entry::Occupied(mut e) => {
                self.duplicates += 1;
                e.get_mut().extend(metadata);
            }
            indexmap::map::Entry::Vacant(e) => {
                e.insert(metadata);
            }
        }
        Ok(())
    }

    fn finish(self, bytes: u64) -> Batch {
        let contacts = self
            .contacts
            .into_iter()
            .map(|(msisdn, meta)| ImportRow {
                msisdn,
                metadata: Value::Object(meta).to_string(),
            })
            .collect();
        Batch {
            contacts,
            rows: self.rows,
            duplicates: self.duplicates,
            invalid_count: self.invalid_count,
            invalid: self.invalid,
            bytes,
        }
    }
}
