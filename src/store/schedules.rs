//! Schedules shared by every process on the database (migration 0009 on both engines): one row
//! per schedule holding its next free slot, in microseconds since the Unix epoch.
//! - Slots for the account-wide calls-per-second cap (`reserve`, `wait_us`): every process
//!   reserves its creates here, so the cap holds for all of them together, not per process.
//! - Turns for work one process should do per interval (`take_turn`): the campaign pass.
//!
//! Time: on SQLite the processes share one machine, so the caller's clock (`local_now_us`) is
//! the time line. On PostgreSQL the processes may run on several machines, so the statements
//! read the server's `clock_timestamp()` instead and `local_now_us` is ignored; either way the
//! answer is relative to now, which each process turns into its own monotonic deadline.

use super::Result;
use super::engine::{Handle, Kind, on_engine};

/// The server's clock in microseconds, read once per statement (a CTE referenced more than once
/// is evaluated once).
const PG_NOW: &str =
    "WITH t AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS us)";

/// Microseconds from now until `name`'s next free slot (zero or less: due now). One
/// primary-key read; takes no lock.
pub async fn wait_us(h: &mut impl Handle, name: &str, local_now_us: i64) -> Result<i64> {
    let sql = match h.kind() {
        Kind::Sqlite => "SELECT next_us - $2 FROM schedules WHERE name = $1".to_string(),
        Kind::Postgres => format!(
            "{PG_NOW} SELECT next_us - (SELECT us FROM t) FROM schedules \
             WHERE name = $1 AND $2::bigint IS NOT NULL"
        ),
    };
    let wait: Option<i64> = on_engine!(h, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(local_now_us)
        .fetch_optional(ex)
        .await?);
    Ok(wait.unwrap_or(0))
}

/// Slots reserved on a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    /// The first slot, on the schedule's time line (microseconds since the Unix epoch).
    pub first_slot_us: i64,
    /// Microseconds from now until the first slot.
    pub wait_us: i64,
}

/// Reserves `n` consecutive slots `interval_us` apart on `name`, from its next free slot or
/// from `slack_us` before now, whichever is later: an idle schedule saves nothing up (so there
/// is never a burst after a pause), while a caller a little late for the due slot still gets
/// it, so the time a turn takes does not slow the pace down. One upsert on the schedule's row:
/// it serializes reservations (the row lock on PostgreSQL, the write lock on SQLite) for the
/// rest of the caller's transaction.
pub async fn reserve(
    h: &mut impl Handle,
    name: &str,
    n: i64,
    interval_us: i64,
    slack_us: i64,
    local_now_us: i64,
) -> Result<Reserved> {
    let span = n.max(0).saturating_mul(interval_us.max(0));
    let sql = match h.kind() {
        Kind::Sqlite => "INSERT INTO schedules (name, next_us) VALUES ($1, $3 + $2) \
             ON CONFLICT (name) DO UPDATE SET next_us = max(schedules.next_us, $3 - $4) + $2 \
             RETURNING next_us - $2, next_us - $2 - $3"
            .to_string(),
        Kind::Postgres => format!(
            "{PG_NOW} INSERT INTO schedules (name, next_us) \
             SELECT $1, t.us + $2 FROM t WHERE $3::bigint IS NOT NULL \
             ON CONFLICT (name) DO UPDATE \
             SET next_us = GREATEST(schedules.next_us, (SELECT us FROM t) - $4) + $2 \
             RETURNING next_us - $2, next_us - $2 - (SELECT us FROM t)"
        ),
    };
    let (first_slot_us, wait_us): (i64, i64) = on_engine!(h, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(span)
        .bind(local_now_us)
        .bind(slack_us.max(0))
        .fetch_one(ex)
        .await?);
    Ok(Reserved {
        first_slot_us,
        wait_us,
    })
}

/// Takes `name`'s turn if it is due, moving the next one `interval_us` from now: true for
/// exactly one of the processes asking while it is due. One conditional upsert.
pub async fn take_turn(
    h: &mut impl Handle,
    name: &str,
    interval_us: i64,
    local_now_us: i64,
) -> Result<bool> {
    let sql = match h.kind() {
        Kind::Sqlite => "INSERT INTO schedules (name, next_us) VALUES ($1, $3 + $2) \
             ON CONFLICT (name) DO UPDATE SET next_us = $3 + $2 WHERE schedules.next_us <= $3"
            .to_string(),
        Kind::Postgres => format!(
            "{PG_NOW} INSERT INTO schedules (name, next_us) \
             SELECT $1, t.us + $2 FROM t WHERE $3::bigint IS NOT NULL \
             ON CONFLICT (name) DO UPDATE SET next_us = (SELECT us FROM t) + $2 \
             WHERE schedules.next_us <= (SELECT us FROM t)"
        ),
    };
    let taken = on_engine!(h, ex => sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(interval_us.max(0))
        .bind(local_now_us)
        .execute(ex)
        .await?
        .rows_affected());
    Ok(taken > 0)
}
