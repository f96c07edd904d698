//! Places queued calls: waits for a pacing slot (token bucket at the configured calls per
//! second), claims one call (the durable intent), and sends its create request in a task. A few
//! requests may be in flight at once so a slow provider does not stop pacing; each call is
//! claimed by exactly one worker in exactly one process. After the provider refuses our
//! credentials the dialer holds until a harmless request is accepted again.

use crate::service::Service;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const MAX_IN_FLIGHT: usize = 8;

pub async fn run(service: Service, cancel: CancellationToken) {
    let cps = service.dialing().calls_per_second.max(0.01);
    let interval = Duration::from_secs_f64(1.0 / cps);
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut next_slot = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = cancel.cancelled() => break,
            p = in_flight.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep_until(next_slot) => {}
        }
        // Held after the provider refused our credentials: claim nothing (queued calls wait)
        // and ask again every poll interval.
        if service.dialing_held().is_some() {
            drop(permit);
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(service.dialing().poll_interval) => {}
            }
            service.probe_provider().await;
            continue;
        }
        match service.claim_next_dial().await {
            Ok(Some(call)) => {
                next_slot = next_slot.max(Instant::now() - interval) + interval;
                let s = service.clone();
                tasks.spawn(async move {
                    if let Err(e) = s.dial_claimed(call).await {
                        tracing::error!(error = %e, "dial failed to record its outcome");
                    }
                    drop(permit);
                });
            }
            Ok(None) => {
                drop(permit);
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = service.wake().dialer.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
            Err(e) => {
                drop(permit);
                tracing::error!(error = %e, "claiming a call to dial failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    // Let requests already sent record their outcome.
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}
