//! The seam between scfm and its two database engines, SQLite and PostgreSQL: every type a
//! store function needs to run a statement on either, in one file.
//!
//! - [`Db`]: the pool of one engine or the other.
//! - [`Conn`] / [`Tx`]: a pooled connection / a transaction of either engine (`Store::read()` /
//!   `Store::write()`); [`Tx::commit`] ends a transaction.
//! - [`Handle`]: what every store function takes (`h: &mut impl Handle`): anything that can lend
//!   its connection as an [`Engine`], the one place the engines are told apart.
//! - [`on_engine!`]: expands one statement body once per engine, so a statement written once is
//!   type-checked (binds, decodes) and run on both.
//! - [`Qb`]: an SQL builder over either engine's `QueryBuilder` (placeholders are `?` on SQLite
//!   and `$N` on PostgreSQL, each builder writes its own), for statements assembled at run time
//!   (filters, scopes, IN lists).
//!
//! SQL text shared by both engines uses `$1, $2, …` placeholders (sqlx-sqlite maps `$N` to
//! argument N), `ON CONFLICT DO NOTHING`, `RETURNING`, `true`/`false` and `IS DISTINCT FROM`.
//! Where the engines cannot share a text (JSON functions, random ids, locking), the store
//! function matches on [`Handle::kind`] or [`Engine`] with both texts side by side.

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{
    Decode, Encode, FromRow, PgConnection, PgPool, Postgres, QueryBuilder, Sqlite,
    SqliteConnection, SqlitePool, Transaction, Type,
};
use std::fmt::Display;

/// Which engine a handle, pool or builder belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// The pool of connections of one engine.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    pub fn kind(&self) -> Kind {
        match self {
            Db::Sqlite(_) => Kind::Sqlite,
            Db::Postgres(_) => Kind::Postgres,
        }
    }

    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => Conn::Sqlite(p.acquire().await?),
            Db::Postgres(p) => Conn::Postgres(p.acquire().await?),
        })
    }

    /// Opens a write transaction. SQLite: `BEGIN IMMEDIATE`, so a read-then-write sequence
    /// never fails to upgrade its lock. PostgreSQL: `BEGIN` (read committed); statements that
    /// must not race take row locks themselves.
    pub async fn begin_write(&self) -> Result<Tx<'static>, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// A pooled connection of either engine.
#[derive(Debug)]
pub enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// A transaction on the handle's connection (plain `BEGIN` on both engines, or a savepoint
/// inside a transaction): for reads that must see one snapshot.
pub async fn begin(h: &mut impl Handle) -> Result<Tx<'_>, sqlx::Error> {
    use sqlx::Connection;
    Ok(match h.engine() {
        Engine::Sqlite(c) => Tx::Sqlite(c.begin().await?),
        Engine::Postgres(c) => Tx::Postgres(c.begin().await?),
    })
}

/// A transaction of either engine. Dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub enum Tx<'c> {
    Sqlite(Transaction<'c, Sqlite>),
    Postgres(Transaction<'c, Postgres>),
}

impl Tx<'_> {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.rollback().await,
            Tx::Postgres(t) => t.rollback().await,
        }
    }
}

/// A connection of either engine, lent for one statement (or a few).
#[derive(Debug)]
pub enum Engine<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

/// Anything a store function can run statements on: a pooled connection, a transaction, a
/// bare connection, or an [`Engine`] already lent.
pub trait Handle: Send {
    fn engine(&mut self) -> Engine<'_>;

    fn kind(&mut self) -> Kind {
        match self.engine() {
            Engine::Sqlite(_) => Kind::Sqlite,
            Engine::Postgres(_) => Kind::Postgres,
        }
    }
}

impl Handle for Conn {
    fn engine(&mut self) -> Engine<'_> {
        match self {
            Conn::Sqlite(c) => Engine::Sqlite(c),
            Conn::Postgres(c) => Engine::Postgres(c),
        }
    }
}

impl Handle for Tx<'_> {
    fn engine(&mut self) -> Engine<'_> {
        match self {
            Tx::Sqlite(t) => Engine::Sqlite(t),
            Tx::Postgres(t) => Engine::Postgres(t),
        }
    }
}

impl Handle for Engine<'_> {
    fn engine(&mut self) -> Engine<'_> {
        match self {
            Engine::Sqlite(c) => Engine::Sqlite(c),
            Engine::Postgres(c) => Engine::Postgres(c),
        }
    }
}

impl Handle for SqliteConnection {
    fn engine(&mut self) -> Engine<'_> {
        Engine::Sqlite(self)
    }
}

impl Handle for PgConnection {
    fn engine(&mut self) -> Engine<'_> {
        Engine::Postgres(self)
    }
}

/// `on_engine!(h, c => body)`: runs `body` with `c` bound to the handle's connection, the body
/// expanded once per engine (so `sqlx::query(…).fetch_all(c)` is type-checked for both). The
/// body's value must have the same type on both. `h` is a `&mut` of a [`Handle`].
#[macro_export]
macro_rules! on_engine {
    ($h:expr, $c:ident => $body:expr) => {
        match $crate::store::engine::Handle::engine(&mut *$h) {
            $crate::store::engine::Engine::Sqlite($c) => $body,
            $crate::store::engine::Engine::Postgres($c) => $body,
        }
    };
}
pub use crate::on_engine;

/// A value that binds on both engines.
pub trait Bind:
    for<'q> Encode<'q, Sqlite> + Type<Sqlite> + for<'q> Encode<'q, Postgres> + Type<Postgres> + Send
{
}
impl<T> Bind for T where
    T: for<'q> Encode<'q, Sqlite>
        + Type<Sqlite>
        + for<'q> Encode<'q, Postgres>
        + Type<Postgres>
        + Send
{
}

/// A row type that decodes from both engines' rows.
pub trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// A single-column value that decodes on both engines.
pub trait Scalar:
    for<'r> Decode<'r, Sqlite>
    + Type<Sqlite>
    + for<'r> Decode<'r, Postgres>
    + Type<Postgres>
    + Send
    + Unpin
{
}
impl<T> Scalar for T where
    T: for<'r> Decode<'r, Sqlite>
        + Type<Sqlite>
        + for<'r> Decode<'r, Postgres>
        + Type<Postgres>
        + Send
        + Unpin
{
}

/// An SQL statement assembled at run time for one engine: sqlx's `QueryBuilder<Sqlite>` or
/// `QueryBuilder<Postgres>`, side by side. Built for the engine of the handle it will run on
/// (`Qb::new(h.kind(), …)`); running it on the other engine's handle is a bug, reported as an
/// error.
pub enum Qb {
    Sqlite(QueryBuilder<Sqlite>),
    Postgres(QueryBuilder<Postgres>),
}

fn mismatch() -> sqlx::Error {
    sqlx::Error::Protocol("statement built for one engine run on the other".into())
}

impl Qb {
    pub fn new(kind: Kind, init: impl Into<String>) -> Qb {
        match kind {
            Kind::Sqlite => Qb::Sqlite(QueryBuilder::new(init)),
            Kind::Postgres => Qb::Postgres(QueryBuilder::new(init)),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Qb::Sqlite(_) => Kind::Sqlite,
            Qb::Postgres(_) => Kind::Postgres,
        }
    }

    pub fn push(&mut self, sql: impl Display) -> &mut Self {
        match self {
            Qb::Sqlite(q) => {
                q.push(sql);
            }
            Qb::Postgres(q) => {
                q.push(sql);
            }
        }
        self
    }

    pub fn push_bind<T: Bind>(&mut self, value: T) -> &mut Self {
        match self {
            Qb::Sqlite(q) => {
                q.push_bind(value);
            }
            Qb::Postgres(q) => {
                q.push_bind(value);
            }
        }
        self
    }

    /// Binds every value, separated by `, ` (the inside of an `IN (…)`).
    pub fn push_list<T: Bind + Clone>(&mut self, values: &[T]) -> &mut Self {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_bind(v.clone());
        }
        self
    }

    /// ` LIMIT <n>`, or no limit for `None` (SQLite's `-1`, PostgreSQL's `NULL`), bound either
    /// way so the statement text does not change with it.
    pub fn push_limit(&mut self, limit: Option<i64>) -> &mut Self {
        self.push(" LIMIT ");
        match (self.kind(), limit) {
            (_, Some(n)) => self.push_bind(n),
            (Kind::Sqlite, None) => self.push_bind(-1_i64),
            (Kind::Postgres, None) => self.push_bind(None::<i64>),
        }
    }

    /// The SQL text so far (for tests and logs).
    pub fn sql(&self) -> String {
        match self {
            Qb::Sqlite(q) => q.sql().as_str().to_string(),
            Qb::Postgres(q) => q.sql().as_str().to_string(),
        }
    }

    pub async fn fetch_all<T: Record>(
        &mut self,
        h: &mut impl Handle,
    ) -> Result<Vec<T>, sqlx::Error> {
        match (self, h.engine()) {
            (Qb::Sqlite(q), Engine::Sqlite(c)) => q.build_query_as::<T>().fetch_all(c).await,
            (Qb::Postgres(q), Engine::Postgres(c)) => q.build_query_as::<T>().fetch_all(c).await,
            _ => Err(mismatch()),
        }
    }

    pub async fn fetch_optional<T: Record>(
        &mut self,
        h: &mut impl Handle,
    ) -> Result<Option<T>, sqlx::Error> {
        match (self, h.engine()) {
            (Qb::Sqlite(q), Engine::Sqlite(c)) => q.build_query_as::<T>().fetch_optional(c).await,
            (Qb::Postgres(q), Engine::Postgres(c)) => {
                q.build_query_as::<T>().fetch_optional(c).await
            }
            _ => Err(mismatch()),
        }
    }

    pub async fn scalars<T: Scalar>(&mut self, h: &mut impl Handle) -> Result<Vec<T>, sqlx::Error> {
        match (self, h.engine()) {
            (Qb::Sqlite(q), Engine::Sqlite(c)) => q.build_query_scalar::<T>().fetch_all(c).await,
            (Qb::Postgres(q), Engine::Postgres(c)) => {
                q.build_query_scalar::<T>().fetch_all(c).await
            }
            _ => Err(mismatch()),
        }
    }

    pub async fn scalar<T: Scalar>(&mut self, h: &mut impl Handle) -> Result<T, sqlx::Error> {
        match (self, h.engine()) {
            (Qb::Sqlite(q), Engine::Sqlite(c)) => q.build_query_scalar::<T>().fetch_one(c).await,
            (Qb::Postgres(q), Engine::Postgres(c)) => {
                q.build_query_scalar::<T>().fetch_one(c).await
            }
            _ => Err(mismatch()),
        }
    }

    /// Streams the rows to `f` one by one as the engine returns them (memory stays flat however
    /// many there are); the first error of either ends the statement.
    pub async fn for_each<T: Record, E: From<sqlx::Error>>(
        &mut self,
        h: &mut impl Handle,
        mut f: impl FnMut(T) -> Result<(), E> + Send,
    ) -> Result<(), E> {
        use futures::TryStreamExt;
        match (self, h.engine()) {
            (Qb::Sqlite(q), Engine::Sqlite(c)) => {
                let mut rows = q.build_query_as::<T>().fetch(c);
                while let Some(r) = rows.try_next().await? {
                    f(r)?;
                }
            }
            (Qb::Postgres(q), Engine::Postgres(c)) => {
                let mut rows = q.build_query_as::<T>().fetch(c);
                while let Some(r) = rows.try_next().await? {
                    f(r)?;
                }
            }
            _ => return Err(mismatch().into()),
        }
        Ok(())
    }

    /// Runs the statement; the number of rows it changed.
    pub async fn execute(&mut self, h: &mut impl Handle) -> Result<u64, sqlx::Error> {
        match (self, h.engine()) {
            (Qb::Sqlite(q), Engine::Sqlite(c)) => Ok(q.build().execute(c).await?.rows_affected()),
            (Qb::Postgres(q), Engine::Postgres(c)) => {
                Ok(q.build().execute(c).await?.rows_affected())
            }
            _ => Err(mismatch()),
        }
    }
}
