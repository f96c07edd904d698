//! Bulk upsert of contacts for CSV import: multi-row `INSERT ... ON CONFLICT(msisdn) DO UPDATE`
//! statements, run by the caller inside one write transaction per batch. No validation here: the
//! service hands over normalised msisdns and metadata objects serialised as JSON text.
//!
//! Merge semantics are SCFM's default `merge` (shallow): `json_patch(old, new)` overwrites the
//! top-level keys present in `new` and keeps the others, in their stored order, with new keys
//! appended. One difference from `domain::metadata::apply`: RFC 7396 (json_patch) *deletes* a key
//! whose new value is `null`. CSV cells are always strings, so an import never sends a null;
//! a future caller that does must know this.

use super::{Conn, Result};
use sqlx::{QueryBuilder, Sqlite};

/// Rows per INSERT statement. Each row binds 4 values, so a full statement binds 4 * 2000 = 8000,
/// far under SQLite's 32766 bound-variable limit. Full statements share one SQL text, which sqlx
/// prepares once and caches. The placeholders are anonymous `?`s on purpose: with numbered ones
/// (`?1`, `?NNN`) SQLite looks each name up in a linear list when sqlx binds, which made binding
/// quadratic in the statement size and took a third of the import's time.
pub const ROWS_PER_STATEMENT: usize = 2000;

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
pub async fn upsert_contacts(conn: &mut Conn, rows: &[ImportRow], now: &str) -> Result<Vec<i64>> {
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
