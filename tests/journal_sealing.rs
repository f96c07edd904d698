//! Journal entries are recorded in the transaction of their change and chained afterwards by
//! a sealer (`Service::seal_journal`). Two stores on one database (two processes' pools, each
//! its own service) write journaled changes side by side while both seal in the background:
//! every entry ends in one chain that verifies, none twice, none lost, and each writer's
//! entries keep the order in which its changes committed. Entries recorded by a process that
//! never sealed them (killed) are chained by the next one. Both engines.

#![allow(clippy::unwrap_used)]

use scfm::call_flow::Registry;
use scfm::domain::actor::Actor;
use scfm::domain::metadata::MergeMode;
use scfm::domain::time::Clock;
use scfm::service::{ContactInput, Service};
use scfm::store::journal::Sealing;
use scfm::store::{Location, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tempfile::TempDir;

const WRITERS_PER_SERVICE: usize = 3;
const WRITES_PER_WRITER: usize = 60;

async fn service(at: &Location, who: &str) -> Service {
    let store = Store::open(at.clone()).await.unwrap();
    Service::new(store, Clock::System, Registry::default())
        .acting_as(Actor::Operator(who.to_string()))
}

fn contact(n: usize) -> ContactInput {
    ContactInput {
        msisdn: Some(format!("+8551200{n:04}")),
        metadata: None,
        merge_mode: MergeMode::Merge,
    }
}

async fn unsealed(svc: &Service) -> i64 {
    let mut conn = svc.store().read().await.unwrap();
    scfm::store::journal::unsealed(&mut conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_write_and_seal_side_by_side_into_one_chain() {
    let dir = TempDir::new().unwrap();
    let at = Location::for_tests(&dir.path().join("sealing.sqlite3"));
    let a = service(&at, "ana").await;
    let b = service(&at, "bo").await;

    // Both "processes" seal in the background while the writes run, as their workers do.
    let stop = Arc::new(AtomicBool::new(false));
    let mut sealers = Vec::new();
    for svc in [a.clone(), b.clone()] {
        let stop = stop.clone();
        sealers.push(tokio::spawn(async move {
            let mut sealed = 0;
            while !stop.load(Ordering::Relaxed) {
                sealed += svc.seal_journal(Sealing::SkipIfBusy).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
            sealed
        }));
    }
    let mut writers = Vec::new();
    for (s, svc) in [&a, &b].into_iter().enumerate() {
        for w in 0..WRITERS_PER_SERVICE {
            let svc = svc.clone();
            writers.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..WRITES_PER_WRITER {
                    let n = (s * WRITERS_PER_SERVICE + w) * WRITES_PER_WRITER + i;
                    ids.push(svc.create_contact(contact(n)).await.unwrap().id);
                }
                ids
            }));
        }
    }
    let mut order = Vec::new();
    for w in writers {
        order.push(w.await.unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    let mut background = 0;
    for s in sealers {
        background += s.await.unwrap();
    }
    let total = (2 * WRITERS_PER_SERVICE * WRITES_PER_WRITER) as i64;
    assert!(background > 0, "the background sealers sealed nothing");

    let check = a.verify_journal().await.unwrap();
    assert_eq!(check.broken, None);
    assert_eq!(check.unsealed, 0);
    assert_eq!(
        check.verified, total,
        "one entry per change, none lost, none twice"
    );
    assert_eq!(check.head_seq, total);

    let entries = b.journal_entries(None, 0, 5_000).await.unwrap();
    assert_eq!(entries.len() as i64, total);
    let seq_of: std::collections::HashMap<String, i64> =
        entries.iter().map(|e| (e.subject.clone(), e.seq)).collect();
    assert_eq!(seq_of.len() as i64, total, "one entry per contact");
    for ids in &order {
        let seqs: Vec<i64> = ids
            .iter()
            .map(|id| seq_of[&format!("contact:{id}")])
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "a writer's entries out of commit order: {seqs:?}"
        );
    }
    for e in &entries {
        let by_a = e.actor == "ana";
        assert!(by_a || e.actor == "bo", "{e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_left_by_a_process_that_never_sealed_are_chained_by_the_next() {
    let dir = TempDir::new().unwrap();
    let at = Location::for_tests(&dir.path().join("left.sqlite3"));
    let gone = service(&at, "ana").await;
    for n in 0..25 {
        gone.create_contact(contact(n)).await.unwrap();
    }
    assert_eq!(unsealed(&gone).await, 25, "recorded, not yet chained");
    // The process dies without sealing: its pool is simply dropped.
    gone.store().close().await;
    drop(gone);

    let next = service(&at, "bo").await;
    assert_eq!(unsealed(&next).await, 25);
    next.create_contact(contact(99)).await.unwrap();
    let check = next.verify_journal().await.unwrap();
    assert_eq!((check.broken, check.unsealed), (None, 0));
    assert_eq!(check.verified, 26);
    let entries = next.journal_entries(None, 0, 100).await.unwrap();
    let actors: Vec<&str> = entries.iter().map(|e| e.actor.as_str()).collect();
    assert_eq!(actors[..25], ["ana"; 25]);
    assert_eq!(actors[25], "bo");
}
