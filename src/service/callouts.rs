//! Callouts: CRUD and the start/pause/resume/stop events.

use super::contacts::{check_filter_size, restricted};
use super::{Error, Result, Service, ServiceEvent, as_map, check_call_flow_logic, json_text};
use crate::domain::filter::Filter;
use crate::domain::metadata::{self, MergeMode};
use crate::domain::status;
use crate::domain::validation::{self, ValidationErrors};
use crate::domain::{Callout, Page, Paged};
use crate::store::locks::{Table, lock_row, lock_row_to_delete};
use crate::store::{self, StoreError, callouts::Scope};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default)]
pub struct CalloutInput {
    /// `None` = not given; `Some(None)` = set to null.
    pub call_flow_logic: Option<Option<String>>,
    pub metadata: Option<Map<String, Value>>,
    pub merge_mode: MergeMode,
    /// Campaign runner settings: `None` = not given, `Some(None)` = remove (manual callout).
    pub dialing: Option<Option<Map<String, Value>>>,
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
        let mut conn = self.store().read().await?;
        let callout = store::callouts::insert(
            &mut conn,
            cfl.as_deref(),
            dialing.as_deref(),
            &json_text(&meta),
            &self.now(),
        )
        .await?;
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
        store::callouts::update(
            &mut tx,
            id,
            cfl.as_deref(),
            dialing.as_deref(),
            &json_text(&meta),
            &self.now(),
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
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::CalloutChanged(id));
        Ok(())
    }

    /// Fires `start`, `pause`, `resume` or `stop`. The transition is one conditional UPDATE, so
    /// concurrent events cannot both apply.
    pub async fn fire_callout_event(&self, id: i64, event: Option<&str>) -> Result<Callout> {
        let mut conn = self.store().read().await?;
        let current = store::callouts::get(&mut conn, id)
            .await?
            .ok_or(Error::NotFound)?;
        let not_allowed = || Error::invalid("event", validation::NOT_IN_LIST);
        let (from, to) = event
            .and_then(status::callout_transition)
            .ok_or_else(not_allowed)?;
        if !from.contains(&current.status.as_str()) {
            return Err(not_allowed());
        }
        let updated = store::callouts::transition(&mut conn, id, from, to, &self.now())
            .await?
            .ok_or_else(not_allowed)?;
        self.publish(ServiceEvent::CalloutChanged(id));
        Ok(updated)
    }
}
