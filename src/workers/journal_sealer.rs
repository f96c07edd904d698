//! Chains recorded journal entries into the hash chain (`Service::seal_journal`): woken when
//! this process records one, a moment later (so the change's transaction has committed and
//! entries recorded close together go in one batch), and on a slow interval for entries other
//! processes recorded (or left behind when killed). With several processes one seals at a time;
//! the others find the head taken and leave the work to it.

use crate::service::Service;
use crate::store::journal::Sealing;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long after a wake-up the sealer looks: long enough for the recording transaction to
/// commit and for a burst of entries to gather, short against the slow interval.
const GATHER: Duration = Duration::from_millis(25);
/// The slow look for entries recorded by other processes.
const SLOW: Duration = Duration::from_secs(2);

pub async fn run(service: Service, cancel: CancellationToken) {
    loop {
        if let Err(e) = service.seal_journal(Sealing::SkipIfBusy).await {
            tracing::warn!(error = %e, "journal sealing failed; retrying");
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = service.wake().journal.notified() => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(GATHER) => {}
                }
            }
            _ = tokio::time::sleep(SLOW) => {}
        }
    }
}
