//! Reads for CSV export: the union of metadata keys, and keyset pages of rows so an export of a
//! 1,000,000-contact table streams in constant memory (never OFFSET, never the whole table).

use super::Result;
use super::engine::{Handle, Kind, on_engine};

/// A JSON text column as the engine's `json_each` takes it (PostgreSQL stores JSON as `text`).
fn json(kind: Kind, col: &str) -> String {
    match kind {
        Kind::Sqlite => col.to_string(),
        Kind::Postgres => format!("{col}::json"),
    }
}

/// Distinct top-level metadata keys over all contacts, sorted. One pass over the table; holds
/// only the distinct keys.
pub async fn contact_metadata_keys(conn: &mut impl Handle) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT DISTINCT j.key FROM contacts c, json_each({}) j \
         WHERE j.key IS NOT NULL ORDER BY 1",
        json(conn.kind(), "c.metadata")
    );
    Ok(
        on_engine!(conn, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
    .fetch_all(ex).await)?,
    )
}

/// One contact as exported: id (the keyset), msisdn and metadata as stored JSON text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub id: i64,
    pub msisdn: String,
    pub metadata: String,
}

/// Contacts with id above `after_id`, in id order, at most `limit`.
pub async fn contacts_page(
    conn: &mut impl Handle,
    after_id: i64,
    limit: i64,
) -> Result<Vec<ContactRow>> {
    Ok(on_engine!(conn, ex => sqlx::query_as(
            "SELECT id, msisdn, metadata FROM contacts WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(limit)
        .fetch_all(ex).await)?)
}

/// Distinct metadata keys of the callout's participants' contacts and of its participations,
/// each sorted: `(contact keys, participation keys)`.
pub async fn callout_metadata_keys(
    conn: &mut impl Handle,
    callout_id: i64,
) -> Result<(Vec<String>, Vec<String>)> {
    let kind = conn.kind();
    let sql = format!(
        "SELECT DISTINCT j.key FROM callout_participations cp \
         JOIN contacts c ON c.id = cp.contact_id, json_each({}) j \
         WHERE cp.callout_id = $1 AND j.key IS NOT NULL ORDER BY 1",
        json(kind, "c.metadata")
    );
    let contact = on_engine!(conn, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
    .bind(callout_id)
    .fetch_all(ex).await)?;
    let sql = format!(
        "SELECT DISTINCT j.key FROM callout_participations cp, json_each({}) j \
         WHERE cp.callout_id = $1 AND j.key IS NOT NULL ORDER BY 1",
        json(kind, "cp.metadata")
    );
    let participation = on_engine!(conn, ex => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
    .bind(callout_id)
    .fetch_all(ex).await)?;
    Ok((contact, participation))
}

/// One participation of a callout as exported.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParticipationRow {
    /// The keyset: pages follow the `(callout_id, contact_id)` unique index, so no sort.
    pub contact_id: i64,
    pub msisdn: String,
    pub contact_metadata: String,
    pub participation_metadata: String,
    /// Phone calls made for this participation.
    pub attempts: i64,
    /// Status of the participation's last call (highest id), if any.
    pub last_call_status: Option<String>,
    /// When the last call row last changed.
    pub last_call_updated_at: Option<String>,
    /// When scfm first heard the last call was answered: the first webhook event of that call
    /// whose `CallStatus` is `in-progress` (or `answered`). Empty when no such event arrived,
    /// for example when the status came only from polling the provider.
    pub answered_at: Option<String>,
}

/// Participations of `callout_id` whose contact id is above `after_contact_id`, in contact id
/// order, at most `limit`.
pub async fn callout_page(
    conn: &mut impl Handle,
    callout_id: i64,
    after_contact_id: i64,
    limit: i64,
) -> Result<Vec<ParticipationRow>> {
    let call_status = match conn.kind() {
        Kind::Sqlite => "json_extract(e.details, '$.CallStatus')",
        Kind::Postgres => "e.details::json ->> 'CallStatus'",
    };
    let sql = format!(
        "SELECT cp.contact_id, cp.msisdn, c.metadata AS contact_metadata, \
                cp.metadata AS participation_metadata, \
                (SELECT count(*) FROM phone_calls n WHERE n.callout_participation_id = cp.id) \
                    AS attempts, \
                lc.status AS last_call_status, lc.updated_at AS last_call_updated_at, \
                (SELECT min(e.created_at) FROM remote_phone_call_events e \
                  WHERE e.phone_call_id = lc.id \
                    AND {call_status} IN ('in-progress', 'answered')) \
                    AS answered_at \
         FROM callout_participations cp \
         JOIN contacts c ON c.id = cp.contact_id \
         LEFT JOIN phone_calls lc ON lc.id = \
             (SELECT max(l.id) FROM phone_calls l WHERE l.callout_participation_id = cp.id) \
         WHERE cp.callout_id = $1 AND cp.contact_id > $2 \
         ORDER BY cp.contact_id LIMIT $3"
    );
    Ok(
        on_engine!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(sql))
    .bind(callout_id)
    .bind(after_contact_id)
    .bind(limit)
    .fetch_all(ex).await)?,
    )
}
