//! The dialling hold, shared by every process on the database file: one row (id 1) while
//! dialling is held, none while it is free (SQLite migration 0008; in the PostgreSQL schema). Each read is a primary-key lookup.

use super::Result;
use super::engine::{Handle, on_engine};

/// Why and since when dialling is held.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DialingHold {
    pub reason: String,
    pub since: String,
    pub updated_at: String,
}

/// The hold, if dialling is held.
pub async fn get(conn: &mut impl Handle) -> Result<Option<DialingHold>> {
    Ok(on_engine!(conn, ex => sqlx::query_as(
        "SELECT reason, since, updated_at FROM dialing_hold WHERE id = 1"
    )
    .fetch_optional(ex)
    .await?))
}

/// Holds dialling for `reason` (a hold already in place keeps its `since`). True when this
/// changed the hold (it was free, or held for another reason).
pub async fn set(conn: &mut impl Handle, reason: &str, now: &str) -> Result<bool> {
    let affected = on_engine!(conn, ex => sqlx::query(
        "INSERT INTO dialing_hold (id, reason, since, updated_at) VALUES (1, $1, $2, $2) \
         ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, updated_at = excluded.updated_at \
         WHERE dialing_hold.reason IS DISTINCT FROM excluded.reason",
    )
    .bind(reason)
    .bind(now)
    .execute(ex)
    .await?
    .rows_affected());
    Ok(affected > 0)
}

/// Frees dialling. True when it was held.
pub async fn clear(conn: &mut impl Handle) -> Result<bool> {
    let affected = on_engine!(conn, ex => sqlx::query("DELETE FROM dialing_hold WHERE id = 1")
        .execute(ex)
        .await?
        .rows_affected());
    Ok(affected > 0)
}
