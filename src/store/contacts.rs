//! Contacts table.

use super::engine::{Engine, Handle, Kind, Qb, on_engine};
use super::filter::{push_contact_filter, push_filter, side_table_pair};
use super::{Contact, Page, Paged, Result, StoreError, metadata_counts};
use crate::domain::filter::Filter;

const COLS: &str = "c.id, c.msisdn, c.metadata, c.created_at, c.updated_at";

/// Which contacts an index lists (SCFM §1.2 nested routes).
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    All,
    /// Contacts participating in a callout.
    Callout(i64),
    /// Contacts of participations a CalloutPopulation created.
    Population(i64),
    /// Contacts of calls a PhoneCallCreate created (distinct).
    CreatedCalls(i64),
    /// Contacts having a participation in the given set (PhoneCallCreate preview): callouts
    /// matching one filter and participations matching another, first `limit` by id.
    ParticipationPreview {
        callout: &'a Filter,
        participation: &'a Filter,
        limit: Option<i64>,
    },
}

fn push_scope(qb: &mut Qb, scope: Scope<'_>) {
    match scope {
        Scope::All => {}
        Scope::ParticipationPreview {
            callout,
            participation,
            limit,
        } => {
            qb.push(
                " AND c.id IN (SELECT cp.contact_id FROM callout_participations cp \
                     JOIN callouts co ON co.id = cp.callout_id WHERE true",
            );
            push_filter(qb, "cp", participation);
            push_filter(qb, "co", callout);
            qb.push(" ORDER BY cp.id").push_limit(limit).push(")");
        }
        Scope::Callout(id) => {
            qb.push(
                " AND c.id IN (SELECT contact_id FROM callout_participations WHERE callout_id = ",
            )
            .push_bind(id)
            .push(")");
        }
        Scope::Population(id) => {
            qb.push(" AND c.id IN (SELECT contact_id FROM callout_participations WHERE callout_population_id = ")
                .push_bind(id)
                .push(")");
        }
        Scope::CreatedCalls(id) => {
            qb.push(" AND c.id IN (SELECT contact_id FROM phone_calls WHERE create_batch_operation_id = ")
                .push_bind(id)
                .push(")");
        }
    }
}

/// Runs `query` on `conn`, telling it whether the side table may answer metadata conditions.
/// Only when `wants_side` (a filter has such a condition) does it open a read transaction, so
/// the backlog check and the query see one snapshot; other queries pay nothing for it.
async fn with_side_table<T>(
    conn: &mut impl Handle,
    wants_side: bool,
    query: impl AsyncFnOnce(&mut Engine<'_>, bool) -> Result<T>,
) -> Result<T> {
    if !wants_side {
        return query(&mut conn.engine(), false).await;
    }
    let mut tx = super::engine::begin(conn).await?;
    let side = metadata_index_ready(&mut tx).await?;
    let out = query(&mut tx.engine(), side).await?;
    tx.commit().await?;
    Ok(out)
}

/// Paged index: rows in id order plus the total count.
pub async fn list(
    conn: &mut impl Handle,
    scope: Scope<'_>,
    filter: &Filter,
    extra: Option<&Filter>,
    page: Page,
) -> Result<Paged<Contact>> {
    let kind = conn.kind();
    let wants_side = uses_side_table(filter) || extra.is_some_and(uses_side_table);
    with_side_table(conn, wants_side, async |conn, side| {
        let build = |select: &str| {
            let mut qb = Qb::new(kind, format!("SELECT {select} FROM contacts c WHERE true"));
            push_scope(&mut qb, scope);
            push_contact_filter(&mut qb, "c", filter, side);
            if let Some(extra) = extra {
                push_contact_filter(&mut qb, "c", extra, side);
            }
            qb
        };
        super::page::fetch_page(conn, build, COLS, "c.id", None, page).await
    })
    .await
}

/// Whether `filter` has a condition the `contact_metadata` side table can answer.
pub fn uses_side_table(filter: &Filter) -> bool {
    filter.conds.iter().any(|c| side_table_pair(c).is_some())
}

/// Whether the side table is complete: no CSV import left contacts without their side rows
/// (`contact_metadata_backlog` is empty). Read it in the same transaction as the query it guards.
/// PostgreSQL has no side table (its GIN index on `metadata::jsonb` is kept by every write):
/// never.
pub async fn metadata_index_ready(conn: &mut impl Handle) -> Result<bool> {
    if conn.kind() == Kind::Postgres {
        return Ok(false);
    }
    Ok(
        on_engine!(conn, ex => sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM contact_metadata_backlog)")
            .fetch_one(ex).await)?,
    )
}

/// Keyset page for the TUI: contacts with id after `after_id` (or before, when `backwards`),
/// at most `limit`, in id order. Instant at any depth of a 1,000,000-row table.
pub async fn keyset(
    conn: &mut impl Handle,
    filter: &Filter,
    after_id: i64,
    backwards: bool,
    limit: i64,
) -> Result<Vec<Contact>> {
    let kind = conn.kind();
    let mut rows = with_side_table(conn, uses_side_table(filter), async |conn, side| {
        let mut qb = Qb::new(kind, format!("SELECT {COLS} FROM contacts c WHERE "));
        if backwards {
            qb.push("c.id < ").push_bind(after_id);
        } else {
            qb.push("c.id > ").push_bind(after_id);
        }
        push_contact_filter(&mut qb, "c", filter, side);
        qb.push(if backwards {
            " ORDER BY c.id DESC LIMIT "
        } else {
            " ORDER BY c.id LIMIT "
        })
        .push_bind(limit);
        Ok(qb.fetch_all::<Contact>(conn).await?)
    })
    .await?;
    if backwards {
        rows.reverse();
    }
    Ok(rows)
}

pub async fn count(conn: &mut impl Handle, filter: &Filter) -> Result<i64> {
    let kind = conn.kind();
    // PostgreSQL: one metadata pair alone is summed from its counts (migration 0012), whatever
    // the key; the GIN index would find the contacts but count(*) must visit each of them.
    if kind == Kind::Postgres {
        if let Some((key, value)) = match filter.conds.as_slice() {
            [only] => side_table_pair(only),
            _ => None,
        } {
            // A wide key (names, ids: migration 0019) has no counts; its values match few
            // contacts, so the GIN index below counts them quickly.
            if let Some((n, rows)) = metadata_counts::count(conn, key, value).await? {
                if rows > metadata_counts::FOLD_ABOVE {
                    // Best effort: a failed fold (a deadlock with another) changes nothing.
                    if let Err(e) = metadata_counts::fold(conn, key, value).await {
                        tracing::warn!(error = %e, "folding metadata counts");
                    }
                }
                return Ok(n);
            }
        }
    }
    with_side_table(conn, uses_side_table(filter), async |conn, side| {
        let only = match filter.conds.as_slice() {
            [only] if side => side_table_pair(only),
            _ => None,
        };
        let mut qb = match only {
            // One side-table condition alone: count its range without visiting contacts. Exact
            // because every side row belongs to an existing contact (the delete trigger removes
            // them).
            Some((key, value)) => {
                let mut qb = Qb::new(kind, "SELECT count(*) FROM contact_metadata WHERE key = ");
                qb.push_bind(key.to_string())
                    .push(" AND value = ")
                    .push_bind(value.to_string());
                qb
            }
            None => {
                let mut qb = Qb::new(kind, "SELECT count(*) FROM contacts c WHERE true");
                push_contact_filter(&mut qb, "c", filter, side);
                qb
            }
        };
        Ok(qb.scalar(conn).await?)
    })
    .await
}

pub async fn get(conn: &mut impl Handle, id: i64) -> Result<Option<Contact>> {
    Ok(on_engine!(conn, ex => sqlx::query_as(
        "SELECT id, msisdn, metadata, created_at, updated_at FROM contacts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(ex).await)?)
}

pub async fn by_msisdn(conn: &mut impl Handle, msisdn: &str) -> Result<Option<Contact>> {
    Ok(on_engine!(conn, ex => sqlx::query_as(
        "SELECT id, msisdn, metadata, created_at, updated_at FROM contacts WHERE msisdn = $1",
    )
    .bind(msisdn)
    .fetch_optional(ex).await)?)
}

/// Inserts a contact; a taken msisdn is [`StoreError::Unique`]. The msisdn is checked in the
/// statement itself, so a refused insert uses up no id on either engine (a PostgreSQL identity
/// would otherwise burn one per failed insert, and the next contact's id would skip it); the
/// unique index still decides a race between two inserts.
pub async fn insert(
    conn: &mut impl Handle,
    msisdn: &str,
    metadata: &str,
    now: &str,
) -> Result<Contact> {
    on_engine!(conn, ex => sqlx::query_as(
        "INSERT INTO contacts (msisdn, metadata, created_at, updated_at) \
         SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM contacts WHERE msisdn = $1) \
         RETURNING id, msisdn, metadata, created_at, updated_at",
    )
    .bind(msisdn)
    .bind(metadata)
    .bind(now)
    .bind(now)
    .fetch_all(ex)
    .await)?
    .into_iter()
    .next()
    .ok_or_else(|| StoreError::Unique("contacts.msisdn".into()))
}

pub async fn update(
    conn: &mut impl Handle,
    id: i64,
    msisdn: &str,
    metadata: &str,
    now: &str,
) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query("UPDATE contacts SET msisdn = $1, metadata = $2, updated_at = $3 WHERE id = $4")
            .bind(msisdn)
            .bind(metadata)
            .bind(now)
            .bind(id)
            .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Counts of dependants that block a delete: (participations, phone calls).
pub async fn dependants(conn: &mut impl Handle, id: i64) -> Result<(bool, bool)> {
    let row: (bool, bool) = on_engine!(conn, ex => sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM callout_participations WHERE contact_id = $1), \
                EXISTS (SELECT 1 FROM phone_calls WHERE contact_id = $1)",
    )
    .bind(id)
    .fetch_one(ex).await)?;
    Ok(row)
}

pub async fn delete(conn: &mut impl Handle, id: i64) -> Result<bool> {
    let r = on_engine!(conn, ex => sqlx::query("DELETE FROM contacts WHERE id = $1")
        .bind(id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(r == 1)
}
