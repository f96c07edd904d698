//! Three `scfm serve` processes on one database (PostgreSQL with `SCFM_TEST_DATABASE`, else one
//! SQLite file), one fake provider account capped at 50 creates per second, 1,000 queued calls:
//! - the fake's log shows 1,000 creates, each number once, and no one-second window (sliding,
//!   measured at the provider) over 50;
//! - the same with one process killed with `kill -9` twice during the campaign (restarted after
//!   the first kill): nothing is created twice and nothing is lost; every call ends either
//!   placed once or, when the kill came between its claim and its request, given up by the
//!   others' reconciliation as "not redialled" (none of those reached the provider).

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;
use support::campaign;
use support::fake_provider::{FakeConfig, FakeProvider};
use support::serve::{self, Serve};

const CALLS: usize = 1_000;
const CPS: usize = 50;

fn number(i: usize) -> String {
    format!("+8551{:07}", 4_000_000 + i)
}

async fn race(kills: bool) {
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = scfm::store::Location::for_tests(&dir.path().join("scale.sqlite3"));
    let ports: Vec<u16> = (0..3).map(|_| serve::free_port()).collect();
    let mut procs = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let log = dir.path().join(format!("serve-{i}.log"));
        procs.push(
            Serve::start(
                campaign::dialling_command(&db, dir.path(), *port, &fake, CPS),
                *port,
                log,
            )
            .await,
        );
    }
    let numbers: Vec<String> = (0..CALLS).map(number).collect();
    campaign::create_calls(&procs[0], &numbers).await;
    // The three processes' diallers now race for the same 1,000 queued calls.
    campaign::queue_all(&procs[0]).await;
    let mut kills_done = 0;
    if kills {
        for round in 0..2 {
            tokio::time::sleep(Duration::from_secs(4)).await;
            procs[1].kill();
            kills_done += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
            if round == 0 {
                let log = dir.path().join("serve-1-again.log");
                procs[1] = Serve::start(
                    campaign::dialling_command(&db, dir.path(), ports[1], &fake, CPS),
                    ports[1],
                    log,
                )
                .await;
            }
        }
    }
    // Every call leaves `queued`: dialled, or resolved by reconciliation after a kill.
    let t = campaign::tally(&procs[0], &fake, CALLS).await;
    eprintln!("three processes at {CPS} cps, {kills_done} kill(s): {t}");
    t.assert_safe(&fake, CPS);
    assert!(
        kills || t.given_up.is_empty(),
        "calls errored without a kill: {:?}",
        t.given_up
    );
    if !kills {
        assert_eq!(t.creates, CALLS);
    }
}

/// The two races run one after the other: six servers at once on a small machine would measure
/// the machine, not the pacing.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_one_accounts_cap() {
    let _one = ONE_AT_A_TIME.lock().await;
    race(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_with_one_killed_twice_lose_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    race(true).await;
}
