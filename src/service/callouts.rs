//! Callouts: CRUD and the start/pause/resume/stop events.

use super::contacts::{check_filter_size, restricted};
use super::{Error, Result, Service, ServiceEvent, as_map, check_call_flow_logic, json_text};
use crate::domain::filter::Filter;
use crate::domain::metadata::{self, MergeMode};
use crate::domain::validation::{self, ValidationErrors};
use crate::domain::{Callout, Page, Paged};
use crate::domain::{approval, status};
use crate::store::callouts::{NewCallout, Scope};
use crate::store::locks::{Table, lock_row, lock_row_to_delete};
use crate::store::{self, StoreError};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Default)]
pub struct CalloutInput {
    /// `None` = not given; `Some(None)` = set to null.
    pub call_flow_logic: Option<Option<String>>,
    pub metadata: Option<Map<String, Value>>,
    pub merge_mode: MergeMode,
    /// Campaign runner settings: `None` = not given, `Some(None)` = remove (manual callout).
    pub dialing: Option<Option<Map<String, Value>>>,
    /// Two-person start (`None` = not given: false for a new callout, unchanged on update).
    pub requires_approval: Option<bool>,
}

/// Validates dialing settings and returns their stored text.
fn dialing_text(
    registry: &crate::call_flow::Registry,
    v: Option<&Map<String, Value>>,
    errors: &mut ValidationErrors,
) -> Option<String> {
    let m = v?;
    let s = crate::domain::dialing::DialingSettings::parse(m, errors)?;
    if let Some(name) = &s.call_flow_logic {
        if !registry.is_registered(name) {
            errors.add("dialing", "call_flow_logic is not included in the list");
        }
    }
    serde_json::to_string(&s).ok()
}

impl Service {
    pub async fn create_callout(&self, input: CalloutInput) -> Result<Callout> {
        let cfl = input.call_flow_logic.flatten();
        let mut errors = ValidationErrors::new();
        check_call_flow_logic(self.registry(), cfl.as_deref(), &mut errors);
        let dialing = dialing_text(
            self.registry(),
            input.dialing.flatten().as_ref(),
            &mut errors,
        );
        errors.into_result()?;
        let meta = metadata::apply(
            &Map::new(),
            input.metadata.unwrap_or_default(),
            input.merge_mode,
        );
        let mut tx = self.store().write().await?;
        let callout = store::callouts::insert(
            &mut tx,
            NewCallout {
                call_flow_logic: cfl.as_deref(),
                dialing: dialing.as_deref(),
                metadata: &json_text(&meta),
                created_by: self.actor().operator(),
                requires_approval: input.requires_approval.unwrap_or(false),
            },
            &self.now(),
        )
        .await?;
        self.record(
            &mut tx,
            "callout.create",
            format!("callout:{}", callout.id),
            Some(callout.id),
            json!({"call_flow_logic": callout.call_flow_logic, "metadata": callout.metadata,
                   "dialing": callout.dialing, "requires_approval": callout.requires_approval}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::CalloutChanged(callout.id));
        Ok(callout)
    }

    pub async fn update_callout(&self, id: i64, input: CalloutInput) -> Result<()> {
        let mut tx = self.store().write().await?;
        lock_row(&mut tx, Table::Callouts, id).await?;
        let current = store::callouts::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        let cfl = match input.call_flow_logic {
            Some(v) => v,
            None => current.call_flow_logic.clone(),
        };
        let mut errors = ValidationErrors::new();
        check_call_flow_logic(self.registry(), cfl.as_deref(), &mut errors);
        let dialing = match input.dialing {
            Some(new) => dialing_text(self.registry(), new.as_ref(), &mut errors),
            None => current.dialing.as_ref().map(|v| v.to_string()),
        };
        errors.into_result()?;
        let meta = match input.metadata {
            Some(new) => metadata::apply(&as_map(&current.metadata), new, input.merge_mode),
            None => as_map(&current.metadata),
        };
        let requires_approval = input.requires_approval.unwrap_or(current.requires_approval);
        store::callouts::update(
            &mut tx,
            id,
            cfl.as_deref(),
            dialing.as_deref(),
            &json_text(&meta),
            requires_approval,
            &self.now(),
        )
        .await?;
        self.record(
            &mut tx,
            "callout.update",
            format!("callout:{id}"),
            Some(id),
            json!({"call_flow_logic": cfl, "metadata": meta, "requires_approval": requires_approval,
                   "approval_cleared": current.approved_by}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::CalloutChanged(id));
        Ok(())
    }

    pub async fn callout(&self, id: i64) -> Result<Callout> {
        let mut conn = self.store().read().await?;
        store::callouts::get(&mut conn, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// `/api/callouts` and `/api/contacts/:id/callouts`.
    pub async fn callouts(
        &self,
        contact_id: Option<i64>,
        filter: &Filter,
        page: Page,
    ) -> Result<Paged<Callout>> {
        check_filter_size(filter)?;
        let mut conn = self.store().read().await?;
        let scope = match contact_id {
            Some(id) => {
                store::contacts::get(&mut conn, id)
                    .await?
                    .ok_or(Error::NotFound)?;
                Scope::Contact(id)
            }
            None => Scope::All,
        };
        Ok(store::callouts::list(&mut conn, scope, filter, page).await?)
    }

    pub async fn delete_callout(&self, id: i64) -> Result<()> {
        let mut tx = self.store().write().await?;
        lock_row_to_delete(&mut tx, Table::Callouts, id).await?;
        store::callouts::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        let (participations, batch_ops) = store::callouts::dependants(&mut tx, id).await?;
        if participations {
            return Err(restricted("callout participations"));
        }
        if batch_ops {
            return Err(restricted("batch operations"));
        }
        store::callouts::delete(&mut tx, id).await?;
        self.record(
            &mut tx,
            "callout.delete",
            format!("callout:{id}"),
            Some(id),
            json!({}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::CalloutChanged(id));
        Ok(())
    }

    /// Fires `start`, `pause`, `resume`, `stop` or `approve`. The transition is one conditional
    /// UPDATE, so concurrent events cannot both apply. A refused start or approval is journaled
    /// too (who tried, and why it was refused).
    pub async fn fire_callout_event(&self, id: i64, event: Option<&str>) -> Result<Callout> {
        if event == Some("approve") {
            return self.approve_callout(id).await;
        }
        let mut tx = self.store().write().await?;
        lock_row(&mut tx, Table::Callouts, id).await?;
        let current = store::callouts::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        let not_allowed = || Error::invalid("event", validation::NOT_IN_LIST);
        let (from, to) = event
            .and_then(status::callout_transition)
            .ok_or_else(not_allowed)?;
        if !from.contains(&current.status.as_str()) {
            return Err(not_allowed());
        }
        let event = event.unwrap_or_default();
        let updated = if event == "start" {
            if let Err(refusal) = approval::can_start(&current, self.actor()) {
                return self.refuse(tx, id, "callout.start", refusal).await;
            }
            store::callouts::start(&mut tx, id, from, self.actor().operator(), &self.now()).await?
        } else {
            store::callouts::transition(&mut tx, id, from, to, &self.now()).await?
        };
        let updated = updated.ok_or_else(not_allowed)?;
        self.record(
            &mut tx,
            &format!("callout.{event}"),
            format!("callout:{id}"),
            Some(id),
            json!({"from": current.status, "to": updated.status}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::CalloutChanged(id));
        Ok(updated)
    }

    /// The second operator's approval of a callout that requires one.
    async fn approve_callout(&self, id: i64) -> Result<Callout> {
        let mut tx = self.store().write().await?;
        lock_row(&mut tx, Table::Callouts, id).await?;
        let current = store::callouts::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        let by = match (
            approval::can_approve(&current, self.actor()),
            self.actor().operator(),
        ) {
            (Ok(()), Some(by)) => by.to_string(),
            (Err(refusal), _) => return self.refuse(tx, id, "callout.approve", refusal).await,
            (Ok(()), None) => {
                return self
                    .refuse(tx, id, "callout.approve", approval::Refusal::NotNamed)
                    .await;
            }
        };
        let approved = store::callouts::approve(&mut tx, id, &by, &self.now())
            .await?
            .ok_or_else(|| Error::invalid("event", approval::Refusal::AlreadyApproved.message()))?;
        self.record(
            &mut tx,
            "callout.approve",
            format!("callout:{id}"),
            Some(id),
            json!({"created_by": current.created_by, "metadata": current.metadata,
                   "call_flow_logic": current.call_flow_logic}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::CalloutChanged(id));
        Ok(approved)
    }

    /// A change to what an approved callout will do (its populations) withdraws the approval:
    /// the second operator approved what they saw. Journaled when there was one.
    pub(crate) async fn withdraw_approval(
        &self,
        tx: &mut impl store::Handle,
        id: i64,
        why: &str,
    ) -> Result<()> {
        if let Some(was) = store::callouts::clear_approval(tx, id, &self.now()).await? {
            self.record(
                tx,
                "callout.approval_withdrawn",
                format!("callout:{id}"),
                Some(id),
                json!({"approved_by": was, "why": why}),
            )
            .await?;
        }
        Ok(())
    }

    /// Journals a refused start or approval (in its own transaction: nothing else changed) and
    /// returns the 422 saying why.
    async fn refuse(
        &self,
        mut tx: store::Tx<'static>,
        id: i64,
        action: &str,
        refusal: approval::Refusal,
    ) -> Result<Callout> {
        self.record(
            &mut tx,
            &format!("{action}.refused"),
            format!("callout:{id}"),
            Some(id),
            json!({"why": refusal.message()}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Err(Error::invalid("event", refusal.message()))
    }
}
