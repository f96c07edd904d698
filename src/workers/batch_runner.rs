//! Runs queued batch operations (populations, phone call creation and queueing). Each run is
//! claimed with one conditional UPDATE, so several processes on one database never run the
//! same operation.

use crate::service::Service;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub async fn run(service: Service, cancel: CancellationToken) {
    let mut fallback = tokio::time::interval(Duration::from_secs(2));
    loop {
        // Drain everything queued, then wait for a poke or the fallback tick.
        loop {
            if cancel.is_cancelled() {
                return;
            }
            match service.run_next_batch_operation().await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::error!(error = %e, "batch operation run failed");
                    break;
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = service.wake().batch_operations.notified() => {}
            _ = fallback.tick() => {}
        }
    }
}
