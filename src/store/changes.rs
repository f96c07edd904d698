//! Noticing commits made by any connection or process: the engine side of the service's
//! `ChangeFeed`. On SQLite, `PRAGMA data_version` read on one held connection (the value is per
//! connection, so it must always be read on the same one) changes whenever another connection
//! commits; it is polled. A push-based engine (PostgreSQL LISTEN/NOTIFY) fits the same
//! `changed()`: it waits for the next notification instead of sleeping.

use super::engine::{Conn, Handle, on_engine};
use super::{Db, Result, Store};
use std::time::Duration;

/// How often `data_version` is read.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// A watch on the database's commits, holding its own connection.
pub enum ChangeWatch {
    Sqlite {
        conn: Conn,
        /// The version last seen (`None` if it could not be read yet).
        last: Option<i64>,
    },
    /// Not wired to notifications yet: reports a change every `POLL_EVERY`.
    Postgres,
}

impl Store {
    /// Opens a change watch: takes a connection and reads the current version, so that the
    /// first `changed()` reports only commits made after this call.
    pub async fn change_watch(&self) -> Result<ChangeWatch> {
        match self.db() {
            Db::Sqlite(_) => {
                let mut conn = self.read().await?;
                let last = data_version(&mut conn).await.ok();
                Ok(ChangeWatch::Sqlite { conn, last })
            }
            Db::Postgres(_) => Ok(ChangeWatch::Postgres),
        }
    }
}

impl ChangeWatch {
    /// Waits until a commit is seen that was not reported yet. Every `POLL_EVERY` it reads
    /// `data_version`; a read that fails is returned as the error (the caller may call again,
    /// which waits another interval), and the version last seen is kept. Cancel-safe: a
    /// dropped call reports nothing and forgets nothing.
    pub async fn changed(&mut self) -> Result<()> {
        match self {
            ChangeWatch::Sqlite { conn, last } => loop {
                tokio::time::sleep(POLL_EVERY).await;
                let now = data_version(conn).await?;
                if *last != Some(now) {
                    *last = Some(now);
                    return Ok(());
                }
            },
            ChangeWatch::Postgres => {
                tokio::time::sleep(POLL_EVERY).await;
                Ok(())
            }
        }
    }
}

/// SQLite's `data_version` on this connection.
async fn data_version(conn: &mut impl Handle) -> Result<i64> {
    Ok(on_engine!(conn, ex => sqlx::query_scalar("PRAGMA data_version").fetch_one(ex).await)?)
}
