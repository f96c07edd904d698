//! What the situation report and the never-reached export read (issue 15): a callout's
//! participations grouped by the value of one contact metadata key and by their last call, and
//! the participations nobody reached, streamed in area order.
//!
//! The key is a key (never a path or pattern) and is bound, never spliced. Its value's text
//! form is the filters' one: a string's content, `true`/`false`, SQL NULL for null or absent,
//! else the JSON text. Area and name sort by code point on both engines.

use super::engine::{Handle, Kind, Qb};
use super::filter::simple_key;
use super::{Result, StoreError};

/// The text form of top-level `key` of the JSON object in column `col`.
fn push_key_text(qb: &mut Qb, col: &str, key: &str) {
    match qb.kind() {
        // A key that means itself in a `$.key` path: json_extract, several times faster per
        // row than walking the object with json_each (benchmark row 9).
        Kind::Sqlite if simple_key(key) => {
            let p = format!("$.{key}");
            qb.push(format!("(CASE json_type({col}, "))
                .push_bind(p.clone())
                .push(format!(") WHEN 'text' THEN json_extract({col}, "))
                .push_bind(p.clone())
                .push(
                    ") WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL \
                     ELSE CAST(json_extract(",
                )
                .push(format!("{col}, "))
                .push_bind(p)
                .push(") AS TEXT) END)");
        }
        Kind::Sqlite => {
            qb.push(
                "(SELECT CASE j.type WHEN 'text' THEN j.value WHEN 'true' THEN 'true' \
                 WHEN 'false' THEN 'false' WHEN 'null' THEN NULL ELSE CAST(j.value AS TEXT) END \
                 FROM json_each(CASE WHEN json_valid(",
            )
            .push(col)
            .push(format!(") THEN {col} ELSE '{{}}' END) j WHERE j.key = "))
            .push_bind(key.to_string())
            .push(")");
        }
        Kind::Postgres => {
            qb.push(
                "(SELECT CASE json_typeof(n) WHEN 'string' THEN n #>> '{}' WHEN 'null' THEN NULL \
                 ELSE n::text END FROM (SELECT CASE WHEN json_typeof(",
            )
            .push(format!("{col}::json) = 'object' THEN {col}::json -> "))
            .push_bind(key.to_string())
            .push(" END AS n) AS node) COLLATE \"C\"");
        }
    }
}

/// The last call's `answered_by`, when it completed.
fn answered_by(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => {
            "CASE WHEN cp.last_call_status = 'completed' THEN \
             (SELECT json_extract(l.remote_response, '$.answered_by') FROM phone_calls l \
              WHERE l.id = cp.last_call_id) END"
        }
        Kind::Postgres => {
            "CASE WHEN cp.last_call_status = 'completed' THEN \
             (SELECT l.remote_response::json ->> 'answered_by' FROM phone_calls l \
              WHERE l.id = cp.last_call_id) END"
        }
    }
}

/// Whether the last call errored with an unknown outcome.
const OUTCOME_UNKNOWN: &str = "COALESCE(CASE WHEN cp.last_call_status = 'errored' THEN \
     (SELECT l.outcome_unknown FROM phone_calls l WHERE l.id = cp.last_call_id) END, false)";

/// Participations of one area with one kind of last call.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutcomeRow {
    /// The area (the key's value); None without the key, or when not grouped.
    pub area: Option<String>,
    pub last_status: Option<String>,
    pub answered_by: Option<String>,
    pub attempts: i64,
    pub outcome_unknown: bool,
    /// The status of the participation's fallback text, if one was made.
    pub text_status: Option<String>,
    pub participations: i64,
}

/// A callout's participations counted by area (the value of contact metadata key `by`, or one
/// group when None) and last call.
pub async fn outcome_counts(
    conn: &mut impl Handle,
    callout_id: i64,
    by: Option<&str>,
) -> Result<Vec<OutcomeRow>> {
    let kind = conn.kind();
    let mut qb = Qb::new(kind, "SELECT ");
    match by {
        Some(key) => push_key_text(&mut qb, "c.metadata", key),
        None => {
            qb.push("CAST(NULL AS TEXT)");
        }
    };
    qb.push(format!(
        " AS area, cp.last_call_status AS last_status, {} AS answered_by, \
         cp.call_count AS attempts, {OUTCOME_UNKNOWN} AS outcome_unknown, \
         tm.status AS text_status, count(*) AS participations \
         FROM callout_participations cp \
         LEFT JOIN text_messages tm ON tm.callout_participation_id = cp.id ",
        answered_by(kind)
    ));
    if by.is_some() {
        qb.push("JOIN contacts c ON c.id = cp.contact_id ");
    }
    qb.push("WHERE cp.callout_id = ")
        .push_bind(callout_id)
        .push(" GROUP BY 1, 2, 3, 4, 5, 6");
    Ok(qb.fetch_all(conn).await?)
}

/// One participation nobody reached, as the export writes it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnreachedRow {
    pub area: Option<String>,
    /// The contact's `metadata.name` text form.
    pub name: Option<String>,
    pub msisdn: String,
    pub attempts: i64,
    pub last_status: Option<String>,
    pub last_status_at: Option<String>,
    pub answered_by: Option<String>,
    pub outcome_unknown: bool,
    /// The status of the fallback text, if one was made.
    pub text_status: Option<String>,
}

/// Streams to `f` every participation of the callout whose last call did not complete with a
/// person answering (never called, still trying, given up, or a machine answered), ordered by
/// area (people without the key last), name, then number. One statement: the engine sorts
/// (spilling to disk when large) and rows reach `f` as they come.
pub async fn for_each_unreached<E: From<StoreError>>(
    conn: &mut impl Handle,
    callout_id: i64,
    by: Option<&str>,
    f: impl FnMut(UnreachedRow) -> std::result::Result<(), E> + Send,
) -> std::result::Result<(), E> {
    let kind = conn.kind();
    let mut qb = Qb::new(kind, "SELECT * FROM (SELECT ");
    match by {
        Some(key) => push_key_text(&mut qb, "c.metadata", key),
        None => {
            qb.push("CAST(NULL AS TEXT)");
        }
    };
    qb.push(" AS area, ");
    push_key_text(&mut qb, "c.metadata", "name");
    qb.push(format!(
        " AS name, cp.msisdn, cp.call_count AS attempts, cp.last_call_status AS last_status, \
         cp.last_call_status_at AS last_status_at, {} AS answered_by, \
         {OUTCOME_UNKNOWN} AS outcome_unknown, \
         (SELECT tm.status FROM text_messages tm WHERE tm.callout_participation_id = cp.id) \
           AS text_status \
         FROM callout_participations cp JOIN contacts c ON c.id = cp.contact_id \
         WHERE cp.callout_id = ",
        answered_by(kind)
    ));
    qb.push_bind(callout_id);
    // A machine's answer: as `domain::outcome::is_machine`.
    qb.push(
        ") AS u WHERE last_status IS NULL OR last_status <> 'completed' \
         OR answered_by LIKE 'machine%' OR answered_by = 'fax' \
         ORDER BY (area IS NULL), area, (name IS NULL), name, msisdn",
    );
    // A sqlx error ends the stream as a store error; `f`'s own errors pass through.
    let mut f = f;
    let run = qb
        .for_each::<UnreachedRow, Wrapped<E>>(conn, |r| f(r).map_err(Wrapped::Outer))
        .await;
    match run {
        Ok(()) => Ok(()),
        Err(Wrapped::Outer(e)) => Err(e),
        Err(Wrapped::Store(e)) => Err(E::from(e)),
    }
}

/// An error of the statement, or of the caller's row handler.
enum Wrapped<E> {
    Store(StoreError),
    Outer(E),
}

impl<E> From<sqlx::Error> for Wrapped<E> {
    fn from(e: sqlx::Error) -> Self {
        Wrapped::Store(StoreError::from(e))
    }
}
