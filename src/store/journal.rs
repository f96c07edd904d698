//! The journal's rows (migration 0014): appended inside the transaction of the change each
//! records, read back in `seq` order. The chain's rules are `domain::journal`'s.

use super::Result;
use super::engine::{Handle, Kind, on_engine};
use crate::domain::journal::{Entry, NewEntry};

/// Takes the journal's head for this transaction, first thing (PostgreSQL: its row lock, held
/// to the end; SQLite's `BEGIN IMMEDIATE` already holds the file's write lock). A transaction
/// that will append takes it before any other row lock, so appends of all processes take turns
/// in one order and never wait on each other's row locks while holding it (no deadlock).
pub async fn lock_head(tx: &mut impl Handle) -> Result<()> {
    if tx.kind() == Kind::Postgres {
        on_engine!(tx, ex => sqlx::query("SELECT 1 FROM journal_head WHERE id = 1 FOR UPDATE")
            .execute(ex).await.map(|_| ()))?;
    }
    Ok(())
}

/// Chains `entry` after the journal's head and writes both. Run it inside a write transaction:
/// on SQLite that is the file's write lock; on PostgreSQL the head row is locked (`FOR
/// UPDATE`) until the transaction ends, so appends of all processes take turns and every entry
/// follows the one committed before it.
pub async fn append(tx: &mut impl Handle, entry: NewEntry, at: &str) -> Result<Entry> {
    let head_sql = match tx.kind() {
        Kind::Sqlite => "SELECT seq, hash FROM journal_head WHERE id = 1",
        Kind::Postgres => "SELECT seq, hash FROM journal_head WHERE id = 1 FOR UPDATE",
    };
    let (seq, prev): (i64, String) =
        on_engine!(tx, ex => sqlx::query_as(head_sql).fetch_one(ex).await)?;
    let e = entry.chain(seq, &prev, at);
    on_engine!(tx, ex => sqlx::query(
        "INSERT INTO journal (seq, at, actor, action, subject, callout_id, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(e.seq)
    .bind(&e.at)
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.subject)
    .bind(e.callout_id)
    .bind(&e.details)
    .bind(&e.prev_hash)
    .bind(&e.hash)
    .execute(ex).await.map(|_| ()))?;
    on_engine!(tx, ex => sqlx::query("UPDATE journal_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(e.seq)
        .bind(&e.hash)
        .execute(ex).await.map(|_| ()))?;
    Ok(e)
}

/// The head: the last entry's number and hash, as every append left them.
pub async fn head(conn: &mut impl Handle) -> Result<(i64, String)> {
    Ok(
        on_engine!(conn, ex => sqlx::query_as("SELECT seq, hash FROM journal_head WHERE id = 1")
        .fetch_one(ex).await)?,
    )
}

/// Up to `limit` entries after `after_seq`, in `seq` order; only `callout`'s when given.
pub async fn page(
    conn: &mut impl Handle,
    after_seq: i64,
    callout: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>> {
    Ok(on_engine!(conn, ex => sqlx::query_as(
        "SELECT seq, at, actor, action, subject, callout_id, details, prev_hash, hash FROM journal \
         WHERE seq > $1 AND ($2 IS NULL OR callout_id = $2) ORDER BY seq LIMIT $3",
    )
    .bind(after_seq)
    .bind(callout)
    .bind(limit)
    .fetch_all(ex).await)?)
}

/// Makes the transaction `tx` (just begun, nothing read yet) read one snapshot throughout, so a
/// check sees the head and every entry as of one moment while others append. SQLite's read
/// transaction already does.
pub async fn one_snapshot(tx: &mut impl Handle) -> Result<()> {
    if tx.kind() == Kind::Postgres {
        on_engine!(tx, ex => sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(ex).await.map(|_| ()))?;
    }
    Ok(())
}
