//! The dialling hold, shared by every process on the database file: one row (id 1) while
//! dialling is held, none while it is free (migration 0008). Each read is a primary-key lookup.

use super::{Conn, Result};

/// Why and since when dialling is held.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DialingHold {
    pub reason: String,
    pub since: String,
    pub updated_at: String,
}

/// The hold, if dialling is held.
pub async fn get(conn: &mut Conn) -> Result<Option<DialingHold>> {
    Ok(
        sqlx::query_as("SELECT reason, since, updated_at FROM dialing_hold WHERE id = 1")
            .fetch_optional(conn)
            .await?,
    )
}

/// Holds dialling for `reason` (a hold already in place keeps its `since`). True when this
/// changed the hold (it was free, or held for another reason).
pub async fn set(conn: &mut Conn, reason: &str, now: &str) -> Result<bool> {
    let r = sqlx::query(
        "INSERT INTO dialing_hold (id, reason, since, updated_at) VALUES (1, ?1, ?2, ?2) \
         ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, updated_at = excluded.updated_at \
         WHERE dialing_hold.reason IS NOT excluded.reason",
    )
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Frees dialling. True when it was held.
pub async fn clear(conn: &mut Conn) -> Result<bool> {
    let r = sqlx::query("DELETE FROM dialing_hold WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}
