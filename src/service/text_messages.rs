//! The SMS fallback's sending side: queue a text for each participation of a running campaign
//! the calls did not reach (`store::text_messages::enqueue`: once per participation, the
//! database deciding), claim one at a time per callout at the callout's own
//! `max_messages_per_second` (a schedule row shared by every process, `sms:callout:ID`), and
//! send it through the provider. The claim (`pending` → `sending`) is committed before the
//! request; only a request certainly not processed puts the text back to `pending`; an unknown
//! outcome leaves it `unknown`, never resent automatically. Following texts afterwards
//! (callbacks, polls, reconciliation) is `text_status.rs`.

use super::dial_pace::{LATE_LIMIT, PACE_GUARD, local_now_us};
use super::{Result, Service, ServiceEvent};
use crate::domain::actor::Actor;
use crate::domain::dialing::DialingSettings;
use crate::domain::route::Route;
use crate::domain::sms_fallback::{self, TextMessage};
use crate::domain::time::format_ts;
use crate::provider::{CreateMessage, ProviderError};
use crate::store::{self, Handle, StoreError, text_messages::Change};
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

/// The schedule of callout `id`'s texts.
pub fn text_schedule(id: i64) -> String {
    format!("sms:callout:{id}")
}

/// Texts queued per callout per pass (the next pass queues more).
const ENQUEUE_BATCH: i64 = 500;

/// A slot this close is taken now (the claim's own round trip covers it).
const CLAIM_LEAD_US: i64 = 5_000;

/// While dialling is held, how often the hold is read again.
const HOLD_RECHECK: Duration = Duration::from_secs(1);

/// An idle schedule saves nothing up beyond this.
const SLACK_US: i64 = 3_000;

/// Query parameter naming the text in its status callback URL (inside what is signed).
pub const TEXT_PARAM: &str = "scfm_text";

/// The status callback path of texts.
pub const TEXT_EVENTS_PATH: &str = "/api/remote_text_message_events";

/// What one sender turn got.
#[derive(Debug)]
pub enum TextTurn {
    /// A claimed text and when its slot is on this process's clock.
    Claimed(Box<TextMessage>, Instant),
    /// Texts wait for their callout's next slot: ask again after this.
    Wait(Duration),
    /// Nothing to send.
    Idle,
}

fn settings_of(callout: &crate::domain::Callout) -> Option<DialingSettings> {
    callout
        .dialing
        .as_ref()
        .and_then(|v| serde_json::from_value::<DialingSettings>(v.clone()).ok())
        .filter(|s| s.sms_fallback.is_some())
}

fn interval_us(s: &DialingSettings) -> i64 {
    let mps = s
        .sms_fallback
        .as_ref()
        .map_or(1.0, |f| f.max_messages_per_second)
        .max(0.001);
    ((PACE_GUARD / mps) * 1e6) as i64
}

impl Service {
    /// Queues a text for each participation of a running campaign with an SMS fallback whose
    /// calls are over without reaching them. The number queued.
    pub async fn enqueue_text_messages(&self) -> Result<u64> {
        let campaigns = {
            let mut conn = self.store().read().await?;
            store::callouts::running_campaigns(&mut conn).await?
        };
        let now = self.now();
        let mut queued = 0;
        for callout in campaigns {
            let Some(s) = settings_of(&callout) else {
                continue;
            };
            let (Some(f), Some(from)) = (s.sms_fallback.as_ref(), s.sms_from()) else {
                continue;
            };
            let e = store::text_messages::Eligible {
                callout_id: callout.id,
                max_attempts: s.max_attempts,
                retry_statuses: &s.retry_statuses,
                sender: from,
                body: &f.body,
                segments: sms_fallback_segments(&f.body),
            };
            let mut tx = self.store().write().await?;
            let n = store::text_messages::enqueue(&mut tx, &e, ENQUEUE_BATCH, &now).await?;
            if n == 0 {
                // Nothing committed: an idle campaign wakes no one watching the database.
                tx.rollback().await.map_err(StoreError::from)?;
                continue;
            }
            tx.commit().await.map_err(StoreError::from)?;
            {
                tracing::info!(callout_id = callout.id, texts = n, "fallback texts queued");
                self.publish(ServiceEvent::CalloutChanged(callout.id));
                queued += n;
            }
        }
        Ok(queued)
    }

    /// Claims the next text whose callout's slot is due, reserving the slot in the same write
    /// transaction (so every process together keeps each callout's `max_messages_per_second`).
    pub async fn claim_text(&self) -> Result<TextTurn> {
        let ids = {
            let mut conn = self.store().read().await?;
            // The account refused our credentials: texts wait with the calls until the
            // dialler's probe finds it answering again.
            if store::dialing_hold::get(&mut conn, Route::Primary)
                .await?
                .is_some()
            {
                return Ok(TextTurn::Wait(HOLD_RECHECK));
            }
            store::text_messages::pending_callouts(&mut conn).await?
        };
        let mut soonest: Option<i64> = None;
        for id in ids {
            let settings = {
                let mut conn = self.store().read().await?;
                store::callouts::get(&mut conn, id)
                    .await?
                    .as_ref()
                    .and_then(settings_of)
            };
            let Some(s) = settings else { continue };
            let name = text_schedule(id);
            let t0 = Instant::now();
            let mut tx = self.store().write().await?;
            let locked =
                store::schedules::lock_next(&mut tx, &name, SLACK_US, local_now_us()).await?;
            let wait_us = locked.next_us - locked.now_us;
            if wait_us > CLAIM_LEAD_US {
                tx.rollback().await.map_err(StoreError::from)?;
                soonest = Some(soonest.map_or(wait_us, |w| w.min(wait_us)));
                continue;
            }
            let Some(text) = store::text_messages::claim_next(&mut tx, id, &self.now()).await?
            else {
                tx.rollback().await.map_err(StoreError::from)?;
                continue;
            };
            store::schedules::set_next(&mut tx, &name, locked.next_us + interval_us(&s)).await?;
            tx.commit().await.map_err(StoreError::from)?;
            let at = if wait_us >= 0 {
                t0 + Duration::from_micros(wait_us as u64)
            } else {
                t0
            };
            return Ok(TextTurn::Claimed(Box::new(text), at));
        }
        Ok(match soonest {
            Some(us) => TextTurn::Wait(Duration::from_micros(us.max(0) as u64)),
            None => TextTurn::Idle,
        })
    }

    /// A fresh slot on the text's schedule (its first one came too late to use): when it is.
    async fn reslot_text(&self, text: &TextMessage) -> Result<Instant> {
        let mut conn = self.store().read().await?;
        let Some(s) = store::callouts::get(&mut conn, text.callout_id)
            .await?
            .as_ref()
            .and_then(settings_of)
        else {
            return Ok(Instant::now());
        };
        drop(conn);
        let name = text_schedule(text.callout_id);
        let t0 = Instant::now();
        let mut tx = self.store().write().await?;
        let locked = store::schedules::lock_next(&mut tx, &name, SLACK_US, local_now_us()).await?;
        store::schedules::set_next(&mut tx, &name, locked.next_us + interval_us(&s)).await?;
        tx.commit().await.map_err(StoreError::from)?;
        let wait = (locked.next_us - locked.now_us).max(0) as u64;
        Ok(t0 + Duration::from_micros(wait))
    }

    /// Sends a claimed text at its slot (a fresh one if this one passed), once, and records
    /// what the provider answered.
    pub async fn send_text(&self, text: TextMessage, mut at: Instant) -> Result<()> {
        let Some(provider) = self.dialing().provider.clone() else {
            return Ok(());
        };
        loop {
            tokio::time::sleep_until(at).await;
            if Instant::now() <= at + LATE_LIMIT {
                break;
            }
            at = self.reslot_text(&text).await?;
        }
        let req = CreateMessage {
            to: text.msisdn.clone(),
            from: text.from.clone(),
            body: text.body.clone(),
            status_callback: self
                .dialing()
                .public_url
                .as_deref()
                .map(|u| format!("{u}{TEXT_EVENTS_PATH}?{TEXT_PARAM}={}", text.id)),
        };
        let answer = provider.create_message(&req).await;
        if let Err(ProviderError::Unauthorized { status, .. }) = &answer {
            // Before the write transaction: the hold is written on a connection of its own.
            let why = format!(
                "the provider refused our credentials (HTTP {status}); check the account SID and auth token"
            );
            if let Err(e) = self.set_hold(Route::Primary, Some(why)).await {
                tracing::error!(error = %e, "could not hold dialling");
            }
        }
        let now = self.now();
        let mut tx = self.store().write().await?;
        let (action, details) = match &answer {
            Ok(m) => {
                let status = m
                    .status
                    .as_deref()
                    .and_then(sms_fallback::from_provider)
                    .unwrap_or("queued");
                let poll = format_ts(self.clock().now() + chrono_dur(self.dialing().poll_interval));
                let c = Change {
                    status,
                    remote_message_id: Some(&m.sid),
                    remote_status: m.status.as_deref(),
                    sent_at: Some(&now),
                    next_poll_at: (!sms_fallback::is_final(status)).then_some(poll.as_str()),
                    clear_error: true,
                    ..Change::default()
                };
                store::text_messages::transition(&mut tx, text.id, &["sending"], &c, &now).await?;
                (
                    "provider.text_message_created",
                    json!({"sid": m.sid, "status": m.status}),
                )
            }
            Err(e @ ProviderError::Unauthorized { .. }) => {
                // Certainly not processed: the text waits (dialling is held, above).
                let c = Change {
                    status: "pending",
                    error_message: Some(e.message()),
                    ..Change::default()
                };
                store::text_messages::transition(&mut tx, text.id, &["sending"], &c, &now).await?;
                ("text.create_not_sent", json!({"error": e.message()}))
            }
            Err(e) if e.is_retryable_for_create() => {
                if let ProviderError::RateLimited {
                    retry_after: Some(d),
                    ..
                } = e
                {
                    store::pace::push_next(
                        &mut tx,
                        &text_schedule(text.callout_id),
                        d.as_micros() as i64,
                        local_now_us(),
                    )
                    .await?;
                }
                let c = Change {
                    status: "pending",
                    error_message: Some(e.message()),
                    ..Change::default()
                };
                store::text_messages::transition(&mut tx, text.id, &["sending"], &c, &now).await?;
                ("text.create_not_sent", json!({"error": e.message()}))
            }
            Err(e @ ProviderError::Unknown { .. }) => {
                let message = format!("{} (outcome unknown; not resent)", e.message());
                let c = Change {
                    status: "unknown",
                    error_message: Some(&message),
                    ..Change::default()
                };
                store::text_messages::transition(&mut tx, text.id, &["sending"], &c, &now).await?;
                ("text.outcome_unknown", json!({"error": e.message()}))
            }
            Err(e) => {
                let code = match e {
                    ProviderError::Rejected { code, .. } => code.clone(),
                    _ => None,
                };
                let c = Change {
                    status: "failed",
                    error_code: code.as_deref(),
                    error_message: Some(e.message()),
                    ..Change::default()
                };
                store::text_messages::transition(&mut tx, text.id, &["sending"], &c, &now).await?;
                (
                    "provider.text_message_refused",
                    json!({"error": e.message(), "code": code}),
                )
            }
        };
        self.record_text(&mut tx, &text, action, details).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::CalloutChanged(text.callout_id));
        Ok(())
    }

    /// Records a text's event in the journal: the provider's answer (`provider.*`) or scfm's
    /// decision (`text.*`).
    pub(super) async fn record_text(
        &self,
        tx: &mut impl Handle,
        text: &TextMessage,
        action: &str,
        details: serde_json::Value,
    ) -> Result<()> {
        let actor = if action.starts_with("provider.") {
            Actor::Provider
        } else {
            Actor::System
        };
        let subject = format!("text_message:{}", text.id);
        self.record_as(tx, &actor, action, subject, Some(text.callout_id), details)
            .await
    }
}

fn sms_fallback_segments(body: &str) -> i64 {
    crate::domain::gsm7::segments(body).count as i64
}

pub(super) fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::milliseconds(d.as_millis().min(i64::MAX as u128) as i64)
}
