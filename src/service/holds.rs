//! The dialling hold, per route, in the database so every process on it holds: set after the
//! provider refuses our credentials (401/403) or stops accepting calls (the circuit breaker of
//! `service::congestion`), released by `probe_provider` (from any process) when the route's
//! provider answers a harmless request again. While the primary is held, new attempts go out
//! on the fallback route if one is configured and free (`service::routes`).

use super::routes::on_fallback_notice;
use super::{Result, Service, ServiceEvent};
use crate::domain::route::Route;
use crate::store;

impl Service {
    /// Why dialling is held, if it is (with a fallback free: that calls go out on it). Read from
    /// the database (primary-key lookups); publishes `DialingHeld` when it differs from what
    /// this process saw last, so a hold set or released by another process reaches this one's
    /// listeners (the TUI) too.
    pub async fn dialing_held(&self) -> Result<Option<String>> {
        let notice = {
            let mut conn = self.store().read().await?;
            self.pick_route(&mut conn).await?.1
        };
        self.saw_hold(notice.clone());
        Ok(notice)
    }

    /// Notes the hold as seen in (or written to) the database; publishes when it changed.
    pub(super) fn saw_hold(&self, why: Option<String>) {
        let changed = {
            let mut seen = self.hold_seen().lock().unwrap_or_else(|p| p.into_inner());
            let changed = *seen != why;
            let ended = if why.is_none() { seen.take() } else { None };
            *seen = why.clone();
            if let Some(reason) = ended {
                self.hold_ended(&reason);
            }
            changed
        };
        if changed {
            self.publish(ServiceEvent::DialingHeld(why));
        }
    }

    /// Holds `route` for `why`, or frees it (`None`), for every process on the database.
    pub(super) async fn set_hold(&self, route: Route, why: Option<String>) -> Result<()> {
        {
            let mut conn = self.store().read().await?;
            match &why {
                Some(reason) => {
                    store::dialing_hold::set(&mut conn, route, reason, &self.now()).await?;
                }
                None => {
                    store::dialing_hold::clear(&mut conn, route).await?;
                }
            }
        }
        match (route, why) {
            (Route::Primary, Some(why)) if self.dialing().fallback.is_some() => {
                self.saw_hold(Some(on_fallback_notice(&why)));
            }
            (Route::Primary, why) => self.saw_hold(why),
            (Route::Fallback, _) => {
                self.dialing_held().await?;
            }
        }
        Ok(())
    }

    /// For each held route, asks its provider something harmless (a list of calls, a GET) and
    /// releases the hold when it answers. Does nothing for a route another process released.
    pub async fn probe_provider(&self) -> Result<()> {
        for route in Route::ALL {
            let held = {
                let mut conn = self.store().read().await?;
                store::dialing_hold::get(&mut conn, route).await?
            };
            if held.is_none() {
                continue;
            }
            let Some(provider) = self.provider_on(route) else {
                continue;
            };
            match provider
                .list_calls("+10000000000", self.clock().now())
                .await
            {
                Ok(_) => {
                    tracing::info!(
                        route = route.name(),
                        "the provider answers again; dialling resumes"
                    );
                    self.set_hold(route, None).await?;
                }
                Err(e) => {
                    tracing::warn!(route = route.name(), error = %e, "still held: the provider refused a check");
                }
            }
        }
        self.dialing_held().await?;
        Ok(())
    }
}
