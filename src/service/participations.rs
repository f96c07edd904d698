//! Callout participations: create on a callout, update, show, index, delete.

use super::contacts::{check_filter_size, check_msisdn, restricted};
use super::{Error, Result, Service, ServiceEvent, as_map, check_call_flow_logic, json_text};
use crate::domain::filter::Filter;
use crate::domain::metadata::{self, MergeMode};
use crate::domain::validation::{self, ValidationErrors};
use crate::domain::{Page, Paged, Participation};
use crate::store::locks::{Table, lock_participation_inserts, lock_row, lock_row_to_delete};
use crate::store::{self, StoreError, participations::Scope};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default)]
pub struct ParticipationInput {
    /// Create only.
    pub contact_id: Option<i64>,
    pub msisdn: Option<String>,
    pub call_flow_logic: Option<Option<String>>,
    pub metadata: Option<Map<String, Value>>,
    pub merge_mode: MergeMode,
}

/// Which participations an index lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipationParent {
    All,
    Callout(i64),
    Contact(i64),
}

fn unique_error(e: StoreError) -> Error {
    match e {
        StoreError::Unique(cols) if cols.contains("contact_id") => {
            Error::invalid("contact_id", validation::TAKEN)
        }
        StoreError::Unique(_) => Error::invalid("msisdn", validation::TAKEN),
        StoreError::ForeignKey => Error::invalid("contact", validation::MUST_EXIST),
        other => other.into(),
    }
}

impl Service {
    pub async fn create_participation(
        &self,
        callout_id: i64,
        input: ParticipationInput,
    ) -> Result<Participation> {
        let mut tx = self.store().write().await?;
        // Callout before contact (`store::locks`): the taken checks and the insert are one step,
        // and a concurrent delete of either waits for it (or it sees the row gone).
        lock_row(&mut tx, Table::Callouts, callout_id).await?;
        if let Some(id) = input.contact_id {
            lock_row(&mut tx, Table::Contacts, id).await?;
        }
        store::callouts::get(&mut tx, callout_id)
            .await?
            .ok_or(Error::NotFound)?;
        // After the row locks: a population of this callout running now ends before the taken
        // checks below (and sees this row if it starts after), as it inserts without ON CONFLICT
        // into a callout it found empty.
        lock_participation_inserts(&mut tx, callout_id).await?;
        let contact = match input.contact_id {
            Some(id) => store::contacts::get(&mut tx, id).await?,
            None => None,
        };
        let mut errors = ValidationErrors::new();
        let raw_msisdn = input
            .msisdn
            .clone()
            .or_else(|| contact.as_ref().map(|c| c.msisdn.clone()));
        let msisdn = check_msisdn(raw_msisdn.as_deref(), "msisdn", &mut errors);
        if contact.is_none() {
            errors.add("contact", validation::MUST_EXIST);
        }
        let cfl = input.call_flow_logic.flatten();
        check_call_flow_logic(self.registry(), cfl.as_deref(), &mut errors);
        if let Some(c) = &contact {
            let (contact_taken, msisdn_taken) = store::participations::taken(
                &mut tx,
                callout_id,
                Some(c.id),
                msisdn.as_ref().map(|m| m.as_str()),
                None,
            )
            .await?;
            if msisdn_taken {
                errors.add("msisdn", validation::TAKEN);
            }
            if contact_taken {
                errors.add("contact_id", validation::TAKEN);
            }
        }
        errors.into_result()?;
        let (Some(contact), Some(msisdn)) = (contact, msisdn) else {
            return Err(Error::Internal(
                "validated participation lacks contact".into(),
            ));
        };
        let meta = metadata::apply(
            &Map::new(),
            input.metadata.unwrap_or_default(),
            input.merge_mode,
        );
        let new = store::participations::NewParticipation {
            callout_id,
            contact_id: contact.id,
            callout_population_id: None,
            msisdn: msisdn.as_str(),
            call_flow_logic: cfl.as_deref(),
            metadata: &json_text(&meta),
        };
        let id = store::participations::insert(&mut tx, &new, &self.now())
            .await
            .map_err(unique_error)?;
        let created = store::participations::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::ParticipationsChanged { callout_id });
        Ok(created)
    }

    pub async fn update_participation(&self, id: i64, input: ParticipationInput) -> Result<()> {
        let mut tx = self.store().write().await?;
        lock_row(&mut tx, Table::Participations, id).await?;
        let current = store::participations::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        let mut errors = ValidationErrors::new();
        let raw = input
            .msisdn
            .clone()
            .unwrap_or_else(|| current.msisdn.clone());
        let msisdn = check_msisdn(Some(&raw), "msisdn", &mut errors);
        let cfl = match input.call_flow_logic {
            Some(v) => v,
            None => current.own_call_flow_logic.clone(),
        };
        check_call_flow_logic(self.registry(), cfl.as_deref(), &mut errors);
        if let Some(m) = &msisdn {
            let (_, taken) = store::participations::taken(
                &mut tx,
                current.callout_id,
                None,
                Some(m.as_str()),
                Some(id),
            )
            .await?;
            if taken {
                errors.add("msisdn", validation::TAKEN);
            }
        }
        errors.into_result()?;
        let Some(msisdn) = msisdn else {
            return Err(Error::Internal("msisdn missing".into()));
        };
        let meta = match input.metadata {
            Some(new) => metadata::apply(&as_map(&current.metadata), new, input.merge_mode),
            None => as_map(&current.metadata),
        };
        store::participations::update(
            &mut tx,
            id,
            msisdn.as_str(),
            cfl.as_deref(),
            &json_text(&meta),
            &self.now(),
        )
        .await
        .map_err(unique_error)?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::ParticipationsChanged {
            callout_id: current.callout_id,
        });
        Ok(())
    }

    pub async fn participation(&self, id: i64) -> Result<Participation> {
        let mut conn = self.store().read().await?;
        store::participations::get(&mut conn, id)
            .await?
            .ok_or(Error::NotFound)
    }

    pub async fn participations(
        &self,
        parent: ParticipationParent,
        filter: &Filter,
        page: Page,
    ) -> Result<Paged<Participation>> {
        check_filter_size(filter)?;
        let mut conn = self.store().read().await?;
        let scope = match parent {
            ParticipationParent::All => Scope::All,
            ParticipationParent::Callout(id) => {
                if !store::callouts::exists(&mut conn, id).await? {
                    return Err(Error::NotFound);
                }
                Scope::Callout(id)
            }
            ParticipationParent::Contact(id) => {
                store::contacts::get(&mut conn, id)
                    .await?
                    .ok_or(Error::NotFound)?;
                Scope::Contact(id)
            }
        };
        Ok(store::participations::list(&mut conn, scope, filter, page).await?)
    }

    pub async fn delete_participation(&self, id: i64) -> Result<()> {
        let mut tx = self.store().write().await?;
        lock_row_to_delete(&mut tx, Table::Participations, id).await?;
        let current = store::participations::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        if store::participations::has_phone_calls(&mut tx, id).await? {
            return Err(restricted("phone calls"));
        }
        store::participations::delete(&mut tx, id).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::ParticipationsChanged {
            callout_id: current.callout_id,
        });
        Ok(())
    }
}
