//! The change feed: tells a listener that the database changed, whoever wrote (this process or
//! another `scfm` on the same database). Service events cover this process's own writes as
//! they happen; the feed is how the TUI notices the rest. Like a `ServiceEvent` it says only
//! *that* something changed; the listener reloads what it shows.

use super::{Result, Service};
use crate::store::changes::ChangeWatch;

/// A feed of database changes, holding what the engine needs to watch (on SQLite, one
/// connection polled every 2 s).
pub struct ChangeFeed {
    watch: ChangeWatch,
}

impl ChangeFeed {
    /// Waits for the next change after the previous call (or after the feed was opened). An
    /// error means this check failed; calling again keeps watching.
    pub async fn changed(&mut self) -> Result<()> {
        Ok(self.watch.changed().await?)
    }
}

impl Service {
    /// Whether the database answers (after the change feed reported it unreachable).
    pub async fn ping_database(&self) -> Result<()> {
        Ok(self.store().ping().await?)
    }

    /// Opens a change feed (it holds its own database connection until dropped).
    pub async fn change_feed(&self) -> Result<ChangeFeed> {
        Ok(ChangeFeed {
            watch: self.store().change_watch().await?,
        })
    }
}
