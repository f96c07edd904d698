//! Batch operations: create/update with per-type validation, previews, queue/requeue, results,
//! and the run itself (called by the batch worker). Runs are set-based statements, never row
//! loops: populating a callout from 1,000,000 contacts is one INSERT … SELECT.

use super::contacts::{check_filter_size, restricted};
use super::{Error, Result, Service, ServiceEvent, as_map, json_text};
use crate::domain::batch::{BatchType, Params};
use crate::domain::filter::Filter;
use crate::domain::metadata::{self, MergeMode};
use crate::domain::status;
use crate::domain::validation::{self, ValidationErrors};
use crate::domain::{BatchOperation, Contact, Page, Paged, Participation};
use crate::store::locks::{Table, lock_row, lock_row_to_delete};
use crate::store::{self, StoreError};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Default)]
pub struct BatchOperationInput {
    /// `type`, create only.
    pub kind: Option<String>,
    pub callout_id: Option<i64>,
    pub parameters: Option<Map<String, Value>>,
    pub metadata: Option<Map<String, Value>>,
    pub merge_mode: MergeMode,
}

/// What a `/api/batch_operations/:id/...` route lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    Contacts,
    Participations,
    PhoneCalls,
    PreviewContacts,
    PreviewParticipations,
    PreviewPhoneCalls,
}

impl ResultKind {
    /// The batch operation types a route accepts (others give 404, SCFM §1.2 type gating).
    pub fn types(self) -> &'static [&'static str] {
        const POP_CREATE: &[&str] = &[
            "BatchOperation::CalloutPopulation",
            "BatchOperation::PhoneCallCreate",
        ];
        const CALLS: &[&str] = &[
            "BatchOperation::PhoneCallCreate",
            "BatchOperation::PhoneCallQueue",
            "BatchOperation::PhoneCallQueueRemoteFetch",
        ];
        const QUEUES: &[&str] = &[
            "BatchOperation::PhoneCallQueue",
            "BatchOperation::PhoneCallQueueRemoteFetch",
        ];
        const CREATE: &[&str] = &["BatchOperation::PhoneCallCreate"];
        match self {
            ResultKind::Contacts | ResultKind::Participations | ResultKind::PreviewContacts => {
                POP_CREATE
            }
            ResultKind::PhoneCalls => CALLS,
            ResultKind::PreviewParticipations => CREATE,
            ResultKind::PreviewPhoneCalls => QUEUES,
        }
    }
}

fn kind_of(op: &BatchOperation) -> Result<BatchType> {
    BatchType::parse(&op.kind)
        .ok_or_else(|| Error::Internal(format!("unknown batch operation type {}", op.kind)))
}

impl Service {
    pub async fn create_batch_operation(
        &self,
        input: BatchOperationInput,
        nested: bool,
    ) -> Result<BatchOperation> {
        let mut tx = self.store().write().await?;
        if let Some(id) = input.callout_id {
            lock_row(&mut tx, Table::Callouts, id).await?;
        }
        if let (true, Some(id)) = (nested, input.callout_id) {
            if !store::callouts::exists(&mut tx, id).await? {
                return Err(Error::NotFound);
            }
        }
        let mut errors = ValidationErrors::new();
        let kind = input.kind.as_deref().and_then(BatchType::parse);
        if kind.is_none() {
            errors.add("type", validation::BLANK);
        }
        let parameters = input.parameters.unwrap_or_default();
        if let Some(kind) = kind {
            self.validate_batch(&mut tx, kind, input.callout_id, &parameters, &mut errors)
                .await?;
        }
        errors.into_result()?;
        let Some(kind) = kind else {
            return Err(Error::Internal("type missing".into()));
        };
        let meta = metadata::apply(
            &Map::new(),
            input.metadata.unwrap_or_default(),
            input.merge_mode,
        );
        let op = store::batch_operations::insert(
            &mut tx,
            kind.as_str(),
            input.callout_id,
            &json_text(&parameters),
            &json_text(&meta),
            &self.now(),
        )
        .await
        .map_err(|e| match e {
            StoreError::ForeignKey => Error::invalid("callout", validation::MUST_EXIST),
            other => other.into(),
        })?;
        self.record(
            &mut tx,
            "batch_operation.create",
            format!("batch_operation:{}", op.id),
            op.callout_id,
            json!({"type": op.kind, "parameters": op.parameters}),
        )
        .await?;
        if let Some(callout) = op.callout_id {
            self.withdraw_approval(&mut tx, callout, "a batch operation was added")
                .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::BatchOperationChanged(op.id));
        Ok(op)
    }

    /// Per-type validations (SCFM §10.3), run on create and on every update.
    async fn validate_batch(
        &self,
        conn: &mut impl store::Handle,
        kind: BatchType,
        callout_id: Option<i64>,
        parameters: &Map<String, Value>,
        errors: &mut ValidationErrors,
    ) -> Result<()> {
        let p = Params(parameters);
        p.validate_shape(errors);
        match kind {
            BatchType::CalloutPopulation => {
                let exists = match callout_id {
                    Some(id) => store::callouts::exists(conn, id).await?,
                    None => false,
                };
                if !exists {
                    errors.add("callout", validation::MUST_EXIST);
                }
            }
            BatchType::PhoneCallCreate
            | BatchType::PhoneCallQueue
            | BatchType::PhoneCallQueueRemoteFetch => {
                self.validate_phone_call_batch(conn, kind, parameters, errors)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn update_batch_operation(
        &self,
        id: i64,
        types: &[&str],
        input: BatchOperationInput,
    ) -> Result<()> {
        let mut tx = self.store().write().await?;
        lock_row(&mut tx, Table::BatchOperations, id).await?;
        let current = store::batch_operations::get(&mut tx, id, types)
            .await?
            .ok_or(Error::NotFound)?;
        let kind = kind_of(&current)?;
        // `parameters` is replaced wholesale (SCFM §2.3).
        let parameters = match input.parameters {
            Some(p) => p,
            None => as_map(&current.parameters),
        };
        let mut errors = ValidationErrors::new();
        self.validate_batch(&mut tx, kind, current.callout_id, &parameters, &mut errors)
            .await?;
        errors.into_result()?;
        let meta = match input.metadata {
            Some(new) => metadata::apply(&as_map(&current.metadata), new, input.merge_mode),
            None => as_map(&current.metadata),
        };
        store::batch_operations::update(
            &mut tx,
            id,
            &json_text(&parameters),
            &json_text(&meta),
            &self.now(),
        )
        .await?;
        self.record(
            &mut tx,
            "batch_operation.update",
            format!("batch_operation:{id}"),
            current.callout_id,
            json!({"parameters": parameters}),
        )
        .await?;
        if let Some(callout) = current.callout_id {
            self.withdraw_approval(&mut tx, callout, "a batch operation was changed")
                .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::BatchOperationChanged(id));
        Ok(())
    }

    pub async fn batch_operation(&self, id: i64, types: &[&str]) -> Result<BatchOperation> {
        let mut conn = self.store().read().await?;
        store::batch_operations::get(&mut conn, id, types)
            .await?
            .ok_or(Error::NotFound)
    }

    pub async fn batch_operations(
        &self,
        callout_id: Option<i64>,
        types: &[&str],
        filter: &Filter,
        page: Page,
    ) -> Result<Paged<BatchOperation>> {
        check_filter_size(filter)?;
        let mut conn = self.store().read().await?;
        Ok(store::batch_operations::list(&mut conn, callout_id, types, filter, page).await?)
    }

    /// Batch ops may be deleted in any status [orig]; a running job then finds its claim gone and
    /// stops quietly. Deletion is refused while records it created exist.
    pub async fn delete_batch_operation(&self, id: i64, types: &[&str]) -> Result<()> {
        let mut tx = self.store().write().await?;
        // `FOR UPDATE` waits for a run inserting results of this operation: then they are seen.
        lock_row_to_delete(&mut tx, Table::BatchOperations, id).await?;
        let op = store::batch_operations::get(&mut tx, id, types)
            .await?
            .ok_or(Error::NotFound)?;
        if store::batch_operations::has_results(&mut tx, id).await? {
            let children = match kind_of(&op)? {
                BatchType::CalloutPopulation => "callout participations",
                _ => "phone calls",
            };
            return Err(restricted(children));
        }
        store::batch_operations::delete(&mut tx, id).await?;
        self.record(
            &mut tx,
            "batch_operation.delete",
            format!("batch_operation:{id}"),
            op.callout_id,
            json!({}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::BatchOperationChanged(id));
        Ok(())
    }

    /// `queue` (preview -> queued) or `requeue` (finished -> queued); wakes the batch worker.
    pub async fn fire_batch_operation_event(
        &self,
        id: i64,
        event: Option<&str>,
    ) -> Result<BatchOperation> {
        let mut tx = self.store().write().await?;
        let current = store::batch_operations::get(&mut tx, id, &[])
            .await?
            .ok_or(Error::NotFound)?;
        let not_allowed = || Error::invalid("event", validation::NOT_IN_LIST);
        let (from, to) = event
            .and_then(status::batch_operation_transition)
            .ok_or_else(not_allowed)?;
        if !from.contains(&current.status.as_str()) {
            return Err(not_allowed());
        }
        let updated = store::batch_operations::transition(&mut tx, id, from, to, &self.now())
            .await?
            .ok_or_else(not_allowed)?;
        self.record(
            &mut tx,
            &format!("batch_operation.{}", event.unwrap_or_default()),
            format!("batch_operation:{id}"),
            current.callout_id,
            json!({"from": current.status, "to": updated.status}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::BatchOperationChanged(id));
        self.wake().batch_operations.notify_one();
        Ok(updated)
    }

    /// `/preview/contacts` (CalloutPopulation, PhoneCallCreate), with `q` applied on top.
    pub async fn preview_contacts(
        &self,
        id: i64,
        q: &Filter,
        page: Page,
    ) -> Result<Paged<Contact>> {
        check_filter_size(q)?;
        let mut conn = self.store().read().await?;
        let op = store::batch_operations::get(&mut conn, id, ResultKind::PreviewContacts.types())
            .await?
            .ok_or(Error::NotFound)?;
        let params = as_map(&op.parameters);
        let p = Params(&params);
        match kind_of(&op)? {
            BatchType::CalloutPopulation => {
                let f = p.contact_filter();
                check_filter_size(&f)?;
                Ok(
                    store::contacts::list(
                        &mut conn,
                        store::contacts::Scope::All,
                        &f,
                        Some(q),
                        page,
                    )
                    .await?,
                )
            }
            _ => {
                let (callout, participation) = (p.callout_filter(), p.participation_filter());
                let limit = self
                    .effective_limit(&mut conn, BatchType::PhoneCallCreate, &params)
                    .await?;
                let scope = store::contacts::Scope::ParticipationPreview {
                    callout: &callout,
                    participation: &participation,
                    limit,
                };
                Ok(store::contacts::list(&mut conn, scope, q, None, page).await?)
            }
        }
    }

    /// `/preview/callout_participations` (PhoneCallCreate; `q` ignored, the limit applied).
    pub async fn preview_participations(
        &self,
        id: i64,
        page: Page,
    ) -> Result<Paged<Participation>> {
        let mut conn = self.store().read().await?;
        let op =
            store::batch_operations::get(&mut conn, id, ResultKind::PreviewParticipations.types())
                .await?
                .ok_or(Error::NotFound)?;
        let params = as_map(&op.parameters);
        let p = Params(&params);
        let callout = p.callout_filter();
        let limit = self
            .effective_limit(&mut conn, BatchType::PhoneCallCreate, &params)
            .await?;
        let scope = store::participations::Scope::Preview {
            callout: &callout,
            limit,
        };
        Ok(store::participations::list(&mut conn, scope, &p.participation_filter(), page).await?)
    }

    /// Result routes: contacts or participations a CalloutPopulation or PhoneCallCreate made.
    pub async fn batch_result_contacts(
        &self,
        id: i64,
        q: &Filter,
        page: Page,
    ) -> Result<Paged<Contact>> {
        check_filter_size(q)?;
        let mut conn = self.store().read().await?;
        let op = store::batch_operations::get(&mut conn, id, ResultKind::Contacts.types())
            .await?
            .ok_or(Error::NotFound)?;
        let scope = match kind_of(&op)? {
            BatchType::CalloutPopulation => store::contacts::Scope::Population(id),
            _ => store::contacts::Scope::CreatedCalls(id),
        };
        Ok(store::contacts::list(&mut conn, scope, q, None, page).await?)
    }

    pub async fn batch_result_participations(
        &self,
        id: i64,
        q: &Filter,
        page: Page,
    ) -> Result<Paged<Participation>> {
        check_filter_size(q)?;
        let mut conn = self.store().read().await?;
        let op = store::batch_operations::get(&mut conn, id, ResultKind::Participations.types())
            .await?
            .ok_or(Error::NotFound)?;
        let scope = match kind_of(&op)? {
            BatchType::CalloutPopulation => store::participations::Scope::Population(id),
            _ => store::participations::Scope::CreatedCalls(id),
        };
        Ok(store::participations::list(&mut conn, scope, q, page).await?)
    }

    /// Claims and runs the next queued batch operation, if any. Returns whether one ran.
    /// Called by the batch worker; safe to call from several processes at once.
    pub async fn run_next_batch_operation(&self) -> Result<bool> {
        let now = self.clock().now();
        let stale = crate::domain::time::format_ts(now - chrono::Duration::minutes(10));
        let claimed_at = crate::domain::time::format_ts(now);
        let op = {
            let mut conn = self.store().read().await?;
            store::batch_operations::claim_next(&mut conn, &claimed_at, &stale).await?
        };
        let Some(op) = op else { return Ok(false) };
        self.publish(ServiceEvent::BatchOperationChanged(op.id));
        tracing::info!(batch_operation_id = op.id, kind = %op.kind, "running batch operation");
        let params = as_map(&op.parameters);
        let mut tx = self.store().write().await?;
        // Hold the operation for the whole run: an update or delete of it waits for the run
        // (and a delete then sees its results). One deleted or requeued since the claim stops
        // here, before any work.
        let still_ours = lock_row(&mut tx, Table::BatchOperations, op.id).await?
            && store::batch_operations::get(&mut tx, op.id, &[])
                .await?
                .is_some_and(|now| now.status == "running");
        if !still_ours {
            tx.rollback().await.map_err(StoreError::from)?;
            tracing::warn!(
                batch_operation_id = op.id,
                "batch operation changed before its run; run skipped"
            );
            self.publish(ServiceEvent::BatchOperationChanged(op.id));
            return Ok(true);
        }
        let affected = match kind_of(&op)? {
            BatchType::CalloutPopulation => {
                let filter = Params(&params).contact_filter();
                match op.callout_id {
                    Some(callout_id) => {
                        let n = store::participations::populate(
                            &mut tx,
                            callout_id,
                            op.id,
                            &filter,
                            &self.now(),
                        )
                        .await?;
                        self.publish(ServiceEvent::ParticipationsChanged { callout_id });
                        n
                    }
                    None => 0,
                }
            }
            kind => {
                self.run_phone_call_batch(&mut tx, kind, &op, &params)
                    .await?
            }
        };
        let finished =
            store::batch_operations::finish(&mut tx, op.id, &claimed_at, &self.now()).await?;
        if finished {
            tx.commit().await.map_err(StoreError::from)?;
            tracing::info!(
                batch_operation_id = op.id,
                affected,
                "batch operation finished"
            );
        } else {
            // Deleted or requeued while running: drop the work, as if it never ran.
            tx.rollback().await.map_err(StoreError::from)?;
            tracing::warn!(
                batch_operation_id = op.id,
                "batch operation changed while running; run discarded"
            );
        }
        self.publish(ServiceEvent::BatchOperationChanged(op.id));
        self.after_phone_call_batch();
        Ok(true)
    }
}
