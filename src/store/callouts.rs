//! Callouts table.

use super::engine::{Handle, Qb, on_engine};
use super::filter::push_filter;
use super::{Callout, Page, Paged, Result};
use crate::domain::filter::Filter;

const COLS: &str = "co.id, co.status, co.call_flow_logic, co.metadata, co.created_at, co.updated_at, co.dialing_settings AS dialing";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Callouts a contact participates in.
    Contact(i64),
}

pub async fn list(
    conn: &mut impl Handle,
    scope: Scope,
    filter: &Filter,
    page: Page,
) -> Result<Paged<Callout>> {
    let kind = conn.kind();
    let build = |select: &str| {
        let mut qb = Qb::new(kind, format!("SELECT {select} FROM callouts co WHERE true"));
        if let Scope::Contact(id) = scope {
            qb.push(
                " AND co.id IN (SELECT callout_id FROM callout_participations WHERE contact_id = ",
            )
            .push_bind(id)
            .push(")");
        }
        push_filter(&mut qb, "co", filter);
        qb
    };
    super::page::fetch_page(conn, build, COLS, "co.id", None, page).await
}

pub async fn get(conn: &mut impl Handle, id: i64) -> Result<Option<Callout>> {
    Ok(on_engine!(conn, ex => sqlx::query_as(
        "SELECT id, status, call_flow_logic, metadata, created_at, updated_at, dialing_settings AS dialing FROM callouts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(ex).await)?)
}

pub async fn exists(conn: &mut impl Handle, id: i64) -> Result<bool> {
    let n: bool = on_engine!(conn, ex => sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM callouts WHERE id = $1)")
        .bind(id)
        .fetch_one(ex).await)?;
    Ok(n)
}

pub async fn insert(
    conn: &mut impl Handle,
    call_flow_logic: Option<&str>,
    dialing: Option<&str>,
    metadata: &str,
    now: &str,
) -> Result<Callout> {
    Ok(on_engine!(conn, ex => sqlx::query_as(
        "INSERT INTO callouts (status, call_flow_logic, metadata, created_at, updated_at, dialing_settings) \
         VALUES ('initialized', $1, $2, $3, $4, $5) \
         RETURNING id, status, call_flow_logic, metadata, created_at, updated_at, dialing_settings AS dialing",
    )
    .bind(call_flow_logic)
    .bind(metadata)
    .bind(now)
    .bind(now)
    .bind(dialing)
    .fetch_all(ex).await)?
    .into_iter()
    .next()
    .ok_or(sqlx::Error::RowNotFound)?)
}

pub async fn update(
    conn: &mut impl Handle,
    id: i64,
    call_flow_logic: Option<&str>,
    dialing: Option<&str>,
    metadata: &str,
    now: &str,
) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query(
        "UPDATE callouts SET call_flow_logic = $1, metadata = $2, updated_at = $3, dialing_settings = $4 WHERE id = $5",
    )
    .bind(call_flow_logic)
    .bind(metadata)
    .bind(now)
    .bind(dialing)
    .bind(id)
    .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Applies a state transition atomically: only if the current status is one of `from`.
pub async fn transition(
    conn: &mut impl Handle,
    id: i64,
    from: &[&str],
    to: &str,
    now: &str,
) -> Result<Option<Callout>> {
    let mut qb = super::transition_sql(conn.kind(), "callouts", id, from, to, now);
    qb.push(" RETURNING id, status, call_flow_logic, metadata, created_at, updated_at, dialing_settings AS dialing");
    Ok(qb.fetch_all::<Callout>(conn).await?.into_iter().next())
}

/// (has participations, has batch operations)
pub async fn dependants(conn: &mut impl Handle, id: i64) -> Result<(bool, bool)> {
    let row: (bool, bool) = on_engine!(conn, ex => sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM callout_participations WHERE callout_id = $1), \
                EXISTS (SELECT 1 FROM batch_operations WHERE callout_id = $1)",
    )
    .bind(id)
    .fetch_one(ex).await)?;
    Ok(row)
}

pub async fn delete(conn: &mut impl Handle, id: i64) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query("DELETE FROM callouts WHERE id = $1")
        .bind(id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Running callouts that carry dialing settings (the campaign runner's work list).
pub async fn running_campaigns(conn: &mut impl Handle) -> Result<Vec<Callout>> {
    Ok(on_engine!(conn, ex => sqlx::query_as(
        "SELECT id, status, call_flow_logic, metadata, created_at, updated_at, dialing_settings AS dialing \
         FROM callouts WHERE status = 'running' AND dialing_settings IS NOT NULL ORDER BY id",
    )
    .fetch_all(ex).await)?)
}
