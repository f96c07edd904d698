//! Places queued calls. One loop owns the dialler's database writes: each turn it records what
//! the finished create requests came to, waits for the account's next create slot (a schedule
//! in the database shared by every process, see `service::dial_pace`), then claims calls and
//! reserves their slots in one short write transaction, and sends each claimed call's create
//! request in its own task at its slot. A few requests may be in flight at once so a slow
//! provider does not stop pacing; each call is claimed by exactly one worker in exactly one
//! process (the claim is a conditional UPDATE recorded before the request is sent). After the
//! provider refuses our credentials, or stops accepting calls (the circuit breaker of
//! `service::congestion`), dialling is held, in the database so every process on it holds,
//! until a harmless request (from any of them) is accepted again. Each turn also lets
//! congestion control raise a lowered pace back towards the cap.

use crate::domain::route::Route;
use crate::service::{CLAIM_LEAD, DialTurn, MAX_CLAIM_LEAD, Sent, Service};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Create requests in flight at once.
pub const MAX_IN_FLIGHT: usize = 8;

/// While dialling is held, how often the hold is read again between probes of the provider:
/// a probe from another process may have released it.
const HOLD_RECHECK: Duration = Duration::from_secs(2);

/// Calls claimed in one turn: one at a time at the rates a real provider is given (a few to
/// tens of calls per second), so each create waits for its own slot; high rates (bulk drills,
/// benchmarks) claim a few at once to keep the database round trips per call low.
fn burst(calls_per_second: f64) -> usize {
    ((calls_per_second / 50.0).floor() as usize).clamp(1, MAX_IN_FLIGHT)
}

/// Slots at least this far apart are looked at before each claim.
const PEEK_FROM: Duration = Duration::from_millis(2);

/// Waits shorter than this are not slept: the create goes now.
const DUE: Duration = Duration::from_millis(1);

/// How far ahead of a slot to claim: a little more than the slowest recent claim, so the claim
/// transaction (locks, claim, plan, commit: a few milliseconds, more under load or on a remote
/// PostgreSQL) ends before the slot and its create goes on time. A slow claim raises it at
/// once; it decays by a tenth per claim back towards `CLAIM_LEAD`.
#[derive(Debug, Clone, Copy)]
struct Lead {
    peak: Duration,
}

impl Lead {
    fn new() -> Self {
        Lead {
            peak: Duration::ZERO,
        }
    }

    fn observe(&mut self, claim: Duration) {
        self.peak = claim.max(self.peak.mul_f64(0.9));
    }

    fn get(&self) -> Duration {
        (self.peak + Duration::from_millis(1)).clamp(CLAIM_LEAD, MAX_CLAIM_LEAD)
    }
}

pub async fn run(service: Service, cancel: CancellationToken) {
    let burst = burst(service.dialing().calls_per_second);
    // Claim when this many request slots are free (one at provider rates).
    let want = burst.clamp(1, MAX_IN_FLIGHT / 2);
    let mut held = false;
    // While held, the provider is asked this often whether it answers again.
    let probe_every = service.probe_every();
    // While calls go out on the fallback route, the held primary is asked this often too.
    let mut primary_probe_at: Option<Instant> = None;
    // At provider rates slots are milliseconds apart: worth a look before each claim. At bulk
    // rates the next slot is always due.
    let peek = service.slot_interval() >= PEEK_FROM;
    // Not before this does the schedule have a slot for this process (after its last one).
    let mut next_turn: Option<Instant> = None;
    let mut lead = Lead::new();
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

        // Wait for something to do: free request slots, then the account's next create slot
        // (shared by every process on the database). The hold lives in the database too: one
        // process's refused credentials hold every process; while held it is read again here
        // (another process may release it), else the claim transaction reads it.
        if held {
            match service.dialing_held().await {
                Ok(why) => held = why.is_some(),
                Err(e) => {
                    tracing::error!(error = %e, "reading the dialling hold failed");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
            }
        }
        let free = MAX_IN_FLIGHT - in_flight;
        let now = Instant::now();
        if !held {
            probe_at = None;
            // Congestion control: back up towards the cap while the provider answers well.
            if let Err(e) = service.congestion_tick().await {
                tracing::error!(error = %e, "raising the dialling pace failed");
            }
            if service.current_route() == Route::Fallback {
                if primary_probe_at.is_none_or(|t| t <= now) {
                    primary_probe_at = Some(now + probe_every);
                    if let Err(e) = service.probe_provider().await {
                        tracing::error!(error = %e, "probing the primary provider failed");
                    }
                }
            } else {
                primary_probe_at = None;
            }
        }
        let until = if held {
            // Held: the next probe, or sooner the next look at the hold.
            let probe = *probe_at.get_or_insert(now + probe_every);
            Some(Some(probe.min(now + HOLD_RECHECK)))
        } else if free == 0 || (in_flight > 0 && free < want) {
            // Too few free request slots: only a finished request wakes us (so at high rates
            // several outcomes are recorded, and several calls claimed, per transaction).
            Some(None)
        } else if let Some(t) = next_turn.filter(|t| *t > now + DUE) {
            // This process's last slot was reserved up to here: no earlier one is free.
            Some(Some(t))
        } else if peek {
            // Another process may have taken the next slots: look (a read) before claiming
            // (a write, rolled back when the slot is not due), so contending processes do not
            // queue up on the schedule's lock.
            match service.pace_wait(lead.get()).await {
                Ok(wait) if wait >= DUE => Some(Some(now + wait)),
                Ok(_) => None,
                Err(e) => {
                    tracing::error!(error = %e, "reading the create schedule failed");
                    Some(Some(now + Duration::from_secs(1)))
                }
            }
        } else {
            None
        };
        if let Some(until) = until {
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

        let claim_started = Instant::now();
        let turn = service.dial_turn(burst.min(free), lead.get()).await;
        lead.observe(claim_started.elapsed());
        match turn {
            Ok(DialTurn::Held) => held = true,
            Ok(DialTurn::Wait(wait)) => {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    Some(sent) = done_rx.recv() => finished.push(sent),
                    _ = service.wake().dialer.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            Ok(DialTurn::Claimed(calls)) if calls.is_empty() => {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    Some(sent) = done_rx.recv() => finished.push(sent),
                    _ = service.wake().dialer.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
            Ok(DialTurn::Claimed(calls)) => {
                let last = calls.last().map(|(_, at)| *at).unwrap_or_else(Instant::now);
                next_turn = Some(
                    (last + service.slot_interval())
                        .checked_sub(lead.get())
                        .unwrap_or(last),
                );
                in_flight += calls.len();
                for (call, at) in calls {
                    let (s, done) = (service.clone(), done_tx.clone());
                    tasks.spawn(async move {
                        let id = call.id;
                        // Each create goes at its own slot of the account's (and its callout's)
                        // schedule, or a later one if this task woke too late for it.
                        let sent = match s.await_slot(&call, at).await {
                            Ok(()) => s.send_claimed(call).await,
                            Err(e) => Err(e),
                        };
                        match sent {
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
    fn the_lead_follows_slow_claims_and_decays_back() {
        let mut lead = Lead::new();
        assert_eq!(lead.get(), CLAIM_LEAD);
        lead.observe(Duration::from_millis(12));
        assert_eq!(lead.get(), Duration::from_millis(13));
        for _ in 0..50 {
            lead.observe(Duration::from_millis(1));
        }
        assert_eq!(lead.get(), CLAIM_LEAD);
        lead.observe(Duration::from_secs(1));
        assert_eq!(lead.get(), MAX_CLAIM_LEAD);
    }

    #[test]
    fn provider_rates_claim_one_call_at_a_time() {
        assert_eq!(burst(1.0), 1);
        assert_eq!(burst(50.0), 1);
        assert_eq!(burst(99.0), 1);
        assert_eq!(burst(100.0), 2);
        assert_eq!(burst(1_000_000.0), MAX_IN_FLIGHT);
    }
}
