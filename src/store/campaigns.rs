//! The campaign runner's statements: queue the next attempts of a running callout (idempotent
//! INSERT … SELECTs over index ranges of the participations' call summary, kept by triggers in
//! migration 0007), count calls in flight, and summarise progress.

use super::Result;
use super::engine::{Handle, Kind, Qb, on_engine};

pub const ACTIVE: &str = "('queued', 'remotely_queued', 'remote_fetch_queued', 'in_progress')";

/// Calls of the callout still in flight (queued here or at the provider, or ringing/talking):
/// participations whose last call is active, read from the summary index.
pub async fn in_flight(conn: &mut impl Handle, callout_id: i64) -> Result<i64> {
    let sql = format!(
        "SELECT count(*) FROM callout_participations WHERE callout_id = $1 AND last_call_status IN {ACTIVE}"
    );
    Ok(
        on_engine!(conn, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(callout_id)
        .fetch_one(ex).await)?,
    )
}

/// Makes the runners that queue calls for this callout take turns until the transaction ends,
/// so each counts the calls in flight after the previous one's inserts. SQLite: nothing to do,
/// a write transaction (`BEGIN IMMEDIATE`) already holds the database's one write lock.
/// PostgreSQL (read committed): the callout's row is locked (`FOR UPDATE`); a concurrent
/// runner waits for this transaction's commit, then sees its calls.
pub async fn lock_for_queueing(conn: &mut impl Handle, callout_id: i64) -> Result<()> {
    if conn.kind() == Kind::Postgres {
        on_engine!(conn, ex => sqlx::query_scalar::<_, i64>("SELECT id FROM callouts WHERE id = $1 FOR UPDATE")
            .bind(callout_id)
            .fetch_all(ex)
            .await)?;
    }
    Ok(())
}

/// What a runner attempt looks like.
pub struct Attempts<'a> {
    pub callout_id: i64,
    pub max_attempts: u32,
    pub retry_statuses: &'a [String],
    /// `cutoffs[n - 1]`: a participation with `n` attempts may be retried if its last call
    /// reached its status at or before this time.
    pub cutoffs: &'a [String],
    pub remote_request_params: &'a str,
    pub call_flow_logic: Option<&'a str>,
}

/// Creates up to `limit` queued calls for participations that need one: retries first (last
/// call ended in a retry status, attempts left, delay passed, outcome known), then first
/// attempts in id order. Each candidate set is an index range of the participations' call
/// summary, so a tick costs what it queues, not the size of the campaign. Run it inside a
/// write transaction (BEGIN IMMEDIATE): the candidates read are then still candidates when the
/// calls are inserted, so two runners never create the same attempt (the attempt number is
/// also unique per participation); count `in_flight` in the same transaction to size `limit`.
pub async fn queue_attempts(
    conn: &mut impl Handle,
    a: &Attempts<'_>,
    limit: i64,
    now: &str,
) -> Result<u64> {
    let kind = conn.kind();
    let mut ids: Vec<i64> = Vec::new();
    // Retries: one range per attempt count n (1 ≤ n < max), each with its own cut-off.
    if !a.retry_statuses.is_empty() {
        for (i, cutoff) in a.cutoffs.iter().enumerate() {
            let n = i as i64 + 1;
            let room = limit - ids.len() as i64;
            if n >= a.max_attempts as i64 || room <= 0 {
                break;
            }
            let mut qb = Qb::new(
                kind,
                "SELECT cp.id FROM callout_participations cp JOIN phone_calls l ON l.id = cp.last_call_id \
                 WHERE cp.callout_id = ",
            );
            qb.push_bind(a.callout_id);
            qb.push(" AND cp.last_call_status IN (");
            for (i, st) in a.retry_statuses.iter().enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                qb.push_bind(st.clone());
            }
            // A last call whose outcome stayed unknown may have rung: never retried
            // automatically.
            qb.push(") AND cp.call_count = ")
                .push_bind(n)
                .push(" AND cp.last_call_status_at <= ")
                .push_bind(cutoff.clone())
                .push(
                    " AND l.outcome_unknown = false ORDER BY cp.last_call_status_at, cp.id LIMIT ",
                )
                .push_bind(room);
            ids.extend(qb.scalars::<i64>(conn).await?);
        }
    }
    let room = limit - ids.len() as i64;
    if room > 0 {
        let fresh: Vec<i64> = on_engine!(conn, ex => sqlx::query_scalar(
            "SELECT id FROM callout_participations WHERE callout_id = $1 AND call_count = 0 ORDER BY id LIMIT $2",
        )
        .bind(a.callout_id)
        .bind(room)
        .fetch_all(ex).await)?;
        ids.extend(fresh);
    }
    if ids.is_empty() {
        return Ok(0);
    }
    let list = serde_json::to_string(&ids)
        .map_err(|e| super::StoreError::Other(sqlx::Error::Encode(Box::new(e))))?;
    // The id list is one bound JSON array, unpacked by each engine's own function.
    let ids_in = match conn.kind() {
        Kind::Sqlite => "SELECT value FROM json_each($5)",
        Kind::Postgres => "SELECT value::bigint FROM json_array_elements_text($5::json)",
    };
    let sql = format!(
        "INSERT INTO phone_calls (callout_participation_id, contact_id, status, msisdn, \
         remote_request_params, call_flow_logic, runner_attempt, metadata, created_at, updated_at) \
         SELECT cp.id, cp.contact_id, 'queued', cp.msisdn, $1, $2, cp.call_count + 1, '{{}}', $3, $4 \
         FROM callout_participations cp WHERE cp.id IN ({ids_in}) ORDER BY cp.id \
         ON CONFLICT DO NOTHING"
    );
    let r = on_engine!(conn, ex => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
    .bind(a.remote_request_params)
    .bind(a.call_flow_logic)
    .bind(now)
    .bind(now)
    .bind(list)
    .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r)
}

/// One row of the progress summary: participations grouped by their last call.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProgressRow {
    /// Status of the participation's last call (NULL: never called).
    pub last_status: Option<String>,
    /// The last call's `answered_by` (machine detection), if the provider said.
    pub answered_by: Option<String>,
    pub attempts: i64,
    /// The last call errored with an unknown outcome (never retried automatically).
    pub outcome_unknown: bool,
    pub participations: i64,
}

/// Participations of the callout grouped by their last call's status and attempts (from the
/// summary index); the last call itself is read only where its details matter (completed:
/// who answered; errored: whether the outcome stayed unknown).
pub async fn progress(conn: &mut impl Handle, callout_id: i64) -> Result<Vec<ProgressRow>> {
    let answered_by = match conn.kind() {
        Kind::Sqlite => "json_extract(l.remote_response, '$.answered_by')",
        Kind::Postgres => "l.remote_response::json ->> 'answered_by'",
    };
    let sql = format!(
        "SELECT cp.last_call_status AS last_status, \
                CASE WHEN cp.last_call_status = 'completed' THEN \
                     (SELECT {answered_by} FROM phone_calls l WHERE l.id = cp.last_call_id) END \
                  AS answered_by, \
                cp.call_count AS attempts, \
                COALESCE(CASE WHEN cp.last_call_status = 'errored' THEN \
                     (SELECT l.outcome_unknown FROM phone_calls l WHERE l.id = cp.last_call_id) END, false) AS outcome_unknown, \
                count(*) AS participations \
         FROM callout_participations cp WHERE cp.callout_id = $1 GROUP BY 1, 2, 3, 4"
    );
    Ok(
        on_engine!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
    .bind(callout_id)
    .fetch_all(ex).await)?,
    )
}
