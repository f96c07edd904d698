//! Contacts: create, update (with merge modes), show, index, delete (restricted).

use super::{Error, Result, Service, ServiceEvent, as_map, json_text};
use crate::domain::metadata::{self, MergeMode};
use crate::domain::validation::{self, ValidationErrors};
use crate::domain::{Contact, Page, Paged};
use crate::domain::{Msisdn, MsisdnError, filter::Filter};
use crate::store::locks::{Table, lock_row, lock_row_to_delete};
use crate::store::{self, StoreError, contacts::Scope};
use serde_json::{Map, Value, json};

/// Permitted contact attributes (SCFM §2.3). `None` = not given.
#[derive(Debug, Clone, Default)]
pub struct ContactInput {
    pub msisdn: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub merge_mode: MergeMode,
}

/// Normalises an msisdn, recording `can't be blank` / `is an invalid number` on `attr`.
pub(crate) fn check_msisdn(
    raw: Option<&str>,
    attr: &str,
    errors: &mut ValidationErrors,
) -> Option<Msisdn> {
    match raw.map(Msisdn::parse) {
        None => {
            errors.add(attr, validation::BLANK);
            None
        }
        Some(Ok(m)) => Some(m),
        Some(Err(MsisdnError::Blank)) => {
            errors.add(attr, validation::BLANK);
            None
        }
        Some(Err(MsisdnError::Invalid)) => {
            errors.add(attr, validation::INVALID_NUMBER);
            None
        }
    }
}

fn taken(e: StoreError) -> Error {
    match e {
        StoreError::Unique(_) => Error::invalid("msisdn", validation::TAKEN),
        other => other.into(),
    }
}

impl Service {
    pub async fn create_contact(&self, input: ContactInput) -> Result<Contact> {
        let mut errors = ValidationErrors::new();
        let msisdn = check_msisdn(input.msisdn.as_deref(), "msisdn", &mut errors);
        errors.into_result()?;
        let Some(msisdn) = msisdn else {
            return Err(Error::Internal("msisdn missing".into()));
        };
        let meta = metadata::apply(
            &Map::new(),
            input.metadata.unwrap_or_default(),
            input.merge_mode,
        );
        let now = self.now();
        let mut tx = self.store().write().await?;
        let contact = store::contacts::insert(&mut tx, msisdn.as_str(), &json_text(&meta), &now)
            .await
            .map_err(taken)?;
        self.record(
            &mut tx,
            "contact.create",
            format!("contact:{}", contact.id),
            None,
            json!({"msisdn": contact.msisdn, "metadata": contact.metadata}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::ContactsChanged);
        Ok(contact)
    }

    pub async fn update_contact(&self, id: i64, input: ContactInput) -> Result<()> {
        let mut tx = self.store().write().await?;
        lock_row(&mut tx, Table::Contacts, id).await?;
        let current = store::contacts::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        let mut errors = ValidationErrors::new();
        let raw = input
            .msisdn
            .clone()
            .unwrap_or_else(|| current.msisdn.clone());
        let msisdn = check_msisdn(Some(&raw), "msisdn", &mut errors);
        errors.into_result()?;
        let Some(msisdn) = msisdn else {
            return Err(Error::Internal("msisdn missing".into()));
        };
        let meta = match input.metadata {
            Some(new) => metadata::apply(&as_map(&current.metadata), new, input.merge_mode),
            None => as_map(&current.metadata),
        };
        store::contacts::update(&mut tx, id, msisdn.as_str(), &json_text(&meta), &self.now())
            .await
            .map_err(taken)?;
        self.record(
            &mut tx,
            "contact.update",
            format!("contact:{id}"),
            None,
            json!({"msisdn": msisdn.as_str(), "metadata": meta}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::ContactsChanged);
        Ok(())
    }

    pub async fn contact(&self, id: i64) -> Result<Contact> {
        let mut conn = self.store().read().await?;
        store::contacts::get(&mut conn, id)
            .await?
            .ok_or(Error::NotFound)
    }

    pub async fn contact_by_msisdn(&self, raw: &str) -> Result<Option<Contact>> {
        let Ok(m) = Msisdn::parse(raw) else {
            return Ok(None);
        };
        let mut conn = self.store().read().await?;
        Ok(store::contacts::by_msisdn(&mut conn, m.as_str()).await?)
    }

    /// `/api/contacts` and `/api/callouts/:id/contacts`.
    pub async fn contacts(
        &self,
        callout_id: Option<i64>,
        filter: &Filter,
        page: Page,
    ) -> Result<Paged<Contact>> {
        check_filter_size(filter)?;
        let mut conn = self.store().read().await?;
        let scope = match callout_id {
            Some(id) => {
                if !store::callouts::exists(&mut conn, id).await? {
                    return Err(Error::NotFound);
                }
                Scope::Callout(id)
            }
            None => Scope::All,
        };
        Ok(store::contacts::list(&mut conn, scope, filter, None, page).await?)
    }

    /// Keyset page for the TUI's contacts pane.
    pub async fn contacts_page(
        &self,
        filter: &Filter,
        after_id: i64,
        backwards: bool,
        limit: i64,
    ) -> Result<Vec<Contact>> {
        check_filter_size(filter)?;
        let mut conn = self.store().read().await?;
        Ok(store::contacts::keyset(&mut conn, filter, after_id, backwards, limit).await?)
    }

    pub async fn count_contacts(&self, filter: &Filter) -> Result<i64> {
        check_filter_size(filter)?;
        let mut conn = self.store().read().await?;
        Ok(store::contacts::count(&mut conn, filter).await?)
    }

    pub async fn delete_contact(&self, id: i64) -> Result<()> {
        let mut tx = self.store().write().await?;
        lock_row_to_delete(&mut tx, Table::Contacts, id).await?;
        store::contacts::get(&mut tx, id)
            .await?
            .ok_or(Error::NotFound)?;
        let (participations, calls) = store::contacts::dependants(&mut tx, id).await?;
        if participations {
            return Err(restricted("callout participations"));
        }
        if calls {
            return Err(restricted("phone calls"));
        }
        store::contacts::delete(&mut tx, id).await?;
        self.record(
            &mut tx,
            "contact.delete",
            format!("contact:{id}"),
            None,
            json!({}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.publish(ServiceEvent::ContactsChanged);
        Ok(())
    }
}

/// `Cannot delete record because dependent <children> exist`.
pub(crate) fn restricted(children: &str) -> Error {
    Error::invalid(
        "base",
        &format!("Cannot delete record because dependent {children} exist"),
    )
}

/// Most conditions one filter may carry: keeps statements within SQLite's bound-parameter limit
/// (100,000 `q[...]` keys get a 400, not a slow scan or a database error).
pub const MAX_FILTER_CONDITIONS: usize = 500;

pub(crate) fn check_filter_size(filter: &Filter) -> Result<()> {
    if filter.conds.len() > MAX_FILTER_CONDITIONS {
        return Err(Error::BadRequest(format!(
            "too many filter conditions ({} > {MAX_FILTER_CONDITIONS})",
            filter.conds.len()
        )));
    }
    Ok(())
}
