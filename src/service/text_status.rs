//! Following fallback texts once sent: signed status callbacks from the provider, status
//! polls of texts not yet final, and reconciliation of claims a crash left in `sending` (the
//! provider is asked for messages to the number since the claim: one found is adopted, none
//! makes the text `unknown`; nothing is ever resent). Each applied status is journaled, and a
//! status never moves a text back. Also the summaries other views show.

use super::text_messages::chrono_dur;
use super::{Result, Service, ServiceEvent};
use crate::domain::sms_fallback::{self, TextMessage};
use crate::domain::time::format_ts;
use crate::provider::RemoteMessage;
use crate::store::{self, StoreError, text_messages::Change};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

/// Texts fetched per poll pass.
const POLL_BATCH: i64 = 50;

/// Claims looked at per reconciliation pass.
const RECONCILE_BATCH: i64 = 50;

/// How far before a claim the provider's list is read (clock skew between us and it).
const LIST_MARGIN_SECS: i64 = 120;

/// A callout's texts by status (`Service::text_message_summary`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TextSummary {
    pub callout_id: i64,
    pub texts: i64,
    /// Messages the network sends for them (a long text counts once per segment).
    pub segments: i64,
    pub by_status: BTreeMap<String, i64>,
}

/// What a status report said about a text.
struct Report<'a> {
    sid: &'a str,
    status: &'a str,
    error_code: Option<&'a str>,
    error_message: Option<&'a str>,
}

impl Service {
    /// Applies a status the provider reported for `text` (callback or poll), unless it would
    /// move the text back; adopts the SID of a text still `sending` or `unknown`. Whether it
    /// changed the text.
    async fn apply_report(&self, text: &TextMessage, r: &Report<'_>, source: &str) -> Result<bool> {
        let Some(status) = sms_fallback::from_provider(r.status) else {
            return Ok(false);
        };
        let adopting = matches!(text.status.as_str(), "sending" | "unknown");
        if !adopting && sms_fallback::rank(status) <= sms_fallback::rank(&text.status) {
            return Ok(false);
        }
        let now = self.now();
        let poll = format_ts(self.clock().now() + chrono_dur(self.dialing().poll_interval));
        let c = Change {
            status,
            remote_message_id: Some(r.sid),
            remote_status: Some(r.status),
            error_code: r.error_code,
            error_message: r.error_message,
            sent_at: adopting.then_some(now.as_str()),
            next_poll_at: (!sms_fallback::is_final(status)).then_some(poll.as_str()),
            // An adopted text's "outcome unknown" note no longer holds.
            clear_error: adopting,
        };
        let mut tx = self.store().write().await?;
        let changed =
            store::text_messages::transition(&mut tx, text.id, &[text.status.as_str()], &c, &now)
                .await?;
        if changed {
            let details = json!({"sid": r.sid, "status": r.status, "source": source,
                "error_code": r.error_code});
            self.record_text(&mut tx, text, "provider.text_message_status", details)
                .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        if changed {
            self.publish(ServiceEvent::CalloutChanged(text.callout_id));
        }
        Ok(changed)
    }

    /// A signed status callback for a text (`MessageSid`, `MessageStatus`, and the text's id
    /// from the callback URL). Whether a text was found for it.
    pub async fn handle_text_status(&self, params: &[(String, String)]) -> Result<bool> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let (Some(sid), Some(status)) = (
            get("MessageSid").or(get("SmsSid")),
            get("MessageStatus").or(get("SmsStatus")),
        ) else {
            return Err(super::Error::BadRequest(
                "MessageSid and MessageStatus are required".into(),
            ));
        };
        let mut conn = self.store().read().await?;
        let mut text = store::text_messages::by_remote_id(&mut conn, sid).await?;
        if text.is_none() {
            // The callback overtook the create's answer: the URL names the text.
            if let Some(id) = get(super::text_messages::TEXT_PARAM).and_then(|v| v.parse().ok()) {
                text = store::text_messages::get(&mut conn, id)
                    .await?
                    .filter(|t| t.remote_message_id.is_none());
            }
        }
        drop(conn);
        let Some(text) = text else {
            tracing::warn!("status callback for a text scfm does not know; ignored");
            return Ok(false);
        };
        let r = Report {
            sid,
            status,
            error_code: get("ErrorCode"),
            error_message: get("ErrorMessage"),
        };
        self.apply_report(&text, &r, "callback").await?;
        Ok(true)
    }

    /// Fetches the status of texts at the provider that are due a poll. The number fetched.
    pub async fn poll_texts(&self) -> Result<usize> {
        let Some(provider) = self.dialing().provider.clone() else {
            return Ok(0);
        };
        let due = {
            let mut conn = self.store().read().await?;
            store::text_messages::due_polls(&mut conn, &self.now(), POLL_BATCH).await?
        };
        for text in &due {
            let Some(sid) = text.remote_message_id.as_deref() else {
                continue;
            };
            let poll = format_ts(self.clock().now() + chrono_dur(self.dialing().poll_interval));
            match provider.fetch_message(sid).await {
                Ok(m) => {
                    let changed = self.apply_message(text, &m, "poll").await?;
                    if !changed {
                        self.next_text_poll(text, Some(&poll), None).await?;
                    }
                }
                Err(e) if e.is_retryable_for_fetch() => {
                    self.next_text_poll(text, Some(&poll), None).await?;
                }
                // The provider refused the fetch for good: stop asking, say why.
                Err(e) => self.next_text_poll(text, None, Some(e.message())).await?,
            }
        }
        Ok(due.len())
    }

    async fn apply_message(
        &self,
        text: &TextMessage,
        m: &RemoteMessage,
        source: &str,
    ) -> Result<bool> {
        let Some(status) = m.status.as_deref() else {
            return Ok(false);
        };
        let r = Report {
            sid: &m.sid,
            status,
            error_code: m.error_code.as_deref(),
            error_message: m.error_message.as_deref(),
        };
        self.apply_report(text, &r, source).await
    }

    async fn next_text_poll(
        &self,
        text: &TextMessage,
        at: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        let now = self.now();
        let c = Change {
            status: &text.status,
            error_message: error,
            next_poll_at: at,
            ..Change::default()
        };
        let mut tx = self.store().write().await?;
        store::text_messages::transition(&mut tx, text.id, &[text.status.as_str()], &c, &now)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    /// Resolves texts left `sending` longer than `SCFM_RECONCILE_AFTER` (a process died
    /// between claim and answer): the provider's messages to the number since the claim are
    /// listed; exactly one not already some text's is adopted, else the text becomes `unknown`
    /// (never resent). The number resolved.
    pub async fn reconcile_texts(&self) -> Result<usize> {
        let Some(provider) = self.dialing().provider.clone() else {
            return Ok(0);
        };
        let before = format_ts(self.clock().now() - chrono_dur(self.dialing().reconcile_after));
        let stale = {
            let mut conn = self.store().read().await?;
            store::text_messages::stale_sending(&mut conn, &before, RECONCILE_BATCH).await?
        };
        let mut resolved = 0;
        for text in &stale {
            let since = text
                .claimed_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_else(|| self.clock().now())
                - chrono::Duration::seconds(LIST_MARGIN_SECS);
            let found = match provider.list_messages(&text.msisdn, since).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(text_id = text.id, error = %e, "listing messages to reconcile failed");
                    continue;
                }
            };
            let mut free = Vec::new();
            {
                let mut conn = self.store().read().await?;
                for m in found {
                    if store::text_messages::by_remote_id(&mut conn, &m.sid)
                        .await?
                        .is_none()
                    {
                        free.push(m);
                    }
                }
            }
            if let [m] = free.as_slice() {
                let mut adopted = m.clone();
                adopted.status.get_or_insert_with(|| "queued".into());
                if self.apply_message(text, &adopted, "reconciliation").await? {
                    resolved += 1;
                }
                continue;
            }
            let why = if free.is_empty() {
                "claimed, but no message found at the provider (outcome unknown; not resent)"
            } else {
                "several messages to this number at the provider (outcome unknown; not resent)"
            };
            let now = self.now();
            let c = Change {
                status: "unknown",
                error_message: Some(why),
                ..Change::default()
            };
            let mut tx = self.store().write().await?;
            if store::text_messages::transition(&mut tx, text.id, &["sending"], &c, &now).await? {
                self.record_text(
                    &mut tx,
                    text,
                    "text.outcome_unknown",
                    json!({"reason": why}),
                )
                .await?;
                resolved += 1;
            }
            tx.commit().await.map_err(StoreError::from)?;
        }
        Ok(resolved)
    }

    /// A callout's fallback texts counted by status (for progress, sitrep and export).
    pub async fn text_message_summary(&self, callout_id: i64) -> Result<TextSummary> {
        let mut conn = self.store().read().await?;
        store::callouts::get(&mut conn, callout_id)
            .await?
            .ok_or(super::Error::NotFound)?;
        let mut s = TextSummary {
            callout_id,
            ..TextSummary::default()
        };
        for (status, n, segments) in store::text_messages::summary(&mut conn, callout_id).await? {
            s.texts += n;
            s.segments += segments;
            s.by_status.insert(status, n);
        }
        Ok(s)
    }

    /// Every fallback text of a callout, in id order.
    pub async fn text_messages_of(&self, callout_id: i64) -> Result<Vec<TextMessage>> {
        let mut conn = self.store().read().await?;
        store::callouts::get(&mut conn, callout_id)
            .await?
            .ok_or(super::Error::NotFound)?;
        Ok(store::text_messages::of_callout(&mut conn, callout_id).await?)
    }
}
