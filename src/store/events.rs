//! Remote phone call events (what providers posted to the webhook).

use super::engine::{Handle, Qb, on_engine};
use super::filter::push_filter;
use super::{Page, Paged, RemotePhoneCallEvent, Result};
use crate::domain::filter::Filter;

const COLS: &str = "e.id, e.phone_call_id, e.details, e.metadata, e.remote_call_id, e.remote_direction, \
    e.call_flow_logic, e.created_at, e.updated_at";
const FROM: &str = " FROM remote_phone_call_events e JOIN phone_calls pc ON pc.id = e.phone_call_id \
    LEFT JOIN callout_participations cp ON cp.id = pc.callout_participation_id WHERE true";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    PhoneCall(i64),
    Participation(i64),
    Callout(i64),
    Contact(i64),
}

pub async fn list(
    conn: &mut impl Handle,
    scope: Scope,
    filter: &Filter,
    page: Page,
) -> Result<Paged<RemotePhoneCallEvent>> {
    let kind = conn.kind();
    let build = |select: &str| {
        let mut qb = Qb::new(kind, format!("SELECT {select}{FROM}"));
        match scope {
            Scope::All => {}
            Scope::PhoneCall(id) => {
                qb.push(" AND e.phone_call_id = ").push_bind(id);
            }
            Scope::Participation(id) => {
                qb.push(" AND pc.callout_participation_id = ").push_bind(id);
            }
            Scope::Callout(id) => {
                qb.push(" AND cp.callout_id = ").push_bind(id);
            }
            Scope::Contact(id) => {
                qb.push(" AND pc.contact_id = ").push_bind(id);
            }
        }
        push_filter(&mut qb, "e", filter);
        qb
    };
    super::page::fetch_page(conn, build, COLS, "e.id", None, page).await
}

pub async fn get(conn: &mut impl Handle, id: i64) -> Result<Option<RemotePhoneCallEvent>> {
    let kind = conn.kind();
    let mut qb = Qb::new(kind, format!("SELECT {COLS}{FROM} AND e.id = "));
    qb.push_bind(id);
    Ok(qb.fetch_optional::<RemotePhoneCallEvent>(conn).await?)
}

pub struct NewEvent<'a> {
    pub phone_call_id: i64,
    pub details: &'a str,
    pub remote_call_id: &'a str,
    pub remote_direction: &'a str,
    pub call_flow_logic: &'a str,
}

/// The key the duplicate check looks events up by (migration 20261128000006): the first 8 bytes
/// of SHA-1 over the details text, big-endian. Stored, so it must never change.
pub fn details_hash(details: &str) -> i64 {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(details.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

pub async fn insert(conn: &mut impl Handle, e: &NewEvent<'_>, now: &str) -> Result<i64> {
    Ok(on_engine!(conn, ex => sqlx::query_scalar(
        "INSERT INTO remote_phone_call_events (phone_call_id, details, details_hash, metadata, remote_call_id, \
         remote_direction, call_flow_logic, created_at, updated_at) VALUES ($1, $2, $3, '{}', $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(e.phone_call_id)
    .bind(e.details)
    .bind(details_hash(e.details))
    .bind(e.remote_call_id)
    .bind(e.remote_direction)
    .bind(e.call_flow_logic)
    .bind(now)
    .bind(now)
    .fetch_all(ex).await)?
    .into_iter()
    .next()
    .ok_or(sqlx::Error::RowNotFound)?)
}

/// Whether an event with exactly these details was already stored for the call (a replayed
/// or duplicated webhook delivery). Reads only the call's events with the same details hash
/// (and those stored before hashes existed), through the (phone_call_id, details_hash) index.
pub async fn duplicate(conn: &mut impl Handle, phone_call_id: i64, details: &str) -> Result<bool> {
    let n: bool = on_engine!(conn, ex => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM remote_phone_call_events \
           WHERE phone_call_id = $1 AND details_hash = $2 AND details = $3) \
         OR EXISTS (SELECT 1 FROM remote_phone_call_events \
           WHERE phone_call_id = $1 AND details_hash IS NULL AND details = $3)",
    )
    .bind(phone_call_id)
    .bind(details_hash(details))
    .bind(details)
    .fetch_one(ex).await)?;
    Ok(n)
}

pub async fn update_metadata(
    conn: &mut impl Handle,
    id: i64,
    metadata: &str,
    now: &str,
) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query(
        "UPDATE remote_phone_call_events SET metadata = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(metadata)
    .bind(now)
    .bind(id)
    .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Sets the metadata of the call's most recent event (the answer a flow just received).
pub async fn set_latest_metadata(
    conn: &mut impl Handle,
    phone_call_id: i64,
    metadata: &str,
    now: &str,
) -> Result<()> {
    on_engine!(conn, ex => sqlx::query(
        "UPDATE remote_phone_call_events SET metadata = $1, updated_at = $2 \
         WHERE id = (SELECT max(id) FROM remote_phone_call_events WHERE phone_call_id = $3)",
    )
    .bind(metadata)
    .bind(now)
    .bind(phone_call_id)
    .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The newest `limit` events, of one callout or of all, newest first (the live pane): a walk
/// down the primary key, no count and no OFFSET.
pub async fn latest(
    conn: &mut impl Handle,
    callout_id: Option<i64>,
    limit: i64,
) -> Result<Vec<RemotePhoneCallEvent>> {
    let kind = conn.kind();
    let mut qb = Qb::new(kind, format!("SELECT {COLS}{FROM}"));
    if let Some(id) = callout_id {
        qb.push(" AND cp.callout_id = ").push_bind(id);
    }
    qb.push(" ORDER BY e.id DESC LIMIT ").push_bind(limit);
    Ok(qb.fetch_all::<RemotePhoneCallEvent>(conn).await?)
}
