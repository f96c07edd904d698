//! Schedules shared by every process on the database (migration 0009 on both engines): one row
//! per schedule holding its next free slot, in microseconds since the Unix epoch.
//! - Slots for the account-wide calls-per-second cap (`lock_next`, `set_next`, `wait_us`): every
//!   process plans its creates here, so the cap holds for all of them together, not per process.
//! - Slots for a callout's own `max_calls_per_second` (`callout_schedule`): a create waits for
//!   both its callout's slot and the account's (`service::dial_pace`).
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
pub(super) const PG_NOW: &str =
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

/// The prefix of a callout's schedule name; the claim query skips callouts whose next slot is
/// not due (`phone_calls::claim_for_dial`).
pub const CALLOUT_PREFIX: &str = "dial:callout:";

/// The schedule of callout `id`'s own calls-per-second cap.
pub fn callout_schedule(id: i64) -> String {
    format!("{CALLOUT_PREFIX}{id}")
}

/// A schedule's row as `lock_next` found it, on the schedule's time line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Locked {
    /// The next free slot (never earlier than the slack before now).
    pub next_us: i64,
    pub now_us: i64,
    /// The pace as a share of the cap (congestion control, `store::pace`): slots are
    /// `1 / share` times the cap's interval apart.
    pub share: f64,
}

/// Locks `name`'s row (creating it) and answers its next free slot, never earlier than
/// `slack_us` before now (an idle schedule saves nothing up), now, and its pace. The caller
/// computes its slots and writes the next free one back with `set_next` in the same
/// transaction. Lock schedules in one order (the account's, then callouts by id) so two
/// claimers never wait on each other.
pub async fn lock_next(
    h: &mut impl Handle,
    name: &str,
    slack_us: i64,
    local_now_us: i64,
) -> Result<Locked> {
    let sql = match h.kind() {
        Kind::Sqlite => "INSERT INTO schedules (name, next_us) VALUES ($1, $2 - $3) \
             ON CONFLICT (name) DO UPDATE SET next_us = max(schedules.next_us, $2 - $3) \
             RETURNING next_us, $2, share"
            .to_string(),
        Kind::Postgres => format!(
            "{PG_NOW} INSERT INTO schedules (name, next_us) \
             SELECT $1, t.us - $3 FROM t WHERE $2::bigint IS NOT NULL \
             ON CONFLICT (name) DO UPDATE \
             SET next_us = GREATEST(schedules.next_us, (SELECT us FROM t) - $3) \
             RETURNING next_us, (SELECT us FROM t), share"
        ),
    };
    let (next_us, now_us, share): (i64, i64, f64) = on_engine!(h, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .bind(local_now_us)
            .bind(slack_us.max(0))
            .fetch_one(ex)
            .await?);
    Ok(Locked {
        next_us,
        now_us,
        share,
    })
}

/// Microseconds from now until the soonest slot still ahead on the schedules named
/// `prefix…` (callouts' own caps), if any: when a dialler that found nothing due should look
/// again. A read; takes no lock.
pub async fn soonest_ahead(
    h: &mut impl Handle,
    prefix: &str,
    local_now_us: i64,
) -> Result<Option<i64>> {
    let sql = match h.kind() {
        Kind::Sqlite => "SELECT min(next_us) - $2 FROM schedules \
             WHERE substr(name, 1, length($1)) = $1 AND next_us > $2"
            .to_string(),
        Kind::Postgres => format!(
            "{PG_NOW} SELECT min(next_us) - (SELECT us FROM t) FROM schedules \
             WHERE starts_with(name, $1) AND next_us > (SELECT us FROM t) \
             AND $2::bigint IS NOT NULL"
        ),
    };
    let wait: Option<i64> = on_engine!(h, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(prefix)
        .bind(local_now_us)
        .fetch_one(ex)
        .await?);
    Ok(wait)
}

/// Writes `name`'s next free slot (its row locked by `lock_next` in this transaction).
pub async fn set_next(h: &mut impl Handle, name: &str, next_us: i64) -> Result<()> {
    on_engine!(h, ex => sqlx::query("UPDATE schedules SET next_us = $2 WHERE name = $1")
        .bind(name)
        .bind(next_us)
        .execute(ex)
        .await
        .map(|_| ())?);
    Ok(())
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
