//! The journal's rows: recorded inside the transaction of the change each describes
//! (`journal_inbox`, migration 0016), chained into `journal` (migration 0014) by [`seal`], read
//! back in `seq` order. The chain's rules are `domain::journal`'s.

use super::Result;
use super::engine::{Handle, Kind, Qb, on_engine};
use crate::domain::journal::{Entry, NewEntry};

/// An entry recorded and not yet chained (`journal_inbox`, migration 0016).
type Queued = (i64, String, String, String, String, Option<i64>, String);

/// Records `entry` in the transaction of the change it describes (`journal_inbox`): a plain
/// insert that waits for no other writer. [`seal`] chains it later, in order.
pub async fn append(tx: &mut impl Handle, entry: NewEntry, at: &str) -> Result<()> {
    on_engine!(tx, ex => sqlx::query(
        "INSERT INTO journal_inbox (at, actor, action, subject, callout_id, details) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(at)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.subject)
    .bind(entry.callout_id)
    .bind(&entry.details)
    .execute(ex).await.map(|_| ()))?;
    Ok(())
}

/// Whether [`seal`] waits for a sealer in another transaction or leaves the work to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealing {
    /// Wait for the head (a verify or export must see everything committed before it).
    Wait,
    /// Return `None` at once when another transaction holds the head (background sealing:
    /// that one is sealing already).
    SkipIfBusy,
}

/// Chains up to `limit` recorded entries, oldest `id` first, after the journal's head, and
/// advances the head; `None` when `SkipIfBusy` found the head taken. Run it in a write
/// transaction of its own: the head stays locked until it ends (PostgreSQL: its row lock;
/// SQLite: the file's write lock), so sealers of all processes take turns and the chain has
/// one order.
pub async fn seal(tx: &mut impl Handle, limit: i64, how: Sealing) -> Result<Option<u64>> {
    let head_sql = match (tx.kind(), how) {
        (Kind::Sqlite, _) => "SELECT seq, hash FROM journal_head WHERE id = 1",
        (Kind::Postgres, Sealing::Wait) => {
            "SELECT seq, hash FROM journal_head WHERE id = 1 FOR UPDATE"
        }
        (Kind::Postgres, Sealing::SkipIfBusy) => {
            "SELECT seq, hash FROM journal_head WHERE id = 1 FOR UPDATE SKIP LOCKED"
        }
    };
    let head: Option<(i64, String)> =
        on_engine!(tx, ex => sqlx::query_as(head_sql).fetch_optional(ex).await)?;
    let Some((mut seq, mut prev)) = head else {
        return Ok(None);
    };
    // Exactly the rows it returns leave the inbox (a row committed meanwhile stays for the
    // next round).
    let mut queued: Vec<Queued> = on_engine!(tx, ex => sqlx::query_as(
        "DELETE FROM journal_inbox WHERE id IN \
         (SELECT id FROM journal_inbox ORDER BY id LIMIT $1) \
         RETURNING id, at, actor, action, subject, callout_id, details",
    )
    .bind(limit)
    .fetch_all(ex).await)?;
    if queued.is_empty() {
        return Ok(Some(0));
    }
    queued.sort_unstable_by_key(|q| q.0);
    let mut qb = Qb::new(
        tx.kind(),
        "INSERT INTO journal \
         (seq, at, actor, action, subject, callout_id, details, prev_hash, hash) VALUES ",
    );
    let n = queued.len() as u64;
    for (i, (_, at, actor, action, subject, callout_id, details)) in queued.into_iter().enumerate()
    {
        let e = NewEntry {
            actor,
            action,
            subject,
            callout_id,
            details,
        }
        .chain(seq, &prev, &at);
        if i > 0 {
            qb.push(", ");
        }
        qb.push("(")
            .push_bind(e.seq)
            .push(", ")
            .push_bind(e.at)
            .push(", ")
            .push_bind(e.actor)
            .push(", ")
            .push_bind(e.action)
            .push(", ")
            .push_bind(e.subject)
            .push(", ")
            .push_bind(e.callout_id)
            .push(", ")
            .push_bind(e.details)
            .push(", ")
            .push_bind(e.prev_hash)
            .push(", ")
            .push_bind(e.hash.clone())
            .push(")");
        seq = e.seq;
        prev = e.hash;
    }
    qb.execute(tx).await?;
    on_engine!(tx, ex => sqlx::query("UPDATE journal_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&prev)
        .execute(ex).await.map(|_| ()))?;
    Ok(Some(n))
}

/// Whether any entry waits to be sealed.
pub async fn any_unsealed(conn: &mut impl Handle) -> Result<bool> {
    Ok(on_engine!(conn, ex => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM journal_inbox)",
    )
    .fetch_one(ex).await)?)
}

/// Entries recorded and not yet sealed.
pub async fn unsealed(conn: &mut impl Handle) -> Result<i64> {
    Ok(
        on_engine!(conn, ex => sqlx::query_scalar("SELECT count(*) FROM journal_inbox")
        .fetch_one(ex).await)?,
    )
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
