//! PostgreSQL's preview counts by metadata pair (migration 0012): `contact_metadata_counts`
//! holds signed deltas per (key, value), appended by statement triggers on `contacts`, so the
//! count of `metadata.<key> = <text>` is the sum of a few index entries, exact in the reader's
//! snapshot. SQLite answers the same counts from its `contact_metadata` side table instead.

use super::Result;
use super::engine::{Engine, Handle};

/// A pair whose deltas number more than this is folded into one row when counted.
pub const FOLD_ABOVE: i64 = 64;

/// The number of contacts whose `metadata` has the top-level string member `key` = `value`, and
/// how many delta rows that took; None when the key is wide (migration 0019: no deltas are kept
/// for it, the caller counts the contacts themselves). PostgreSQL only (the caller checked the
/// engine). One statement, so the mark and the deltas are read in one snapshot.
pub async fn count(h: &mut impl Handle, key: &str, value: &str) -> Result<Option<(i64, i64)>> {
    let Engine::Postgres(c) = h.engine() else {
        unreachable!("metadata counts are PostgreSQL's");
    };
    let (n, rows, wide): (i64, i64, bool) = sqlx::query_as(
        "SELECT coalesce(sum(n), 0)::bigint, count(*), \
                EXISTS (SELECT 1 FROM contact_metadata_wide_keys WHERE key = $1) \
         FROM contact_metadata_counts WHERE key = $1 AND value = $2",
    )
    .bind(key)
    .bind(value)
    .fetch_one(c)
    .await?;
    Ok((!wide).then_some((n, rows)))
}

/// Replaces the pair's delta rows by their sum (none when it is 0), in one statement: a reader
/// sees the rows before or after it, both with the same sum. Two folds of one pair at once: the
/// second finds the rows it would delete already gone (and inserts nothing), or fails on a
/// deadlock and changes nothing.
pub async fn fold(h: &mut impl Handle, key: &str, value: &str) -> Result<()> {
    let Engine::Postgres(c) = h.engine() else {
        unreachable!("metadata counts are PostgreSQL's");
    };
    sqlx::query(
        "WITH gone AS (DELETE FROM contact_metadata_counts WHERE key = $1 AND value = $2 RETURNING n) \
         INSERT INTO contact_metadata_counts (key, value, n) \
         SELECT $1, $2, sum(n) FROM gone HAVING sum(n) <> 0",
    )
    .bind(key)
    .bind(value)
    .execute(c)
    .await?;
    Ok(())
}
