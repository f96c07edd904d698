//! The account-wide calls-per-second cap. Slots live in the database (`store::schedules`), so
//! every process on it shares one schedule: a dialler claims its calls and reserves one slot per
//! call in the same write transaction, then sends each create at its own slot. Claiming only
//! when the next slot is due keeps a claimed call's wait short, so a process killed with
//! `kill -9` leaves little more than its requests in flight to reconciliation.

use super::{Result, Service};
use crate::domain::PhoneCall;
use crate::domain::dialing::DialingSettings;
use crate::domain::route::Route;
use crate::domain::time::format_ts;
use crate::store;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// The schedule of the primary route (the account's cap); the fallback route and each callout
/// with its own cap have schedules of their own.
pub const DEFAULT_ROUTE: &str = "dial:default";

/// Slots are this much wider than the cap, the jitter budget of the window guarantee: a create
/// sent up to `PACE_GUARD - 1` seconds after its slot, followed by one on time, still leaves at
/// most the cap in any one-second window measured at the provider. A create that wakes later
/// than `LATE_LIMIT` after its slot is not sent then but takes a fresh slot (`await_slot`), so
/// a busy machine slows dialling down instead of bursting; the rest of the budget covers the
/// time from that check to the provider's receipt. The mean rate stays within 2% of the cap.
pub const PACE_GUARD: f64 = 1.02;

/// A create this late for its slot takes a new one instead of going now (see `PACE_GUARD`).
pub const LATE_LIMIT: Duration = Duration::from_millis(10);

/// The least a dialler asks for its calls before the next slot is due, so the claim's round
/// trip does not make the create late. The dialler uses more when its claims take longer
/// (`workers::dialer`: the lead follows the claims it measures), never less.
pub const CLAIM_LEAD: Duration = Duration::from_millis(4);

/// The most it asks ahead: a claimed call waits at most about this long for its slot.
pub const MAX_CLAIM_LEAD: Duration = Duration::from_millis(40);

/// A turn this late for the due slot still gets it (so lateness does not add up into a slower
/// pace). Kept under `LATE_LIMIT`, so such a slot is not given up at once.
const SLOT_SLACK_US: i64 = 3_000;

/// The longest a dialler that found nothing due waits before looking again when a callout's
/// slot is ahead (new work also wakes it).
const IDLE_LOOK: Duration = Duration::from_secs(2);

/// What one dialler turn got.
#[derive(Debug)]
pub enum DialTurn {
    /// Dialling is held; nothing was claimed.
    Held,
    /// The claimed calls (possibly none), each with its slot on this process's clock (send it
    /// through `Service::await_slot`).
    Claimed(Vec<(PhoneCall, Instant)>),
    /// Another process took the due slot first, or the queued calls wait for their callout's
    /// next slot: nothing was claimed; ask again after this (or when new work is queued).
    Wait(Duration),
}

/// Microseconds since the Unix epoch on this machine's clock (the SQLite time line).
pub(super) fn local_now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn wait_from_us(us: i64) -> Duration {
    Duration::from_micros(us.max(0) as u64)
}

/// The deadline on this process's monotonic clock of a slot `wait_us` from `t0` (negative: a
/// slot a little in the past, still counted from its true time so lateness is measured right).
fn deadline(t0: Instant, wait_us: i64) -> Instant {
    if wait_us >= 0 {
        t0 + Duration::from_micros(wait_us as u64)
    } else {
        t0.checked_sub(Duration::from_micros(wait_us.unsigned_abs()))
            .unwrap_or(t0)
    }
}

/// The account's slot interval at `share` of its cap (a share under a thousandth, or not a
/// number, counts as a thousandth).
fn paced_interval_us(interval_us: i64, share: f64) -> i64 {
    let share = if share.is_finite() {
        share.clamp(0.001, 1.0)
    } else {
        1.0
    };
    ((interval_us as f64) / share) as i64
}

/// A callout's own cap as a slot interval, from its dialing settings.
fn callout_interval_us(settings: &str) -> Option<i64> {
    let s: DialingSettings = serde_json::from_str(settings).ok()?;
    let cps = s.max_calls_per_second;
    (cps > 0.0).then(|| ((PACE_GUARD / cps) * 1e6) as i64)
}

/// The slots of one claim, planned on the schedules' time line.
struct Plan {
    /// Per call (in claim order): microseconds from `now` to its slot, or None when it is not
    /// due within the claim's reach (it is unclaimed).
    waits: Vec<Option<i64>>,
    /// The soonest slot among the calls left out, from now.
    next_wait_us: Option<i64>,
}

impl Service {
    /// What holds queued calls back from a claim now (see `store::phone_calls::ClaimRules`).
    pub(super) fn claim_rules(&self, lead_us: i64, route: Route) -> store::phone_calls::ClaimRules {
        let per_hour = self.dialing().max_calls_per_person_per_hour;
        store::phone_calls::ClaimRules {
            local_now_us: local_now_us(),
            lead_us,
            person_since: format_ts(self.clock().now() - chrono::Duration::hours(1)),
            person_max: if per_hour == 0 {
                i64::MAX
            } else {
                i64::from(per_hour)
            },
            route,
        }
    }

    /// The time between two creates on the route this process dials on: one over its cap,
    /// widened by the guard.
    pub fn slot_interval(&self) -> Duration {
        self.slot_interval_on(self.current_route())
    }

    fn slot_interval_on(&self, route: Route) -> Duration {
        let cps = self.calls_per_second_on(route).max(0.01);
        Duration::from_secs_f64(PACE_GUARD / cps)
    }

    /// How long until this dialler should claim for the account's next free create slot: the
    /// slot's wait less `lead` (zero: now). One read, no lock.
    pub async fn pace_wait(&self, lead: Duration) -> Result<Duration> {
        let mut conn = self.store().read().await?;
        let schedule = self.current_route().schedule();
        let us = store::schedules::wait_us(&mut conn, schedule, local_now_us()).await?;
        Ok(wait_from_us(us - lead.as_micros() as i64))
    }

    /// Plans a slot for each of `calls` inside the caller's write transaction, which holds the
    /// account's schedule row (`account`: its next free slot, now and pace, from `lock_next`):
    /// creates on the account are spaced by the cap's interval over the pace (congestion
    /// control slows it, `service::congestion`); a call
    /// waits for the account's next slot and for its callout's (campaigns with
    /// `max_calls_per_second`), and each slot taken moves both on. Every claimer locks the
    /// account's row first, then callouts' rows by id, so none waits on another in a circle.
    /// A call whose slot would be further than `keep_us` beyond the slots before it is left
    /// out; nothing is moved for it.
    async fn plan_slots(
        &self,
        tx: &mut impl store::Handle,
        calls: &[PhoneCall],
        route: Route,
        account: store::schedules::Locked,
        keep_us: i64,
    ) -> Result<Plan> {
        let ids: Vec<i64> = calls.iter().map(|c| c.id).collect();
        let mut callout_of = BTreeMap::new();
        let mut callouts: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for (call, callout, settings) in store::phone_calls::callout_dialing(tx, &ids).await? {
            if let Some(interval) = callout_interval_us(&settings) {
                callout_of.insert(call, callout);
                callouts.insert(callout, (0, interval));
            }
        }
        let local = local_now_us();
        for (id, (next, _)) in callouts.iter_mut() {
            let name = store::schedules::callout_schedule(*id);
            *next = store::schedules::lock_next(tx, &name, SLOT_SLACK_US, local)
                .await?
                .next_us;
        }
        let (mut account_next, now) = (account.next_us, account.now_us);
        let base = (self.slot_interval_on(route).as_micros() as i64).max(1);
        let interval = paced_interval_us(base, account.share);
        let mut plan = Plan {
            waits: Vec::with_capacity(calls.len()),
            next_wait_us: None,
        };
        let mut taken = 0;
        for call in calls {
            let own = callout_of.get(&call.id).and_then(|c| callouts.get(c));
            let slot = own.map_or(account_next, |(next, _)| account_next.max(*next));
            if slot - now > keep_us + taken * interval {
                plan.waits.push(None);
                let wait = slot - now;
                plan.next_wait_us = Some(plan.next_wait_us.map_or(wait, |w: i64| w.min(wait)));
                continue;
            }
            taken += 1;
            account_next = slot + interval;
            if let Some(c) = callout_of.get(&call.id) {
                if let Some((next, every)) = callouts.get_mut(c) {
                    *next = slot + *every;
                }
            }
            plan.waits.push(Some(slot - now));
        }
        if taken > 0 {
            for (id, (next, _)) in &callouts {
                let name = store::schedules::callout_schedule(*id);
                store::schedules::set_next(tx, &name, *next).await?;
            }
            store::schedules::set_next(tx, route.schedule(), account_next).await?;
        }
        Ok(plan)
    }

    /// Claims up to `n` queued calls and plans a create slot for each (`plan_slots`), in one
    /// write transaction, on the primary route or, while it is held, the fallback
    /// (`pick_route`); nothing while both are held (read in the same transaction, so no process
    /// claims a call after another one's hold is written). Calls whose callout's slot
    /// is not due are not claimed, so a claimed call is sent within milliseconds (a kill leaves
    /// little but requests in flight to reconciliation).
    pub async fn dial_turn(&self, n: usize, lead: Duration) -> Result<DialTurn> {
        let lead_us = lead.as_micros() as i64;
        let mut tx = self.store().write().await?;
        let (route, notice) = self.pick_route(&mut tx).await?;
        self.saw_hold(notice);
        let Some(route) = route else {
            tx.rollback().await.map_err(store::StoreError::from)?;
            return Ok(DialTurn::Held);
        };
        self.set_current_route(route);
        // The primary's schedule row first, whatever the route: claims from every process queue
        // up here, so each sees the calls the one before it claimed (one call per person in
        // flight, their calls in the hour) even on PostgreSQL's read committed. Then the
        // fallback's, when calls go out on it.
        let t0 = Instant::now();
        let primary =
            store::schedules::lock_next(&mut tx, DEFAULT_ROUTE, SLOT_SLACK_US, local_now_us())
                .await?;
        let account = match route {
            Route::Primary => primary,
            Route::Fallback => {
                store::schedules::lock_next(
                    &mut tx,
                    route.schedule(),
                    SLOT_SLACK_US,
                    local_now_us(),
                )
                .await?
            }
        };
        self.saw_share(route, account.share);
        let rules = self.claim_rules(lead_us, route);
        let mut calls =
            store::phone_calls::claim_for_dial(&mut tx, n as i64, &self.now(), &rules).await?;
        if calls.is_empty() {
            // Calls may be waiting for their callout's next slot: look again then.
            let ahead = store::schedules::soonest_ahead(
                &mut tx,
                store::schedules::CALLOUT_PREFIX,
                local_now_us(),
            )
            .await?;
            tx.rollback().await.map_err(store::StoreError::from)?;
            return Ok(match ahead {
                Some(us) => DialTurn::Wait(wait_from_us(us - lead_us).min(IDLE_LOOK)),
                None => DialTurn::Claimed(Vec::new()),
            });
        }
        // One call per person in flight: of two claimed for one contact, the later waits.
        let mut seen = std::collections::HashSet::new();
        let mut left = Vec::new();
        calls.retain(|c| {
            let first = seen.insert(c.contact_id);
            if !first {
                left.push(c.id);
            }
            first
        });
        let plan = self
            .plan_slots(&mut tx, &calls, route, account, 2 * lead_us)
            .await?;
        let mut claimed = Vec::new();
        for (call, wait) in calls.into_iter().zip(plan.waits) {
            match wait {
                Some(us) => claimed.push((call, deadline(t0, us))),
                None => left.push(call.id),
            }
        }
        if claimed.is_empty() {
            // Another process took the due slot: claim nothing until ours is due.
            tx.rollback().await.map_err(store::StoreError::from)?;
            let wait = plan.next_wait_us.unwrap_or(0) - lead_us;
            return Ok(DialTurn::Wait(wait_from_us(wait)));
        }
        store::phone_calls::unclaim(&mut tx, &left).await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(DialTurn::Claimed(claimed))
    }

    /// Plans one new create slot for an already claimed call (a resend after the provider did
    /// not process its create, or a create that woke too late for its slot); its deadline.
    async fn reserve_slot(&self, call: &PhoneCall) -> Result<Instant> {
        let route = Route::of(call.route.as_deref());
        let mut tx = self.store().write().await?;
        let t0 = Instant::now();
        let account =
            store::schedules::lock_next(&mut tx, route.schedule(), SLOT_SLACK_US, local_now_us())
                .await?;
        let plan = self
            .plan_slots(
                &mut tx,
                std::slice::from_ref(call),
                route,
                account,
                i64::MAX / 4,
            )
            .await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        let wait = plan.waits.first().copied().flatten().unwrap_or(0);
        Ok(deadline(t0, wait))
    }

    /// Sleeps until `at`, the call's slot; a create that wakes more than `LATE_LIMIT` after
    /// it (a busy machine) takes a fresh slot and waits again, so a late create never lands in
    /// a one-second window already holding the cap.
    pub async fn await_slot(&self, call: &PhoneCall, mut at: Instant) -> Result<()> {
        loop {
            tokio::time::sleep_until(at).await;
            let late = Instant::now().saturating_duration_since(at);
            if late <= LATE_LIMIT {
                return Ok(());
            }
            tracing::debug!(
                phone_call_id = call.id,
                late_ms = late.as_millis() as u64,
                "create woke late for its slot; taking a new one"
            );
            at = self.reserve_slot(call).await?;
        }
    }

    /// Takes a new create slot for a claimed call and waits for it (a resend).
    pub(super) async fn wait_for_slot(&self, call: &PhoneCall) -> Result<()> {
        let at = self.reserve_slot(call).await?;
        self.await_slot(call, at).await
    }
}
