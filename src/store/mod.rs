//! ALL SQL lives under this module. It opens the SQLite database (WAL, foreign keys, busy
//! timeout, embedded migrations) and offers small functions over a connection, one file per table
//! group. Business rules (validation, merge modes, state machines) live in `service`; this layer
//! only stores and fetches, and turns constraint violations into typed errors.
//!
//! A write with `RETURNING` is always run to completion (`fetch_all`, never `fetch_one` or
//! `fetch_optional`): sqlx stops stepping after the first row and drops the error of the final
//! step, where an autocommit statement commits, so a failed commit (disk full, I/O error) would
//! otherwise look like success and the acknowledged write would be lost.
//!
//! Write paths run inside `Store::write()`, a transaction opened with `BEGIN IMMEDIATE` so a
//! read-then-write sequence never fails to upgrade its lock when another connection wrote first.

pub mod batch_operations;
pub mod callouts;
pub mod campaigns;
pub mod cap_alerts;
pub mod changes;
pub mod contacts;
pub mod dialing_hold;
pub mod engine;
pub mod events;
pub mod export;
pub mod filter;
pub mod group_commit;
pub mod import;
pub mod journal;
pub mod location;
pub mod locks;
pub mod metadata_counts;
pub mod operators;
pub mod pace;
mod page;
pub mod participations;
pub mod phone_calls;
mod rows;
pub mod schedules;
pub mod sitrep;
pub mod text_messages;

// The records and pages this layer reads and returns are domain types; the files below name
// them through `super::`.
use crate::domain::{
    BatchOperation, Callout, Contact, Operator, Page, Paged, Participation, PhoneCall,
    RemotePhoneCallEvent,
};

use engine::Qb;
pub use engine::{Conn, Db, Engine, Handle, Kind, Tx};
pub use location::Location;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A UNIQUE constraint failed; the payload names the index's columns (e.g. `contacts.msisdn`).
    #[error("unique constraint failed: {0}")]
    Unique(String),
    /// A FOREIGN KEY constraint failed (a parent vanished between check and write).
    #[error("foreign key constraint failed")]
    ForeignKey,
    /// The database file could not be written (read-only file system, disk full, locked too long).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let msg = db.message().to_string();
            if db.is_unique_violation() {
                let cols = match db.constraint() {
                    // PostgreSQL names the index; say which columns it covers, as SQLite does.
                    Some(index) => unique_columns(index),
                    None => msg.rsplit(": ").next().unwrap_or_default().to_string(),
                };
                return StoreError::Unique(cols);
            }
            if db.is_foreign_key_violation() {
                return StoreError::ForeignKey;
            }
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // Class 53 (insufficient resources: disk full, out of memory, too many
                // connections), 57 (operator intervention: shutdown), 08 (connection), 25006
                // (read-only transaction), 40001/40P01 (serialization failure, deadlock).
                let code = pg.code();
                if code.starts_with("53")
                    || code.starts_with("57")
                    || code.starts_with("08")
                    || matches!(code, "25006" | "40001" | "40P01")
                {
                    return StoreError::Unavailable(msg);
                }
                return StoreError::Other(e);
            }
            // SQLITE_FULL (13), SQLITE_READONLY (8), SQLITE_BUSY (5), SQLITE_IOERR (10).
            if let Some(code) = db.code() {
                let primary = code.parse::<i64>().map(|c| c & 0xff).unwrap_or(0);
                if matches!(primary, 5 | 8 | 10 | 13) {
                    return StoreError::Unavailable(msg);
                }
            }
        }
        if matches!(
            e,
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
        ) {
            return StoreError::Unavailable(e.to_string());
        }
        StoreError::Other(e)
    }
}

/// The columns of a PostgreSQL unique index (`migrations/postgres/`), in SQLite's words
/// (`table.column, table.column`).
fn unique_columns(index: &str) -> String {
    match index {
        "contacts_msisdn" => "contacts.msisdn",
        "callout_participations_callout_contact" => {
            "callout_participations.callout_id, callout_participations.contact_id"
        }
        "callout_participations_callout_msisdn" => {
            "callout_participations.callout_id, callout_participations.msisdn"
        }
        "phone_calls_remote_call_id" => "phone_calls.remote_call_id",
        "phone_calls_runner_attempt" => {
            "phone_calls.callout_participation_id, phone_calls.runner_attempt"
        }
        other => other,
    }
    .to_string()
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Starts a state transition as one conditional statement: `UPDATE <table> SET status = to,
/// updated_at = now WHERE id = ? AND status IN (from…)`. The caller appends `RETURNING …`.
/// `table` is a name from this module, never client text.
pub(crate) fn transition_sql(
    kind: Kind,
    table: &'static str,
    id: i64,
    from: &[&str],
    to: &str,
    now: &str,
) -> Qb {
    let mut qb = Qb::new(kind, format!("UPDATE {table} SET status = "));
    qb.push_bind(to.to_string())
        .push(", updated_at = ")
        .push_bind(now.to_string())
        .push(" WHERE id = ")
        .push_bind(id)
        .push(" AND status IN (")
        .push_list(&from.iter().map(|f| f.to_string()).collect::<Vec<_>>())
        .push(")");
    qb
}

/// Takes an exclusive lock on `<database>-migrate.lock` (created beside the database, kept), held
/// until the returned file is dropped. Blocking, so it waits on a blocking thread. Where the lock
/// file can be neither created nor opened (a read-only directory), there is no lock: such a
/// database can only be opened if nothing is left to migrate, so there is nothing to race.
async fn migration_lock(db: &Path) -> Result<Option<std::fs::File>> {
    let mut name = db.as_os_str().to_owned();
    name.push("-migrate.lock");
    let lock_path = std::path::PathBuf::from(name);
    let locked = tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            // A read-only file (or directory) still takes a lock through a read-only handle.
            .or_else(|_| std::fs::File::open(&lock_path));
        match file {
            Ok(file) => file.lock().map(|()| Some(file)),
            Err(e) => {
                tracing::debug!(error = %e, path = %lock_path.display(), "no migration lock");
                Ok(None)
            }
        }
    })
    .await
    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    locked.map_err(|e| StoreError::Unavailable(format!("migration lock: {e}")))
}

/// The database handle: a small pool of connections over one SQLite file, plus any group-commit
/// writers started on it (each with its own connection).
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    location: Location,
    /// SQLite: how the group-commit writers open their own connections.
    options: Option<SqliteConnectOptions>,
    closed: CancellationToken,
    writers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `location`: a SQLite file
    /// (a path) or a PostgreSQL database (a `postgres://` URL; created if the server lacks it).
    pub async fn open(location: impl Into<Location>) -> Result<Store> {
        match location.into() {
            Location::Sqlite(path) => Self::open_sqlite(&path).await,
            Location::Postgres(url) => Self::open_postgres(url).await,
        }
    }

    async fn open_postgres(url: String) -> Result<Store> {
        use sqlx::migrate::MigrateDatabase;
        if !sqlx::Postgres::database_exists(&url).await? {
            if let Err(e) = sqlx::Postgres::create_database(&url).await {
                // Another process may have created it meanwhile: 42P04 (duplicate database),
                // or 23505 on `pg_database_datname_index` when two CREATE DATABASE statements
                // race each other's catalog insert (two `scfm serve` started together).
                let dup = matches!(&e, sqlx::Error::Database(db)
                    if matches!(db.code().as_deref(), Some("42P04" | "23505")));
                if !dup {
                    return Err(e.into());
                }
            }
        }
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .after_release(|c, _| Box::pin(not_stuck_in_transaction(c)))
            .connect(&url)
            .await?;
        // `migrate!` embeds the folder at compile time; cargo does not watch it, so after editing
        // a migration in a dev build, touch this file (a clean build, as CI's, always reads it).
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(sqlx::Error::Migrate(Box::new(e))))?;
        Ok(Store {
            db: Db::Postgres(pool),
            location: Location::Postgres(url),
            options: None,
            closed: CancellationToken::new(),
            writers: Arc::default(),
        })
    }

    async fn open_sqlite(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            }
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536");
        // Opening is one process at a time: sqlx takes no lock around SQLite migrations, so two
        // processes started together on a new (or older) file would both apply the same
        // migration, and switching a new file to WAL while another connection does the same can
        // fail at once with "database is locked". The file lock makes the next process wait,
        // then find the file in WAL and nothing left to apply.
        let lock = migration_lock(path).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .after_release(|c, _| Box::pin(not_stuck_in_transaction(c)))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(sqlx::Error::Migrate(Box::new(e))))?;
        let store = Store {
            db: Db::Sqlite(pool),
            location: Location::Sqlite(path.to_path_buf()),
            options: Some(options),
            closed: CancellationToken::new(),
            writers: Arc::default(),
        };
        // Finish the side-table fill of an import that stopped before its end (crash, I/O error).
        import::sync_contact_metadata(&store).await?;
        drop(lock);
        Ok(store)
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The SQLite file (`None` on PostgreSQL).
    pub fn path(&self) -> Option<&Path> {
        self.location.sqlite_path()
    }

    /// Which database this is, for people (the status bar): the SQLite file's path, or the
    /// PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        self.location.describe()
    }

    /// The SQLite pool, for tools and tests that inspect a SQLite database directly (`None` on
    /// PostgreSQL).
    pub fn sqlite_pool(&self) -> Option<&sqlx::SqlitePool> {
        match &self.db {
            Db::Sqlite(p) => Some(p),
            Db::Postgres(_) => None,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn kind(&self) -> Kind {
        self.db.kind()
    }

    /// A connection for reads (and single-statement writes, which are atomic on their own).
    pub async fn read(&self) -> Result<Conn> {
        Ok(self.db.acquire().await?)
    }

    /// A write transaction (SQLite: `BEGIN IMMEDIATE`; see [`Db::begin_write`]).
    pub async fn write(&self) -> Result<Tx<'static>> {
        Ok(self.db.begin_write().await?)
    }

    /// Starts a group-commit writer on its own connection (see [`group_commit`]); it must be
    /// called inside a tokio runtime. [`Store::close`] finishes its queued jobs and stops it.
    pub fn group_commit<J: group_commit::Job>(&self) -> group_commit::GroupCommit<J> {
        let target = match (&self.db, &self.options) {
            (_, Some(options)) => group_commit::Target::Sqlite(options.clone()),
            (Db::Postgres(pool), None) => group_commit::Target::Postgres(pool.clone()),
            (Db::Sqlite(_), None) => unreachable!("a SQLite store keeps its connect options"),
        };
        let (writer, tasks) = group_commit::GroupCommit::spawn(target, self.closed.clone());
        self.writers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(tasks);
        writer
    }

    /// Finishes the group-commit writers' queued jobs, stops them and their checkpointers, then
    /// closes every connection.
    pub async fn close(&self) {
        self.closed.cancel();
        let writers = std::mem::take(
            &mut *self
                .writers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for task in writers {
            let _ = task.await;
        }
        self.db.close().await;
    }
}

/// Whether a connection coming back to the pool may be lent again. A transaction dropped
/// without commit queues its ROLLBACK; when that ROLLBACK fails (SQLite already dropped the
/// transaction itself after a disk-full or I/O error, so "no transaction is active"), sqlx
/// keeps counting the connection as inside a transaction and every later `BEGIN` on it fails
/// ("non-zero transaction depth"), long after the disk has room again. Such a connection is
/// closed instead (the pool opens a fresh one). The ping waits for the queued ROLLBACK.
async fn not_stuck_in_transaction<C: sqlx::Connection>(
    conn: &mut C,
) -> std::result::Result<bool, sqlx::Error> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!("a pooled connection was left inside a failed transaction; closing it");
        return Ok(false);
    }
    Ok(true)
}
