//! The change feed (`store::changes`) on either engine: a commit made on another connection
//! is reported, a statement that changed nothing is not, and nothing is reported twice.
#![allow(clippy::unwrap_used)]

use scfm::store::{Location, Store, contacts};
use std::time::Duration;

/// Longer than SQLite's poll interval (2 s), so both engines have time to see a commit.
const SEEN_WITHIN: Duration = Duration::from_secs(5);

#[tokio::test]
async fn commits_by_others_are_seen_and_empty_statements_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(Location::for_tests(&dir.path().join("feed.sqlite3")))
        .await
        .unwrap();
    let mut watch = store.change_watch().await.unwrap();

    // A statement that matches nothing is no change.
    let mut conn = store.read().await.unwrap();
    assert!(!contacts::delete(&mut conn, 4242).await.unwrap());
    drop(conn);
    assert!(
        tokio::time::timeout(SEEN_WITHIN, watch.changed())
            .await
            .is_err(),
        "an empty delete was reported as a change"
    );

    // A committed insert on another connection is.
    let mut tx = store.write().await.unwrap();
    contacts::insert(&mut tx, "+85512000001", "{}", "2026-12-02T00:00:00.000Z")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    tokio::time::timeout(SEEN_WITHIN, watch.changed())
        .await
        .expect("the commit was not reported")
        .unwrap();

    // Reported once: nothing more until the next commit.
    assert!(
        tokio::time::timeout(SEEN_WITHIN, watch.changed())
            .await
            .is_err(),
        "one commit was reported twice"
    );
    // The watch holds a connection of the pool: closing waits for it.
    drop(watch);
    store.close().await;
}
