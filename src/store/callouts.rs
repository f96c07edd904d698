//! Callouts table.

use super::engine::{Handle, Qb, on_engine};
use super::filter::push_filter;
use super::{Callout, Page, Paged, Result};
use crate::domain::filter::Filter;

const COLS: &str = "co.id, co.status, co.call_flow_logic, co.metadata, co.created_at, co.updated_at, co.dialing_settings AS dialing, \
     co.created_by, co.started_by, co.requires_approval, co.approved_by, co.approved_at";
/// [`COLS`] without the alias, for `RETURNING`.
const RETURNING: &str = " RETURNING id, status, call_flow_logic, metadata, created_at, updated_at, dialing_settings AS dialing, \
     created_by, started_by, requires_approval, approved_by, approved_at";

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
        sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM callouts co WHERE co.id = $1")),
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

/// What a new callout is made of.
pub struct NewCallout<'a> {
    pub call_flow_logic: Option<&'a str>,
    pub dialing: Option<&'a str>,
    pub metadata: &'a str,
    pub created_by: Option<&'a str>,
    pub requires_approval: bool,
}

pub async fn insert(conn: &mut impl Handle, c: NewCallout<'_>, now: &str) -> Result<Callout> {
    Ok(on_engine!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO callouts (status, call_flow_logic, metadata, created_at, updated_at, dialing_settings, \
           created_by, requires_approval) \
         VALUES ('initialized', $1, $2, $3, $4, $5, $6, $7){RETURNING}",
    )))
    .bind(c.call_flow_logic)
    .bind(c.metadata)
    .bind(now)
    .bind(now)
    .bind(c.dialing)
    .bind(c.created_by)
    .bind(c.requires_approval)
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
    requires_approval: bool,
    now: &str,
) -> Result<bool> {
    // Any change clears an approval: the second operator approved what they saw.
    let r = on_engine!(conn, ex => sqlx::query(
        "UPDATE callouts SET call_flow_logic = $1, metadata = $2, updated_at = $3, dialing_settings = $4, \
           requires_approval = $6, approved_by = NULL, approved_at = NULL WHERE id = $5",
    )
    .bind(call_flow_logic)
    .bind(metadata)
    .bind(now)
    .bind(dialing)
    .bind(id)
    .bind(requires_approval)
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
    qb.push(RETURNING);
    Ok(qb.fetch_all::<Callout>(conn).await?.into_iter().next())
}

/// Starts a callout (`from` → running) as `by`, only if it needs no approval or has one: one
/// conditional statement, so an approval cannot be withdrawn between the check and the start.
/// `started_by` keeps the first operator who started it.
pub async fn start(
    conn: &mut impl Handle,
    id: i64,
    from: &[&str],
    by: Option<&str>,
    now: &str,
) -> Result<Option<Callout>> {
    let mut qb = Qb::new(
        conn.kind(),
        "UPDATE callouts SET status = 'running', started_by = coalesce(started_by, ",
    );
    qb.push_bind(by.map(str::to_string))
        .push("), updated_at = ")
        .push_bind(now.to_string())
        .push(" WHERE id = ")
        .push_bind(id)
        .push(" AND status IN (")
        .push_list(&from.iter().map(|f| f.to_string()).collect::<Vec<_>>())
        .push(") AND (NOT requires_approval OR approved_by IS NOT NULL)")
        .push(RETURNING);
    Ok(qb.fetch_all::<Callout>(conn).await?.into_iter().next())
}

/// Records `by`'s approval of a callout waiting for one, unless `by` created it: one
/// conditional statement (the service checks first, to say which rule refused).
pub async fn approve(
    conn: &mut impl Handle,
    id: i64,
    by: &str,
    now: &str,
) -> Result<Option<Callout>> {
    Ok(
        on_engine!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE callouts SET approved_by = $1, approved_at = $2, updated_at = $2 \
         WHERE id = $3 AND requires_approval AND approved_by IS NULL AND status = 'initialized' \
           AND created_by IS DISTINCT FROM $1{RETURNING}",
    )))
    .bind(by)
    .bind(now)
    .bind(id)
    .fetch_all(ex).await)?
        .into_iter()
        .next(),
    )
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
        sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM callouts co \
         WHERE co.status = 'running' AND co.dialing_settings IS NOT NULL ORDER BY co.id")),
    )
    .fetch_all(ex).await)?)
}

/// Clears the approval of a callout not started yet; the approver it had, if any. Run it in
/// the write transaction that changes what the callout will do.
pub async fn clear_approval(conn: &mut impl Handle, id: i64, now: &str) -> Result<Option<String>> {
    let was: Option<Option<String>> = on_engine!(conn, ex => sqlx::query_scalar(
        "SELECT approved_by FROM callouts WHERE id = $1 AND status = 'initialized'",
    )
    .bind(id)
    .fetch_optional(ex).await)?;
    let Some(Some(was)) = was else {
        return Ok(None);
    };
    on_engine!(conn, ex => sqlx::query(
        "UPDATE callouts SET approved_by = NULL, approved_at = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(ex).await.map(|_| ()))?;
    Ok(Some(was))
}

/// Callouts waiting for a second operator: they require approval, have none, and have not
/// started. Oldest first, at most `limit`.
pub async fn awaiting_approval(conn: &mut impl Handle, limit: i64) -> Result<Vec<Callout>> {
    Ok(
        on_engine!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM callouts co \
         WHERE co.requires_approval AND co.approved_by IS NULL AND co.status = 'initialized' \
         ORDER BY co.id LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(ex).await)?,
    )
}
