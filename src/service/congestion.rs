//! Congestion control applied (the rules are `domain::congestion`): each create's answer and
//! each call's end feed this process's window; a slow-down, a Retry-After or an open breaker is
//! written to the account's schedule row or the dialling hold in the database, where every
//! process's dialler reads it at its next claim. The dialler ramps the pace back up while its
//! window is clean (`congestion_tick`). `dialing_health` says where things stand
//! (`GET /api/health`, the TUI's status line).

use super::{Result, Service, ServiceEvent};
use crate::domain::congestion::{BREAKER_REASON, CreateSignal, Recent, Verdict};
use crate::provider::{ProviderError, RemoteCall};
use crate::store;
use serde::Serialize;
use std::time::{Duration, Instant};

use super::dial_pace::{DEFAULT_ROUTE, local_now_us};

/// This process's view of the account's pace.
#[derive(Debug)]
pub(crate) struct PaceSeen {
    /// The share of the cap last read (at a claim) or written here.
    share: f64,
    /// The notice last published (`DialingSlowed`).
    notice: Option<String>,
    last_tick: Option<Instant>,
}

impl Default for PaceSeen {
    fn default() -> Self {
        PaceSeen {
            share: 1.0,
            notice: None,
            last_tick: None,
        }
    }
}

/// Where dialling stands, for `GET /api/health` and the TUI.
#[derive(Debug, Clone, Serialize)]
pub struct DialingHealth {
    /// `ok`, `slowed` (congestion control has lowered the pace), `held` (no call is placed
    /// until the provider answers again) or `off` (no provider or credentials).
    pub status: &'static str,
    pub provider: String,
    pub held: bool,
    pub hold_reason: Option<String>,
    pub held_since: Option<String>,
    /// The account's cap (`SCFM_CALLS_PER_SECOND`).
    pub calls_per_second: f64,
    /// The pace now, as a share of the cap and in calls per second.
    pub pace_share: f64,
    pub current_calls_per_second: f64,
    pub slowed_because: Option<String>,
    /// This process's window (`SCFM_CONGESTION_WINDOW_SECONDS`).
    pub recent: Recent,
}

/// How congestion control reads a create's answer.
fn signal_of(
    result: &std::result::Result<RemoteCall, ProviderError>,
    took: Duration,
    slow_answer: Duration,
) -> CreateSignal {
    match result {
        Ok(_) => CreateSignal::Accepted {
            slow: took >= slow_answer,
        },
        Err(ProviderError::RateLimited { retry_after, .. }) => CreateSignal::Throttled {
            retry_after: *retry_after,
        },
        Err(e @ (ProviderError::NotSent { .. } | ProviderError::Unknown { .. })) => {
            CreateSignal::Failed {
                message: e.to_string(),
            }
        }
        Err(ProviderError::Unauthorized { .. } | ProviderError::Rejected { .. }) => {
            CreateSignal::Neutral
        }
    }
}

fn micros(d: Duration) -> i64 {
    d.as_micros().min(i64::MAX as u128) as i64
}

impl Service {
    fn pace_seen(&self) -> std::sync::MutexGuard<'_, PaceSeen> {
        self.inner
            .pace_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn window(&self) -> std::sync::MutexGuard<'_, crate::domain::congestion::Window> {
        self.inner
            .congestion
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Notes the pace read at a claim (another process may have changed it).
    pub(super) fn saw_share(&self, share: f64) {
        self.pace_seen().share = share;
    }

    /// The notice for a pace below the cap: "10.0 of 20/s: why".
    fn pace_notice(&self, share: f64, reason: Option<&str>) -> Option<String> {
        if share >= 1.0 {
            return None;
        }
        let cap = self.dialing().calls_per_second;
        Some(format!(
            "{:.1} of {cap}/s: {}",
            cap * share,
            reason.unwrap_or("congestion")
        ))
    }

    /// Notes the pace as seen in (or written to) the database; publishes when it changed.
    fn saw_pace(&self, pace: &store::pace::Pace) {
        let notice = self.pace_notice(pace.share, pace.reason.as_deref());
        let changed = {
            let mut seen = self.pace_seen();
            seen.share = pace.share;
            let changed = seen.notice != notice;
            seen.notice = notice.clone();
            changed
        };
        if changed {
            self.publish(ServiceEvent::DialingSlowed(notice));
        }
    }

    /// Classifies a create's answer (`took` to come) and acts on what it means for the pace.
    pub(super) async fn note_create(
        &self,
        result: &std::result::Result<RemoteCall, ProviderError>,
        took: Duration,
    ) {
        let s = &self.dialing().congestion;
        let signal = signal_of(result, took, s.slow_answer);
        let verdict = self.window().create(Instant::now(), &signal, s);
        if let Err(e) = self.act(verdict).await {
            tracing::error!(error = %e, "congestion control could not change the pace");
        }
    }

    /// Notes a call that ended `status`; a spike of failed or busy calls slows the pace down
    /// (written in the background: this runs inside other writes' transactions).
    pub(super) fn note_outcome(&self, status: &str) {
        let verdict = self
            .window()
            .outcome(Instant::now(), status, &self.dialing().congestion);
        if verdict != Verdict::Fine {
            let s = self.clone();
            tokio::spawn(async move {
                if let Err(e) = s.act(verdict).await {
                    tracing::error!(error = %e, "congestion control could not change the pace");
                }
            });
        }
    }

    async fn act(&self, verdict: Verdict) -> Result<()> {
        let s = &self.dialing().congestion;
        match verdict {
            Verdict::Fine => Ok(()),
            Verdict::SlowDown {
                reason,
                retry_after,
            } => {
                let mut conn = self.store().read().await?;
                if let Some(wait) = retry_after {
                    store::pace::push_next(&mut conn, DEFAULT_ROUTE, micros(wait), local_now_us())
                        .await?;
                }
                let changed = store::pace::slow_down(
                    &mut conn,
                    DEFAULT_ROUTE,
                    s.backoff,
                    s.min_share,
                    micros(s.cooldown),
                    &reason,
                    local_now_us(),
                )
                .await?;
                if let Some(share) = changed {
                    tracing::warn!(share, %reason, "congestion: dialling slowed down");
                    self.saw_pace(&store::pace::Pace {
                        share,
                        reason: Some(reason),
                    });
                }
                Ok(())
            }
            Verdict::Open { reason } => {
                tracing::error!(%reason, "circuit breaker open: dialling held");
                {
                    let mut conn = self.store().read().await?;
                    let why = "restarting after the provider stopped accepting calls";
                    store::pace::cap_share(
                        &mut conn,
                        DEFAULT_ROUTE,
                        s.restart_share,
                        why,
                        local_now_us(),
                    )
                    .await?;
                    let pace = store::pace::get(&mut conn, DEFAULT_ROUTE).await?;
                    self.saw_pace(&pace);
                }
                self.set_hold(Some(reason)).await
            }
        }
    }

    /// The breaker's hold has ended (here or in another process): one more failure opens it
    /// again.
    pub(super) fn hold_ended(&self, reason: &str) {
        if reason.starts_with(BREAKER_REASON) {
            self.window().half_open(&self.dialing().congestion);
        }
    }

    /// Called by the dialler each turn: while the pace is below the cap and this process's
    /// window is clean, raises it by a step (at most once per `ramp_every`, every process
    /// together). Cheap when there is nothing to do.
    pub async fn congestion_tick(&self) -> Result<()> {
        let s = &self.dialing().congestion;
        let now = Instant::now();
        {
            let mut seen = self.pace_seen();
            let look = (s.ramp_every / 4).max(Duration::from_millis(100));
            if seen.share >= 1.0 || seen.last_tick.is_some_and(|t| now - t < look) {
                return Ok(());
            }
            seen.last_tick = Some(now);
        }
        if !self.window().clean(now, s) {
            return Ok(());
        }
        let mut conn = self.store().read().await?;
        let raised = store::pace::speed_up(
            &mut conn,
            DEFAULT_ROUTE,
            s.ramp_step,
            micros(s.ramp_every),
            local_now_us(),
        )
        .await?;
        let pace = store::pace::get(&mut conn, DEFAULT_ROUTE).await?;
        if raised.is_some() {
            tracing::info!(share = pace.share, "congestion cleared: dialling speeds up");
        }
        self.saw_pace(&pace);
        Ok(())
    }

    /// The pace below the cap and why, if it is ("10.0 of 20/s: why"); read from the database,
    /// published as `DialingSlowed` when it differs from what this process saw last.
    pub async fn dialing_slowed(&self) -> Result<Option<String>> {
        let pace = {
            let mut conn = self.store().read().await?;
            store::pace::get(&mut conn, DEFAULT_ROUTE).await?
        };
        self.saw_pace(&pace);
        Ok(self.pace_notice(pace.share, pace.reason.as_deref()))
    }

    /// Where dialling stands: the hold, the pace and this process's recent signals.
    pub async fn dialing_health(&self) -> Result<DialingHealth> {
        let (hold, pace) = {
            let mut conn = self.store().read().await?;
            let hold = store::dialing_hold::get(&mut conn).await?;
            let pace = store::pace::get(&mut conn, DEFAULT_ROUTE).await?;
            (hold, pace)
        };
        self.saw_hold(hold.as_ref().map(|h| h.reason.clone()));
        self.saw_pace(&pace);
        let d = self.dialing();
        let recent = self.window().recent(Instant::now(), &d.congestion);
        let status = if d.missing_credentials.is_some() || d.provider.is_none() {
            "off"
        } else if hold.is_some() {
            "held"
        } else if pace.share < 1.0 {
            "slowed"
        } else {
            "ok"
        };
        Ok(DialingHealth {
            status,
            provider: d.provider_name.clone(),
            held: hold.is_some(),
            hold_reason: hold.as_ref().map(|h| h.reason.clone()),
            held_since: hold.map(|h| h.since),
            calls_per_second: d.calls_per_second,
            pace_share: pace.share,
            current_calls_per_second: d.calls_per_second * pace.share,
            slowed_because: if pace.share < 1.0 { pace.reason } else { None },
            recent,
        })
    }
}
