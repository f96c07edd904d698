//! The three phone-call batch operation types (PhoneCallCreate, PhoneCallQueue,
//! PhoneCallQueueRemoteFetch): validation, effective limit, previews and set-based runs.

use super::{Error, Result, Service, ServiceEvent};
use crate::domain::batch::{BatchType, Params};
use crate::domain::validation::{self, ValidationErrors};
use crate::domain::{BatchOperation, Page, Paged, PhoneCall};
use crate::store::{self, phone_calls::Scope};
use serde_json::{Map, Value};

/// `remote_request_params`: present (not `{}`) and only allowed keys.
pub(crate) fn check_remote_request_params(
    p: Option<&Map<String, Value>>,
    errors: &mut ValidationErrors,
) {
    match p {
        None => errors.add("remote_request_params", validation::BLANK),
        Some(m) if m.is_empty() => errors.add("remote_request_params", validation::BLANK),
        Some(m) => {
            if m.keys()
                .any(|k| !crate::provider::wire::ALLOWED_REQUEST_KEYS.contains(&k.as_str()))
            {
                errors.add("remote_request_params", validation::NOT_IN_LIST);
            }
        }
    }
}

impl Service {
    pub(super) async fn validate_phone_call_batch(
        &self,
        conn: &mut impl store::Handle,
        kind: BatchType,
        parameters: &Map<String, Value>,
        errors: &mut ValidationErrors,
    ) -> Result<()> {
        let p = Params(parameters);
        if kind == BatchType::PhoneCallCreate {
            check_remote_request_params(p.remote_request_params(), errors);
        }
        if p.skip_validate_preview_presence() || !errors.is_empty() {
            return Ok(());
        }
        let limit = self.effective_limit(conn, kind, parameters).await?;
        let (callout, participation) = (p.callout_filter(), p.participation_filter());
        match kind {
            BatchType::PhoneCallCreate => {
                let scope = store::participations::Scope::Preview {
                    callout: &callout,
                    limit,
                };
                let page = Page {
                    page: 1,
                    per_page: 1,
                };
                let n = store::participations::list(conn, scope, &participation, page)
                    .await?
                    .total;
                if n == 0 {
                    errors.add("callout_participations_preview", validation::BLANK);
                }
            }
            BatchType::PhoneCallQueue | BatchType::PhoneCallQueueRemoteFetch => {
                let scope = Scope::Preview {
                    callout: &callout,
                    participation: &participation,
                    limit,
                };
                if store::phone_calls::count(conn, scope, &p.phone_call_filter()).await? == 0 {
                    errors.add("phone_calls_preview", validation::BLANK);
                }
            }
            BatchType::CalloutPopulation => {}
        }
        Ok(())
    }

    /// Effective limit (SCFM §10.1): Create and Queue use `limit`, else the minimum of `max` and
    /// the per-period remainder; RemoteFetch uses `limit` only; populations have none.
    pub(super) async fn effective_limit(
        &self,
        conn: &mut impl store::Handle,
        kind: BatchType,
        parameters: &Map<String, Value>,
    ) -> Result<Option<i64>> {
        let p = Params(parameters);
        let limit = p.limit().map(|l| l.max(0));
        match kind {
            BatchType::CalloutPopulation => Ok(None),
            BatchType::PhoneCallQueueRemoteFetch => Ok(limit),
            BatchType::PhoneCallCreate | BatchType::PhoneCallQueue => {
                if limit.is_some() {
                    return Ok(limit);
                }
                let mut caps = Vec::new();
                if let Some(max) = p.max() {
                    caps.push(max.max(0));
                }
                if let Some(per_period) = p.max_per_period() {
                    let since =
                        self.clock().now() - chrono::Duration::hours(p.max_per_period_hours());
                    let since = crate::domain::time::format_ts(since);
                    let statuses = p.max_per_period_statuses();
                    let used = store::phone_calls::count_since(
                        conn,
                        p.max_per_period_timestamp_column(),
                        &since,
                        statuses.as_deref(),
                    )
                    .await?;
                    caps.push((per_period - used).max(0));
                }
                Ok(caps.into_iter().min())
            }
        }
    }

    /// `/preview/phone_calls` (Queue and RemoteFetch; `q` ignored, the limit applied).
    pub async fn preview_phone_calls(&self, id: i64, page: Page) -> Result<Paged<PhoneCall>> {
        let mut conn = self.store().read().await?;
        let op = store::batch_operations::get(
            &mut conn,
            id,
            super::ResultKind::PreviewPhoneCalls.types(),
        )
        .await?
        .ok_or(Error::NotFound)?;
        let params = super::as_map(&op.parameters);
        let kind = BatchType::parse(&op.kind).ok_or(Error::NotFound)?;
        let p = Params(&params);
        let (callout, participation) = (p.callout_filter(), p.participation_filter());
        let limit = self.effective_limit(&mut conn, kind, &params).await?;
        let scope = Scope::Preview {
            callout: &callout,
            participation: &participation,
            limit,
        };
        Ok(store::phone_calls::list(&mut conn, scope, &p.phone_call_filter(), page).await?)
    }

    /// `/api/batch_operations/:id/phone_calls`: calls it created, queued or queued for fetch.
    pub async fn batch_result_phone_calls(
        &self,
        id: i64,
        q: &crate::domain::filter::Filter,
        page: Page,
    ) -> Result<Paged<PhoneCall>> {
        super::contacts::check_filter_size(q)?;
        let mut conn = self.store().read().await?;
        let op = store::batch_operations::get(&mut conn, id, super::ResultKind::PhoneCalls.types())
            .await?
            .ok_or(Error::NotFound)?;
        let scope = match BatchType::parse(&op.kind) {
            Some(BatchType::PhoneCallCreate) => Scope::CreatedBy(id),
            Some(BatchType::PhoneCallQueue) => Scope::QueuedBy(id),
            _ => Scope::FetchQueuedBy(id),
        };
        Ok(store::phone_calls::list(&mut conn, scope, q, page).await?)
    }

    /// Runs a phone-call batch operation inside the worker's transaction.
    pub(super) async fn run_phone_call_batch(
        &self,
        tx: &mut impl store::Handle,
        kind: BatchType,
        op: &BatchOperation,
        params: &Map<String, Value>,
    ) -> Result<u64> {
        let p = Params(params);
        let limit = self.effective_limit(tx, kind, params).await?;
        let (callout, participation) = (p.callout_filter(), p.participation_filter());
        let now = self.now();
        let n = match kind {
            BatchType::PhoneCallCreate => {
                let rrp = super::json_text(&p.remote_request_params().cloned().unwrap_or_default());
                store::phone_calls::create_from_participations(
                    tx,
                    &callout,
                    &participation,
                    limit,
                    op.id,
                    &rrp,
                    &now,
                )
                .await?
            }
            BatchType::PhoneCallQueue | BatchType::PhoneCallQueueRemoteFetch => {
                let fetch = kind == BatchType::PhoneCallQueueRemoteFetch;
                let calls = p.phone_call_filter();
                let set = store::phone_calls::QueueSet {
                    callout: &callout,
                    participation: &participation,
                    calls: &calls,
                    limit,
                };
                store::phone_calls::queue_preview(tx, &set, op.id, fetch, &now).await?
            }
            BatchType::CalloutPopulation => 0,
        };
        if n > 0 {
            self.publish(ServiceEvent::PhoneCallsChanged);
        }
        Ok(n)
    }

    /// After a batch run: calls may have been queued for dialling or fetching.
    pub(super) fn after_phone_call_batch(&self) {
        self.wake().dialer.notify_one();
        self.wake().poller.notify_one();
    }
}
