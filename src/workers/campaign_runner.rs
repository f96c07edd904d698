//! Drives running campaigns: about once a second, queue the calls each running callout with
//! dialing settings needs. The dialler then paces them. With several processes on one database
//! one of them runs each pass (a turn taken in the database), so together they queue what one
//! would; when that one dies, another takes the next turn.

use crate::service::Service;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A turn lasts a little less than the tick, so a process ticking late still takes the next.
const TURN: Duration = Duration::from_millis(900);

pub async fn run(service: Service, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        match service.take_campaign_turn(TURN).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::error!(error = %e, "taking the campaign pass failed");
                continue;
            }
        }
        if let Err(e) = service.run_campaigns_once().await {
            tracing::error!(error = %e, "campaign runner pass failed");
        }
    }
}
