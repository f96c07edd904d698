//! Places queued calls. One loop owns the dialler's database writes: each turn it records what
//! the finished create requests came to and claims as many queued calls as the free request
//! slots and the pacing allow, each in one short write transaction, then sends every claimed
//! call's create request in its own task. A few requests may be in flight at once so a slow
//! provider does not stop pacing; each call is claimed by exactly one worker in exactly one
//! process (the claim is a conditional UPDATE recorded before the request is sent). After the
//! provider refuses our credentials dialling is held, in the database so every process on the
//! file holds, until a harmless request (from any of them) is accepted again.

use crate::service::{Sent, Service};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Create requests in flight at once.
pub const MAX_IN_FLIGHT: usize = 8;

/// While dialling is held, how often the hold is read again between probes of the provider:
/// a probe from another process may have released it.
const HOLD_RECHECK: Duration = Duration::from_secs(2);

/// A token bucket over `Instant`s: one call per `interval`, with at most `burst` saved up.
struct Pacer {
    interval: Duration,
    burst: u32,
    next: Instant,
}

impl Pacer {
    fn new(calls_per_second: f64) -> Pacer {
        let cps = calls_per_second.max(0.01);
        // Rates a real provider is given (a few to tens of calls per second) get no burst at
        // all, so pacing stays exact; high rates may claim a whole batch at once.
        let burst = ((cps / 50.0).floor() as u32).clamp(1, MAX_IN_FLIGHT as u32);
        Pacer {
            interval: Duration::from_secs_f64(1.0 / cps),
            burst,
            next: Instant::now(),
        }
    }

    /// How many calls may start now (0: wait until `self.next`).
    fn available(&mut self, now: Instant) -> usize {
        // Keep up to one interval of lateness (a late wake-up must not slow the pace down),
        // but never more than `burst` calls at once.
        let saved_from = now.checked_sub(self.interval * self.burst).unwrap_or(now);
        self.next = self.next.max(saved_from);
        if self.next > now {
            return 0;
        }
        let tokens = (now - self.next).as_secs_f64() / self.interval.as_secs_f64();
        (tokens.floor() as usize + 1).min(self.burst as usize)
    }

    fn took(&mut self, n: usize) {
        self.next += self.interval * n as u32;
    }
}

pub async fn run(service: Service, cancel: CancellationToken) {
    let mut pacer = Pacer::new(service.dialing().calls_per_second);
    // Each task sends exactly one message: what its request came to, or None when there is
    // nothing to record (its claim stays for reconciliation).
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Option<Sent>>();
    let mut finished: Vec<Option<Sent>> = Vec::new();
    let mut in_flight = 0usize;
    let mut probe_at: Option<Instant> = None;
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while let Ok(sent) = done_rx.try_recv() {
            finished.push(sent);
        }
        if !finished.is_empty() {
            in_flight -= finished.len();
            let batch: Vec<Sent> = std::mem::take(&mut finished)
                .into_iter()
                .flatten()
                .collect();
            if !batch.is_empty() {
                if let Err(e) = service.record_sent(batch).await {
                    // The claims stay unresolved: reconciliation asks the provider, never redials.
                    tracing::error!(error = %e, "recording dial outcomes failed");
                }
            }
        }
        while tasks.try_join_next().is_some() {}

        // Wait for something to do: a free request slot, then a pacing slot. The hold lives in
        // the database: one process's refused credentials hold every process on the file.
        let held = match service.dialing_held().await {
            Ok(why) => why.is_some(),
            Err(e) => {
                tracing::error!(error = %e, "reading the dialling hold failed");
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
        };
        let free = MAX_IN_FLIGHT - in_flight;
        let now = Instant::now();
        if !held {
            probe_at = None;
        }
        let may = if held {
            0
        } else {
            pacer.available(now).min(free)
        };
        if may == 0 {
            // Held: the next probe, or sooner the next look at the hold (another process may
            // release it). No free slot: only a finished request wakes us. Else the next
            // pacing slot.
            let until = if held {
                let probe = *probe_at.get_or_insert(now + service.dialing().poll_interval);
                Some(probe.min(now + HOLD_RECHECK))
            } else if free == 0 {
                None
            } else {
                Some(pacer.next)
            };
            let timer = async {
                match until {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(sent) = done_rx.recv() => finished.push(sent),
                _ = timer => {
                    // Held after the provider refused our credentials: claim nothing (queued
                    // calls wait) and ask again every poll interval.
                    if held && probe_at.is_some_and(|t| t <= Instant::now()) {
                        probe_at = None;
                        if let Err(e) = service.probe_provider().await {
                            tracing::error!(error = %e, "probing the provider failed");
                        }
                    }
                }
            }
            continue;
        }

        match service.claim_dials(may).await {
            Ok(calls) if calls.is_empty() => {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    Some(sent) = done_rx.recv() => finished.push(sent),
                    _ = service.wake().dialer.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
            Ok(calls) => {
                pacer.took(calls.len());
                in_flight += calls.len();
                for call in calls {
                    let (s, done) = (service.clone(), done_tx.clone());
                    tasks.spawn(async move {
                        let id = call.id;
                        match s.send_claimed(call).await {
                            // The loop outlives every task it spawned until shutdown.
                            Ok(sent) => {
                                let _ = done.send(Some(sent));
                            }
                            Err(e) => {
                                tracing::error!(phone_call_id = id, error = %e, "dial failed; its claim stays for reconciliation");
                                let _ = done.send(None);
                            }
                        }
                    });
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming calls to dial failed");
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    // Let requests already sent record their outcome.
    drop(done_tx);
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    while let Ok(sent) = done_rx.try_recv() {
        finished.push(sent);
    }
    let finished: Vec<Sent> = finished.into_iter().flatten().collect();
    if !finished.is_empty() {
        if let Err(e) = service.record_sent(finished).await {
            tracing::error!(error = %e, "recording dial outcomes at shutdown failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_rates_never_burst() {
        let mut p = Pacer::new(20.0);
        let t0 = Instant::now() + Duration::from_secs(10);
        assert_eq!(p.available(t0), 1);
        p.took(1);
        p.took(1);
        assert_eq!(p.available(t0), 0);
        assert_eq!(p.available(t0 + Duration::from_millis(50)), 1);
        p.took(1);
        assert_eq!(p.available(t0 + Duration::from_millis(99)), 0);
        // Woken 10 ms late for the slot due at 100 ms: the next is still due at 150 ms.
        assert_eq!(p.available(t0 + Duration::from_millis(110)), 1);
        p.took(1);
        assert_eq!(p.available(t0 + Duration::from_millis(149)), 0);
        assert_eq!(p.available(t0 + Duration::from_millis(150)), 1);
        p.took(1);
        // Idle for a minute: still one at a time.
        assert_eq!(p.available(t0 + Duration::from_secs(60)), 1);
    }

    #[test]
    fn high_rates_claim_batches() {
        let mut p = Pacer::new(1_000_000.0);
        let t0 = Instant::now() + Duration::from_secs(10);
        assert_eq!(p.available(t0), MAX_IN_FLIGHT);
        p.took(MAX_IN_FLIGHT);
        assert_eq!(p.available(t0 + Duration::from_millis(1)), MAX_IN_FLIGHT);
        let mut p = Pacer::new(100.0);
        assert_eq!(p.available(t0), 2);
    }
}
