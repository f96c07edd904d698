//! Routes: the provider accounts a call can go out on (issue 13's failover). The primary is the
//! provider configured as always; the fallback is a second account (`SCFM_FALLBACK_*`), used
//! for new attempts while the primary is held. Each route has its own calls-per-second
//! schedule, pace and hold in the database; each call records the route that placed it.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Primary,
    Fallback,
}

impl Route {
    pub const ALL: [Route; 2] = [Route::Primary, Route::Fallback];

    /// As stored on a call and shown in the API: `primary`, `fallback`.
    pub fn name(self) -> &'static str {
        match self {
            Route::Primary => "primary",
            Route::Fallback => "fallback",
        }
    }

    /// The route a call's stored name means (a call placed before routes existed, or not
    /// placed yet: the primary).
    pub fn of(name: Option<&str>) -> Route {
        match name {
            Some("fallback") => Route::Fallback,
            _ => Route::Primary,
        }
    }

    /// The route's create schedule (`store::schedules`); the primary keeps the account's name.
    pub fn schedule(self) -> &'static str {
        match self {
            Route::Primary => "dial:default",
            Route::Fallback => "dial:fallback",
        }
    }

    /// The route's row in the dialling hold table.
    pub fn hold_id(self) -> i64 {
        match self {
            Route::Primary => 1,
            Route::Fallback => 2,
        }
    }

    pub fn index(self) -> usize {
        match self {
            Route::Primary => 0,
            Route::Fallback => 1,
        }
    }
}

/// The query parameter naming the route in URLs the provider calls back (so the webhook's
/// signature is checked with that route's auth token).
pub const ROUTE_PARAM: &str = "scfm_route";
