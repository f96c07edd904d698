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
        if primary.is_none() {
            return Ok((Some(Route::Primary), None));
        }
        let fallback = match self.dialing().fallback {
            Some(_) => Some(store::dialing_hold::get(tx, Route::Fallback).await?),
            None => None,
        };
        let reason =
            |h: &Option<store::dialing_hold::DialingHold>| h.as_ref().map(|h| h.reason.clone());
        Ok(choose(
            reason(&primary).as_deref(),
            fallback.as_ref().map(reason).as_ref().map(|f| f.as_deref()),
        ))
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

/// The route new attempts go out on and the notice for it, from the primary's hold and (when a
/// fallback is configured) the fallback's.
pub(super) fn choose(
    primary: Option<&str>,
    fallback: Option<Option<&str>>,
) -> (Option<Route>, Option<String>) {
    match (primary, fallback) {
        (None, _) => (Some(Route::Primary), None),
        (Some(p), None) => (None, Some(p.to_string())),
        (Some(p), Some(None)) => (Some(Route::Fallback), Some(on_fallback_notice(p))),
        (Some(p), Some(Some(f))) => (
            None,
            Some(format!("{p}; the fallback route is held too: {f}")),
        ),
    }
}

/// What the TUI says while the primary is held and calls go out on the fallback.
pub(super) fn on_fallback_notice(primary: &str) -> String {
    format!("primary route: {primary}{ON_FALLBACK}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_takes_over_only_while_the_primary_is_held_and_it_is_free() {
        assert_eq!(
            choose(None, Some(Some("down"))),
            (Some(Route::Primary), None)
        );
        assert_eq!(choose(Some("401"), None), (None, Some("401".into())));
        let (route, notice) = choose(Some("401"), Some(None));
        assert_eq!(route, Some(Route::Fallback));
        assert!(notice.unwrap().ends_with(ON_FALLBACK));
        let (route, notice) = choose(Some("401"), Some(Some("503")));
        assert_eq!(route, None);
        assert!(notice.unwrap().contains("held too: 503"));
    }
}
