//! The campaign runner's statements: queue the next attempts of a running callout (one
//! idempotent INSERT … SELECT), count calls in flight, and summarise progress.

use super::{Conn, Result};
use sqlx::{QueryBuilder, Sqlite};

pub const ACTIVE: &str = "('queued', 'remotely_queued', 'remote_fetch_queued', 'in_progress')";

/// Calls of the callout still in flight (queued here or at the provider, or ringing/talking).
pub async fn in_flight(conn: &mut Conn, callout_id: i64) -> Result<i64> {
    let sql = format!(
        "SELECT count(*) FROM phone_calls pc JOIN callout_participations cp ON cp.id = pc.callout_participation_id \
         WHERE cp.callout_id = ? AND pc.status IN {ACTIVE}"
    );
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(callout_id)
        .fetch_one(conn)
        .await?)
}

/// What a runner attempt looks like.
pub struct Attempts<'a> {
    pub callout_id: i64,
    pub max_attempts: u32,
    pub retry_statuses: &'a [String],
    /// `cutoffs[n - 1]`: a participation with `n` attempts may be retried if its last call
    /// changed at or before this time.
    pub cutoffs: &'a [String],
    pub remote_request_params: &'a str,
    pub call_flow_logic: Option<&'a str>,
    pub limit: i64,
}

/// Creates up to `limit` queued calls for participations that need one: never called, or whose
/// last call ended in a retry status with attempts left and the delay passed. The attempt number
/// is unique per participation, so concurrent runners cannot create the same attempt twice.
pub async fn queue_attempts(conn: &mut Conn, a: &Attempts<'_>, now: &str) -> Result<u64> {
    let mut qb = QueryBuilder::<Sqlite>::new(
        "INSERT OR IGNORE INTO phone_calls (callout_participation_id, contact_id, status, msisdn, \
         remote_request_params, call_flow_logic, runner_attempt, metadata, created_at, updated_at) \
         SELECT cp.id, cp.contact_id, 'queued', cp.msisdn, ",
    );
    qb.push_bind(a.remote_request_params.to_string()).push(", ");
    qb.push_bind(a.call_flow_logic.map(str::to_string));
    qb.push(", COALESCE(s.n, 0) + 1, '{}', ")
        .push_bind(now.to_string())
        .push(", ")
        .push_bind(now.to_string());
    qb.push(
        " FROM callout_participations cp \
         LEFT JOIN (SELECT callout_participation_id AS pid, count(*) AS n, max(id) AS last_id FROM phone_calls \
                    WHERE callout_participation_id IN (SELECT id FROM callout_participations WHERE callout_id = ",
    );
    qb.push_bind(a.callout_id);
    qb.push(") GROUP BY callout_participation_id) s ON s.pid = cp.id LEFT JOIN phone_calls l ON l.id = s.last_id WHERE cp.callout_id = ");
    qb.push_bind(a.callout_id);
    // A last call whose outcome stayed unknown may have rung: never retried automatically.
    qb.push(" AND (s.n IS NULL OR (s.n < ")
        .push_bind(a.max_attempts as i64)
        .push(" AND l.outcome_unknown = 0 AND l.status IN (");
    let mut sep = qb.separated(", ");
    if a.retry_statuses.is_empty() {
        sep.push("''");
    }
    for st in a.retry_statuses {
        sep.push_bind(st.clone());
    }
    qb.push(") AND ");
    if a.cutoffs.is_empty() {
        // One attempt only: nobody is ever retried (and CASE needs at least one WHEN).
        qb.push("0");
    } else {
        qb.push("l.updated_at <= CASE s.n");
        for (i, cutoff) in a.cutoffs.iter().enumerate() {
            qb.push(" WHEN ")
                .push_bind(i as i64 + 1)
                .push(" THEN ")
                .push_bind(cutoff.clone());
        }
        qb.push(" ELSE '' END");
    }
    qb.push(")) ORDER BY cp.id LIMIT ").push_bind(a.limit);
    Ok(qb.build().execute(conn).await?.rows_affected())
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

pub async fn progress(conn: &mut Conn, callout_id: i64) -> Result<Vec<ProgressRow>> {
    Ok(sqlx::query_as(
        "SELECT l.status AS last_status, json_extract(l.remote_response, '$.answered_by') AS answered_by, \
                COALESCE(s.n, 0) AS attempts, COALESCE(l.outcome_unknown, 0) AS outcome_unknown, \
                count(*) AS participations \
         FROM callout_participations cp \
         LEFT JOIN (SELECT callout_participation_id AS pid, count(*) AS n, max(id) AS last_id FROM phone_calls \
                    WHERE callout_participation_id IN (SELECT id FROM callout_participations WHERE callout_id = ?1) \
                    GROUP BY callout_participation_id) s ON s.pid = cp.id \
         LEFT JOIN phone_calls l ON l.id = s.last_id \
         WHERE cp.callout_id = ?1 GROUP BY 1, 2, 3, 4",
    )
    .bind(callout_id)
    .fetch_all(conn)
    .await?)
}
