//! Named operators: added, listed and revoked from the command line (`scfm operators …`), and
//! found by their API token for each request. Each change goes into the journal.

use super::{Error, Result, Service};
use crate::domain::Operator;
use crate::domain::actor::{self, Actor};
use crate::domain::journal::sha256_hex;
use crate::store::{self, StoreError};
use rand::Rng;
use serde_json::json;

/// A new operator and its token, shown once.
#[derive(Debug, Clone)]
pub struct NewOperator {
    pub operator: Operator,
    pub token: String,
}

/// A fresh operator token: `scfm_op_` and 48 hex digits (192 random bits).
fn new_token() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    let mut t = String::from("scfm_op_");
    for b in bytes {
        t.push_str(&format!("{b:02x}"));
    }
    t
}

impl Service {
    pub async fn add_operator(&self, name: &str) -> Result<NewOperator> {
        if let Some(problem) = actor::name_problem(name) {
            return Err(Error::invalid("name", problem));
        }
        let token = new_token();
        let mut tx = self.store().write().await?;
        if store::operators::by_name(&mut tx, name).await?.is_some() {
            return Err(Error::invalid("name", "has already been taken"));
        }
        let operator =
            store::operators::insert(&mut tx, name, &sha256_hex(token.as_bytes()), &self.now())
                .await?;
        self.record(
            &mut tx,
            "operator.add",
            format!("operator:{}", operator.id),
            None,
            json!({"name": name}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(NewOperator { operator, token })
    }

    pub async fn operators(&self) -> Result<Vec<Operator>> {
        let mut conn = self.store().read().await?;
        Ok(store::operators::list(&mut conn).await?)
    }

    /// Revokes `name`'s token at once (its past entries stay theirs).
    pub async fn revoke_operator(&self, name: &str) -> Result<Operator> {
        let mut tx = self.store().write().await?;
        let op = store::operators::by_name(&mut tx, name)
            .await?
            .ok_or(Error::NotFound)?;
        if !store::operators::revoke(&mut tx, name, &self.now()).await? {
            return Err(Error::invalid("name", "is revoked already"));
        }
        self.record(
            &mut tx,
            "operator.revoke",
            format!("operator:{}", op.id),
            None,
            json!({"name": name}),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        let mut conn = self.store().read().await?;
        store::operators::by_name(&mut conn, name)
            .await?
            .ok_or(Error::NotFound)
    }

    /// The operator a bearer token names, unless unknown or revoked.
    pub async fn operator_for_token(&self, token: &str) -> Result<Option<Actor>> {
        let mut conn = self.store().read().await?;
        Ok(
            store::operators::by_token(&mut conn, &sha256_hex(token.as_bytes()))
                .await?
                .map(|o| Actor::Operator(o.name)),
        )
    }

    /// The TUI's `--operator NAME`: the operator, unless unknown or revoked.
    pub async fn operator_named(&self, name: &str) -> Result<Actor> {
        let mut conn = self.store().read().await?;
        match store::operators::by_name(&mut conn, name).await? {
            Some(o) if o.revoked_at.is_none() => Ok(Actor::Operator(o.name)),
            Some(_) => Err(Error::invalid("operator", "is revoked")),
            None => Err(Error::invalid(
                "operator",
                "is not an operator (add one with `scfm operators add NAME`)",
            )),
        }
    }
}
