//! The SMS fallback's statements (migration 0020 on both engines): queue a text for each
//! participation the calls did not reach (one per participation, the UNIQUE constraint
//! deciding), claim one for sending with one conditional UPDATE before any request, move a text
//! along its statuses by compare-and-set, and read what reconciliation, polling and the
//! summaries need.

use super::Result;
use super::engine::{Handle, Kind, Qb, on_engine};
use crate::domain::sms_fallback::TextMessage;

const COLS: &str = "id, callout_participation_id, callout_id, contact_id, msisdn, sender, body, \
    segments, status, remote_message_id, remote_status, error_code, error_message, claimed_at, \
    sent_at, created_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: i64,
    callout_participation_id: i64,
    callout_id: i64,
    contact_id: i64,
    msisdn: String,
    sender: String,
    body: String,
    segments: i64,
    status: String,
    remote_message_id: Option<String>,
    remote_status: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    claimed_at: Option<String>,
    sent_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Row> for TextMessage {
    fn from(r: Row) -> Self {
        TextMessage {
            id: r.id,
            callout_participation_id: r.callout_participation_id,
            callout_id: r.callout_id,
            contact_id: r.contact_id,
            msisdn: r.msisdn,
            from: r.sender,
            body: r.body,
            segments: r.segments,
            status: r.status,
            remote_message_id: r.remote_message_id,
            remote_status: r.remote_status,
            error_code: r.error_code,
            error_message: r.error_message,
            claimed_at: r.claimed_at,
            sent_at: r.sent_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// What makes a participation of a callout due a text.
pub struct Eligible<'a> {
    pub callout_id: i64,
    pub max_attempts: u32,
    pub retry_statuses: &'a [String],
    pub sender: &'a str,
    pub body: &'a str,
    pub segments: i64,
}

/// Queues a text (`pending`) for up to `limit` participations whose last call ended without
/// reaching them and will not be retried: attempts used up, a status not retried, or an
/// outcome left unknown (never redialled). Never for one reached (`completed`) or with a call
/// in flight. One per participation: the UNIQUE constraint makes a second insert, by any
/// process, do nothing. The number queued.
pub async fn enqueue(h: &mut impl Handle, e: &Eligible<'_>, limit: i64, now: &str) -> Result<u64> {
    let mut qb = Qb::new(
        h.kind(),
        "INSERT INTO text_messages (callout_participation_id, callout_id, contact_id, msisdn, \
         sender, body, segments, status, created_at, updated_at) \
         SELECT cp.id, cp.callout_id, cp.contact_id, cp.msisdn, ",
    );
    qb.push_bind(e.sender.to_string())
        .push(", ")
        .push_bind(e.body.to_string())
        .push(", ")
        .push_bind(e.segments)
        .push(", 'pending', ")
        .push_bind(now.to_string())
        .push(", ")
        .push_bind(now.to_string())
        .push(
            " FROM callout_participations cp JOIN phone_calls l ON l.id = cp.last_call_id \
             WHERE cp.callout_id = ",
        )
        .push_bind(e.callout_id)
        .push(
            // The final statuses but `completed`, as index ranges of the call summary (the
            // reached, most of a campaign, are never read).
            " AND cp.last_call_status IN ('errored', 'busy', 'failed', 'not_answered', \
             'canceled') AND (cp.call_count >= ",
        )
        .push_bind(e.max_attempts as i64)
        .push(" OR l.outcome_unknown = true");
    if !e.retry_statuses.is_empty() {
        qb.push(" OR cp.last_call_status NOT IN (")
            .push_list(e.retry_statuses)
            .push(")");
    } else {
        qb.push(" OR true");
    }
    qb.push(
        ") AND NOT EXISTS (SELECT 1 FROM text_messages t WHERE t.callout_participation_id = cp.id) \
         ORDER BY cp.id",
    )
    .push_limit(Some(limit))
    .push(" ON CONFLICT DO NOTHING");
    Ok(qb.execute(h).await?)
}

/// Callouts that are running and have texts waiting to be sent.
pub async fn pending_callouts(h: &mut impl Handle) -> Result<Vec<i64>> {
    Ok(on_engine!(h, ex => sqlx::query_scalar(
        "SELECT DISTINCT t.callout_id FROM text_messages t JOIN callouts c ON c.id = t.callout_id \
         WHERE t.status = 'pending' AND c.status = 'running' ORDER BY 1"
    )
    .fetch_all(ex)
    .await)?)
}

/// Claims the callout's next pending text (`pending` → `sending`, with the claim's time), before
/// any request is sent: of two processes asking at once, one gets it. Run it in the write
/// transaction that reserves the text's slot.
pub async fn claim_next(
    h: &mut impl Handle,
    callout_id: i64,
    now: &str,
) -> Result<Option<TextMessage>> {
    let pick = "SELECT id FROM text_messages WHERE callout_id = $1 AND status = 'pending' \
                ORDER BY id LIMIT 1";
    let sql = match h.kind() {
        Kind::Sqlite => format!(
            "UPDATE text_messages SET status = 'sending', claimed_at = $2, updated_at = $2 \
             WHERE id = ({pick}) AND status = 'pending' RETURNING {COLS}"
        ),
        Kind::Postgres => format!(
            "WITH picked AS MATERIALIZED ({pick} FOR UPDATE SKIP LOCKED) \
             UPDATE text_messages SET status = 'sending', claimed_at = $2, updated_at = $2 \
             WHERE id IN (SELECT id FROM picked) AND status = 'pending' RETURNING {COLS}"
        ),
    };
    let row: Option<Row> = on_engine!(h, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(callout_id)
        .bind(now)
        .fetch_optional(ex)
        .await)?;
    Ok(row.map(Into::into))
}

/// A change of a text's status, applied only from the statuses named (compare-and-set).
#[derive(Debug, Clone, Default)]
pub struct Change<'a> {
    pub status: &'a str,
    /// Set when given; kept otherwise (also for the fields below).
    pub remote_message_id: Option<&'a str>,
    pub remote_status: Option<&'a str>,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub sent_at: Option<&'a str>,
    /// Always written: None stops polling.
    pub next_poll_at: Option<&'a str>,
    /// Clears an earlier error (a 429 before the accepted create) when no new one is given.
    pub clear_error: bool,
}

/// Applies `c` to text `id` if its status is one of `from`; whether it did.
pub async fn transition(
    h: &mut impl Handle,
    id: i64,
    from: &[&str],
    c: &Change<'_>,
    now: &str,
) -> Result<bool> {
    let mut qb = Qb::new(h.kind(), "UPDATE text_messages SET status = ");
    qb.push_bind(c.status.to_string())
        .push(", remote_message_id = COALESCE(")
        .push_bind(c.remote_message_id.map(str::to_string))
        .push(", remote_message_id), remote_status = COALESCE(")
        .push_bind(c.remote_status.map(str::to_string))
        .push(", remote_status), error_code = COALESCE(")
        .push_bind(c.error_code.map(str::to_string))
        .push(if c.clear_error {
            ", NULL"
        } else {
            ", error_code"
        })
        .push("), error_message = COALESCE(")
        .push_bind(c.error_message.map(str::to_string))
        .push(if c.clear_error {
            ", NULL"
        } else {
            ", error_message"
        })
        .push("), sent_at = COALESCE(")
        .push_bind(c.sent_at.map(str::to_string))
        .push(", sent_at), next_poll_at = ")
        .push_bind(c.next_poll_at.map(str::to_string))
        .push(", updated_at = ")
        .push_bind(now.to_string())
        .push(" WHERE id = ")
        .push_bind(id)
        .push(" AND status IN (");
    let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
    qb.push_list(&from).push(")");
    Ok(qb.execute(h).await? > 0)
}

async fn select(
    h: &mut impl Handle,
    wher: &str,
    bind: Option<&str>,
    n: Option<i64>,
) -> Result<Vec<TextMessage>> {
    let sql = format!("SELECT {COLS} FROM text_messages WHERE {wher}");
    let rows: Vec<Row> = match (bind, n) {
        (Some(b), Some(n)) => on_engine!(h, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(b).bind(n).fetch_all(ex).await)?,
        (Some(b), None) => on_engine!(h, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(b).fetch_all(ex).await)?,
        (None, Some(n)) => on_engine!(h, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(n).fetch_all(ex).await)?,
        (None, None) => on_engine!(h, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(ex).await)?,
    };
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn get(h: &mut impl Handle, id: i64) -> Result<Option<TextMessage>> {
    let sql = format!("SELECT {COLS} FROM text_messages WHERE id = $1");
    let row: Option<Row> = on_engine!(h, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(ex).await)?;
    Ok(row.map(Into::into))
}

/// The text the provider knows by `sid`.
pub async fn by_remote_id(h: &mut impl Handle, sid: &str) -> Result<Option<TextMessage>> {
    Ok(select(h, "remote_message_id = $1", Some(sid), None)
        .await?
        .pop())
}

/// Texts claimed at or before `before` whose create never came back (a process died, or the
/// answer was lost): reconciliation asks the provider about them.
pub async fn stale_sending(h: &mut impl Handle, before: &str, n: i64) -> Result<Vec<TextMessage>> {
    select(
        h,
        "status = 'sending' AND claimed_at <= $1 ORDER BY id LIMIT $2",
        Some(before),
        Some(n),
    )
    .await
}

/// Texts at the provider, not final, due a status fetch.
pub async fn due_polls(h: &mut impl Handle, now: &str, n: i64) -> Result<Vec<TextMessage>> {
    select(
        h,
        "next_poll_at IS NOT NULL AND next_poll_at <= $1 ORDER BY next_poll_at, id LIMIT $2",
        Some(now),
        Some(n),
    )
    .await
}

/// Every text of a callout, in id order.
pub async fn of_callout(h: &mut impl Handle, callout_id: i64) -> Result<Vec<TextMessage>> {
    let sql = format!("SELECT {COLS} FROM text_messages WHERE callout_id = $1 ORDER BY id");
    let rows: Vec<Row> = on_engine!(h, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(callout_id).fetch_all(ex).await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// A callout's texts counted by status (and their segments).
pub async fn summary(h: &mut impl Handle, callout_id: i64) -> Result<Vec<(String, i64, i64)>> {
    Ok(on_engine!(h, ex => sqlx::query_as(
        "SELECT status, count(*), CAST(COALESCE(sum(segments), 0) AS BIGINT) FROM text_messages \
         WHERE callout_id = $1 GROUP BY status ORDER BY status"
    )
    .bind(callout_id)
    .fetch_all(ex)
    .await)?)
}
