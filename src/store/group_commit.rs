//! Group commit: one task owning one connection runs queued write jobs in batches, each batch in
//! one `BEGIN IMMEDIATE` transaction and each job in its own `SAVEPOINT`, and answers the jobs
//! only after `COMMIT` returned. A transaction per request pays a commit (and its WAL append and
//! lock handover) per request; a batch pays one for up to [`MAX_BATCH`] jobs
//! (`../shared/reference/LIMITS.md` rows 7a and 7c).
//!
//! Guarantees:
//! - A job's answer is never sent before its writes are committed: a caller that got `Ok` can
//!   read them from any connection at once.
//! - A job that fails (or asks to discard its writes) rolls back to its savepoint: only its own
//!   writes vanish and only it sees its error; the others in the batch commit.
//! - If the batch cannot be committed (or SQLite dropped the transaction after an I/O error),
//!   nothing of it is applied and every job in it gets [`StoreError::Unavailable`].
//! - Batches are bounded ([`MAX_BATCH`] jobs), so other writers (the API, workers, another
//!   process on the same file) wait for the write lock at most one batch.
//!
//! The writer takes whatever is queued when it is free: under light load a batch is one job
//! and nothing waits for company; under load the queue fills while a batch runs.
//!
//! WAL checkpoints run off the request path: the writer's connection checkpoints automatically
//! only past 64 MiB of WAL, and a checkpointer task with its own connection runs a `PASSIVE`
//! checkpoint every 200 ms while the writer commits (benches/suite.rs row 5: about 6.5k ->
//! 8.5k req/s, p99 35 -> 30 ms on the 2-core machine; LIMITS.md 7d -> 7f shows the same gap).

use super::engine::{Engine, Handle};
use super::{Result, StoreError};
use futures::FutureExt;
use sqlx::Connection;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{PgPool, Postgres, SqliteConnection};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Jobs per transaction at most.
pub const MAX_BATCH: usize = 64;
/// Jobs waiting for the writer at most; submitters beyond it wait for room.
const QUEUE: usize = 1024;
/// The writer's own automatic checkpoint threshold, in WAL pages: only a safety net (64 MiB),
/// since the checkpointer task below keeps the WAL far smaller.
const WRITER_AUTOCHECKPOINT: &str = "16384";
/// How often the checkpointer looks for new commits to fold into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// What a job leaves behind: its answer, and whether its writes stay.
#[derive(Debug)]
pub enum Done<T> {
    /// Keep the job's writes (release its savepoint).
    Keep(T),
    /// Answer `T` but roll the job's writes back (e.g. a request refused after a lookup wrote).
    Discard(T),
}

/// A unit of work run inside the batch transaction, in its own savepoint.
pub trait Job: Send + 'static {
    type Output: Send + 'static;
    type Error: From<StoreError> + Send + 'static;
    fn run(
        self,
        conn: &mut Engine<'_>,
    ) -> impl Future<Output = std::result::Result<Done<Self::Output>, Self::Error>> + Send;
}

type Answer<J> = std::result::Result<<J as Job>::Output, <J as Job>::Error>;
type Queued<J> = (J, oneshot::Sender<Answer<J>>);

/// Counters since the writer started (for logs, tests and benchmarks; never for decisions).
#[derive(Debug, Default)]
pub struct Stats {
    pub jobs: AtomicU64,
    pub batches: AtomicU64,
    pub failed_batches: AtomicU64,
}

/// The submitting side of a group-commit writer. Cheap to clone.
pub struct GroupCommit<J: Job> {
    tx: mpsc::Sender<Queued<J>>,
    stats: Arc<Stats>,
}

impl<J: Job> Clone for GroupCommit<J> {
    fn clone(&self) -> Self {
        GroupCommit {
            tx: self.tx.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<J: Job> std::fmt::Debug for GroupCommit<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("stats", &self.stats)
            .finish()
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the database writer has stopped (shutting down)".into())
}

impl<J: Job> GroupCommit<J> {
    /// Starts the writer task (and its checkpointer) on the current tokio runtime. Each opens
    /// its own connection with `options`; they stop when `closed` is cancelled (after the writer
    /// finished what is queued) or when every `GroupCommit` handle is dropped.
    pub(super) fn spawn(
        target: Target,
        closed: CancellationToken,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(Stats::default());
        let writer_stats = stats.clone();
        match target {
            Target::Sqlite(options) => {
                // The checkpointer stops with the writer (its token is cancelled when the
                // writer ends).
                let stop = closed.child_token();
                let checkpoints =
                    tokio::spawn(checkpointer(options.clone(), stop.clone(), stats.clone()));
                let writer_options = options.pragma("wal_autocheckpoint", WRITER_AUTOCHECKPOINT);
                let task = tokio::spawn(async move {
                    let _stop_checkpointer = stop.drop_guard();
                    writer::<J>(Target::Sqlite(writer_options), rx, closed, writer_stats).await;
                });
                (GroupCommit { tx, stats }, vec![task, checkpoints])
            }
            // PostgreSQL has no WAL to fold back: the writer alone, on a pooled connection.
            Target::Postgres(pool) => {
                let task = tokio::spawn(writer::<J>(
                    Target::Postgres(pool),
                    rx,
                    closed,
                    writer_stats,
                ));
                (GroupCommit { tx, stats }, vec![task])
            }
        }
    }

    /// Queues `job` and waits until its batch committed (or failed).
    pub async fn submit(&self, job: J) -> Answer<J> {
        let (answer, rx) = oneshot::channel();
        if self.tx.send((job, answer)).await.is_err() {
            return Err(stopped().into());
        }
        // A dropped sender means the writer stopped mid-batch: its transaction rolled back.
        rx.await.unwrap_or_else(|_| Err(stopped().into()))
    }

    /// Jobs waiting for the writer (not yet taken into a batch).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

/// Where a writer gets its connection.
#[allow(clippy::large_enum_variant)] // one per writer, built once
pub(super) enum Target {
    /// Its own connection, opened with these options.
    Sqlite(SqliteConnectOptions),
    /// A connection of the store's pool, held while the writer runs.
    Postgres(PgPool),
}

/// The writer's connection.
enum Own {
    Sqlite(SqliteConnection),
    Postgres(PoolConnection<Postgres>),
}

impl Handle for Own {
    fn engine(&mut self) -> Engine<'_> {
        match self {
            Own::Sqlite(c) => Engine::Sqlite(c),
            Own::Postgres(c) => Engine::Postgres(c),
        }
    }
}

impl Own {
    async fn close(self) {
        match self {
            Own::Sqlite(c) => {
                let _ = c.close().await;
            }
            Own::Postgres(c) => drop(c),
        }
    }
}

async fn connect(target: &Target) -> Result<Own> {
    Ok(match target {
        Target::Sqlite(options) => Own::Sqlite(SqliteConnection::connect_with(options).await?),
        Target::Postgres(pool) => Own::Postgres(pool.acquire().await?),
    })
}

async fn writer<J: Job>(
    target: Target,
    mut rx: mpsc::Receiver<Queued<J>>,
    closed: CancellationToken,
    stats: Arc<Stats>,
) {
    let mut conn: Option<Own> = None;
    let mut batch: Vec<Queued<J>> = Vec::with_capacity(MAX_BATCH);
    loop {
        let n = tokio::select! {
            biased;
            n = rx.recv_many(&mut batch, MAX_BATCH) => n,
            () = closed.cancelled(), if !rx.is_closed() => {
                // Take no more jobs, but finish the ones already queued.
                rx.close();
                continue;
            }
        };
        if n == 0 {
            break;
        }
        let c = match &mut conn {
            Some(c) => c,
            None => match connect(&target).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    let msg = e.to_string();
                    tracing::error!(error = %msg, "database writer cannot connect");
                    for (_, answer) in batch.drain(..) {
                        let _ = answer.send(Err(StoreError::Unavailable(msg.clone()).into()));
                    }
                    continue;
                }
            },
        };
        stats.jobs.fetch_add(n as u64, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        if !run_batch(c, &mut batch).await {
            stats.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
    }
    if let Some(c) = conn {
        c.close().await;
    }
}

/// Folds the WAL into the database file off the request path: every [`CHECKPOINT_EVERY`], if the
/// writer committed since the last look, a `PASSIVE` checkpoint on a connection of its own. It
/// never blocks the writer (or any reader); the WAL then restarts from its beginning at the
/// writer's next transaction. Without it the writer's COMMIT ran the automatic checkpoint
/// (WAL fsync, page copies, database fsync) every 1000 pages, inside a batch's answer time.
async fn checkpointer(options: SqliteConnectOptions, stop: CancellationToken, stats: Arc<Stats>) {
    let mut conn: Option<SqliteConnection> = None;
    let mut seen = 0;
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let committed = stats.batches.load(Ordering::Relaxed);
        if committed == seen {
            continue;
        }
        seen = committed;
        let c = match &mut conn {
            Some(c) => c,
            None => match open(&options).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    tracing::warn!(error = %e, "checkpointer cannot connect; SQLite's automatic checkpoints remain");
                    continue;
                }
            },
        };
        if let Err(e) = exec(c, "PRAGMA wal_checkpoint(PASSIVE)").await {
            tracing::warn!(error = %e, "background WAL checkpoint failed");
        }
    }
    if let Some(c) = conn {
        let _ = c.close().await;
    }
}

async fn open(options: &SqliteConnectOptions) -> Result<SqliteConnection> {
    Ok(SqliteConnection::connect_with(options).await?)
}

async fn exec(conn: &mut impl Handle, sql: &'static str) -> Result<()> {
    super::engine::on_engine!(conn, c => sqlx::raw_sql(sql).execute(c).await.map(|_| ()))?;
    Ok(())
}

type Answered<J> = Vec<(oneshot::Sender<Answer<J>>, Answer<J>)>;

/// Runs one batch and answers every job in it; false when the batch as a whole failed.
async fn run_batch<J: Job>(conn: &mut Own, batch: &mut Vec<Queued<J>>) -> bool {
    let mut jobs = batch.drain(..);
    let begin = match conn {
        Own::Sqlite(_) => "BEGIN IMMEDIATE",
        Own::Postgres(_) => "BEGIN",
    };
    if let Err(e) = exec(conn, begin).await {
        fail_all::<J>(jobs.map(|(_, a)| a), &e, "begin");
        return false;
    }
    let mut answered: Answered<J> = Vec::with_capacity(MAX_BATCH);
    while let Some((job, answer)) = jobs.next() {
        if let Err(e) = exec(conn, "SAVEPOINT job").await {
            let rest = jobs.map(|(_, a)| a);
            return abort::<J>(conn, answered, answer, rest, &e, "savepoint").await;
        }
        let result = AssertUnwindSafe(job.run(&mut conn.engine()))
            .catch_unwind()
            .await;
        let (keep, result) = match result {
            Ok(Ok(Done::Keep(v))) => (true, Ok(v)),
            Ok(Ok(Done::Discard(v))) => (false, Ok(v)),
            Ok(Err(e)) => (false, Err(e)),
            Err(_) => {
                tracing::error!("a database write job panicked; its writes are rolled back");
                let e = StoreError::Other(sqlx::Error::Protocol("write job panicked".into()));
                (false, Err(e.into()))
            }
        };
        // If SQLite dropped the whole transaction (I/O error, disk full), the savepoint is gone
        // and this fails: then the jobs before this one are lost too, and all of them hear so.
        let end = if keep {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        if let Err(e) = exec(conn, end).await {
            let rest = jobs.map(|(_, a)| a);
            return abort::<J>(conn, answered, answer, rest, &e, "release").await;
        }
        answered.push((answer, result));
    }
    if let Err(e) = exec(conn, "COMMIT").await {
        let _ = exec(conn, "ROLLBACK").await;
        fail_all::<J>(answered.into_iter().map(|(a, _)| a), &e, "commit");
        return false;
    }
    for (answer, result) in answered {
        // The caller may have gone away (client disconnected); its writes stay committed.
        let _ = answer.send(result);
    }
    true
}

/// The batch's transaction cannot go on: roll it back and fail every job of the batch (those
/// run so far, the current one and those not run yet).
async fn abort<J: Job>(
    conn: &mut Own,
    answered: Answered<J>,
    current: oneshot::Sender<Answer<J>>,
    rest: impl Iterator<Item = oneshot::Sender<Answer<J>>>,
    e: &StoreError,
    stage: &str,
) -> bool {
    let _ = exec(conn, "ROLLBACK").await;
    let all = answered
        .into_iter()
        .map(|(a, _)| a)
        .chain(std::iter::once(current))
        .chain(rest);
    fail_all::<J>(all, e, stage);
    false
}

fn fail_all<J: Job>(
    answers: impl Iterator<Item = oneshot::Sender<Answer<J>>>,
    e: &StoreError,
    stage: &str,
) {
    tracing::error!(error = %e, stage, "batch of database writes failed; nothing of it was applied");
    let msg = format!("the write batch failed at {stage}: {e}");
    for a in answers {
        let _ = a.send(Err(StoreError::Unavailable(msg.clone()).into()));
    }
}
