//! The journal from the service's side: every operator action and provider event is recorded
//! by [`Service::record`] inside the transaction of the change itself (so a change is never
//! committed without its entry, nor an entry without its change), and chained into the
//! hash chain by [`Service::seal_journal`] (the `journal_sealer` worker, a moment after the
//! commit; before a check or an export). The whole chain can be checked or a callout's entries
//! listed.
//!
//! Recording does not take the chain's head: on PostgreSQL that would make every journaled
//! write of every process wait for the one before it (webhooks fell from 596 to 211 req/s
//! going from one to three processes). Sealing takes it, a batch of entries at a time.

use super::{Result, Service};
use crate::domain::PhoneCall;
use crate::domain::actor::Actor;
use crate::domain::journal::{Broken, Entry, NewEntry, Verifier};
use crate::store::journal::Sealing;
use crate::store::{self, Handle, StoreError};
use serde_json::Value;

/// Entries read per statement when checking or exporting.
const PAGE: i64 = 5_000;
/// Entries chained per sealing transaction (9 bound values each: well inside both engines'
/// limits on one statement).
const SEAL_BATCH: i64 = 1_000;

/// The outcome of [`Service::verify_journal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalCheck {
    /// Entries that verified (all of them when `broken` is `None`).
    pub verified: i64,
    /// The head: the number of entries written and the last one's hash (write it down to
    /// compare later: the chain up to a known head cannot be rewritten unseen).
    pub head_seq: i64,
    pub head_hash: String,
    /// Entries recorded but not yet chained when the check ran (recorded after its sealing
    /// pass, by this or another process; the next seal chains them).
    pub unsealed: i64,
    /// The first entry that does not verify, and why.
    pub broken: Option<Broken>,
}

impl Service {
    /// Records an entry by this service's actor, on `tx` (the write transaction of the change).
    pub(crate) async fn record(
        &self,
        tx: &mut impl Handle,
        action: &str,
        subject: String,
        callout_id: Option<i64>,
        details: Value,
    ) -> Result<()> {
        self.record_as(tx, self.actor(), action, subject, callout_id, details)
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
        // The sealer looks a moment later, when this transaction has (most likely) committed.
        self.wake().journal.notify_one();
        Ok(())
    }

    /// Records what came of a phone call's create request or status poll: the provider's
    /// answer (`provider.*`, by the provider) or scfm's own decision (`dial.*`, by scfm).
    pub(crate) async fn record_call(
        &self,
        tx: &mut impl Handle,
        call: &PhoneCall,
        action: &str,
        details: Value,
    ) -> Result<()> {
        let actor = if action.starts_with("provider.") {
            Actor::Provider
        } else {
            Actor::System
        };
        let subject = format!("phone_call:{}", call.id);
        self.record_as(tx, &actor, action, subject, call.callout_id, details)
            .await
    }

    /// Chains every entry recorded so far into the journal, in batches; the number sealed.
    /// `Sealing::Wait` waits for a sealer in another transaction or process, so that afterwards
    /// everything committed before the call is in the chain; `SkipIfBusy` stops as soon as
    /// another sealer holds the head (it is doing the work).
    pub async fn seal_journal(&self, how: Sealing) -> Result<u64> {
        let mut total = 0;
        loop {
            if how == Sealing::SkipIfBusy {
                let mut conn = self.store().read().await?;
                if !store::journal::any_unsealed(&mut conn).await? {
                    return Ok(total);
                }
            }
            let mut tx = self.store().write().await?;
            let sealed = store::journal::seal(&mut tx, SEAL_BATCH, how).await?;
            tx.commit().await.map_err(StoreError::from)?;
            match sealed {
                Some(n) => {
                    total += n;
                    if n < SEAL_BATCH as u64 {
                        return Ok(total);
                    }
                }
                None => return Ok(total),
            }
        }
    }

    /// Seals what was recorded, then checks the whole chain, in pages, against the head.
    pub async fn verify_journal(&self) -> Result<JournalCheck> {
        self.seal_journal(Sealing::Wait).await?;
        let mut conn = self.store().read().await?;
        let mut tx = store::engine::begin(&mut conn)
            .await
            .map_err(StoreError::from)?;
        store::journal::one_snapshot(&mut tx).await?;
        let (head_seq, head_hash) = store::journal::head(&mut tx).await?;
        let unsealed = store::journal::unsealed(&mut tx).await?;
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
            unsealed,
            broken,
        })
    }

    /// Entries after `after_seq` (at most `limit`), only `callout`'s when given, in order.
    /// The first page (`after_seq` 0) seals what was recorded before it.
    pub async fn journal_entries(
        &self,
        callout: Option<i64>,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<Entry>> {
        if after_seq == 0 {
            self.seal_journal(Sealing::Wait).await?;
        }
        let mut conn = self.store().read().await?;
        Ok(store::journal::page(&mut conn, after_seq, callout, limit.clamp(1, PAGE)).await?)
    }
}
