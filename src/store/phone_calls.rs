//! Phone calls table: CRUD, filters, the set-based batch statements, and the conditional
//! updates through which workers claim and finish calls.

use super::engine::{Handle, Kind, Qb, on_engine};
use super::filter::push_filter;
use super::{Page, Paged, PhoneCall, Result};
use crate::domain::filter::Filter;

pub(crate) const COLS: &str = "pc.id, pc.callout_participation_id, pc.contact_id, pc.create_batch_operation_id, \
    pc.queue_batch_operation_id, pc.queue_remote_fetch_batch_operation_id, pc.status, pc.msisdn, \
    pc.remote_call_id, pc.remote_status, pc.remote_direction, pc.remote_error_message, pc.metadata, \
    pc.remote_response, pc.remote_request_params, pc.remote_queue_response, \
    COALESCE(pc.call_flow_logic, cp.call_flow_logic, co.call_flow_logic) AS call_flow_logic, \
    pc.remotely_queued_at, pc.route, pc.created_at, pc.updated_at, pc.call_flow_logic AS own_call_flow_logic, \
    cp.callout_id AS callout_id, pc.dial_attempt_id, pc.dial_started_at";
pub(crate) const FROM: &str = " FROM phone_calls pc \
    LEFT JOIN callout_participations cp ON cp.id = pc.callout_participation_id \
    LEFT JOIN callouts co ON co.id = cp.callout_id WHERE true";

/// Which calls an index or batch operation works on.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    All,
    Participation(i64),
    Callout(i64),
    Contact(i64),
    CreatedBy(i64),
    QueuedBy(i64),
    FetchQueuedBy(i64),
    /// PhoneCallQueue / RemoteFetch preview: calls with a participation whose callout matches
    /// `callout` and participation matches `participation`; first `limit` by id.
    Preview {
        callout: &'a Filter,
        participation: &'a Filter,
        limit: Option<i64>,
    },
}

pub(crate) fn push_scope(qb: &mut Qb, scope: Scope<'_>) {
    match scope {
        Scope::All => {}
        Scope::Participation(id) => {
            qb.push(" AND pc.callout_participation_id = ").push_bind(id);
        }
        Scope::Callout(id) => {
            qb.push(" AND cp.callout_id = ").push_bind(id);
        }
        Scope::Contact(id) => {
            qb.push(" AND pc.contact_id = ").push_bind(id);
        }
        Scope::CreatedBy(id) => {
            qb.push(" AND pc.create_batch_operation_id = ")
                .push_bind(id);
        }
        Scope::QueuedBy(id) => {
            qb.push(" AND pc.queue_batch_operation_id = ").push_bind(id);
        }
        Scope::FetchQueuedBy(id) => {
            qb.push(" AND pc.queue_remote_fetch_batch_operation_id = ")
                .push_bind(id);
        }
        Scope::Preview {
            callout,
            participation,
            ..
        } => {
            qb.push(" AND pc.callout_participation_id IS NOT NULL");
            push_filter(qb, "co", callout);
            push_filter(qb, "cp", participation);
        }
    }
}

fn scope_limit(scope: Scope<'_>) -> Option<i64> {
    match scope {
        Scope::Preview { limit, .. } => limit,
        _ => None,
    }
}

pub async fn list(
    conn: &mut impl Handle,
    scope: Scope<'_>,
    filter: &Filter,
    page: Page,
) -> Result<Paged<PhoneCall>> {
    let kind = conn.kind();
    let limit = scope_limit(scope);
    let build = |select: &str| {
        let mut qb = Qb::new(kind, format!("SELECT {select}{FROM}"));
        push_scope(&mut qb, scope);
        push_filter(&mut qb, "pc", filter);
        qb
    };
    super::page::fetch_page(conn, build, COLS, "pc.id", limit, page).await
}

/// The newest `limit` calls in scope matching the filter, newest first: a walk down the
/// primary key, no count and no OFFSET.
pub async fn latest(
    conn: &mut impl Handle,
    scope: Scope<'_>,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<PhoneCall>> {
    let kind = conn.kind();
    let mut qb = Qb::new(kind, format!("SELECT {COLS}{FROM}"));
    push_scope(&mut qb, scope);
    push_filter(&mut qb, "pc", filter);
    qb.push(" ORDER BY pc.id DESC LIMIT ").push_bind(limit);
    Ok(qb.fetch_all::<PhoneCall>(conn).await?)
}

/// Count of the preview set (limited), for validations.
pub async fn count(conn: &mut impl Handle, scope: Scope<'_>, filter: &Filter) -> Result<i64> {
    let kind = conn.kind();
    let mut qb = Qb::new(kind, format!("SELECT count(*) FROM (SELECT pc.id{FROM}"));
    push_scope(&mut qb, scope);
    push_filter(&mut qb, "pc", filter);
    qb.push(" ORDER BY pc.id")
        .push_limit(scope_limit(scope))
        .push(") AS preview");
    Ok(qb.scalar(conn).await?)
}

pub async fn get(conn: &mut impl Handle, id: i64) -> Result<Option<PhoneCall>> {
    let kind = conn.kind();
    let mut qb = Qb::new(kind, format!("SELECT {COLS}{FROM} AND pc.id = "));
    qb.push_bind(id);
    Ok(qb.fetch_optional::<PhoneCall>(conn).await?)
}

pub async fn by_remote_call_id(
    conn: &mut impl Handle,
    remote_call_id: &str,
) -> Result<Option<PhoneCall>> {
    let kind = conn.kind();
    let mut qb = Qb::new(
        kind,
        match kind {
            Kind::Sqlite => format!("SELECT {COLS}{FROM} AND pc.remote_call_id = "),
            Kind::Postgres => format!("SELECT {COLS}{FROM} AND lower(pc.remote_call_id) = "),
        },
    );
    // Provider SIDs match case-insensitively (the unique index is on the same expression).
    match kind {
        Kind::Sqlite => qb
            .push_bind(remote_call_id.to_string())
            .push(" COLLATE NOCASE"),
        Kind::Postgres => qb
            .push("lower(")
            .push_bind(remote_call_id.to_string())
            .push(")"),
    };
    Ok(qb.fetch_optional::<PhoneCall>(conn).await?)
}

/// The unresolved claim (a `queued` call) with this attempt id.
pub async fn by_dial_attempt(conn: &mut impl Handle, attempt: &str) -> Result<Option<PhoneCall>> {
    let kind = conn.kind();
    let mut qb = Qb::new(
        kind,
        format!(
            "SELECT {COLS}{FROM} AND pc.status = 'queued' AND pc.dial_attempt_id IS NOT NULL AND pc.dial_attempt_id = "
        ),
    );
    qb.push_bind(attempt.to_string());
    Ok(qb.fetch_optional::<PhoneCall>(conn).await?)
}

/// Calls to `msisdn` whose create is in flight (claimed, no provider id yet); at most two, so
/// a caller can tell one from several. Walks the small partial index of open dial attempts.
pub async fn in_flight_to(conn: &mut impl Handle, msisdn: &str) -> Result<Vec<PhoneCall>> {
    let kind = conn.kind();
    let mut qb = Qb::new(
        kind,
        format!(
            "SELECT {COLS}{FROM} AND pc.status = 'queued' AND pc.dial_attempt_id IS NOT NULL \
             AND pc.remote_call_id IS NULL AND pc.msisdn = "
        ),
    );
    qb.push_bind(msisdn.to_string());
    qb.push(" ORDER BY pc.id LIMIT 2");
    Ok(qb.fetch_all::<PhoneCall>(conn).await?)
}

pub struct NewPhoneCall<'a> {
    pub callout_participation_id: Option<i64>,
    pub contact_id: i64,
    pub msisdn: &'a str,
    pub status: &'a str,
    pub remote_call_id: Option<&'a str>,
    pub remote_status: Option<&'a str>,
    pub remote_direction: Option<&'a str>,
    pub call_flow_logic: Option<&'a str>,
    pub metadata: &'a str,
    pub remote_request_params: &'a str,
}

pub async fn insert(conn: &mut impl Handle, c: &NewPhoneCall<'_>, now: &str) -> Result<i64> {
    Ok(on_engine!(conn, ex => sqlx::query_scalar(
        "INSERT INTO phone_calls (callout_participation_id, contact_id, msisdn, status, remote_call_id, \
         remote_status, remote_direction, call_flow_logic, metadata, remote_request_params, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(c.callout_participation_id)
    .bind(c.contact_id)
    .bind(c.msisdn)
    .bind(c.status)
    .bind(c.remote_call_id)
    .bind(c.remote_status)
    .bind(c.remote_direction)
    .bind(c.call_flow_logic)
    .bind(c.metadata)
    .bind(c.remote_request_params)
    .bind(now)
    .bind(now)
    .fetch_all(ex).await)?
    .into_iter()
    .next()
    .ok_or(sqlx::Error::RowNotFound)?)
}

/// Updates the editable fields, only while the call is `created` ([fix] SCFM §14.10).
pub async fn update_created(
    conn: &mut impl Handle,
    id: i64,
    msisdn: &str,
    call_flow_logic: Option<&str>,
    metadata: &str,
    remote_request_params: &str,
    now: &str,
) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query(
        "UPDATE phone_calls SET msisdn = $1, call_flow_logic = $2, metadata = $3, remote_request_params = $4, \
         updated_at = $5 WHERE id = $6 AND status = 'created'",
    )
    .bind(msisdn)
    .bind(call_flow_logic)
    .bind(metadata)
    .bind(remote_request_params)
    .bind(now)
    .bind(id)
    .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

pub async fn has_events(conn: &mut impl Handle, id: i64) -> Result<bool> {
    let n: bool = on_engine!(conn, ex => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM remote_phone_call_events WHERE phone_call_id = $1)",
    )
    .bind(id)
    .fetch_one(ex).await)?;
    Ok(n)
}

/// Deletes only a `created` call.
pub async fn delete_created(conn: &mut impl Handle, id: i64) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query("DELETE FROM phone_calls WHERE id = $1 AND status = 'created'")
        .bind(id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Applies an API transition atomically (`from` -> `to`); with `batch_column`, also records the
/// batch operation that fired it. Returns whether the call moved.
pub async fn transition(
    conn: &mut impl Handle,
    id: i64,
    from: &[&str],
    to: &str,
    now: &str,
) -> Result<bool> {
    let kind = conn.kind();
    let mut qb = Qb::new(kind, "UPDATE phone_calls SET status = ");
    qb.push_bind(to.to_string())
        .push(", updated_at = ")
        .push_bind(now.to_string());
    if to == "remote_fetch_queued" {
        qb.push(", next_poll_at = NULL");
    }
    qb.push(" WHERE id = ")
        .push_bind(id)
        .push(" AND status IN (");
    for (i, f) in from.iter().enumerate() {
        if i > 0 {
            qb.push(", ");
        }
        qb.push_bind(f.to_string());
    }
    qb.push(")");
    if to == "remote_fetch_queued" {
        qb.push(" AND remote_call_id IS NOT NULL");
    }
    Ok(qb.execute(conn).await? == 1)
}

/// Number of calls whose `column` is later than `since`, optionally restricted to `statuses`
/// (the `max_per_period` count). `column` is one of three fixed names chosen in the domain.
pub async fn count_since(
    conn: &mut impl Handle,
    column: &'static str,
    since: &str,
    statuses: Option<&[String]>,
) -> Result<i64> {
    let kind = conn.kind();
    let mut qb = Qb::new(
        kind,
        format!("SELECT count(*) FROM phone_calls WHERE {column} > "),
    );
    qb.push_bind(since.to_string());
    if let Some(statuses) = statuses {
        qb.push(" AND status IN (");
        for (i, s) in statuses.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            qb.push_bind(s.clone());
        }
        qb.push(")");
    }
    Ok(qb.scalar(conn).await?)
}

/// PhoneCallCreate run: one call per participation in the preview, in one INSERT … SELECT.
pub async fn create_from_participations(
    conn: &mut impl Handle,
    callout: &Filter,
    participation: &Filter,
    limit: Option<i64>,
    batch_id: i64,
    remote_request_params: &str,
    now: &str,
) -> Result<u64> {
    let kind = conn.kind();
    let mut qb = Qb::new(
        kind,
        "INSERT INTO phone_calls (callout_participation_id, contact_id, create_batch_operation_id, status, msisdn, \
         remote_request_params, created_at, updated_at) SELECT cp.id, cp.contact_id, ",
    );
    qb.push_bind(batch_id)
        .push(", 'created', cp.msisdn, ")
        .push_bind(remote_request_params.to_string());
    qb.push(", ")
        .push_bind(now.to_string())
        .push(", ")
        .push_bind(now.to_string());
    qb.push(" FROM callout_participations cp JOIN callouts co ON co.id = cp.callout_id WHERE true");
    push_filter(&mut qb, "co", callout);
    push_filter(&mut qb, "cp", participation);
    qb.push(" ORDER BY cp.id").push_limit(limit);
    Ok(qb.execute(conn).await?)
}

/// PhoneCallQueue / RemoteFetch run: fires `queue` (created -> queued) or `queue_remote_fetch`
/// (remotely_queued with a remote id -> remote_fetch_queued) on every call of the preview that can
/// take it, recording the batch operation. One UPDATE; calls in other states are untouched.
/// The set a Queue / RemoteFetch batch operation acts on.
pub struct QueueSet<'a> {
    pub callout: &'a Filter,
    pub participation: &'a Filter,
    pub calls: &'a Filter,
    pub limit: Option<i64>,
}

pub async fn queue_preview(
    conn: &mut impl Handle,
    set: &QueueSet<'_>,
    batch_id: i64,
    fetch: bool,
    now: &str,
) -> Result<u64> {
    let kind = conn.kind();
    let QueueSet {
        callout,
        participation,
        calls,
        limit,
    } = *set;
    let (to, from, column) = if fetch {
        (
            "remote_fetch_queued",
            "remotely_queued",
            "queue_remote_fetch_batch_operation_id",
        )
    } else {
        ("queued", "created", "queue_batch_operation_id")
    };
    let mut qb = Qb::new(
        kind,
        format!("UPDATE phone_calls SET status = '{to}', {column} = "),
    );
    qb.push_bind(batch_id)
        .push(", updated_at = ")
        .push_bind(now.to_string());
    if fetch {
        qb.push(", next_poll_at = NULL");
    }
    qb.push(format!(" WHERE status = '{from}'"));
    if fetch {
        qb.push(" AND remote_call_id IS NOT NULL");
    }
    qb.push(format!(" AND id IN (SELECT pc.id{FROM}"));
    push_scope(
        &mut qb,
        Scope::Preview {
            callout,
            participation,
            limit,
        },
    );
    push_filter(&mut qb, "pc", calls);
    qb.push(" ORDER BY pc.id").push_limit(limit).push(")");
    Ok(qb.execute(conn).await?)
}

// ---------------------------------------------------------------------------------------------
// Dialling and polling. Every step is one conditional statement, so two processes on one
// database never both act on the same call.

/// Claims up to `limit` of the oldest `queued` calls nobody has claimed: records each dial
/// attempt durably (a fresh random attempt id + start time) before any provider request is
/// made. Calls of a campaign whose callout is paused or stopped are held back (pause takes
/// effect before the next dial). Run it inside a write transaction: the UPDATE and the read
/// of the claimed rows then see the same state.
pub async fn claim_for_dial(
    conn: &mut impl Handle,
    limit: i64,
    now: &str,
    rules: &ClaimRules,
) -> Result<Vec<PhoneCall>> {
    let kind = conn.kind();
    // A callout's own pace: its schedule's next slot must be due by then (`schedules`).
    let due_by = match kind {
        Kind::Sqlite => "$3 + $4",
        // The server's clock ($3, this machine's, is not used but bound alike on both).
        Kind::Postgres => {
            "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint + $4 \
             AND $3::bigint IS NOT NULL"
        }
    };
    // The candidates: the oldest unclaimed queued calls, not held back by a paused campaign, by
    // their callout's calls-per-second cap, by another call to the same person in flight, nor
    // by the person's calls placed in the last hour ($5: since when, $6: how many at most).
    let candidates = format!(
        "SELECT q.id FROM phone_calls q WHERE q.status = 'queued' AND q.dial_attempt_id IS NULL \
         AND NOT EXISTS (SELECT 1 FROM callout_participations cp JOIN callouts co ON co.id = cp.callout_id \
                         WHERE cp.id = q.callout_participation_id AND co.dialing_settings IS NOT NULL \
                           AND co.status <> 'running') \
         AND NOT EXISTS (SELECT 1 FROM callout_participations cp2 \
                         JOIN schedules s ON s.name = '{prefix}' || cp2.callout_id \
                         WHERE cp2.id = q.callout_participation_id AND s.next_us > {due_by}) \
         AND NOT EXISTS (SELECT 1 FROM phone_calls f WHERE f.contact_id = q.contact_id AND f.id <> q.id \
                         AND (f.status IN ('remotely_queued', 'in_progress', 'remote_fetch_queued') \
                              OR (f.status = 'queued' AND f.dial_attempt_id IS NOT NULL))) \
         AND (SELECT count(*) FROM phone_calls h WHERE h.contact_id = q.contact_id \
              AND h.remote_call_id IS NOT NULL AND h.dial_started_at >= $5) < $6 \
         ORDER BY q.id LIMIT $2",
        prefix = super::schedules::CALLOUT_PREFIX,
    );
    // A fresh random attempt id per row (32 hex digits). On PostgreSQL the candidates are locked,
    // skipping rows another process is claiming right now, and taken once in a materialized CTE:
    // as an `IN (…)` subquery the planner may run a `LIMIT … SKIP LOCKED` scan more than once
    // and claim more than `limit` rows.
    let sql = match kind {
        Kind::Sqlite => format!(
            "UPDATE phone_calls SET dial_attempt_id = lower(hex(randomblob(16))), dial_started_at = $1, route = $7 \
             WHERE id IN ({candidates}) AND status = 'queued' AND dial_attempt_id IS NULL RETURNING id"
        ),
        Kind::Postgres => format!(
            "WITH picked AS MATERIALIZED ({candidates} FOR UPDATE OF q SKIP LOCKED) \
             UPDATE phone_calls SET dial_attempt_id = replace(gen_random_uuid()::text, '-', ''), \
                    dial_started_at = $1, route = $7 \
             WHERE id IN (SELECT id FROM picked) AND status = 'queued' AND dial_attempt_id IS NULL \
             RETURNING id"
        ),
    };
    let ids: Vec<i64> = on_engine!(conn, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
    .bind(now)
    .bind(limit)
    .bind(rules.local_now_us)
    .bind(rules.lead_us)
    .bind(rules.person_since.clone())
    .bind(rules.person_max)
    .bind(rules.route.name())
    .fetch_all(ex).await)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = Qb::new(kind, format!("SELECT {COLS}{FROM} AND pc.id IN ("));
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            qb.push(", ");
        }
        qb.push_bind(id);
    }
    qb.push(") ORDER BY pc.id");
    Ok(qb.fetch_all::<PhoneCall>(conn).await?)
}

/// What holds a queued call back in `claim_for_dial`, besides a paused campaign and another
/// call to the same person in flight.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    /// A callout's next slot is due within `lead_us` of now (this machine's clock on SQLite,
    /// the server's on PostgreSQL).
    pub local_now_us: i64,
    pub lead_us: i64,
    /// A person is not called again once `person_max` of their calls placed since
    /// `person_since` (a timestamp) reached the provider.
    pub person_since: String,
    pub person_max: i64,
    /// The route the claimed calls go out on (recorded on each).
    pub route: crate::domain::route::Route,
}

/// Undoes claims made earlier in this transaction (calls whose slot turned out not to be due).
pub async fn unclaim(conn: &mut impl Handle, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut qb = Qb::new(
        conn.kind(),
        "UPDATE phone_calls SET dial_attempt_id = NULL, dial_started_at = NULL, route = NULL \
         WHERE status = 'queued' AND id IN (",
    );
    qb.push_list(ids).push(")");
    qb.execute(conn).await?;
    Ok(())
}

/// Each of `ids`' callout and its dialing settings (campaign callouts only).
pub async fn callout_dialing(
    conn: &mut impl Handle,
    ids: &[i64],
) -> Result<Vec<(i64, i64, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = Qb::new(
        conn.kind(),
        "SELECT pc.id, co.id, co.dialing_settings FROM phone_calls pc \
         JOIN callout_participations cp ON cp.id = pc.callout_participation_id \
         JOIN callouts co ON co.id = cp.callout_id \
         WHERE co.dialing_settings IS NOT NULL AND pc.id IN (",
    );
    qb.push_list(ids).push(")");
    Ok(qb.fetch_all::<(i64, i64, String)>(conn).await?)
}

/// What the provider answered to a create.
pub struct Accepted<'a> {
    pub remote_call_id: &'a str,
    pub remote_status: Option<&'a str>,
    pub remote_direction: Option<&'a str>,
    pub response: &'a str,
}

/// The provider accepted the call: `queued` -> `remotely_queued` with its SID, only for the
/// attempt that dialled it.
pub async fn mark_remotely_queued(
    conn: &mut impl Handle,
    id: i64,
    attempt_id: &str,
    a: &Accepted<'_>,
    now: &str,
    next_poll_at: &str,
) -> Result<bool> {
    let Accepted {
        remote_call_id,
        remote_status,
        remote_direction,
        response,
    } = *a;
    let r = on_engine!(conn, ex => sqlx::query(
        "UPDATE phone_calls SET status = 'remotely_queued', remote_call_id = $1, remote_status = $2, \
         remote_direction = $3, remote_queue_response = $4, remote_error_message = NULL, remotely_queued_at = $5, \
         updated_at = $6, next_poll_at = $7 WHERE id = $8 AND status = 'queued' AND dial_attempt_id = $9",
    )
    .bind(remote_call_id)
    .bind(remote_status)
    .bind(remote_direction)
    .bind(response)
    .bind(now)
    .bind(now)
    .bind(next_poll_at)
    .bind(id)
    .bind(attempt_id)
    .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// A call that could not be placed, or whose outcome stayed unknown.
pub struct Errored<'a> {
    pub id: i64,
    pub attempt_id: &'a str,
    pub message: &'a str,
    /// The provider may have placed it: never retried automatically.
    pub outcome_unknown: bool,
}

/// `queued` -> `errored` with the reason, only for the attempt that claimed it.
pub async fn mark_errored(conn: &mut impl Handle, e: &Errored<'_>, now: &str) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query(
        "UPDATE phone_calls SET status = 'errored', remote_error_message = $1, outcome_unknown = $2, \
         remotely_queued_at = $3, updated_at = $4 WHERE id = $5 AND status = 'queued' AND dial_attempt_id = $6",
    )
    .bind(e.message)
    .bind(e.outcome_unknown)
    .bind(now)
    .bind(now)
    .bind(e.id)
    .bind(e.attempt_id)
    .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Before a retried create (429, not sent): swaps the claim to a fresh attempt id and start
/// time, only while the old claim is still unresolved. False when reconciliation resolved it
/// meanwhile, so the retry must not be sent.
pub async fn renew_claim(
    conn: &mut impl Handle,
    id: i64,
    old_attempt: &str,
    new_attempt: &str,
    now: &str,
) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query(
        "UPDATE phone_calls SET dial_attempt_id = $1, dial_started_at = $2 \
         WHERE id = $3 AND status = 'queued' AND dial_attempt_id = $4",
    )
    .bind(new_attempt)
    .bind(now)
    .bind(id)
    .bind(old_attempt)
    .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Notes the latest dial problem without changing the state (rate limits, unknown outcome).
pub async fn note_error(conn: &mut impl Handle, id: i64, message: &str, now: &str) -> Result<()> {
    on_engine!(conn, ex => sqlx::query("UPDATE phone_calls SET remote_error_message = $1, updated_at = $2 WHERE id = $3")
        .bind(message)
        .bind(now)
        .bind(id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Calls claimed for dialling whose attempt started before `before` and never resolved (a
/// crash, or an unknown outcome): to be reconciled by asking the provider, never redialled.
pub async fn unresolved_dials(
    conn: &mut impl Handle,
    before: &str,
    limit: i64,
) -> Result<Vec<PhoneCall>> {
    let kind = conn.kind();
    let mut qb = Qb::new(
        kind,
        format!(
            "SELECT {COLS}{FROM} AND pc.status = 'queued' AND pc.dial_attempt_id IS NOT NULL AND pc.dial_started_at < "
        ),
    );
    qb.push_bind(before.to_string())
        .push(" ORDER BY pc.id LIMIT ")
        .push_bind(limit);
    Ok(qb.fetch_all::<PhoneCall>(conn).await?)
}

/// Leases calls due for a status fetch: every `remote_fetch_queued` call, and calls in flight
/// (`remotely_queued`, `in_progress`) whose `next_poll_at` has passed. The lease pushes
/// `next_poll_at` to `lease_until`, so another process skips them meanwhile.
pub async fn lease_for_poll(
    conn: &mut impl Handle,
    now: &str,
    lease_until: &str,
    limit: i64,
) -> Result<Vec<PhoneCall>> {
    const DUE: &str = "SELECT id FROM phone_calls WHERE remote_call_id IS NOT NULL AND ( \
             (status = 'remote_fetch_queued' AND (next_poll_at IS NULL OR next_poll_at <= $1)) OR \
             (status IN ('remotely_queued', 'in_progress') AND next_poll_at IS NOT NULL AND next_poll_at <= $1)) \
           ORDER BY id LIMIT $3";
    // PostgreSQL: locked and taken once, as in `claim_for_dial`.
    let sql = match conn.kind() {
        Kind::Sqlite => {
            format!("UPDATE phone_calls SET next_poll_at = $2 WHERE id IN ({DUE}) RETURNING id")
        }
        Kind::Postgres => format!(
            "WITH due AS MATERIALIZED ({DUE} FOR UPDATE SKIP LOCKED) \
             UPDATE phone_calls SET next_poll_at = $2 WHERE id IN (SELECT id FROM due) RETURNING id"
        ),
    };
    let ids: Vec<i64> = on_engine!(conn, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .fetch_all(ex).await)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(c) = get(conn, id).await? {
            out.push(c);
        }
    }
    Ok(out)
}

/// Applies a provider status (from a fetch or a webhook): sets `remote_status` and, when given,
/// the response and the new local status. Conditional on the status read before, so a
/// concurrent change wins and this one is re-evaluated by the caller.
pub struct RemoteUpdate<'a> {
    pub id: i64,
    pub expected_status: &'a str,
    pub new_status: &'a str,
    pub remote_status: Option<&'a str>,
    pub remote_response: Option<&'a str>,
    pub remote_error_message: Option<Option<&'a str>>,
    pub call_flow_logic: Option<&'a str>,
    pub next_poll: NextPoll<'a>,
}

/// What a remote update does to the poller's schedule (`next_poll_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextPoll<'a> {
    /// Final: never polled again.
    Clear,
    /// Poll at this time.
    At(&'a str),
    /// Keep the poll already scheduled; schedule one at this time if there is none (a call in
    /// flight is always polled eventually, in case its final webhook never comes).
    KeepOr(&'a str),
}

pub async fn apply_remote(conn: &mut impl Handle, u: &RemoteUpdate<'_>, now: &str) -> Result<bool> {
    let kind = conn.kind();
    let mut qb = Qb::new(kind, "UPDATE phone_calls SET status = ");
    qb.push_bind(u.new_status.to_string());
    qb.push(", updated_at = ").push_bind(now.to_string());
    if let Some(rs) = u.remote_status {
        qb.push(", remote_status = ").push_bind(rs.to_string());
    }
    if let Some(resp) = u.remote_response {
        qb.push(", remote_response = ").push_bind(resp.to_string());
    }
    if let Some(msg) = u.remote_error_message {
        qb.push(", remote_error_message = ")
            .push_bind(msg.map(str::to_string));
    }
    if let Some(cfl) = u.call_flow_logic {
        qb.push(", call_flow_logic = ").push_bind(cfl.to_string());
    }
    match u.next_poll {
        NextPoll::Clear => qb.push(", next_poll_at = NULL"),
        NextPoll::At(t) => qb.push(", next_poll_at = ").push_bind(t.to_string()),
        NextPoll::KeepOr(t) => qb
            .push(", next_poll_at = COALESCE(next_poll_at, ")
            .push_bind(t.to_string())
            .push(")"),
    };
    qb.push(" WHERE id = ")
        .push_bind(u.id)
        .push(" AND status = ")
        .push_bind(u.expected_status.to_string());
    Ok(qb.execute(conn).await? == 1)
}

/// Counts by status (TUI and progress).
pub async fn status_counts(
    conn: &mut impl Handle,
    callout_id: Option<i64>,
) -> Result<Vec<(String, i64)>> {
    let kind = conn.kind();
    let mut qb = Qb::new(kind, "SELECT pc.status, count(*) FROM phone_calls pc");
    if let Some(id) = callout_id {
        qb.push(" JOIN callout_participations cp ON cp.id = pc.callout_participation_id WHERE cp.callout_id = ")
            .push_bind(id);
    }
    qb.push(" GROUP BY pc.status ORDER BY pc.status");
    Ok(qb.fetch_all::<(String, i64)>(conn).await?)
}
