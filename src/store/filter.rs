//! Turns a typed `domain::filter::Filter` into SQL conditions. Column names come from the
//! filter's compile-time whitelist and table aliases from this crate's own code; every value a
//! client sent (list items, msisdns, JSON path keys, JSON values, times) is bound, never spliced.

use super::engine::{Bind, Kind, Qb};
use crate::domain::filter::{Cond, Filter};
use crate::domain::time::{FilterTime, format_ts};

/// A JSON path key that can go into a `$.a.b` path unquoted and mean exactly itself.
pub(super) fn simple_key(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The SQL text form of a JSON value (strings by content, other scalars and containers by their
/// JSON text, null as SQL NULL). `ty`/`val` are the type and value expressions of the node.
fn push_text_form(qb: &mut Qb, ty: &str, val: &str) {
    qb.push(format!(
        "(CASE {ty} WHEN 'text' THEN {val} WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
         WHEN 'null' THEN NULL ELSE CAST({val} AS TEXT) END)"
    ));
}

fn push_json(qb: &mut Qb, col: &str, path: &[String], value: &Option<String>) {
    if qb.kind() == Kind::Postgres {
        return push_json_pg(qb, col, path, value);
    }
    if path.iter().all(|k| simple_key(k)) {
        let p = format!("$.{}", path.join("."));
        match value {
            // Fast path: a value that cannot be the JSON text of a number, boolean or container
            // can only match a JSON string, which json_extract returns as its content.
            Some(v)
                if serde_json::from_str::<serde_json::Value>(v)
                    .map(|j| j.is_string())
                    .unwrap_or(true) =>
            {
                qb.push(format!("json_extract({col}, "))
                    .push_bind(p)
                    .push(") = ")
                    .push_bind(v.clone());
            }
            Some(v) => {
                qb.push(format!("(CASE json_type({col}, "))
                    .push_bind(p.clone());
                qb.push(format!(") WHEN 'text' THEN json_extract({col}, "))
                    .push_bind(p.clone());
                qb.push(
                    ") WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL ",
                );
                qb.push(format!("ELSE CAST(json_extract({col}, "))
                    .push_bind(p);
                qb.push(") AS TEXT) END) = ").push_bind(v.clone());
            }
            None => {
                qb.push(format!("json_extract({col}, "))
                    .push_bind(p)
                    .push(") IS NULL");
            }
        }
        return;
    }
    // General path: walk the keys with json_each so any key (quotes, dots, `$`, brackets, SQL)
    // is compared as a bound value and matches only itself.
    if value.is_none() {
        qb.push("NOT ");
    }
    let mut src = col.to_string();
    for (depth, key) in path.iter().enumerate() {
        let j = format!("j{depth}");
        qb.push(format!(
            "EXISTS (SELECT 1 FROM json_each({src}) {j} WHERE {j}.key = "
        ));
        qb.push_bind(key.clone());
        qb.push(" AND ");
        src = format!("CASE WHEN {j}.type = 'object' THEN {j}.value ELSE '{{}}' END");
    }
    let last = format!("j{}", path.len().saturating_sub(1));
    match value {
        Some(v) => {
            push_text_form(qb, &format!("{last}.type"), &format!("{last}.value"));
            qb.push(" = ").push_bind(v.clone());
        }
        // Missing or null: NOT EXISTS (a non-null node at the path).
        None => {
            qb.push(format!("{last}.type <> 'null'"));
        }
    }
    for _ in path {
        qb.push(")");
    }
}

/// PostgreSQL's side of [`push_json`], with the same meaning: every key is a key (never a path
/// or pattern), the walk goes only through objects, and the node's text form is its string
/// content, `true`/`false`, SQL NULL for null, else its JSON text (as stored: `json` keeps the
/// text as written). A value only a JSON string can equal becomes a `jsonb` containment
/// (`@>`), which the GIN index on `metadata::jsonb` answers.
fn push_json_pg(qb: &mut Qb, col: &str, path: &[String], value: &Option<String>) {
    if let Some(v) = value {
        if matches_strings_only(v) {
            let mut doc = serde_json::Value::String(v.clone());
            for key in path.iter().rev() {
                let mut obj = serde_json::Map::new();
                obj.insert(key.clone(), doc);
                doc = serde_json::Value::Object(obj);
            }
            qb.push(format!("({col})::jsonb @> "))
                .push_bind(doc.to_string())
                .push("::jsonb");
            return;
        }
    }
    // The node: one subselect per key, outermost key first; each level is the previous one's
    // member `key` when that is an object, else NULL (so `a.b` never indexes an array).
    qb.push("(SELECT ");
    match value {
        Some(v) => {
            qb.push(
                "(CASE json_typeof(n) WHEN 'string' THEN n #>> '{}' WHEN 'boolean' THEN n::text \
                 WHEN 'null' THEN NULL ELSE n::text END) = ",
            )
            .push_bind(v.clone());
        }
        None => {
            qb.push("(n IS NULL OR json_typeof(n) = 'null')");
        }
    }
    qb.push(" FROM (SELECT ");
    for key in path.iter().rev() {
        qb.push("(SELECT CASE WHEN json_typeof(p) = 'object' THEN p -> ")
            .push_bind(key.clone())
            .push(" END FROM (SELECT ");
    }
    qb.push(format!("({col})::json"));
    for _ in path {
        qb.push(" AS p) AS level)");
    }
    qb.push(" AS n) AS node)");
}

fn push_list<T: Bind + Clone>(qb: &mut Qb, expr: &str, values: &[T]) {
    qb.push(format!("{expr} IN ("));
    qb.push_list(values);
    qb.push(")");
}

const LAST_CALL_STATUS: &str = "(SELECT x.status FROM phone_calls x WHERE x.callout_participation_id = {a}.id \
     ORDER BY x.created_at DESC, x.id DESC LIMIT 1)";

/// A filter value that can only equal the text form of a JSON *string*: it is not the JSON text
/// of a number, boolean, null or container (the test the `json_extract` fast path uses), nor
/// SQLite's text form of an infinite real (`Inf`, `-Inf`), which is not JSON.
fn matches_strings_only(v: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(v)
        .map(|j| j.is_string())
        .unwrap_or(true)
        && v != "Inf"
        && v != "-Inf"
}

/// The (key, value) of a condition that the `contact_metadata` side table answers exactly: a
/// top-level key of `metadata` (any key: the side table stores json_each's key, the same one the
/// general path compares) equal to a value only a JSON string can have. The side table holds one
/// row per top-level string value, so for such a condition "has a side row (key, value)" and the
/// scan's test select the same contacts. Everything else (numbers, booleans, null, nested paths)
/// keeps the scan. Only for the `contacts` table's own `metadata`.
pub fn side_table_pair(cond: &Cond) -> Option<(&str, &str)> {
    match cond {
        Cond::Json {
            column: "metadata",
            path,
            value: Some(v),
        } if path.len() == 1 && matches_strings_only(v) => Some((path[0].as_str(), v.as_str())),
        _ => None,
    }
}

/// Appends ` AND <cond>` for every condition of `filter`, on table alias `alias`.
pub fn push_filter(qb: &mut Qb, alias: &str, filter: &Filter) {
    push_contact_filter(qb, alias, filter, false);
}

/// [`push_filter`] for a contact filter on the `contacts` table aliased `alias`. With
/// `side_table` (the caller checked [`super::contacts::metadata_index_ready`] in the same
/// transaction), metadata conditions that [`side_table_pair`] accepts become an `id IN` range of
/// the side table's primary key instead of a json_extract over every contact. The `IN` form lets
/// SQLite drive counts and `ORDER BY id` pages from the side table's (sorted) contact ids.
pub fn push_contact_filter(qb: &mut Qb, alias: &str, filter: &Filter, side_table: bool) {
    for cond in &filter.conds {
        qb.push(" AND ");
        if side_table {
            if let Some((key, value)) = side_table_pair(cond) {
                qb.push(format!(
                    "{alias}.id IN (SELECT contact_id FROM contact_metadata WHERE key = "
                ));
                qb.push_bind(key.to_string())
                    .push(" AND value = ")
                    .push_bind(value.to_string())
                    .push(")");
                continue;
            }
        }
        match cond {
            Cond::TextIn { column, values } => push_list(qb, &format!("{alias}.{column}"), values),
            Cond::IntIn { column, values } => push_list(qb, &format!("{alias}.{column}"), values),
            Cond::Msisdn(m) => {
                qb.push(format!("{alias}.msisdn = "));
                qb.push_bind(m.clone());
            }
            Cond::Json {
                column,
                path,
                value,
            } => {
                qb.push("(");
                push_json(qb, &format!("{alias}.{column}"), path, value);
                qb.push(")");
            }
            Cond::Time { column, cmp, value } => match value {
                FilterTime::Date(d) => {
                    qb.push(format!("substr({alias}.{column}, 1, 10) {} ", cmp.sql()));
                    qb.push_bind(d.format("%Y-%m-%d").to_string());
                }
                FilterTime::Instant(t) => {
                    qb.push(format!("{alias}.{column} {} ", cmp.sql()));
                    qb.push_bind(format_ts(*t));
                }
            },
            Cond::HasPhoneCalls(yes) => {
                let not = if *yes { "" } else { "NOT " };
                qb.push(format!(
                    "{not}EXISTS (SELECT 1 FROM phone_calls x WHERE x.callout_participation_id = {alias}.id)"
                ));
            }
            Cond::LastAttempt(statuses) => {
                push_list(qb, &LAST_CALL_STATUS.replace("{a}", alias), statuses);
            }
            Cond::NoCallsOrLastAttempt(statuses) => {
                qb.push(format!(
                    "(NOT EXISTS (SELECT 1 FROM phone_calls x WHERE x.callout_participation_id = {alias}.id) OR "
                ));
                if statuses.is_empty() {
                    qb.push("false");
                } else {
                    push_list(qb, &LAST_CALL_STATUS.replace("{a}", alias), statuses);
                }
                qb.push(")");
            }
            Cond::Nothing => {
                qb.push("false");
            }
        }
    }
}
