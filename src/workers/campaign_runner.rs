//! Drives running campaigns: about once a second (and when a callout changes), queue the calls
//! each running callout with dialing settings needs. The dialler then paces them.

use crate::service::Service;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub async fn run(service: Service, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = service.run_campaigns_once().await {
            tracing::error!(error = %e, "campaign runner pass failed");
        }
    }
}
