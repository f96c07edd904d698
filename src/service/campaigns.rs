//! The campaign runner: while a callout with dialing settings is running, create and queue the
//! calls its participations need (first attempts and retries that match what happened), within
//! its concurrency and pacing limits and calling window; and report progress.

use super::{Error, Result, Service, ServiceEvent};
use crate::domain::dialing::DialingSettings;
use crate::domain::outcome::{self, LastCall, Outcome};
use crate::domain::time::format_ts;
use crate::store::{self, campaigns::Attempts};
use serde::Serialize;
use std::collections::BTreeMap;

/// How many calls one runner pass may queue for a callout.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// The callout's `max_concurrent_calls`: calls in flight at once, every process together.
    max_concurrent: i64,
    /// Calls per pass (about a second) at the callout's share of the pace; at least 1.
    per_tick: i64,
}

/// Progress of a callout (`GET /api/callouts/:id/progress`, the TUI).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Progress {
    pub callout_id: i64,
    pub status: String,
    pub participations: i64,
    /// Last call completed and answered by a person (or without machine detection).
    pub reached: i64,
    /// Last call completed but answered by a machine.
    pub reached_machine: i64,
    /// No more attempts will be made, by the last call's status (`outcome_unknown`: the last
    /// create's outcome stayed unknown, so it is not redialled without an operator).
    pub not_reached: BTreeMap<String, i64>,
    /// Waiting for a first call or a retry.
    pub pending: i64,
    /// Calls queued or in flight now.
    pub in_progress: i64,
    pub attempts: i64,
    /// Seconds until every pending participation has been dialled once more at the configured
    /// pace (retry delays not included); null for manual callouts.
    pub eta_seconds: Option<i64>,
    /// The SMS fallback's texts by status (`pending`, `sending`, `queued`, `sent`,
    /// `delivered`, `undelivered`, `failed`, `unknown`); absent for a callout without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub texts: Option<BTreeMap<String, i64>>,
}

/// The schedule of the campaign pass, shared by every process on the database.
const CAMPAIGN_PASS: &str = "campaign_pass";

impl Service {
    /// Whether this process should run the next campaign pass: true for one process per
    /// `every` among all those on the database, so N processes queue what one would (each
    /// pass queues a second's share of the pace for each running callout).
    /// Nothing is written while no campaign runs, so an idle database stays idle (a TUI on
    /// SQLite wakes on every commit).
    pub async fn take_campaign_turn(&self, every: std::time::Duration) -> Result<bool> {
        let mut conn = self.store().read().await?;
        if store::callouts::running_campaigns(&mut conn)
            .await?
            .is_empty()
        {
            return Ok(false);
        }
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Ok(
            store::schedules::take_turn(&mut conn, CAMPAIGN_PASS, every.as_micros() as i64, now_us)
                .await?,
        )
    }

    /// One pass of the runner over every running campaign. Returns how many calls it queued.
    pub async fn run_campaigns_once(&self) -> Result<u64> {
        let now = self.clock().now();
        let campaigns = {
            let mut conn = self.store().read().await?;
            store::callouts::running_campaigns(&mut conn).await?
        };
        if campaigns.is_empty() {
            return Ok(0);
        }
        // Share the provider's rate fairly between running campaigns.
        let share = (self.dialing().calls_per_second / campaigns.len() as f64).max(1.0);
        let mut queued = 0;
        for callout in campaigns {
            let Some(settings) = callout
                .dialing
                .as_ref()
                .and_then(|v| serde_json::from_value::<DialingSettings>(v.clone()).ok())
            else {
                continue;
            };
            if !settings.in_window(now) {
                continue;
            }
            let cutoffs: Vec<String> = (1..settings.max_attempts)
                .map(|n| format_ts(now - settings.delay_after(n)))
                .collect();
            let rrp = serde_json::Value::Object(
                settings.remote_request_params(self.dialing().public_url.as_deref()),
            )
            .to_string();
            let a = Attempts {
                callout_id: callout.id,
                max_attempts: settings.max_attempts,
                retry_statuses: &settings.retry_statuses,
                cutoffs: &cutoffs,
                remote_request_params: &rrp,
                call_flow_logic: settings.call_flow_logic.as_deref(),
            };
            let limits = Limits {
                max_concurrent: settings.max_concurrent_calls as i64,
                per_tick: (settings.max_calls_per_second.min(share).ceil() as i64).max(1),
            };
            // One callout's failure must not stop the others' campaigns.
            let n = match self.queue_attempts(&a, limits, &format_ts(now)).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(callout_id = callout.id, error = %e, "queueing campaign calls failed");
                    continue;
                }
            };
            if n > 0 {
                queued += n;
                self.publish(ServiceEvent::PhoneCallsChanged);
                self.publish(ServiceEvent::CalloutChanged(callout.id));
            }
        }
        if queued > 0 {
            self.wake().dialer.notify_one();
        }
        Ok(queued)
    }

    /// Queues a campaign's next attempts in one short write transaction. The calls in flight
    /// are counted inside it, after taking the callout's queueing turn: no other runner (in this
    /// process or another on the same database) can queue between the count and the insert,
    /// so together they never exceed `max_concurrent_calls`.
    async fn queue_attempts(&self, a: &Attempts<'_>, limits: Limits, now: &str) -> Result<u64> {
        let mut tx = self.store().write().await?;
        store::campaigns::lock_for_queueing(&mut tx, a.callout_id).await?;
        let in_flight = store::campaigns::in_flight(&mut tx, a.callout_id).await?;
        let limit = limits.per_tick.min(limits.max_concurrent - in_flight);
        if limit <= 0 {
            tx.rollback().await.map_err(store::StoreError::from)?;
            return Ok(0);
        }
        let n = store::campaigns::queue_attempts(&mut tx, a, limit, now).await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(n)
    }

    pub async fn callout_progress(&self, id: i64) -> Result<Progress> {
        let mut conn = self.store().read().await?;
        let callout = store::callouts::get(&mut conn, id)
            .await?
            .ok_or(Error::NotFound)?;
        let settings = callout
            .dialing
            .as_ref()
            .and_then(|v| serde_json::from_value::<DialingSettings>(v.clone()).ok());
        let rows = store::campaigns::progress(&mut conn, id).await?;
        let mut p = Progress {
            callout_id: id,
            status: callout.status.clone(),
            ..Progress::default()
        };
        for r in rows {
            p.participations += r.participations;
            p.attempts += r.attempts * r.participations;
            let last = LastCall {
                status: r.last_status.as_deref(),
                answered_by: r.answered_by.as_deref(),
                attempts: r.attempts,
                outcome_unknown: r.outcome_unknown,
            };
            match outcome::classify(&last, settings.as_ref()) {
                Outcome::Pending | Outcome::NotYet => p.pending += r.participations,
                Outcome::InProgress => p.in_progress += r.participations,
                Outcome::Reached => p.reached += r.participations,
                Outcome::ReachedMachine => p.reached_machine += r.participations,
                Outcome::Unreachable => {
                    let why = if r.outcome_unknown {
                        "outcome_unknown"
                    } else {
                        r.last_status.as_deref().unwrap_or("unknown")
                    };
                    *p.not_reached.entry(why.to_string()).or_default() += r.participations;
                }
            }
        }
        if settings.as_ref().is_some_and(|s| s.sms_fallback.is_some()) {
            let rows = store::text_messages::summary(&mut conn, id).await?;
            p.texts = Some(rows.into_iter().map(|(s, n, _)| (s, n)).collect());
        }
        if let Some(st) = &settings {
            let rate = st
                .max_calls_per_second
                .min(self.dialing().calls_per_second)
                .max(0.001);
            p.eta_seconds = Some(((p.pending + p.in_progress) as f64 / rate).ceil() as i64);
        }
        Ok(p)
    }
}
