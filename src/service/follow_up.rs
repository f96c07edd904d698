//! Following calls after their create request: poll the calls in flight for their status, and
//! reconcile attempts whose outcome is unknown by asking the provider — never by dialling again.

use super::dialing::{SendResult, UNKNOWN_SUFFIX, chrono_dur};
use super::{Result, Service, ServiceEvent};
use crate::domain::PhoneCall;
use crate::domain::route::Route;
use crate::domain::status;
use crate::domain::time::format_ts;
use crate::provider::{self, ProviderError, RemoteCall};
use crate::store::{
    self,
    phone_calls::{NextPoll, RemoteUpdate},
};
use std::time::Duration;

/// The local status `complete` moves a call to (SCFM §9.3 with the §14.2 fix).
pub fn completed_status(current: &str, remote_status: Option<&str>) -> String {
    if let Some(to) = remote_status.and_then(status::status_for_remote) {
        if status::PHONE_CALL_COMPLETABLE.contains(&current) {
            return to.to_string();
        }
        return current.to_string();
    }
    if current == "remote_fetch_queued" {
        "remotely_queued".into()
    } else {
        current.to_string()
    }
}

impl Service {
    /// Resolves claimed attempts that never finished (crash, unknown outcome): adopt the call the
    /// provider has for that number and time, or give up as errored after the grace period.
    /// Returns how many calls were resolved.
    pub async fn reconcile_dials(&self) -> Result<usize> {
        let now = self.clock().now();
        let before = format_ts(now - chrono_dur(self.dialing().reconcile_after));
        let calls = {
            let mut conn = self.store().read().await?;
            store::phone_calls::unresolved_dials(&mut conn, &before, 50).await?
        };
        let mut resolved = 0;
        for call in calls {
            let started = call
                .dial_started_at
                .as_deref()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or(now);
            let Some(provider) = self.provider_on(Route::of(call.route.as_deref())) else {
                self.resolve(call, SendResult::GivenUp("Unable to create record: dial interrupted and no provider to ask; not redialled".into()))
                    .await?;
                resolved += 1;
                continue;
            };
            let since = started - chrono::Duration::minutes(5);
            let candidates = match provider.list_calls(&call.msisdn, since).await {
                Ok(list) => list,
                Err(e) if now - started > chrono_dur(self.dialing().unknown_outcome_grace) => {
                    // The provider will not say (401, 404, down for the whole grace period):
                    // stop asking, and never redial what may have rung.
                    tracing::warn!(phone_call_id = call.id, error = %e, "reconciliation list kept failing; giving up");
                    let message = format!(
                        "Unable to create record: provider outcome unknown and the provider could not be asked ({e}); not redialled"
                    );
                    self.resolve(call, SendResult::GivenUp(message)).await?;
                    resolved += 1;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(phone_call_id = call.id, error = %e, "reconciliation list failed; will retry");
                    continue;
                }
            };
            let mut unlinked = Vec::new();
            {
                let mut conn = self.store().read().await?;
                for rc in candidates {
                    if store::phone_calls::by_remote_call_id(&mut conn, &rc.sid)
                        .await?
                        .is_none()
                    {
                        unlinked.push(rc);
                    }
                }
            }
            match unlinked.len() {
                1 => {
                    tracing::info!(
                        phone_call_id = call.id,
                        "reconciled an unknown dial outcome with the provider's call"
                    );
                    let rc = unlinked.swap_remove(0);
                    self.resolve(call, SendResult::Accepted(rc)).await?;
                    resolved += 1;
                }
                0 if now - started > chrono_dur(self.dialing().unknown_outcome_grace) => {
                    // Keep the provider's own answer (500, HTML 503, reset…) for the operator.
                    let message = match call
                        .remote_error_message
                        .as_deref()
                        .and_then(|m| m.strip_suffix(UNKNOWN_SUFFIX))
                    {
                        Some(said) => format!(
                            "{said} (outcome unknown and no matching call found at the provider; not redialled)"
                        ),
                        None => "Unable to create record: provider outcome unknown and no matching call found; not redialled".into(),
                    };
                    self.resolve(call, SendResult::GivenUp(message)).await?;
                    resolved += 1;
                }
                0 => {}
                n => {
                    self.resolve(
                        call,
                        SendResult::GivenUp(format!("Unable to create record: outcome unknown and {n} candidate calls at the provider; check them by hand, not redialled")),
                    )
                    .await?;
                    resolved += 1;
                }
            }
        }
        Ok(resolved)
    }

    /// Fetches every call due for a status check; returns how many were fetched.
    pub async fn poll_due(&self) -> Result<usize> {
        if self.dialing().provider.is_none() && self.dialing().fallback.is_none() {
            return Ok(0);
        }
        let now = self.clock().now();
        let lease =
            format_ts(now + chrono_dur(self.dialing().poll_interval.max(Duration::from_secs(30))));
        let calls = {
            let mut conn = self.store().read().await?;
            store::phone_calls::lease_for_poll(&mut conn, &format_ts(now), &lease, 100).await?
        };
        let n = calls.len();
        for call in calls {
            let Some(sid) = call.remote_call_id.clone() else {
                continue;
            };
            // Each call is asked about at the account that placed it.
            let Some(provider) = self.provider_on(Route::of(call.route.as_deref())) else {
                continue;
            };
            let result = provider.fetch_call(&sid).await;
            self.apply_fetch(&call, result).await?;
        }
        Ok(n)
    }

    async fn apply_fetch(
        &self,
        call: &PhoneCall,
        result: std::result::Result<RemoteCall, ProviderError>,
    ) -> Result<()> {
        // A write transaction: a poll answer that changes the call is journaled with it.
        let mut conn = self.store().write().await?;
        let now = self.now();
        match result {
            Ok(rc) => {
                let new_status = completed_status(&call.status, rc.status.as_deref());
                let terminal = status::PHONE_CALL_TERMINAL.contains(&new_status.as_str());
                let next = if terminal {
                    None
                } else {
                    Some(self.next_poll())
                };
                let response = rc.reduced().to_string();
                // Never move remote_status backwards (a late poll after a final webhook).
                let keep_remote = call
                    .remote_status
                    .as_deref()
                    .map(|cur| {
                        status::remote_status_rank(cur)
                            > rc.status
                                .as_deref()
                                .map(status::remote_status_rank)
                                .unwrap_or(0)
                    })
                    .unwrap_or(false);
                let u = RemoteUpdate {
                    id: call.id,
                    expected_status: &call.status,
                    new_status: &new_status,
                    remote_status: if keep_remote {
                        None
                    } else {
                        rc.status.as_deref()
                    },
                    remote_response: Some(&response),
                    remote_error_message: None,
                    call_flow_logic: None,
                    next_poll: next.as_deref().map_or(NextPoll::Clear, NextPoll::At),
                };
                let moved = store::phone_calls::apply_remote(&mut conn, &u, &now).await?;
                let remote_changed = !keep_remote && rc.status != call.remote_status;
                if moved && (new_status != call.status || remote_changed) {
                    let said = serde_json::json!({
                        "CallSid": rc.sid,
                        "CallStatus": rc.status,
                        "status": new_status,
                    });
                    self.record_call(&mut conn, call, "provider.poll", said)
                        .await?;
                }
                if moved && terminal && !status::PHONE_CALL_TERMINAL.contains(&call.status.as_str())
                {
                    self.note_outcome(Route::of(call.route.as_deref()), &new_status);
                }
            }
            Err(e) => {
                let text = provider::fetch_error_text(&e);
                let new_status = completed_status(&call.status, None);
                // Retry later when the GET may succeed; a refused fetch (404, 401) stops polling.
                let next = if e.is_retryable_for_fetch() {
                    Some(self.next_poll())
                } else {
                    None
                };
                tracing::warn!(phone_call_id = call.id, error = %e, "status fetch failed");
                let u = RemoteUpdate {
                    id: call.id,
                    expected_status: &call.status,
                    new_status: &new_status,
                    remote_status: None,
                    remote_response: None,
                    remote_error_message: Some(Some(&text)),
                    call_flow_logic: None,
                    next_poll: next.as_deref().map_or(NextPoll::Clear, NextPoll::At),
                };
                store::phone_calls::apply_remote(&mut conn, &u, &now).await?;
            }
        }
        conn.commit().await.map_err(store::StoreError::from)?;
        self.publish(ServiceEvent::PhoneCallChanged(call.id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::completed_status;

    #[test]
    fn complete_rules() {
        assert_eq!(
            completed_status("remote_fetch_queued", Some("completed")),
            "completed"
        );
        assert_eq!(
            completed_status("remote_fetch_queued", Some("queued")),
            "remotely_queued"
        );
        assert_eq!(
            completed_status("remote_fetch_queued", None),
            "remotely_queued"
        );
        assert_eq!(
            completed_status("in_progress", Some("ringing")),
            "in_progress"
        );
        assert_eq!(completed_status("completed", Some("ringing")), "completed");
        assert_eq!(
            completed_status("created", Some("in-progress")),
            "in_progress"
        );
        assert_eq!(
            completed_status("remotely_queued", Some("no-answer")),
            "not_answered"
        );
    }
}
