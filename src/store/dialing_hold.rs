//! The dialling hold, shared by every process on the database: one row per route while it is
//! held (id 1 the primary, id 2 the fallback: `Route::hold_id`), none while it is free (SQLite
//! migrations 0008 and 0011; the PostgreSQL schema and its 0011). Each read is a primary-key
//! lookup.

use super::Result;
use super::engine::{Handle, on_engine};
use crate::domain::route::Route;

/// Why and since when dialling is held.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DialingHold {
    pub reason: String,
    pub since: String,
    pub updated_at: String,
}

/// `route`'s hold, if it is held.
pub async fn get(conn: &mut impl Handle, route: Route) -> Result<Option<DialingHold>> {
    Ok(on_engine!(conn, ex => sqlx::query_as(
        "SELECT reason, since, updated_at FROM dialing_hold WHERE id = $1"
    )
    .bind(route.hold_id())
    .fetch_optional(ex)
    .await?))
}

/// Holds `route` for `reason` (a hold already in place keeps its `since`). True when this
/// changed the hold (it was free, or held for another reason).
pub async fn set(conn: &mut impl Handle, route: Route, reason: &str, now: &str) -> Result<bool> {
    let affected = on_engine!(conn, ex => sqlx::query(
        "INSERT INTO dialing_hold (id, reason, since, updated_at) VALUES ($3, $1, $2, $2) \
         ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, updated_at = excluded.updated_at \
         WHERE dialing_hold.reason IS DISTINCT FROM excluded.reason",
    )
    .bind(reason)
    .bind(now)
    .bind(route.hold_id())
    .execute(ex)
    .await?
    .rows_affected());
    Ok(affected > 0)
}

/// Frees `route`. True when it was held.
pub async fn clear(conn: &mut impl Handle, route: Route) -> Result<bool> {
    let affected = on_engine!(conn, ex => sqlx::query("DELETE FROM dialing_hold WHERE id = $1")
        .bind(route.hold_id())
        .execute(ex)
        .await?
        .rows_affected());
    Ok(affected > 0)
}
