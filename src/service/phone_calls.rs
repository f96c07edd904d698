//! Phone calls through the API: create on a participation, update/delete while `created`,
//! show, index, and the `queue` / `queue_remote_fetch` events.

use super::contacts::{check_filter_size, check_msisdn};
use super::phone_call_batches::check_remote_request_params;
use super::{Error, Result, Service, ServiceEvent, as_map, check_call_flow_logic, json_text};
use crate::domain::filter::Filter;
use crate::domain::metadata::{self, MergeMode};
use crate::domain::status;
use crate::domain::validation::{self, ValidationErrors};
use crate::domain::{Page, Paged, PhoneCall};
use crate::store::locks::{Table, lock_row, lock_row_to_delete};
use crate::store::{self, StoreError, phone_calls::Scope};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default)]
pub struct PhoneCallInput {
    pub msisdn: Option<String>,
    pub call_flow_logic: Option<Option<String>>,
    pub metadata: Option<Map<String, Value>>,
    pub merge_mode: MergeMode,
    /// Replaced wholesale on update.
    pub remote_request_params: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneCallParent {
    All,
    Participation(i64),
    Callout(i64),
    Contact(i64),
}

impl Service {
    pub async fn create_phone_call(
        &self,
        participation_id: i64,
        input: PhoneCallInput,
    ) -> Result<PhoneCall> {
        let mut tx = self.store().write().await?;
        // A concurrent delete of the participation waits for this call (or this sees it gone).
        lock_row(&mut tx, Table::Participations, participation_id).await?;
        let cp = store::participations::get(&mut tx, participation_id)
            .await?
            .ok_or(Error::NotFound)?;
        let mut errors = ValidationErrors::new();
        let raw = input.msisdn.clone().unwrap_or_else(|| cp.msisdn.clone());
        let msisdn = check_msisdn(Some(&raw), "msisdn", &mut errors);
        check_remote_request_params(input.remote_request_params.as_ref(), &mut errors);
        let cfl = input.call_flow_logic.flatten();
        check_call_flow_logic(self.registry(), cfl.as_deref(), &mut errors);
        errors.into_result()?;
        let Some(msisdn) = msisdn else {
            return Err(Error::Internal("msisdn missing".into()));
        };
        let meta = metadata::apply(
            &Map::new(),
            input.metadata.unwrap_or_default(),
            input.merge_mode,
        );
        let rrp = json_text(&input.remote_request_params.unwrap_or_default());
        let new = store::phone_calls::NewPhoneCall {
            callout_participation_id: Some(cp.id),
            contact_id: cp.contact_id,
            msisdn: msisdn.as_str(),
            status: "created",
            remote_call_id: None,
            remote_status: None,
            remote_direction: None,
            call_flow_logic: cfl.as_deref(),
            metadata: &json_text(&meta),
            remote_request_params: &rrp,
        };
        let id = store::phone_calls::insert(&mut tx, &new, &self.now()).await?;
        let call = store::phone_calls::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::PhoneCallChanged(id));
        Ok(call)
    }

    /// Updates a call that is still `created` ([fix] SCFM allowed edits in any state, so a queued
    /// call's parameters could change under the dialler).
    pub async fn update_phone_call(&self, id: i64, input: PhoneCallInput) -> Result<()> {
        let mut tx = self.store().write().await?;
        lock_row(&mut tx, Table::PhoneCalls, id).await?;
        let current = store::phone_calls::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        if current.status != "created" {
            return Err(Error::invalid(
                "base",
                &format!("Cannot update record because status is {}", current.status),
            ));
        }
        let mut errors = ValidationErrors::new();
        let raw = input
            .msisdn
            .clone()
            .unwrap_or_else(|| current.msisdn.clone());
        let msisdn = check_msisdn(Some(&raw), "msisdn", &mut errors);
        let rrp = match input.remote_request_params {
            Some(p) => p,
            None => as_map(&current.remote_request_params),
        };
        if current.callout_participation_id.is_some() {
            check_remote_request_params(Some(&rrp), &mut errors);
        }
        let cfl = match input.call_flow_logic {
            Some(v) => v,
            None => current.own_call_flow_logic.clone(),
        };
        check_call_flow_logic(self.registry(), cfl.as_deref(), &mut errors);
        errors.into_result()?;
        let Some(msisdn) = msisdn else {
            return Err(Error::Internal("msisdn missing".into()));
        };
        let meta = match input.metadata {
            Some(new) => metadata::apply(&as_map(&current.metadata), new, input.merge_mode),
            None => as_map(&current.metadata),
        };
        let moved = store::phone_calls::update_created(
            &mut tx,
            id,
            msisdn.as_str(),
            cfl.as_deref(),
            &json_text(&meta),
            &json_text(&rrp),
            &self.now(),
        )
        .await?;
        if !moved {
            return Err(Error::invalid(
                "base",
                "Cannot update record because status changed",
            ));
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::PhoneCallChanged(id));
        Ok(())
    }

    pub async fn phone_call(&self, id: i64) -> Result<PhoneCall> {
        let mut conn = self.store().read().await?;
        store::phone_calls::get(&mut conn, id)
            .await?
            .ok_or(Error::NotFound)
    }

    pub async fn phone_calls(
        &self,
        parent: PhoneCallParent,
        filter: &Filter,
        page: Page,
    ) -> Result<Paged<PhoneCall>> {
        check_filter_size(filter)?;
        let mut conn = self.store().read().await?;
        let scope = phone_call_scope(&mut conn, parent).await?;
        Ok(store::phone_calls::list(&mut conn, scope, filter, page).await?)
    }

    /// The newest `limit` calls matching the filter, newest first (no count, no OFFSET: the
    /// live pane asks for this on every change during a campaign).
    pub async fn latest_phone_calls(
        &self,
        parent: PhoneCallParent,
        filter: &Filter,
        limit: i64,
    ) -> Result<Vec<PhoneCall>> {
        check_filter_size(filter)?;
        let mut conn = self.store().read().await?;
        let scope = phone_call_scope(&mut conn, parent).await?;
        Ok(store::phone_calls::latest(&mut conn, scope, filter, limit).await?)
    }

    pub async fn delete_phone_call(&self, id: i64) -> Result<()> {
        let mut tx = self.store().write().await?;
        lock_row_to_delete(&mut tx, Table::PhoneCalls, id).await?;
        let call = store::phone_calls::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        if store::phone_calls::has_events(&mut tx, id).await? {
            return Err(super::contacts::restricted("remote phone call events"));
        }
        if call.status != "created" || !store::phone_calls::delete_created(&mut tx, id).await? {
            return Err(Error::invalid(
                "base",
                &format!("Cannot delete record because status is {}", call.status),
            ));
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::PhoneCallChanged(id));
        Ok(())
    }

    /// `queue` (created -> queued, wakes the dialler) or `queue_remote_fetch` (remotely_queued with
    /// a remote id -> remote_fetch_queued, wakes the poller). One conditional UPDATE each.
    pub async fn fire_phone_call_event(&self, id: i64, event: Option<&str>) -> Result<PhoneCall> {
        let mut conn = self.store().read().await?;
        let current = store::phone_calls::get(&mut conn, id)
            .await?
            .ok_or(Error::NotFound)?;
        let not_allowed = || Error::invalid("event", validation::NOT_IN_LIST);
        let (from, to) = event
            .and_then(status::phone_call_api_transition)
            .ok_or_else(not_allowed)?;
        if !from.contains(&current.status.as_str()) {
            return Err(not_allowed());
        }
        if to == "remote_fetch_queued" && current.remote_call_id.is_none() {
            return Err(not_allowed());
        }
        if !store::phone_calls::transition(&mut conn, id, from, to, &self.now()).await? {
            return Err(not_allowed());
        }
        let call = store::phone_calls::get(&mut conn, id)
            .await?
            .ok_or(Error::NotFound)?;
        self.publish(ServiceEvent::PhoneCallChanged(id));
        match to {
            "queued" => self.wake().dialer.notify_one(),
            _ => self.wake().poller.notify_one(),
        }
        Ok(call)
    }

    /// Counts of calls by status, optionally for one callout (TUI, progress).
    pub async fn phone_call_status_counts(
        &self,
        callout_id: Option<i64>,
    ) -> Result<Vec<(String, i64)>> {
        let mut conn = self.store().read().await?;
        Ok(store::phone_calls::status_counts(&mut conn, callout_id).await?)
    }
}

/// The calls a parent stands for; NotFound when the parent does not exist.
async fn phone_call_scope(
    conn: &mut impl store::Handle,
    parent: PhoneCallParent,
) -> Result<Scope<'static>> {
    Ok(match parent {
        PhoneCallParent::All => Scope::All,
        PhoneCallParent::Participation(id) => {
            store::participations::get(&mut *conn, id)
                .await?
                .ok_or(Error::NotFound)?;
            Scope::Participation(id)
        }
        PhoneCallParent::Callout(id) => {
            if !store::callouts::exists(&mut *conn, id).await? {
                return Err(Error::NotFound);
            }
            Scope::Callout(id)
        }
        PhoneCallParent::Contact(id) => {
            store::contacts::get(&mut *conn, id)
                .await?
                .ok_or(Error::NotFound)?;
            Scope::Contact(id)
        }
    })
}
