//! Which provider account a call goes out on (issue 13's failover): the primary (the provider
//! configured as always) unless it is held, then the fallback (`SCFM_FALLBACK_*`), if one is
//! configured and not held itself. A call's route is recorded in the claim that places it, so
//! its create, any resend of that create, its polls, its reconciliation and its webhooks all use
//! that one account: an attempt is never created on two routes.

use super::{Result, Service};
use crate::domain::route::Route;
use crate::provider::Provider;
use crate::store;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A second provider account, used while the primary is held.
#[derive(Clone)]
pub struct Fallback {
    pub provider: Arc<dyn Provider>,
    /// `twilio` or `somleng`.
    pub provider_name: String,
    /// Checks the signatures of webhooks for calls on this route.
    pub auth_token: Option<String>,
    /// This account's own cap (its own schedule).
    pub calls_per_second: f64,
}

impl Service {
    pub fn provider_on(&self, route: Route) -> Option<Arc<dyn Provider>> {
        match route {
            Route::Primary => self.dialing().provider.clone(),
            Route::Fallback => self.dialing().fallback.as_ref().map(|f| f.provider.clone()),
        }
    }

    /// The auth token webhooks for calls on `route` are signed with.
    pub fn auth_token_on(&self, route: Route) -> Option<&str> {
        match route {
            Route::Primary => self.dialing().auth_token.as_deref(),
            Route::Fallback => self
                .dialing()
                .fallback
                .as_ref()
                .and_then(|f| f.auth_token.as_deref()),
        }
    }

    pub fn calls_per_second_on(&self, route: Route) -> f64 {
        match (route, &self.dialing().fallback) {
            (Route::Fallback, Some(f)) => f.calls_per_second,
            _ => self.dialing().calls_per_second,
        }
    }

    /// The route this process's dialler claimed on last (its pacing looks at that schedule).
    pub fn current_route(&self) -> Route {
        if self.inner.on_fallback.load(Ordering::Relaxed) {
            Route::Fallback
        } else {
            Route::Primary
        }
    }

    pub(super) fn set_current_route(&self, route: Route) {
        let fallback = route == Route::Fallback;
        if self.inner.on_fallback.swap(fallback, Ordering::Relaxed) != fallback {
            tracing::warn!(route = route.name(), "dialling switches route");
        }
    }

    /// The route new attempts go out on, read in the claim's transaction: the primary unless it
    /// is held, else the fallback unless there is none or it is held too (None: dialling is
    /// held), and the notice the TUI shows for it.
    pub(super) async fn pick_route(
        &self,
        tx: &mut impl store::Handle,
    ) -> Result<(Option<Route>, Option<String>)> {
        let primary = store::dialing_hold::get(tx, Route::Primary).await?;
        let Some(primary) = primary else {
            return Ok((Some(Route::Primary), None));
        };
        if self.dialing().fallback.is_none() {
            return Ok((None, Some(primary.reason)));
        }
        let fallback = store::dialing_hold::get(tx, Route::Fallback).await?;
        Ok(match fallback {
            None => (
                Some(Route::Fallback),
                Some(on_fallback_notice(&primary.reason)),
            ),
            Some(f) => (
                None,
                Some(format!(
                    "{}; the fallback route is held too: {}",
                    primary.reason, f.reason
                )),
            ),
        })
    }

    /// How often a held route is asked whether its provider answers again.
    pub fn probe_every(&self) -> Duration {
        self.dialing()
            .poll_interval
            .min(self.dialing().congestion.probe_every)
    }
}

/// How the hold notice ends while the primary is held and calls go out on the fallback (the
/// TUI then says "failover", not "held").
pub const ON_FALLBACK: &str = "; calls go out on the fallback route";

/// What the TUI says while the primary is held and calls go out on the fallback.
pub(super) fn on_fallback_notice(primary: &str) -> String {
    format!("primary route: {primary}{ON_FALLBACK}")
}
