//! Row locks for read-then-write sequences in a write transaction (`Store::write()`): a service
//! path that reads a row, decides, and writes it (a PATCH merging metadata, a validation then an
//! update, a restricted delete checking for children, a flow turn writing answers) locks the row
//! first, so no other writer can change it between the read and the write.
//!
//! - **SQLite**: nothing to do. A write transaction starts with `BEGIN IMMEDIATE` and holds the
//!   database's one write lock until it ends, so every writer is already serialized; the lock
//!   functions only report whether the row exists.
//! - **PostgreSQL** (read committed): `SELECT 1 FROM <table> WHERE id = $1 FOR NO KEY UPDATE`
//!   ([`lock_row`]) or `FOR UPDATE` ([`lock_row_to_delete`]). A second transaction locking the
//!   same row waits for the first to commit; its next statement then reads the committed row
//!   (read committed takes a fresh snapshot per statement), so read the row *after* the lock.
//!
//! Why two strengths: `FOR NO KEY UPDATE` conflicts with itself and with `FOR UPDATE`, but not
//! with the `FOR KEY SHARE` locks PostgreSQL's foreign-key checks take on a parent when a child
//! row is inserted (for participations, the statement trigger of migration 0015 that replaced
//! their foreign keys takes the same locks, once per parent per statement). So a PATCH of a
//! contact need not wait for a campaign tick or a population of a million participations that
//! insert children of it, and such inserts cannot deadlock against a locked parent. A
//! restricted delete must wait for those inserts instead (or it would miss their children and
//! then fail on the foreign key): it takes `FOR UPDATE`.
//!
//! **Lock order**, to avoid deadlocks between transactions that lock more than one row:
//! callout -> contact -> batch operation -> phone call -> participation -> remote phone call
//! event. A path never locks a row of an earlier kind after one of a later kind. Parents come
//! before children, except that a phone call comes before its participation: the
//! `phone_calls_summary` trigger updates the participation row whenever a call's status
//! changes, so every writer of a call (dialler, poller, webhook) already locks the call and
//! then its participation; a path locking them the other way round could deadlock with them.
//! (Creating a call under a locked participation inserts a new row, which waits for no one.)
//! The webhook writer's batch transaction (`group_commit`) runs many webhooks in one
//! transaction and so holds the locks of several jobs at once; each job follows the order
//! (contact, phone call, participation), and no API path locks two rows of one kind.
//!
//! **Participation inserts of one callout** ([`lock_participation_inserts`]): a lock on no row,
//! taken by every path that inserts participations (a population run, a participation create)
//! after its row locks and before it reads what the callout already holds. It serializes the
//! inserters of one callout, nothing else (a PATCH or start of the callout does not wait), so a
//! population that finds the callout empty knows it stays empty but for its own rows and can
//! insert without `ON CONFLICT`. In the order above it comes after the batch operation:
//! callout -> contact -> batch operation -> participation inserts -> phone call -> ….
//!
//! Lock only inside a write transaction: on a bare pooled connection the lock ends with the
//! statement.

use super::Result;
use super::engine::{Handle, Kind, on_engine};

/// The tables a service path may lock a row of. The SQL names come from here, never from a
/// caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Callouts,
    Contacts,
    Participations,
    BatchOperations,
    PhoneCalls,
    RemotePhoneCallEvents,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Callouts => "callouts",
            Table::Contacts => "contacts",
            Table::Participations => "callout_participations",
            Table::BatchOperations => "batch_operations",
            Table::PhoneCalls => "phone_calls",
            Table::RemotePhoneCallEvents => "remote_phone_call_events",
        }
    }
}

/// Locks row `id` of `table` until the transaction ends (PostgreSQL `FOR NO KEY UPDATE`;
/// SQLite: the write transaction already holds the write lock). Whether the row exists.
pub async fn lock_row(h: &mut impl Handle, table: Table, id: i64) -> Result<bool> {
    lock(h, table, id, "FOR NO KEY UPDATE").await
}

/// Locks row `id` of `table` to delete it (PostgreSQL `FOR UPDATE`: also waits for
/// transactions inserting children of it, so a check for children that follows sees them).
/// Whether the row exists.
pub async fn lock_row_to_delete(h: &mut impl Handle, table: Table, id: i64) -> Result<bool> {
    lock(h, table, id, "FOR UPDATE").await
}

async fn lock(h: &mut impl Handle, table: Table, id: i64, mode: &'static str) -> Result<bool> {
    let sql = match h.kind() {
        Kind::Sqlite => format!("SELECT 1 FROM {} WHERE id = $1", table.name()),
        Kind::Postgres => format!("SELECT 1 FROM {} WHERE id = $1 {mode}", table.name()),
    };
    let rows: Vec<i32> = on_engine!(h, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_all(ex)
        .await)?;
    Ok(!rows.is_empty())
}

/// The advisory lock class of [`lock_participation_inserts`] (two-key advisory locks, a space
/// of their own: sqlx's migration lock uses the one-key form).
const PARTICIPATION_INSERTS: i32 = 0x5CF0_0001;

/// Serializes the transactions inserting participations into `callout_id` until this one ends
/// (PostgreSQL: `pg_advisory_xact_lock`, no row involved; SQLite: the write transaction already
/// holds the write lock). Take it after the row locks of the path, before reading what the
/// callout holds (read committed: the next statement then sees what the previous holder
/// committed).
pub async fn lock_participation_inserts(h: &mut impl Handle, callout_id: i64) -> Result<()> {
    if h.kind() == Kind::Sqlite {
        return Ok(());
    }
    on_engine!(h, ex => sqlx::query(
        "SELECT pg_advisory_xact_lock($1, ($2 % 2147483647)::integer)",
    )
    .bind(PARTICIPATION_INSERTS)
    .bind(callout_id)
    .execute(ex)
    .await
    .map(|_| ()))?;
    Ok(())
}
