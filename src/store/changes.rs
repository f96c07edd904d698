//! Noticing commits made by any connection or process: the engine side of the service's
//! `ChangeFeed`. On SQLite, `PRAGMA data_version` read on one held connection (the value is per
//! connection, so it must always be read on the same one) changes whenever another connection
//! commits; it is polled. On PostgreSQL a `LISTEN scfm_changes` connection waits for the
//! notifications the schema's statement triggers send on every committed write
//! (migrations/postgres/), so an idle database costs nothing and a change is seen at once.

use super::engine::{Conn, Handle, on_engine};
use super::{Db, Result, Store};
use sqlx::postgres::PgListener;
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
    /// Listening on `scfm_changes` on a connection of its own.
    Postgres(Box<PgListener>),
}

/// The channel the PostgreSQL schema's triggers notify.
pub const CHANNEL: &str = "scfm_changes";

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
            Db::Postgres(pool) => {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen(CHANNEL).await?;
                Ok(ChangeWatch::Postgres(Box::new(listener)))
            }
        }
    }
}

impl ChangeWatch {
    /// Waits until a commit is seen that was not reported yet. SQLite: every `POLL_EVERY` it
    /// reads `data_version`; a read that fails is returned as the error (the caller may call
    /// again, which waits another interval), and the version last seen is kept. Cancel-safe: a
    /// dropped call reports nothing and forgets nothing. PostgreSQL: waits for the next
    /// notification (a dropped call loses none that were not read yet: they stay buffered on
    /// the listener's connection).
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
            // A notification is a change. A lost connection (`None`: the server restarted or
            // dropped it) is an error (changes may have been missed meanwhile); the next call
            // reconnects and listens again (an error if it cannot: the caller calls again).
            ChangeWatch::Postgres(listener) => match listener.try_recv().await? {
                Some(_) => Ok(()),
                None => Err(super::StoreError::Unavailable(
                    "the connection to the database was lost".into(),
                )),
            },
        }
    }
}

impl Store {
    /// Whether the database answers: one trivial statement on a pooled connection.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.read().await?;
        let h = &mut conn;
        let _: i32 = on_engine!(h, ex => sqlx::query_scalar("SELECT 1").fetch_one(ex).await)?;
        Ok(())
    }
}

/// SQLite's `data_version` on this connection.
async fn data_version(conn: &mut impl Handle) -> Result<i64> {
    Ok(on_engine!(conn, ex => sqlx::query_scalar("PRAGMA data_version").fetch_one(ex).await)?)
}
