//! Polls the CAP feed of `scfm serve --cap-feed URL` (`Service::poll_cap_feed`): when this
//! process holds the poll's turn (one poll per interval across every process on the
//! database), reads the feed and the area map and drafts what is new. Each entry's outcome is
//! logged; a Cancel or Update of a callout already dialling is logged as a warning that asks an
//! operator to decide (the callout is never stopped from here).

use crate::config::CapFeed;
use crate::service::{CapOutcome, FeedResult, Service};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub async fn run(service: Service, feed: CapFeed, map: PathBuf, cancel: CancellationToken) {
    // Look for the turn a few times per interval, so a process that dies hands the poll to
    // another within about one interval.
    let look = (feed.interval / 4).clamp(Duration::from_millis(250), Duration::from_secs(15));
    loop {
        match service.take_cap_feed_turn(feed.interval).await {
            Ok(true) => poll(&service, &feed.url, &map).await,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "CAP feed: taking the poll's turn failed"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(look) => {}
        }
    }
}

async fn poll(service: &Service, url: &str, map: &std::path::Path) {
    let reports = match service.poll_cap_feed(url, map).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(feed = url, error = %e, "CAP feed poll failed");
            return;
        }
    };
    for r in reports {
        let entry = r.entry.as_str();
        match r.result {
            FeedResult::Done(outcome) => log_outcome(url, entry, *outcome),
            FeedResult::Skipped(why) => {
                tracing::debug!(feed = url, entry, why, "CAP entry skipped")
            }
            FeedResult::Refused(why) => {
                tracing::warn!(feed = url, entry, why, "CAP entry refused")
            }
        }
    }
}

fn log_outcome(url: &str, entry: &str, outcome: CapOutcome) {
    match outcome {
        CapOutcome::Drafted {
            callout,
            areas,
            unmatched,
            replaced,
        } => tracing::info!(
            feed = url,
            entry,
            callout = callout.id,
            replaced,
            areas = areas.len(),
            people = areas.iter().map(|a| a.people).sum::<i64>(),
            unmatched = ?unmatched,
            "CAP alert drafted; it waits for approval"
        ),
        CapOutcome::Cancelled { callout } => tracing::info!(
            feed = url,
            entry,
            callout = callout.id,
            "CAP cancel: the draft is marked cancelled"
        ),
        CapOutcome::AskToStop { callouts, msg_type } => {
            for c in callouts {
                tracing::warn!(
                    feed = url,
                    entry,
                    callout = c.id,
                    status = %c.status,
                    msg_type,
                    "CAP follow-up for a callout already dialling: nothing changed; an operator must stop it or let it run"
                );
            }
        }
    }
}
