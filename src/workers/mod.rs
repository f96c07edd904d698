//! Background workers: each a loop that owns its inputs and `select!`s over a cancellation
//! token, a `Notify` the service pokes when it queues work, and a slow fallback interval (work
//! queued by another process on the same database is found by the interval). A supervisor
//! restarts a worker that panicked, with backoff.

mod batch_runner;
mod campaign_runner;
mod cap_feed;
mod dialer;
mod journal_sealer;
mod status_poller;
mod text_sender;

use crate::service::Service;
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Spawns every worker under supervision; they stop when `cancel` fires.
pub fn spawn_all(service: &Service, cancel: CancellationToken) -> JoinSet<()> {
    let mut set = JoinSet::new();
    let s = service.clone();
    set.spawn(supervise("batch_runner", cancel.clone(), move |c| {
        batch_runner::run(s.clone(), c)
    }));
    let s = service.clone();
    set.spawn(supervise("campaign_runner", cancel.clone(), move |c| {
        campaign_runner::run(s.clone(), c)
    }));
    let s = service.clone();
    set.spawn(supervise("dialer", cancel.clone(), move |c| {
        dialer::run(s.clone(), c)
    }));
    let s = service.clone();
    set.spawn(supervise("journal_sealer", cancel.clone(), move |c| {
        journal_sealer::run(s.clone(), c)
    }));
    let s = service.clone();
    set.spawn(supervise("status_poller", cancel.clone(), move |c| {
        status_poller::run(s.clone(), c)
    }));
    // Texts go out only through a provider with credentials (as calls: nothing is sent
    // otherwise).
    let d = service.dialing();
    if d.provider.is_some() && d.missing_credentials.is_none() {
        let s = service.clone();
        set.spawn(supervise("text_sender", cancel.clone(), move |c| {
            text_sender::run(s.clone(), c)
        }));
        let s = service.clone();
        set.spawn(supervise("text_follow_up", cancel.clone(), move |c| {
            text_sender::follow_up(s.clone(), c)
        }));
    }
    set
}

/// Spawns the CAP feed poller (`scfm serve --cap-feed URL`, with its area map) beside them.
pub fn spawn_cap_feed(
    set: &mut JoinSet<()>,
    service: &Service,
    feed: crate::config::CapFeed,
    map: std::path::PathBuf,
    cancel: CancellationToken,
) {
    let s = service.clone();
    set.spawn(supervise("cap_feed", cancel, move |c| {
        cap_feed::run(s.clone(), feed.clone(), map.clone(), c)
    }));
}

/// Runs `make(cancel)` until cancelled, restarting it (1 s, doubling to 60 s) if it panics.
async fn supervise<F, Fut>(name: &'static str, cancel: CancellationToken, make: F)
where
    F: Fn(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff = Duration::from_secs(1);
    loop {
        let handle = tokio::spawn(make(cancel.clone()));
        match handle.await {
            Ok(()) => return,
            Err(e) if e.is_panic() => {
                tracing::error!(
                    worker = name,
                    "worker panicked; restarting in {:?}",
                    backoff
                );
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
            Err(_) => return,
        }
    }
}
