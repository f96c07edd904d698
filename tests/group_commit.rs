//! The group-commit writer (`scfm::store::group_commit`) on a real SQLite file: jobs queued while
//! the write lock is held elsewhere run as one batch; a job that fails, panics or discards rolls
//! back only its own writes and only it hears of it; a batch whose COMMIT fails applies nothing
//! and every job in it gets `Unavailable`; answers come only after the commit.

#![allow(clippy::unwrap_used)]

use scfm::on_engine;
use scfm::store::group_commit::{Done, GroupCommit, Job};
use scfm::store::{Engine, Store, StoreError};
use sqlx::Connection;
use sqlx::SqliteConnection as Conn;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

enum Step {
    /// Insert `k` and keep it.
    Insert(&'static str),
    /// Insert `k`, then fail with a database error (a constraint raised by SQLite itself).
    InsertThenFail(&'static str),
    /// Insert `k`, then answer but ask for the writes to be rolled back.
    InsertThenDiscard(&'static str),
    /// Insert `k`, then panic.
    InsertThenPanic(&'static str),
    /// Insert `k` and a child row whose parent does not exist, with foreign keys deferred to
    /// COMMIT: the savepoint releases fine, the batch's COMMIT fails.
    BreakCommit(&'static str),
}

struct TestJob(Step);

async fn insert(conn: &mut Engine<'_>, k: &str) -> Result<(), StoreError> {
    on_engine!(conn, ex => sqlx::query("INSERT INTO t (k) VALUES ($1)")
        .bind(k)
        .execute(ex)
        .await
        .map(|_| ()))?;
    Ok(())
}

impl Job for TestJob {
    type Output = &'static str;
    type Error = StoreError;

    async fn run(self, conn: &mut Engine<'_>) -> Result<Done<&'static str>, StoreError> {
        match self.0 {
            Step::Insert(k) => {
                insert(conn, k).await?;
                Ok(Done::Keep(k))
            }
            Step::InsertThenFail(k) => {
                insert(conn, k).await?;
                // `t.k` is UNIQUE: the second insert fails inside the job's savepoint.
                insert(conn, k).await?;
                Ok(Done::Keep(k))
            }
            Step::InsertThenDiscard(k) => {
                insert(conn, k).await?;
                Ok(Done::Discard(k))
            }
            Step::InsertThenPanic(k) => {
                insert(conn, k).await?;
                panic!("job {k} panics on purpose");
            }
            Step::BreakCommit(k) => {
                insert(conn, k).await?;
                on_engine!(conn, ex => sqlx::query("PRAGMA defer_foreign_keys = ON")
                    .execute(ex)
                    .await
                    .map(|_| ()))?;
                on_engine!(conn, ex => sqlx::query("INSERT INTO child (parent_id) VALUES (424242)")
                    .execute(ex)
                    .await
                    .map(|_| ()))?;
                Ok(Done::Keep(k))
            }
        }
    }
}

async fn setup() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gc.sqlite3")).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE t (k TEXT NOT NULL UNIQUE); \
         CREATE TABLE parent (id INTEGER PRIMARY KEY); \
         CREATE TABLE child (parent_id INTEGER NOT NULL REFERENCES parent (id));",
    )
    .execute(store.sqlite_pool().expect("a SQLite store"))
    .await
    .unwrap();
    (dir, store)
}

/// Keys in `t`, read on a connection of its own (not the writer's).
async fn keys(store: &Store) -> Vec<String> {
    let mut c = Conn::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new()
            .filename(store.path().expect("a SQLite store"))
            .read_only(true),
    )
    .await
    .unwrap();
    let k = sqlx::query_scalar("SELECT k FROM t ORDER BY k")
        .fetch_all(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    k
}

/// Submits `steps` while another connection holds the write lock: the writer takes the first
/// job alone and waits with it in `BEGIN IMMEDIATE`, and all the others queue up behind it. Then
/// lets go, so the rest run as one batch. Returns the answers in submission order.
async fn batched(
    store: &Store,
    writer: &GroupCommit<TestJob>,
    steps: Vec<Step>,
) -> Vec<Result<&'static str, StoreError>> {
    let taken = || writer.stats().jobs.load(Ordering::Relaxed) as usize;
    let base = taken();
    let lock = store.write().await.unwrap();
    let mut tasks = Vec::new();
    for step in steps {
        let w = writer.clone();
        tasks.push(tokio::spawn(async move { w.submit(TestJob(step)).await }));
        // The first job must be taken by the writer; each later one queued behind it.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ready = if tasks.len() == 1 {
                taken() - base == 1
            } else {
                writer.queued() == tasks.len() - 1
            };
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "job {} not queued", tasks.len());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    lock.rollback().await.unwrap();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_failing_job_rolls_back_only_itself() {
    if scfm::store::location::skip_on_postgres(
        "a_failing_job_rolls_back_only_itself",
        "builds its own tables and faults (PRAGMA defer_foreign_keys) on the SQLite file",
    ) {
        return;
    }
    let (_dir, store) = setup().await;
    let writer: GroupCommit<TestJob> = store.group_commit();
    let answers = batched(
        &store,
        &writer,
        vec![
            Step::Insert("a"),
            Step::Insert("b"),
            Step::InsertThenFail("c"),
            Step::Insert("d"),
            Step::InsertThenDiscard("e"),
            Step::InsertThenPanic("f"),
            Step::Insert("g"),
        ],
    )
    .await;
    assert_eq!(answers[0].as_ref().unwrap(), &"a");
    assert_eq!(answers[1].as_ref().unwrap(), &"b");
    assert!(
        matches!(answers[2], Err(StoreError::Unique(_))),
        "{:?}",
        answers[2]
    );
    assert_eq!(answers[3].as_ref().unwrap(), &"d");
    assert_eq!(
        answers[4].as_ref().unwrap(),
        &"e",
        "a discarded job still answers"
    );
    assert!(answers[5].is_err(), "{:?}", answers[5]);
    assert_eq!(answers[6].as_ref().unwrap(), &"g");
    assert_eq!(keys(&store).await, ["a", "b", "d", "g"]);
    // Two batches: the first job alone (it waited for the lock), then the six queued behind it.
    assert_eq!(writer.stats().batches.load(Ordering::Relaxed), 2);
    assert_eq!(writer.stats().jobs.load(Ordering::Relaxed), 7);
    store.close().await;
}

#[tokio::test]
async fn a_failed_commit_applies_nothing_and_fails_every_job_of_the_batch() {
    if scfm::store::location::skip_on_postgres(
        "a_failed_commit_applies_nothing_and_fails_every_job_of_the_batch",
        "builds its own tables and faults (PRAGMA defer_foreign_keys) on the SQLite file",
    ) {
        return;
    }
    let (_dir, store) = setup().await;
    let writer: GroupCommit<TestJob> = store.group_commit();
    let answers = batched(
        &store,
        &writer,
        vec![
            Step::Insert("first"),
            Step::Insert("a"),
            Step::BreakCommit("b"),
            Step::Insert("c"),
        ],
    )
    .await;
    assert_eq!(answers[0].as_ref().unwrap(), &"first", "its own batch");
    for a in &answers[1..] {
        assert!(matches!(a, Err(StoreError::Unavailable(_))), "{a:?}");
    }
    assert_eq!(keys(&store).await, ["first"]);
    assert_eq!(writer.stats().failed_batches.load(Ordering::Relaxed), 1);
    // The writer goes on with the next batch.
    assert_eq!(
        writer.submit(TestJob(Step::Insert("after"))).await.unwrap(),
        "after"
    );
    assert_eq!(keys(&store).await, ["after", "first"]);
    store.close().await;
}

#[tokio::test]
async fn every_answer_follows_its_commit_and_close_finishes_the_queue() {
    if scfm::store::location::skip_on_postgres(
        "every_answer_follows_its_commit_and_close_finishes_the_queue",
        "builds its own tables and faults (PRAGMA defer_foreign_keys) on the SQLite file",
    ) {
        return;
    }
    let (_dir, store) = setup().await;
    let writer: GroupCommit<TestJob> = store.group_commit();
    let names: Vec<&'static str> = (0..200)
        .map(|i| &*Box::leak(format!("k{i:03}").into_boxed_str()))
        .collect();
    let mut tasks = Vec::new();
    for k in names.clone() {
        let w = writer.clone();
        let path = store.path().expect("a SQLite store").to_path_buf();
        tasks.push(tokio::spawn(async move {
            let got = w.submit(TestJob(Step::Insert(k))).await.unwrap();
            // As soon as the answer arrives, a fresh connection sees the row.
            let mut c = Conn::connect_with(
                &sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&path)
                    .read_only(true),
            )
            .await
            .unwrap();
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t WHERE k = ?")
                .bind(got)
                .fetch_one(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
            assert_eq!(n, 1, "{got} answered before it was committed");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(keys(&store).await.len(), 200);
    // Jobs queued when the store closes are still run; later ones are refused.
    let w = writer.clone();
    let late = tokio::spawn(async move { w.submit(TestJob(Step::Insert("late"))).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.queued() == 0 && !late.is_finished() {
        assert!(Instant::now() < deadline, "late job never queued");
        tokio::task::yield_now().await;
    }
    store.close().await;
    assert_eq!(late.await.unwrap().unwrap(), "late");
    assert!(matches!(
        writer.submit(TestJob(Step::Insert("closed"))).await,
        Err(StoreError::Unavailable(_))
    ));
}
