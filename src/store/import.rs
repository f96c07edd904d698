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

use super::engine::{Engine, Handle, Kind, on_engine};
use super::{Result, Store};

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
pub async fn max_contact_id(conn: &mut impl Handle) -> Result<i64> {
    Ok(
        on_engine!(conn, ex => sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM contacts")
            .fetch_one(ex).await)?
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
pub async fn upsert_contacts(
    conn: &mut impl Handle,
    rows: &[ImportRow],
    now: &str,
) -> Result<Vec<i64>> {
    if let Engine::Postgres(pg) = conn.engine() {
        return upsert_contacts_pg(pg, rows, now).await;
    }
    on_engine!(conn, ex => sqlx::query(
        "INSERT INTO contact_metadata_backlog (id, after_id) \
         SELECT 1, coalesce(max(id), 0) FROM contacts WHERE true ON CONFLICT DO NOTHING",
    )
    .execute(ex)
    .await
    .map(|_| ()))?;
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::with_capacity(chunk.len() * 10 + 512);
        sql.push_str("INSERT INTO contacts (msisdn, metadata, created_at, updated_at) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str("(?,?,?,?)");
        }
        sql.push_str(
            " ON CONFLICT(msisdn) DO UPDATE SET \
               metadata = json_patch(contacts.metadata, excluded.metadata), \
               updated_at = excluded.updated_at \
             RETURNING id",
        );
        let batch: Vec<i64> = on_engine!(conn, ex => {
            let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
            for row in chunk {
                query = query
                    .bind(row.msisdn.as_str())
                    .bind(row.metadata.as_str())
                    .bind(now)
                    .bind(now);
            }
            query.fetch_all(ex).await
        })?;
        ids.extend(batch);
    }
    Ok(ids)
}

/// A value as a field of COPY's text format: backslash, tab, newline and carriage return
/// escaped (JSON text from serde never holds raw control characters, but nothing relies on it).
fn copy_field(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// PostgreSQL's import: the rows go by `COPY` into a temporary table (no parameters to bind,
/// no statement per 2,000 rows), then one `INSERT … SELECT … ON CONFLICT` moves them into
/// `contacts`, so the statement-level counts trigger (migration 0012) runs once per batch.
/// Must run inside a transaction: the stage is dropped at its commit.
async fn upsert_contacts_pg(
    pg: &mut sqlx::PgConnection,
    rows: &[ImportRow],
    now: &str,
) -> Result<Vec<i64>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let staged: bool =
        sqlx::query_scalar("SELECT to_regclass('pg_temp.contacts_import_stage') IS NOT NULL")
            .fetch_one(&mut *pg)
            .await?;
    let prepare = if staged {
        "TRUNCATE contacts_import_stage"
    } else {
        "CREATE TEMPORARY TABLE contacts_import_stage \
         (msisdn text COLLATE \"C\" NOT NULL, metadata text COLLATE \"C\" NOT NULL) ON COMMIT DROP"
    };
    sqlx::query(prepare).execute(&mut *pg).await?;
    let mut text = String::with_capacity(rows.len() * 96);
    for r in rows {
        copy_field(&mut text, &r.msisdn);
        text.push('\t');
        copy_field(&mut text, &r.metadata);
        text.push('\n');
    }
    let mut copy = pg
        .copy_in_raw("COPY contacts_import_stage (msisdn, metadata) FROM STDIN")
        .await?;
    copy.send(text.into_bytes()).await?;
    copy.finish().await?;
    // json_patch's shallow merge, keeping the stored key order: stored keys in place (new
    // value if the patch has one; removed if the patch says null), then the patch's new keys
    // in its order.
    Ok(sqlx::query_scalar(
        "INSERT INTO contacts (msisdn, metadata, created_at, updated_at) \
         SELECT msisdn, metadata, $1, $1 FROM contacts_import_stage \
         ON CONFLICT(msisdn) DO UPDATE SET \
           metadata = (SELECT coalesce(json_object_agg(m.k, m.v ORDER BY m.g, m.o)::text, '{}') FROM ( \
               SELECT o.key AS k, coalesce(n.value, o.value) AS v, 0 AS g, o.ord AS o \
                 FROM json_each(contacts.metadata::json) WITH ORDINALITY AS o(key, value, ord) \
                 LEFT JOIN json_each(excluded.metadata::json) AS n ON n.key = o.key \
                WHERE n.value IS NULL OR json_typeof(n.value) <> 'null' \
               UNION ALL \
               SELECT n.key, n.value, 1, n.ord \
                 FROM json_each(excluded.metadata::json) WITH ORDINALITY AS n(key, value, ord) \
                WHERE json_typeof(n.value) <> 'null' AND NOT EXISTS ( \
                  SELECT 1 FROM json_each(contacts.metadata::json) AS x WHERE x.key = n.key) \
             ) AS m), \
           updated_at = excluded.updated_at \
         RETURNING id",
    )
    .bind(now)
    .fetch_all(&mut *pg)
    .await?)
}

/// Fills `contact_metadata` for the contacts of the backlog (if any), in id ranges of
/// [`SYNC_CONTACTS_PER_STEP`], one write transaction each, then removes the backlog. Safe to run
/// at any time, by any connection, also while another import writes: ids only grow, each step
/// moves the backlog's `after_id` past what it filled, and the last step (which reaches the
/// highest id) deletes it in the same transaction, so a contact inserted later gets its rows from
/// the insert trigger. Updates and deletes are kept by their triggers throughout.
pub async fn sync_contact_metadata(store: &Store) -> Result<()> {
    if store.kind() == Kind::Postgres {
        // No side table: the GIN index is kept by every write.
        return Ok(());
    }
    loop {
        let mut tx = store.write().await?;
        let backlog: Option<(i64, i64)> = on_engine!(&mut tx, ex => sqlx::query_as(
            "SELECT b.after_id, coalesce((SELECT max(id) FROM contacts), 0) \
             FROM contact_metadata_backlog b",
        )
        .fetch_optional(ex).await)?;
        let Some((after, max)) = backlog else {
            return Ok(());
        };
        let upto = after.saturating_add(SYNC_CONTACTS_PER_STEP).min(max);
        on_engine!(&mut tx, ex => sqlx::query(
            "INSERT OR IGNORE INTO contact_metadata (key, value, contact_id) \
             SELECT j.key, j.value, c.id FROM contacts c, \
               json_each(CASE WHEN json_valid(c.metadata, 2) THEN c.metadata ELSE '{}' END) j \
             WHERE c.id > $1 AND c.id <= $2 AND j.type = 'text' AND typeof(j.key) = 'text' \
             ORDER BY 1, 2, 3",
        )
        .bind(after)
        .bind(upto)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        if upto >= max {
            on_engine!(&mut tx, ex => sqlx::query("DELETE FROM contact_metadata_backlog")
                .execute(ex).await.map(|r| r.rows_affected()))?;
        } else {
            on_engine!(&mut tx, ex => sqlx::query("UPDATE contact_metadata_backlog SET after_id = $1")
                .bind(upto)
                .execute(ex).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
    }
}
