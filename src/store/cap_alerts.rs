//! The CAP import ledger (migration 18): which CAP messages scfm has taken, and their callout.
//! Taking a message is one conditional statement, so two importers racing on one alert never
//! both draft it.

use super::Result;
use super::engine::{Handle, on_engine};

/// A message's row in the ledger.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Taken {
    pub msg_type: String,
    /// The callout it drafted, updated or cancelled; None while drafting, or after the callout
    /// was deleted.
    pub callout_id: Option<i64>,
    /// `drafting` or `done`.
    pub state: String,
    pub imported_at: String,
}

/// The ledger row of message `identifier` of `sender`, if it was taken.
pub async fn find(h: &mut impl Handle, sender: &str, identifier: &str) -> Result<Option<Taken>> {
    Ok(on_engine!(h, ex => sqlx::query_as(
        "SELECT msg_type, callout_id, state, imported_at FROM cap_alerts \
         WHERE sender = $1 AND identifier = $2",
    )
    .bind(sender)
    .bind(identifier)
    .fetch_optional(ex)
    .await)?)
}

/// Takes the message for an import: true when this caller now holds it (state `drafting`).
/// A message already taken is taken again only when `retake` allows: its callout is gone (a
/// `done` row without one), or an import of it was left `drafting` before `stale_before` (a
/// crash between taking and recording).
pub async fn take(
    h: &mut impl Handle,
    sender: &str,
    identifier: &str,
    msg_type: &str,
    now: &str,
    retake: Option<&str>,
) -> Result<bool> {
    let n = on_engine!(h, ex => sqlx::query(
        "INSERT INTO cap_alerts (sender, identifier, msg_type, callout_id, state, imported_at) \
         VALUES ($1, $2, $3, NULL, 'drafting', $4) \
         ON CONFLICT (sender, identifier) DO UPDATE \
           SET msg_type = excluded.msg_type, state = 'drafting', imported_at = excluded.imported_at \
         WHERE $5 IS NOT NULL AND cap_alerts.callout_id IS NULL \
           AND (cap_alerts.state = 'done' OR cap_alerts.imported_at < $5)",
    )
    .bind(sender)
    .bind(identifier)
    .bind(msg_type)
    .bind(now)
    .bind(retake)
    .execute(ex)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Records the callout of a message this caller took.
pub async fn done(
    h: &mut impl Handle,
    sender: &str,
    identifier: &str,
    callout_id: i64,
) -> Result<()> {
    on_engine!(h, ex => sqlx::query(
        "UPDATE cap_alerts SET callout_id = $3, state = 'done' \
         WHERE sender = $1 AND identifier = $2",
    )
    .bind(sender)
    .bind(identifier)
    .bind(callout_id)
    .execute(ex)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Gives a taken message back (its import was refused, or only asked the operator), so it can
/// be imported again.
pub async fn release(h: &mut impl Handle, sender: &str, identifier: &str) -> Result<()> {
    on_engine!(h, ex => sqlx::query(
        "DELETE FROM cap_alerts WHERE sender = $1 AND identifier = $2 AND state = 'drafting'",
    )
    .bind(sender)
    .bind(identifier)
    .execute(ex)
    .await
    .map(|_| ()))?;
    Ok(())
}
