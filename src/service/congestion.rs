//! Congestion control applied (the rules are `domain::congestion`): each create's answer and
//! each call's end feed this process's window; a slow-down, a Retry-After or an open breaker is
//! written to the account's schedule row or the dialling hold in the database, where every
//! process's dialler reads it at its next claim. The dialler ramps the pace back up while its
//! window is clean (`congestion_tick`). `dialing_health` says where things stand
//! (`GET /api/health`, the TUI's status line).

use super::{Result, Service, ServiceEvent};
use crate::domain::congestion::{BREAKER_REASON, CreateSignal, Recent, Verdict, Window};
use crate::domain::route::Route;
use crate::provider::{ProviderError, RemoteCall};
use crate::store;
use serde::Serialize;
use std::time::{Duration, Instant};

use super::dial_pace::local_now_us;
use super::routes::choose;

/// This process's view of the routes' paces.
#[derive(Debug)]
pub(crate) struct PaceSeen {
    /// Each route's share of its cap last read (at a claim) or written here.
    share: [f64; 2],
    /// The notice last published (`DialingSlowed`), for the route calls go out on.
    notice: Option<String>,
    last_tick: Option<Instant>,
}

impl Default for PaceSeen {
    fn default() -> Self {
        PaceSeen {
            share: [1.0; 2],
            notice: None,
            last_tick: None,
        }
    }
}

/// One route's hold, pace and recent signals, for `GET /api/health`.
#[derive(Debug, Clone, Serialize)]
pub struct RouteFigures {
    pub provider: String,
    pub held: bool,
    pub hold_reason: Option<String>,
    pub held_since: Option<String>,
    /// The route's cap.
    pub calls_per_second: f64,
    /// The pace now, as a share of the cap and in calls per second.
    pub pace_share: f64,
    pub current_calls_per_second: f64,
    pub slowed_because: Option<String>,
    /// This process's window for the route (`SCFM_CONGESTION_WINDOW_SECONDS`).
    pub recent: Recent,
}

/// A route and its figures.
#[derive(Debug, Clone, Serialize)]
pub struct RouteHealth {
    pub route: Route,
    #[serde(flatten)]
    pub figures: RouteFigures,
}

/// Where dialling stands, for `GET /api/health` and the TUI: the route new attempts go out on
/// (its figures at the top level; the primary's while nothing goes out) and every configured
/// route.
#[derive(Debug, Clone, Serialize)]
pub struct DialingHealth {
    /// `ok`, `slowed` (congestion control has lowered the pace), `failover` (the primary is
    /// held, calls go out on the fallback), `held` (no call is placed until a provider answers
    /// again) or `off` (no provider or credentials).
    pub status: &'static str,
    /// The route new attempts go out on (null while held).
    pub route: Option<Route>,
    #[serde(flatten)]
    pub current: RouteFigures,
    pub routes: Vec<RouteHealth>,
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

    fn windows(&self) -> std::sync::MutexGuard<'_, [Window; 2]> {
        self.inner
            .congestion
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The routes configured: the primary, and the fallback if there is one.
    fn routes(&self) -> Vec<Route> {
        let mut out = vec![Route::Primary];
        if self.dialing().fallback.is_some() {
            out.push(Route::Fallback);
        }
        out
    }

    /// Notes `route`'s pace read at a claim (another process may have changed it).
    pub(super) fn saw_share(&self, route: Route, share: f64) {
        self.pace_seen().share[route.index()] = share;
    }

    /// The notice for a pace below the cap: "10.0 of 20/s: why".
    fn pace_notice(&self, route: Route, share: f64, reason: Option<&str>) -> Option<String> {
        if share >= 1.0 {
            return None;
        }
        let cap = self.calls_per_second_on(route);
        let on = match route {
            Route::Primary => "",
            Route::Fallback => " on the fallback route",
        };
        Some(format!(
            "{:.1} of {cap}/s{on}: {}",
            cap * share,
            reason.unwrap_or("congestion")
        ))
    }

    /// Notes `route`'s pace as seen in (or written to) the database; publishes when the
    /// notice of the route calls go out on changed.
    fn saw_pace(&self, route: Route, pace: &store::pace::Pace) {
        let notice = self.pace_notice(route, pace.share, pace.reason.as_deref());
        let current = route == self.current_route();
        let changed = {
            let mut seen = self.pace_seen();
            seen.share[route.index()] = pace.share;
            let changed = current && seen.notice != notice;
            if current {
                seen.notice = notice.clone();
            }
            changed
        };
        if changed {
            self.publish(ServiceEvent::DialingSlowed(notice));
        }
    }

    /// Classifies a create's answer on `route` (`took` to come) and acts on what it means for
    /// the route's pace.
    pub(super) async fn note_create(
        &self,
        route: Route,
        result: &std::result::Result<RemoteCall, ProviderError>,
        took: Duration,
    ) {
        let s = &self.dialing().congestion;
        let signal = signal_of(result, took, s.slow_answer);
        let verdict = self.windows()[route.index()].create(Instant::now(), &signal, s);
        if let Err(e) = self.act(route, verdict).await {
            tracing::error!(error = %e, "congestion control could not change the pace");
        }
    }

    /// Notes a call on `route` that ended `status`; a spike of failed or busy calls slows the
    /// route down (written in the background: this runs inside other writes' transactions).
    pub(super) fn note_outcome(&self, route: Route, status: &str) {
        let verdict = self.windows()[route.index()].outcome(
            Instant::now(),
            status,
            &self.dialing().congestion,
        );
        if verdict != Verdict::Fine {
            let s = self.clone();
            tokio::spawn(async move {
                if let Err(e) = s.act(route, verdict).await {
                    tracing::error!(error = %e, "congestion control could not change the pace");
                }
            });
        }
    }

    async fn act(&self, route: Route, verdict: Verdict) -> Result<()> {
        let s = &self.dialing().congestion;
        let schedule = route.schedule();
        match verdict {
            Verdict::Fine => Ok(()),
            Verdict::SlowDown {
                reason,
                retry_after,
            } => {
                let mut conn = self.store().read().await?;
                if let Some(wait) = retry_after {
                    store::pace::push_next(&mut conn, schedule, micros(wait), local_now_us())
                        .await?;
                }
                let changed = store::pace::slow_down(
                    &mut conn,
                    schedule,
                    s.backoff,
                    s.min_share,
                    micros(s.cooldown),
                    &reason,
                    local_now_us(),
                )
                .await?;
                if let Some(share) = changed {
                    tracing::warn!(route = route.name(), share, %reason, "congestion: dialling slowed down");
                    let pace = store::pace::Pace {
                        share,
                        reason: Some(reason),
                    };
                    self.saw_pace(route, &pace);
                }
                Ok(())
            }
            Verdict::Open { reason } => {
                tracing::error!(route = route.name(), %reason, "circuit breaker open: route held");
                {
                    let mut conn = self.store().read().await?;
                    let why = "restarting after the provider stopped accepting calls";
                    store::pace::cap_share(
                        &mut conn,
                        schedule,
                        s.restart_share,
                        why,
                        local_now_us(),
                    )
                    .await?;
                    let pace = store::pace::get(&mut conn, schedule).await?;
                    self.saw_pace(route, &pace);
                }
                self.set_hold(route, Some(reason)).await
            }
        }
    }

    /// The primary's hold has ended (here or in another process; the notice ends only then):
    /// if it was the breaker's, one more failure on the primary opens it again (half-open).
    pub(super) fn hold_ended(&self, notice: &str) {
        if notice.contains(BREAKER_REASON) {
            self.windows()[Route::Primary.index()].half_open(&self.dialing().congestion);
        }
    }

    /// Called by the dialler each turn: while the pace of the route it dials on is below the
    /// cap and this process's window for it is clean, raises it by a step (at most once per
    /// `ramp_every`, every process together). Cheap when there is nothing to do.
    pub async fn congestion_tick(&self) -> Result<()> {
        let s = &self.dialing().congestion;
        let route = self.current_route();
        let now = Instant::now();
        {
            let mut seen = self.pace_seen();
            let look = (s.ramp_every / 4).max(Duration::from_millis(100));
            if seen.share[route.index()] >= 1.0 || seen.last_tick.is_some_and(|t| now - t < look) {
                return Ok(());
            }
            seen.last_tick = Some(now);
        }
        if !self.windows()[route.index()].clean(now, s) {
            return Ok(());
        }
        let mut conn = self.store().read().await?;
        let raised = store::pace::speed_up(
            &mut conn,
            route.schedule(),
            s.ramp_step,
            micros(s.ramp_every),
            local_now_us(),
        )
        .await?;
        let pace = store::pace::get(&mut conn, route.schedule()).await?;
        if raised.is_some() {
            tracing::info!(
                route = route.name(),
                share = pace.share,
                "congestion cleared: dialling speeds up"
            );
        }
        self.saw_pace(route, &pace);
        Ok(())
    }

    /// The pace below the cap on the route calls go out on, and why, if it is ("10.0 of
    /// 20/s: why"); read from the database, published as `DialingSlowed` when it differs from
    /// what this process saw last.
    pub async fn dialing_slowed(&self) -> Result<Option<String>> {
        let route = self.current_route();
        let pace = {
            let mut conn = self.store().read().await?;
            store::pace::get(&mut conn, route.schedule()).await?
        };
        self.saw_pace(route, &pace);
        Ok(self.pace_notice(route, pace.share, pace.reason.as_deref()))
    }

    /// Where dialling stands: each route's hold and pace and this process's recent signals.
    pub async fn dialing_health(&self) -> Result<DialingHealth> {
        let d = self.dialing();
        let mut routes = Vec::new();
        let picked = {
            let mut conn = self.store().read().await?;
            for route in self.routes() {
                let hold = store::dialing_hold::get(&mut conn, route).await?;
                let pace = store::pace::get(&mut conn, route.schedule()).await?;
                self.saw_pace(route, &pace);
                let cap = self.calls_per_second_on(route);
                let provider = match (route, &d.fallback) {
                    (Route::Fallback, Some(f)) => f.provider_name.clone(),
                    _ => d.provider_name.clone(),
                };
                routes.push(RouteHealth {
                    route,
                    figures: RouteFigures {
                        provider,
                        held: hold.is_some(),
                        hold_reason: hold.as_ref().map(|h| h.reason.clone()),
                        held_since: hold.map(|h| h.since),
                        calls_per_second: cap,
                        pace_share: pace.share,
                        current_calls_per_second: cap * pace.share,
                        slowed_because: if pace.share < 1.0 { pace.reason } else { None },
                        recent: self.windows()[route.index()].recent(Instant::now(), &d.congestion),
                    },
                });
            }
            // The route from the same reads as the figures above, so they agree.
            let hold_of = |r: Route| {
                routes
                    .iter()
                    .find(|h| h.route == r)
                    .and_then(|h| h.figures.hold_reason.clone())
            };
            let fallback = d.fallback.as_ref().map(|_| hold_of(Route::Fallback));
            choose(
                hold_of(Route::Primary).as_deref(),
                fallback.as_ref().map(|f| f.as_deref()),
            )
        };
        self.saw_hold(picked.1);
        let shown = picked.0.unwrap_or(Route::Primary);
        let current = routes
            .iter()
            .find(|r| r.route == shown)
            .map(|r| r.figures.clone())
            .ok_or_else(|| super::Error::Internal("no route to show".into()))?;
        let status = if d.missing_credentials.is_some() || d.provider.is_none() {
            "off"
        } else {
            match picked.0 {
                None => "held",
                Some(Route::Fallback) => "failover",
                Some(Route::Primary) if current.pace_share < 1.0 => "slowed",
                Some(Route::Primary) => "ok",
            }
        };
        Ok(DialingHealth {
            status,
            route: picked.0,
            current,
            routes,
        })
    }
}
