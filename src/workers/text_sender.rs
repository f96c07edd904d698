//! The SMS fallback's workers. `run`: about once a second queue the texts running campaigns
//! need, then claim and send them, each at its callout's next slot (a schedule shared by every
//! process on the database), a few requests in flight at once. `follow_up`: status polls of
//! texts not final, and reconciliation of claims a crash left unresolved. Started only when a
//! provider is configured.

use crate::service::{Service, TextTurn};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Create requests in flight at once.
const MAX_IN_FLIGHT: usize = 4;

/// How often texts are queued for participations whose calls are over.
const ENQUEUE_EVERY: Duration = Duration::from_secs(1);

pub async fn run(service: Service, cancel: CancellationToken) {
    let mut tasks = tokio::task::JoinSet::new();
    let mut enqueue = tokio::time::interval(ENQUEUE_EVERY);
    enqueue.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        while tasks.try_join_next().is_some() {}
        if tasks.len() >= MAX_IN_FLIGHT {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tasks.join_next() => {}
            }
            continue;
        }
        let wait = match service.claim_text().await {
            Ok(TextTurn::Claimed(text, at)) => {
                let s = service.clone();
                tasks.spawn(async move {
                    let id = text.id;
                    if let Err(e) = s.send_text(*text, at).await {
                        // The claim stays `sending`: reconciliation asks the provider.
                        tracing::error!(text_id = id, error = %e, "recording a text's outcome failed");
                    }
                });
                continue;
            }
            Ok(TextTurn::Wait(d)) => d.min(ENQUEUE_EVERY),
            Ok(TextTurn::Idle) => ENQUEUE_EVERY,
            Err(e) => {
                tracing::error!(error = %e, "claiming a text failed");
                ENQUEUE_EVERY
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
            _ = enqueue.tick() => {
                if let Err(e) = service.enqueue_text_messages().await {
                    tracing::error!(error = %e, "queueing fallback texts failed");
                }
            }
        }
    }
    // Requests in flight finish and record what came of them.
    while tasks.join_next().await.is_some() {}
}

pub async fn follow_up(service: Service, cancel: CancellationToken) {
    let tick = service
        .dialing()
        .poll_interval
        .clamp(Duration::from_millis(200), Duration::from_secs(5));
    let every = service
        .dialing()
        .reconcile_after
        .clamp(Duration::from_millis(100), Duration::from_secs(15));
    let mut reconcile = tokio::time::interval(every);
    loop {
        match service.poll_texts().await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "text status poll failed"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(tick) => {}
            _ = reconcile.tick() => {
                if let Err(e) = service.reconcile_texts().await {
                    tracing::error!(error = %e, "text reconciliation failed");
                }
            }
        }
    }
}
