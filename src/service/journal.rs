//! The journal from the service's side: every operator action and provider event is recorded
//! by [`Service::record`] inside the transaction of the change itself (so a change is never
//! committed without its entry, nor an entry without its change), and the whole chain can be
//! checked or a callout's entries listed.

use super::{Result, Service};
use crate::domain::actor::Actor;
use crate::domain::journal::{Broken, Entry, NewEntry, Verifier};
use crate::store::{self, Handle, StoreError};
use serde_json::Value;

/// Entries read per statement when checking or exporting.
const PAGE: i64 = 5_000;

/// The outcome of [`Service::verify_journal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalCheck {
    /// Entries that verified (all of them when `broken` is `None`).
    pub verified: i64,
    /// The head: the number of entries written and the last one's hash (write it down to
    /// compare later: the chain up to a known head cannot be rewritten unseen).
    pub head_seq: i64,
    pub head_hash: String,
    /// The first entry that does not verify, and why.
    pub broken: Option<Broken>,
}

impl Service {
    /// A write transaction that will append to the journal: the journal's head is taken first
    /// (see `store::journal::lock_head`), before the caller's row locks.
    pub(crate) async fn journaled(&self) -> Result<store::Tx<'static>> {
        let mut tx = self.store().write().await?;
        store::journal::lock_head(&mut tx).await?;
        Ok(tx)
    }

    /// Appends an entry by this service's actor to the journal, on `tx` (a write transaction).
    pub(crate) async fn record(
        &self,
        tx: &mut impl Handle,
        action: &str,
        subject: String,
        callout_id: Option<i64>,
        details: Value,
    ) -> Result<()> {
        self.record_as(
            tx,
            &self.actor().clone(),
            action,
            subject,
            callout_id,
            details,
        )
        .await
    }

    /// [`Service::record`] for another actor (the provider, scfm's workers).
    pub(crate) async fn record_as(
        &self,
        tx: &mut impl Handle,
        actor: &Actor,
        action: &str,
        subject: String,
        callout_id: Option<i64>,
        details: Value,
    ) -> Result<()> {
        let entry = NewEntry {
            actor: actor.name().to_string(),
            action: action.to_string(),
            subject,
            callout_id,
            details: details.to_string(),
        };
        store::journal::append(tx, entry, &self.now()).await?;
        Ok(())
    }

    /// Checks the whole chain, in pages, against the head.
    pub async fn verify_journal(&self) -> Result<JournalCheck> {
        let mut conn = self.store().read().await?;
        let mut tx = store::engine::begin(&mut conn)
            .await
            .map_err(StoreError::from)?;
        store::journal::one_snapshot(&mut tx).await?;
        let (head_seq, head_hash) = store::journal::head(&mut tx).await?;
        let mut v = Verifier::default();
        let mut after = 0;
        let mut broken = None;
        'pages: loop {
            let page = store::journal::page(&mut tx, after, None, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in &page {
                if let Err(b) = v.check(e) {
                    broken = Some(b);
                    break 'pages;
                }
            }
        }
        if broken.is_none() {
            broken = v.finish(head_seq, &head_hash).err();
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(JournalCheck {
            verified: v.checked(),
            head_seq,
            head_hash,
            broken,
        })
    }

    /// Entries after `after_seq` (at most `limit`), only `callout`'s when given, in order.
    pub async fn journal_entries(
        &self,
        callout: Option<i64>,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<Entry>> {
        let mut conn = self.store().read().await?;
        Ok(store::journal::page(&mut conn, after_seq, callout, limit.clamp(1, PAGE)).await?)
    }
}
