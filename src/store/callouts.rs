//! Callouts table.

use super::filter::push_filter;
use super::{Callout, Conn, Page, Paged, Result};
use crate::domain::filter::Filter;
use sqlx::{QueryBuilder, Sqlite};

const COLS: &str = "co.id, co.status, co.call_flow_logic, co.metadata, co.created_at, co.updated_at, co.dialing_settings AS dialing";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Callouts a contact participates in.
    Contact(i64),
}

pub async fn list(
    conn: &mut Conn,
    scope: Scope,
    filter: &Filter,
    page: Page,
) -> Result<Paged<Callout>> {
    let build = |select: &str| {
        let mut qb =
            QueryBuilder::<Sqlite>::new(format!("SELECT {select} FROM callouts co WHERE 1"));
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

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<Callout>> {
    Ok(sqlx::query_as(
        "SELECT id, status, call_flow_logic, metadata, created_at, updated_at, dialing_settings AS dialing FROM callouts WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn exists(conn: &mut Conn, id: i64) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM callouts WHERE id = ?)")
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(n != 0)
}

pub async fn insert(
    conn: &mut Conn,
    call_flow_logic: Option<&str>,
    dialing: Option<&str>,
    metadata: &str,
    now: &str,
) -> Result<Callout> {
    Ok(sqlx::query_as(
        "INSERT INTO callouts (status, call_flow_logic, metadata, created_at, updated_at, dialing_settings) \
         VALUES ('initialized', ?, ?, ?, ?, ?) \
         RETURNING id, status, call_flow_logic, metadata, created_at, updated_at, dialing_settings AS dialing",
    )
    .bind(call_flow_logic)
    .bind(metadata)
    .bind(now)
    .bind(now)
    .bind(dialing)
    .fetch_all(conn)
    .await?
    .into_iter()
    .next()
    .ok_or(sqlx::Error::RowNotFound)?)
}

pub async fn update(
    conn: &mut Conn,
    id: i64,
    call_flow_logic: Option<&str>,
    dialing: Option<&str>,
    metadata: &str,
    now: &str,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE callouts SET call_flow_logic = ?, metadata = ?, updated_at = ?, dialing_settings = ? WHERE id = ?",
    )
    .bind(call_flow_logic)
    .bind(metadata)
    .bind(now)
    .bind(dialing)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Applies a state transition atomically: only if the current status is one of `from`.
pub async fn transition(
    conn: &mut Conn,
    id: i64,
    from: &[&str],
    to: &str,
    now: &str,
) -> Result<Option<Callout>> {
    let mut qb = super::transition_sql("callouts", id, from, to, now);
    qb.push(" RETURNING id, status, call_flow_logic, metadata, created_at, updated_at, dialing_settings AS dialing");
    Ok(qb
        .build_query_as::<Callout>()
        .fetch_all(conn)
        .await?
        .into_iter()
        .next())
}

/// (has participations, has batch operations)
pub async fn dependants(conn: &mut Conn, id: i64) -> Result<(bool, bool)> {
    let row: (i64, i64) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM callout_participations WHERE callout_id = ?1), \
                EXISTS (SELECT 1 FROM batch_operations WHERE callout_id = ?1)",
    )
    .bind(id)
    .fetch_one(conn)
    .await?;
    Ok((row.0 != 0, row.1 != 0))
}

pub async fn delete(conn: &mut Conn, id: i64) -> Result<bool> {
    let r = sqlx::query("DELETE FROM callouts WHERE id = ?")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Running callouts that carry dialing settings (the campaign runner's work list).
pub async fn running_campaigns(conn: &mut Conn) -> Result<Vec<Callout>> {
    Ok(sqlx::query_as(
        "SELECT id, status, call_flow_logic, metadata, created_at, updated_at, dialing_settings AS dialing \
         FROM callouts WHERE status = 'running' AND dialing_settings IS NOT NULL ORDER BY id",
    )
    .fetch_all(conn)
    .await?)
}
