//! Brings calls to final states without webhooks: fetches calls queued for a remote fetch at
//! once and calls in flight on a schedule, and reconciles dial attempts whose outcome is unknown
//! (crash between request and answer) by asking the provider, never by dialling again.

use crate::service::Service;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub async fn run(service: Service, cancel: CancellationToken) {
    let tick = service
        .dialing()
        .poll_interval
        .min(Duration::from_secs(5))
        .max(Duration::from_millis(200));
    let every = service
        .dialing()
        .reconcile_after
        .clamp(Duration::from_millis(100), Duration::from_secs(15));
    let mut reconcile = tokio::time::interval(every);
    loop {
        match service.poll_due().await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "status poll failed"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = service.wake().poller.notified() => {}
            _ = tokio::time::sleep(tick) => {}
            _ = reconcile.tick() => {
                if let Err(e) = service.reconcile_dials().await {
                    tracing::error!(error = %e, "reconciliation failed");
                }
            }
        }
    }
}
