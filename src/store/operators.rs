//! Operator accounts (migration 0014). Tokens are kept as their SHA-256 only.

use super::engine::{Handle, on_engine};
use super::{Operator, Result};

const COLS: &str = "id, name, created_at, revoked_at";

pub async fn insert(
    conn: &mut impl Handle,
    name: &str,
    token_sha256: &str,
    now: &str,
) -> Result<Operator> {
    Ok(on_engine!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO operators (name, token_sha256, created_at) VALUES ($1, $2, $3) RETURNING {COLS}"
    )))
    .bind(name)
    .bind(token_sha256)
    .bind(now)
    .fetch_all(ex).await)?
    .into_iter()
    .next()
    .ok_or(sqlx::Error::RowNotFound)?)
}

pub async fn list(conn: &mut impl Handle) -> Result<Vec<Operator>> {
    Ok(
        on_engine!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM operators ORDER BY name"
    )))
    .fetch_all(ex).await)?,
    )
}

pub async fn by_name(conn: &mut impl Handle, name: &str) -> Result<Option<Operator>> {
    Ok(
        on_engine!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM operators WHERE name = $1"
    )))
    .bind(name)
    .fetch_optional(ex).await)?,
    )
}

/// The operator a token belongs to, unless revoked.
pub async fn by_token(conn: &mut impl Handle, token_sha256: &str) -> Result<Option<Operator>> {
    Ok(
        on_engine!(conn, ex => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM operators WHERE token_sha256 = $1 AND revoked_at IS NULL"
    )))
    .bind(token_sha256)
    .fetch_optional(ex).await)?,
    )
}

/// Revokes `name`'s token; false when there is no such operator or it was revoked already.
pub async fn revoke(conn: &mut impl Handle, name: &str, now: &str) -> Result<bool> {
    let n = on_engine!(conn, ex => sqlx::query(
        "UPDATE operators SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL"
    )
    .bind(now)
    .bind(name)
    .execute(ex).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
