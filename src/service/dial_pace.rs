//! The account-wide calls-per-second cap. Slots live in the database (`store::schedules`), so
//! every process on it shares one schedule: a dialler claims its calls and reserves one slot per
//! call in the same write transaction, then sends each create at its own slot. Claiming only
//! when the next slot is due keeps a claimed call's wait short, so a process killed with
//! `kill -9` leaves little more than its requests in flight to reconciliation.

use super::{Result, Service};
use crate::domain::PhoneCall;
use crate::store;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The schedule of the route every call goes out on today (issue 13's failover routes and
/// per-callout caps get schedules of their own).
pub const DEFAULT_ROUTE: &str = "dial:default";

/// Slots are this much wider than the cap: a create sent up to `PACE_GUARD - 1` seconds late
/// (timer and network jitter) followed by one on time still leaves at most the cap in any
/// one-second window measured at the provider; the mean rate stays within 5% of the cap. (2%
/// let CI see 51 creates in one second at a 50 cap with three servers on two busy cores.)
pub const PACE_GUARD: f64 = 1.05;

/// A dialler asks for its calls this long before the next slot is due, so the claim's round
/// trip does not make the create late.
pub const CLAIM_LEAD: Duration = Duration::from_millis(4);

/// A claim whose first slot is further away than this is rolled back (see `dial_turn`).
const CLAIM_KEEP_US: i64 = 2 * CLAIM_LEAD.as_micros() as i64;

/// A turn this late for the due slot still gets it (so lateness does not add up into a slower
/// pace). Kept well under `PACE_GUARD - 1` seconds, the jitter budget of the window guarantee.
const SLOT_SLACK_US: i64 = 3_000;

/// What one dialler turn got.
#[derive(Debug)]
pub enum DialTurn {
    /// Dialling is held; nothing was claimed.
    Held,
    /// The claimed calls (possibly none), each with how long from now until its slot.
    Claimed(Vec<(PhoneCall, Duration)>),
    /// Another process took the due slot first: nothing was claimed; ask again after this.
    Wait(Duration),
}

/// Microseconds since the Unix epoch on this machine's clock (the SQLite time line).
fn local_now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn wait_from_us(us: i64) -> Duration {
    Duration::from_micros(us.max(0) as u64)
}

impl Service {
    /// The time between two creates on the account: one over the cap, widened by the guard.
    pub fn slot_interval(&self) -> Duration {
        let cps = self.dialing().calls_per_second.max(0.01);
        Duration::from_secs_f64(PACE_GUARD / cps)
    }

    fn slot_interval_us(&self) -> i64 {
        (self.slot_interval().as_micros() as i64).max(1)
    }

    /// How long until this dialler should claim for the account's next free create slot: the
    /// slot's wait less `CLAIM_LEAD` (zero: now). One read, no lock.
    pub async fn pace_wait(&self) -> Result<Duration> {
        let mut conn = self.store().read().await?;
        let us = store::schedules::wait_us(&mut conn, DEFAULT_ROUTE, local_now_us()).await?;
        Ok(wait_from_us(us - CLAIM_LEAD.as_micros() as i64))
    }

    /// Claims up to `n` queued calls and reserves one create slot for each, in one write
    /// transaction; nothing while dialling is held (read in the same transaction, so no process
    /// claims a call after another one's hold is written).
    pub async fn dial_turn(&self, n: usize) -> Result<DialTurn> {
        let mut tx = self.store().write().await?;
        let hold = store::dialing_hold::get(&mut tx).await?;
        if hold.is_some() {
            tx.rollback().await.map_err(store::StoreError::from)?;
            self.saw_hold(hold.map(|h| h.reason));
            return Ok(DialTurn::Held);
        }
        let calls = store::phone_calls::claim_for_dial(&mut tx, n as i64, &self.now()).await?;
        if calls.is_empty() {
            tx.rollback().await.map_err(store::StoreError::from)?;
            return Ok(DialTurn::Claimed(Vec::new()));
        }
        let interval = self.slot_interval_us();
        let first = store::schedules::reserve(
            &mut tx,
            DEFAULT_ROUTE,
            calls.len() as i64,
            interval,
            SLOT_SLACK_US,
            local_now_us(),
        )
        .await?
        .wait_us;
        if first > CLAIM_KEEP_US {
            // Another process took the due slot: claim nothing until ours is due, so a claimed
            // call is sent at once (a kill leaves little but requests in flight).
            tx.rollback().await.map_err(store::StoreError::from)?;
            return Ok(DialTurn::Wait(wait_from_us(
                first - CLAIM_LEAD.as_micros() as i64,
            )));
        }
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(DialTurn::Claimed(
            calls
                .into_iter()
                .enumerate()
                .map(|(i, call)| (call, wait_from_us(first + i as i64 * interval)))
                .collect(),
        ))
    }

    /// Reserves one create slot (for a resend after the provider said it did not process a
    /// create) and sleeps until it is due.
    pub(super) async fn wait_for_slot(&self) -> Result<()> {
        let us = {
            let mut conn = self.store().read().await?;
            store::schedules::reserve(
                &mut conn,
                DEFAULT_ROUTE,
                1,
                self.slot_interval_us(),
                SLOT_SLACK_US,
                local_now_us(),
            )
            .await?
            .wait_us
        };
        tokio::time::sleep(wait_from_us(us)).await;
        Ok(())
    }
}
