//! Bulk upsert of contacts for CSV import: multi-row `INSERT ... ON CONFLICT(msisdn) DO UPDATE`
//! statements, run by the caller inside one write transaction per batch. No validation here: the
//! service hands over normalised msisdns and metadata objects serialised as JSON text.
//!
//! Merge semantics are SCFM's default `merge` (shallow): `json_patch(old, new)` overwrites the
//! top-level keys present in `new` and keeps the others, in their stored order, with new keys
//! appended. One difference from `domain::metadata::apply`: RFC 7396 (json_patch) *deletes* a key
//! whose new value is `null`. CSV cells are always strings, so an import never sends a null;
//! a future caller that does must know this.
//!
//! Side table: a per-row trigger filling `contact_metadata` made the import 1.8x slower (random
//! inserts into its index, written to the WAL at every batch commit). So [`upsert_contacts`] first
//! records a backlog (`contact_metadata_backlog`: contacts above this id may lack side rows), which
//! turns the insert trigger off, and [`sync_contact_metadata`] fills the side table afterwards in
//! large sorted passes. Metadata filters use the scan while a backlog exists, so they are exact
//! throughout; updates of existing contacts (the merge) still go through the update trigger.

use super::{Conn, Result, Store};
use sqlx::{QueryBuilder, Sqlite};

/// Rows per INSERT statement. Each row binds 4 values, so a full statement binds 4 * 2000 = 8000,
/// far under SQLite's 32766 bound-variable limit. Full statements share one SQL text, which sqlx
/// prepares once and caches. The placeholders are anonymous `?`s on purpose: with numbered ones
/// (`?1`, `?NNN`) SQLite looks each name up in a linear list when sqlx binds, which made binding
/// quadratic in the statement size and took a third of the import's time.
pub const ROWS_PER_STATEMENT: usize = 2000;

/// Contacts per write transaction of [`sync_contact_metadata`]: large enough that the sorted
/// insert touches each page of the side table's index about once per pass, small enough that
/// the writer lock is not held for seconds at a time.
pub const SYNC_CONTACTS_PER_STEP: i64 = 250_000;

/// A contact to insert or merge into the stored one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// Normalised E.164 msisdn.
    pub msisdn: String,
    /// A JSON object as text.
    pub metadata: String,
}

/// The highest contact id now (0 for an empty table). AUTOINCREMENT ids only grow, so a row
/// returned by [`upsert_contacts`] with an id above this value was inserted after this call.
pub async fn max_contact_id(conn: &mut Conn) -> Result<i64> {
    Ok(
        sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM contacts")
            .fetch_one(conn)
            .await?
            .unwrap_or(0),
    )
}

/// Inserts every row, or merges its metadata into the contact with the same msisdn. Returns the
/// id of each row's contact, in no particular order (the caller classifies them against
/// [`max_contact_id`] read before). `rows` must not repeat an msisdn: SQLite would apply both,
/// and the caller could not tell the second from an update of an existing contact.
///
/// Contacts it inserts get no `contact_metadata` rows yet: it records a backlog (if none) so the
/// caller must call [`sync_contact_metadata`] once the import is over (after a failure too; an
/// interrupted sync resumes at the next one, or at [`Store::open`]).
pub async fn upsert_contacts(conn: &mut Conn, rows: &[ImportRow], now: &str) -> Result<Vec<i64>> {
    sqlx::query(
        "INSERT OR IGNORE INTO contact_metadata_backlog (id, after_id) \
         SELECT 1, coalesce(max(id), 0) FROM contacts",
    )
    .execute(&mut *conn)
    .await?;
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO contacts (msisdn, metadata, created_at, updated_at) VALUES ",
        );
        let mut sql = String::with_capacity(chunk.len() * 13);
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str("(?,?,?,?)");
        }
        qb.push(sql);
        qb.push(
            " ON CONFLICT(msisdn) DO UPDATE SET \
               metadata = json_patch(contacts.metadata, excluded.metadata), \
               updated_at = excluded.updated_at \
             RETURNING id",
        );
        let mut query = qb.build_query_scalar::<i64>();
        for row in chunk {
            query = query
                .bind(row.msisdn.as_str())
                .bind(row.metadata.as_str())
                .bind(now)
                .bind(now);
        }
        ids.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(ids)
}

/// Fills `contact_metadata` for the contacts of the backlog (if any), in id ranges of
/// [`SYNC_CONTACTS_PER_STEP`], one write transaction each, then removes the backlog. Safe to run
/// at any time, by any connection, also while another import writes: ids only grow, each step
/// moves the backlog's `after_id` past what it filled, and the last step (which reaches the
/// highest id) deletes it in the same transaction, so a contact inserted later gets its rows from
/// the insert trigger. Updates and deletes are kept by their triggers throughout.
pub async fn sync_contact_metadata(store: &Store) -> Result<()> {
    loop {
        let mut tx = store.write().await?;
        let backlog: Option<(i64, i64)> = sqlx::query_as(
            "SELECT b.after_id, coalesce((SELECT max(id) FROM contacts), 0) \
             FROM contact_metadata_backlog b",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some((after, max)) = backlog else {
            return Ok(());
        };
        let upto = after.saturating_add(SYNC_CONTACTS_PER_STEP).min(max);
        sqlx::query(
            "INSERT OR IGNORE INTO contact_metadata (key, value, contact_id) \
             SELECT j.key, j.value, c.id FROM contacts c, \
               json_each(CASE WHEN json_valid(c.metadata, 2) THEN c.metadata ELSE '{}' END) j \
             WHERE c.id > ? AND c.id <= ? AND j.type = 'text' AND typeof(j.key) = 'text' \
             ORDER BY 1, 2, 3",
        )
        .bind(after)
        .bind(upto)
        .execute(&mut *tx)
        .await?;
        if upto >= max {
            sqlx::query("DELETE FROM contact_metadata_backlog")
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query("UPDATE contact_metadata_backlog SET after_id = ?")
                .bind(upto)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
}
