//! Batch operations table: CRUD, atomic state transitions and the worker's claim.

use super::engine::{Handle, Kind, Qb, on_engine};
use super::filter::push_filter;
use super::{BatchOperation, Page, Paged, Result};
use crate::domain::filter::Filter;

const COLS: &str = "bo.id, bo.callout_id, bo.parameters, bo.metadata, bo.status, bo.created_at, bo.updated_at, bo.type AS kind";
const RETURNING: &str =
    " RETURNING id, callout_id, parameters, metadata, status, created_at, updated_at, type AS kind";

fn push_types(qb: &mut Qb, types: &[&str]) {
    if types.is_empty() {
        return;
    }
    qb.push(" AND bo.type IN (");
    for (i, t) in types.iter().enumerate() {
        if i > 0 {
            qb.push(", ");
        }
        qb.push_bind(t.to_string());
    }
    qb.push(")");
}

/// Index; `callout_id` restricts to one callout (no existence check, as SCFM); `types` (if not
/// empty) restricts the type.
pub async fn list(
    conn: &mut impl Handle,
    callout_id: Option<i64>,
    types: &[&str],
    filter: &Filter,
    page: Page,
) -> Result<Paged<BatchOperation>> {
    let kind = conn.kind();
    let build = |select: &str| {
        let mut qb = Qb::new(
            kind,
            format!("SELECT {select} FROM batch_operations bo WHERE true"),
        );
        if let Some(id) = callout_id {
            qb.push(" AND bo.callout_id = ").push_bind(id);
        }
        push_types(&mut qb, types);
        push_filter(&mut qb, "bo", filter);
        qb
    };
    super::page::fetch_page(conn, build, COLS, "bo.id", None, page).await
}

/// A batch operation by id, among `types` (all types when empty).
pub async fn get(
    conn: &mut impl Handle,
    id: i64,
    types: &[&str],
) -> Result<Option<BatchOperation>> {
    let kind = conn.kind();
    let mut qb = Qb::new(
        kind,
        format!("SELECT {COLS} FROM batch_operations bo WHERE bo.id = "),
    );
    qb.push_bind(id);
    push_types(&mut qb, types);
    Ok(qb.fetch_optional::<BatchOperation>(conn).await?)
}

pub async fn insert(
    conn: &mut impl Handle,
    kind: &str,
    callout_id: Option<i64>,
    parameters: &str,
    metadata: &str,
    now: &str,
) -> Result<BatchOperation> {
    let sql = format!(
        "INSERT INTO batch_operations (callout_id, type, parameters, metadata, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'preview', $5, $6){RETURNING}"
    );
    Ok(
        on_engine!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(callout_id)
        .bind(kind)
        .bind(parameters)
        .bind(metadata)
        .bind(now)
        .bind(now)
        .fetch_all(ex).await)?
        .into_iter()
        .next()
        .ok_or(sqlx::Error::RowNotFound)?,
    )
}

pub async fn update(
    conn: &mut impl Handle,
    id: i64,
    parameters: &str,
    metadata: &str,
    now: &str,
) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query(
        "UPDATE batch_operations SET parameters = $1, metadata = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(parameters)
    .bind(metadata)
    .bind(now)
    .bind(id)
    .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Atomic transition from one of `from` to `to`.
pub async fn transition(
    conn: &mut impl Handle,
    id: i64,
    from: &[&str],
    to: &str,
    now: &str,
) -> Result<Option<BatchOperation>> {
    let mut qb = super::transition_sql(conn.kind(), "batch_operations", id, from, to, now);
    qb.push(RETURNING);
    Ok(qb
        .fetch_all::<BatchOperation>(conn)
        .await?
        .into_iter()
        .next())
}

/// Claims the oldest queued operation for this worker (`queued` -> `running`), or one whose
/// run was claimed before `stale_before` and never finished (a crashed process). One statement,
/// so two processes never claim the same operation.
pub async fn claim_next(
    conn: &mut impl Handle,
    now: &str,
    stale_before: &str,
) -> Result<Option<BatchOperation>> {
    let lock = match conn.kind() {
        Kind::Sqlite => "",
        Kind::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let sql = format!(
        "UPDATE batch_operations SET status = 'running', claimed_at = $1, updated_at = $1 \
         WHERE id = (SELECT id FROM batch_operations WHERE status = 'queued' \
                     OR (status = 'running' AND claimed_at < $2) ORDER BY id LIMIT 1{lock}) \
           AND (status = 'queued' OR (status = 'running' AND claimed_at < $2)){RETURNING}"
    );
    Ok(
        on_engine!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(stale_before)
        .fetch_all(ex).await)?
        .into_iter()
        .next(),
    )
}

/// `running` -> `finished`, only by the claim that ran it.
pub async fn finish(conn: &mut impl Handle, id: i64, claimed_at: &str, now: &str) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query(
        "UPDATE batch_operations SET status = 'finished', claimed_at = NULL, updated_at = $1 \
         WHERE id = $2 AND status = 'running' AND claimed_at = $3",
    )
    .bind(now)
    .bind(id)
    .bind(claimed_at)
    .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Whether records created by this operation block its deletion (SCFM §8.4).
pub async fn has_results(conn: &mut impl Handle, id: i64) -> Result<bool> {
    let n: bool = on_engine!(conn, ex => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM callout_participations WHERE callout_population_id = $1) \
             OR EXISTS (SELECT 1 FROM phone_calls WHERE create_batch_operation_id = $1 \
                        OR queue_batch_operation_id = $1 OR queue_remote_fetch_batch_operation_id = $1)",
    )
    .bind(id)
    .fetch_one(ex).await)?;
    Ok(n)
}

pub async fn delete(conn: &mut impl Handle, id: i64) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query("DELETE FROM batch_operations WHERE id = $1")
        .bind(id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}
