//! Callout participations table. Rendered rows carry the effective call flow logic (own, else
//! the callout's), joined in SQL.

use super::engine::{Handle, Qb, on_engine};
use super::filter::{push_contact_filter, push_filter};
use super::{Page, Paged, Participation, Result};
use crate::domain::filter::Filter;

const COLS: &str = "cp.id, cp.callout_id, cp.contact_id, cp.callout_population_id, cp.msisdn, \
    COALESCE(cp.call_flow_logic, co.call_flow_logic) AS call_flow_logic, cp.metadata, cp.created_at, \
    cp.updated_at, cp.call_flow_logic AS own_call_flow_logic";
const FROM: &str =
    " FROM callout_participations cp JOIN callouts co ON co.id = cp.callout_id WHERE true";

#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    All,
    Callout(i64),
    Contact(i64),
    /// Participations a CalloutPopulation created.
    Population(i64),
    /// Participations of calls a PhoneCallCreate created.
    CreatedCalls(i64),
    /// PhoneCallCreate preview: callout filter + participation filter, first `limit` by id.
    Preview {
        callout: &'a Filter,
        limit: Option<i64>,
    },
}

fn push_scope(qb: &mut Qb, scope: Scope<'_>) {
    match scope {
        Scope::All => {}
        Scope::Callout(id) => {
            qb.push(" AND cp.callout_id = ").push_bind(id);
        }
        Scope::Contact(id) => {
            qb.push(" AND cp.contact_id = ").push_bind(id);
        }
        Scope::Population(id) => {
            qb.push(" AND cp.callout_population_id = ").push_bind(id);
        }
        Scope::CreatedCalls(id) => {
            qb.push(" AND cp.id IN (SELECT callout_participation_id FROM phone_calls WHERE create_batch_operation_id = ")
                .push_bind(id)
                .push(")");
        }
        Scope::Preview { callout, .. } => push_filter(qb, "co", callout),
    }
}

pub async fn list(
    conn: &mut impl Handle,
    scope: Scope<'_>,
    filter: &Filter,
    page: Page,
) -> Result<Paged<Participation>> {
    let kind = conn.kind();
    let limit = match scope {
        Scope::Preview { limit, .. } => limit,
        _ => None,
    };
    let build = |select: &str| {
        let mut qb = Qb::new(kind, format!("SELECT {select}{FROM}"));
        push_scope(&mut qb, scope);
        push_filter(&mut qb, "cp", filter);
        qb
    };
    super::page::fetch_page(conn, build, COLS, "cp.id", limit, page).await
}

pub async fn get(conn: &mut impl Handle, id: i64) -> Result<Option<Participation>> {
    let kind = conn.kind();
    let mut qb = Qb::new(kind, format!("SELECT {COLS}{FROM} AND cp.id = "));
    qb.push_bind(id);
    Ok(qb.fetch_optional::<Participation>(conn).await?)
}

pub struct NewParticipation<'a> {
    pub callout_id: i64,
    pub contact_id: i64,
    pub callout_population_id: Option<i64>,
    pub msisdn: &'a str,
    pub call_flow_logic: Option<&'a str>,
    pub metadata: &'a str,
}

pub async fn insert(conn: &mut impl Handle, p: &NewParticipation<'_>, now: &str) -> Result<i64> {
    Ok(on_engine!(conn, ex => sqlx::query_scalar(
        "INSERT INTO callout_participations (callout_id, contact_id, callout_population_id, msisdn, \
         call_flow_logic, metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(p.callout_id)
    .bind(p.contact_id)
    .bind(p.callout_population_id)
    .bind(p.msisdn)
    .bind(p.call_flow_logic)
    .bind(p.metadata)
    .bind(now)
    .bind(now)
    .fetch_all(ex).await)?
    .into_iter()
    .next()
    .ok_or(sqlx::Error::RowNotFound)?)
}

pub async fn update(
    conn: &mut impl Handle,
    id: i64,
    msisdn: &str,
    call_flow_logic: Option<&str>,
    metadata: &str,
    now: &str,
) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query(
        "UPDATE callout_participations SET msisdn = $1, call_flow_logic = $2, metadata = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(msisdn)
    .bind(call_flow_logic)
    .bind(metadata)
    .bind(now)
    .bind(id)
    .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Whether `contact_id` (or `msisdn`) already participates in the callout, excluding `except`.
pub async fn taken(
    conn: &mut impl Handle,
    callout_id: i64,
    contact_id: Option<i64>,
    msisdn: Option<&str>,
    except: Option<i64>,
) -> Result<(bool, bool)> {
    let row: (bool, bool) = on_engine!(conn, ex => sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM callout_participations WHERE callout_id = $1 AND contact_id = $2 AND id IS DISTINCT FROM $4), \
                EXISTS (SELECT 1 FROM callout_participations WHERE callout_id = $1 AND msisdn = $3 AND id IS DISTINCT FROM $4)",
    )
    .bind(callout_id)
    .bind(contact_id)
    .bind(msisdn)
    .bind(except)
    .fetch_one(ex).await)?;
    Ok(row)
}

pub async fn has_phone_calls(conn: &mut impl Handle, id: i64) -> Result<bool> {
    let n: bool = on_engine!(conn, ex => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM phone_calls WHERE callout_participation_id = $1)",
    )
    .bind(id)
    .fetch_one(ex).await)?;
    Ok(n)
}

pub async fn delete(conn: &mut impl Handle, id: i64) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query("DELETE FROM callout_participations WHERE id = $1")
        .bind(id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Populates a callout in one set-based statement: every contact matching `filter` that is not
/// yet in the callout (by contact or msisdn) becomes a participation. Returns rows inserted.
/// Contacts already in are excluded up front, not left to `OR IGNORE`: with AUTOINCREMENT every
/// ignored row would still use up an id, so ids after a requeue would skip numbers.
///
/// Run inside the caller's write transaction, after its row locks (`store::locks`).
pub async fn populate(
    conn: &mut impl Handle,
    callout_id: i64,
    population_id: i64,
    filter: &Filter,
    now: &str,
) -> Result<u64> {
    let kind = conn.kind();
    // No other transaction inserts into this callout until this one ends, so what the next
    // statement reads of it stays true but for this insert's own rows.
    super::locks::lock_participation_inserts(&mut *conn, callout_id).await?;
    // The same transaction, so this check and the insert see one snapshot.
    let side = super::contacts::uses_side_table(filter)
        && super::contacts::metadata_index_ready(&mut *conn).await?;
    let mut qb = Qb::new(
        kind,
        "INSERT INTO callout_participations (callout_id, contact_id, callout_population_id, msisdn, \
         metadata, created_at, updated_at) SELECT ",
    );
    qb.push_bind(callout_id)
        .push(", c.id, ")
        .push_bind(population_id)
        .push(", c.msisdn, '{}', ");
    qb.push_bind(now.to_string())
        .push(", ")
        .push_bind(now.to_string());
    // A callout with participations: the probes skip contacts (or numbers) already in it, so
    // DO NOTHING never burns an id, and DO NOTHING covers a number a concurrent PATCH of a
    // participation is moving (that path does not take the inserts lock).
    // An empty callout needs neither: contacts have distinct ids and numbers, and under the
    // lock no other transaction can have added (or be adding) a row, nor hold one to PATCH. A
    // plain INSERT … SELECT: on PostgreSQL, ON CONFLICT makes every row a speculative
    // insertion that first probes all three unique indexes (measured in docs/BENCHMARKS.md,
    // P2: the insert node 40% slower).
    let empty: bool = on_engine!(conn, ex => sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM callout_participations WHERE callout_id = $1)",
    )
    .bind(callout_id)
    .fetch_one(ex).await)?;
    qb.push(" FROM contacts c WHERE true");
    if !empty {
        qb.push(" AND NOT EXISTS (SELECT 1 FROM callout_participations x WHERE x.callout_id = ")
            .push_bind(callout_id)
            .push(" AND x.contact_id = c.id) AND NOT EXISTS (SELECT 1 FROM callout_participations y WHERE y.callout_id = ")
            .push_bind(callout_id)
            .push(" AND y.msisdn = c.msisdn)");
    }
    push_contact_filter(&mut qb, "c", filter, side);
    qb.push(" ORDER BY c.id");
    if !empty {
        qb.push(" ON CONFLICT DO NOTHING");
    }
    Ok(qb.execute(conn).await?)
}
