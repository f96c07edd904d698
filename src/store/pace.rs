//! The pace of a schedule under congestion control (migration 0010 on both engines): a share
//! of its cap, lowered on congestion and raised again when it clears, on the schedule's own row
//! (`store::schedules`) so every process on the database slows down and ramps up together and
//! a slot planned by any of them is spaced by the same pace. Each change is one conditional
//! statement: of several processes seeing one burst of refusals inside the cooldown, one slows
//! the pace down. Time lines as in `schedules` (the caller's clock on SQLite, the server's on
//! PostgreSQL).

use super::Result;
use super::engine::{Handle, Kind, on_engine};
use super::schedules::PG_NOW;

/// A schedule's pace: its share of the cap and, below 1, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Pace {
    pub share: f64,
    pub reason: Option<String>,
}

/// `name`'s pace (the full cap when it has no row yet). A primary-key read.
pub async fn get(h: &mut impl Handle, name: &str) -> Result<Pace> {
    let row: Option<(f64, Option<String>)> = on_engine!(h, ex => sqlx::query_as(
        "SELECT share, share_reason FROM schedules WHERE name = $1"
    )
    .bind(name)
    .fetch_optional(ex)
    .await?);
    Ok(match row {
        Some((share, reason)) => Pace { share, reason },
        None => Pace {
            share: 1.0,
            reason: None,
        },
    })
}

/// Multiplies `name`'s pace by `factor` (never under `floor`), saying why, unless it changed
/// less than `cooldown_us` ago. The new share when this changed it.
pub async fn slow_down(
    h: &mut impl Handle,
    name: &str,
    factor: f64,
    floor: f64,
    cooldown_us: i64,
    reason: &str,
    local_now_us: i64,
) -> Result<Option<f64>> {
    let sql = match h.kind() {
        Kind::Sqlite => "INSERT INTO schedules (name, next_us, share, share_at_us, share_reason) \
             VALUES ($1, $2, max($4, min(1.0, $3)), $2, $6) \
             ON CONFLICT (name) DO UPDATE \
             SET share = max($4, min(1.0, schedules.share * $3)), share_at_us = $2, \
                 share_reason = $6 \
             WHERE schedules.share_at_us <= $2 - $5 \
             RETURNING share"
            .to_string(),
        Kind::Postgres => format!(
            "{PG_NOW} INSERT INTO schedules (name, next_us, share, share_at_us, share_reason) \
             SELECT $1, t.us, GREATEST($4, LEAST(1.0, $3)), t.us, $6 FROM t \
             WHERE $2::bigint IS NOT NULL \
             ON CONFLICT (name) DO UPDATE \
             SET share = GREATEST($4, LEAST(1.0, schedules.share * $3)), \
                 share_at_us = (SELECT us FROM t), share_reason = $6 \
             WHERE schedules.share_at_us <= (SELECT us FROM t) - $5 \
             RETURNING share"
        ),
    };
    Ok(
        on_engine!(h, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(local_now_us)
        .bind(factor)
        .bind(floor)
        .bind(cooldown_us.max(0))
        .bind(reason)
        .fetch_optional(ex)
        .await?),
    )
}

/// Raises `name`'s pace by `step` of the cap (up to the cap, where the reason is cleared)
/// unless it is at the cap or changed less than `every_us` ago. The new share when this
/// changed it.
pub async fn speed_up(
    h: &mut impl Handle,
    name: &str,
    step: f64,
    every_us: i64,
    local_now_us: i64,
) -> Result<Option<f64>> {
    let set = "share = CASE WHEN share + $3 >= 1.0 THEN 1.0 ELSE share + $3 END, \
               share_reason = CASE WHEN share + $3 >= 1.0 THEN NULL ELSE share_reason END";
    let sql = match h.kind() {
        Kind::Sqlite => format!(
            "UPDATE schedules SET {set}, share_at_us = $2 \
             WHERE name = $1 AND share < 1.0 AND share_at_us <= $2 - $4 RETURNING share"
        ),
        Kind::Postgres => format!(
            "{PG_NOW} UPDATE schedules SET {set}, share_at_us = (SELECT us FROM t) \
             WHERE name = $1 AND share < 1.0 AND share_at_us <= (SELECT us FROM t) - $4 \
             AND $2::bigint IS NOT NULL RETURNING share"
        ),
    };
    Ok(
        on_engine!(h, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(local_now_us)
        .bind(step)
        .bind(every_us.max(0))
        .fetch_optional(ex)
        .await?),
    )
}

/// Lowers `name`'s pace to at most `share` now, saying why (the breaker opening: dialling
/// restarts gently after the hold).
pub async fn cap_share(
    h: &mut impl Handle,
    name: &str,
    share: f64,
    reason: &str,
    local_now_us: i64,
) -> Result<()> {
    let sql = match h.kind() {
        Kind::Sqlite => "INSERT INTO schedules (name, next_us, share, share_at_us, share_reason) \
             VALUES ($1, $2, $3, $2, $4) \
             ON CONFLICT (name) DO UPDATE SET share = min(schedules.share, $3), \
             share_at_us = $2, share_reason = $4"
            .to_string(),
        Kind::Postgres => format!(
            "{PG_NOW} INSERT INTO schedules (name, next_us, share, share_at_us, share_reason) \
             SELECT $1, t.us, $3, t.us, $4 FROM t WHERE $2::bigint IS NOT NULL \
             ON CONFLICT (name) DO UPDATE SET share = LEAST(schedules.share, $3), \
             share_at_us = (SELECT us FROM t), share_reason = $4"
        ),
    };
    on_engine!(h, ex => sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(local_now_us)
        .bind(share.clamp(0.001, 1.0))
        .bind(reason)
        .execute(ex)
        .await
        .map(|_| ())?);
    Ok(())
}

/// Moves `name`'s next free slot to at least `delay_us` from now (the provider's
/// Retry-After: no process creates a call on this schedule before then).
pub async fn push_next(
    h: &mut impl Handle,
    name: &str,
    delay_us: i64,
    local_now_us: i64,
) -> Result<()> {
    let sql = match h.kind() {
        Kind::Sqlite => "INSERT INTO schedules (name, next_us) VALUES ($1, $2 + $3) \
             ON CONFLICT (name) DO UPDATE SET next_us = max(schedules.next_us, $2 + $3)"
            .to_string(),
        Kind::Postgres => format!(
            "{PG_NOW} INSERT INTO schedules (name, next_us) \
             SELECT $1, t.us + $3 FROM t WHERE $2::bigint IS NOT NULL \
             ON CONFLICT (name) DO UPDATE \
             SET next_us = GREATEST(schedules.next_us, (SELECT us FROM t) + $3)"
        ),
    };
    on_engine!(h, ex => sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(local_now_us)
        .bind(delay_us.max(0))
        .execute(ex)
        .await
        .map(|_| ())?);
    Ok(())
}
