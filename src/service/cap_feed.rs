//! CAP feeds in (issue 14): an Atom or RSS feed announcing CAP alerts, read once
//! (`scfm cap import FEED`) or polled by `scfm serve --cap-feed URL`. Each entry's alert (the
//! one embedded in the entry, or the one its link points to) goes through
//! [`Service::import_alert`] as a single alert would. A feed lists the same alerts poll after
//! poll, so an entry whose alert was handled already (an Alert or Update drafted under its
//! identifier, a Cancel recorded on its draft) is skipped, and so is an expired one: feeds keep
//! old entries. Every entry gets a line in the report, so nothing is dropped silently.
//!
//! With several processes on one database, the poll is one process's turn at a time (a shared
//! schedule row, as for the campaign pass), so two processes never draft one alert twice.

use super::{CapOutcome, Error, Result, Service, read_alert, read_area_map};
use crate::domain::cap::{self, Alert, AreaMap, CapEnum, CapErrorKind, FeedEntry};
use crate::store;
use std::path::Path;
use std::time::Duration;

/// The shared schedule row of the feed poll.
const CAP_FEED_POLL: &str = "cap_feed_poll";

/// What became of one feed entry (or of a single alert, reported as a feed of one).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedReport {
    /// The entry's id (Atom `<id>`, RSS `<guid>`), or the alert's source for a single alert.
    pub entry: String,
    pub result: FeedResult,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FeedResult {
    /// Imported: drafted, updated, cancelled, or the operator is asked to stop a callout.
    Done(Box<CapOutcome>),
    /// Handled before, or expired: nothing to do (the reason says which).
    Skipped(String),
    /// The entry's alert could not be read or was refused (the reason says why).
    Refused(String),
}

/// A document read by `scfm cap import` or `:cap`: one alert, or a feed of them.
pub enum CapDocument {
    Alert(Box<Alert>),
    Feed(Vec<FeedEntry>),
}

/// Tells a feed from an alert and parses it; a malformed or hostile document is refused with
/// its line either way.
pub fn parse_cap_document(xml: &str) -> std::result::Result<CapDocument, String> {
    match cap::parse_feed(xml) {
        Ok(entries) => Ok(CapDocument::Feed(entries)),
        Err(e) if e.kind == CapErrorKind::NotCap => cap::parse_alert(xml)
            .map(|a| CapDocument::Alert(Box::new(a)))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

impl Service {
    /// Imports every entry of a feed (`base`: the feed's URL, against which relative alert
    /// links are resolved; `None` for a file, where only absolute links can be followed).
    pub async fn import_cap_feed(
        &self,
        entries: &[FeedEntry],
        base: Option<&str>,
        map: &AreaMap,
    ) -> Result<Vec<FeedReport>> {
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let result = match self.entry_alert(entry, base).await {
                Err(why) => FeedResult::Refused(why),
                Ok(alert) => self.import_new(&alert, map).await?,
            };
            out.push(FeedReport {
                entry: entry.id.clone(),
                result,
            });
        }
        Ok(out)
    }

    /// One alert of a feed: skipped when handled already or expired, else imported. Only a
    /// database failure is an `Err`; an alert refused by the import is `Refused`.
    async fn import_new(&self, alert: &Alert, map: &AreaMap) -> Result<FeedResult> {
        if let Some(why) = self.handled_already(alert).await? {
            return Ok(FeedResult::Skipped(why));
        }
        if alert.is_expired(self.clock().now()) {
            return Ok(FeedResult::Skipped(format!(
                "alert {} has expired",
                alert.identifier
            )));
        }
        match self.import_alert(alert, map).await {
            Ok(outcome) => Ok(FeedResult::Done(Box::new(outcome))),
            Err(Error::Invalid(v)) => Ok(FeedResult::Refused(v.to_string())),
            Err(e) => Err(e),
        }
    }

    /// Why `alert` needs no import: the ledger has it (drafted, updated or cancelled from,
    /// even when its draft has since been updated by a later message or deleted).
    async fn handled_already(&self, alert: &Alert) -> Result<Option<String>> {
        Ok(self
            .taken_alert(&alert.sender, &alert.identifier)
            .await?
            .map(|t| {
                let what = match t.callout_id {
                    Some(id) => format!("callout {id}"),
                    None if t.state == "drafting" => "an import under way".into(),
                    None => "a callout since deleted".into(),
                };
                format!(
                    "{} {} was imported already ({what})",
                    alert.msg_type.as_str(),
                    alert.identifier
                )
            }))
    }

    /// The entry's alert: embedded, or fetched from its link.
    async fn entry_alert(
        &self,
        entry: &FeedEntry,
        base: Option<&str>,
    ) -> std::result::Result<Alert, String> {
        if let Some(a) = &entry.alert {
            return Ok(a.clone());
        }
        if let Some(e) = &entry.alert_error {
            return Err(format!("its alert was refused: {e}"));
        }
        let Some(link) = &entry.cap_url else {
            return Err("the entry holds no CAP alert and links to none".into());
        };
        let url = resolve_link(link, base)?;
        let xml = read_alert(&url).await?;
        cap::parse_alert(&xml).map_err(|e| format!("{url}: {e}"))
    }

    /// Whether this process polls the feed now: one process per interval across every
    /// process on the database (a shared schedule row).
    pub async fn take_cap_feed_turn(&self, every: Duration) -> Result<bool> {
        // Wall-clock time, as the campaign pass's turn: the schedule is shared with other
        // processes, whatever clock this service runs on.
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        let mut conn = self.store().read().await?;
        Ok(
            store::schedules::take_turn(&mut conn, CAP_FEED_POLL, every.as_micros() as i64, now_us)
                .await?,
        )
    }

    /// One poll: reads the feed at `url` and the area map at `map` (read each time, so an
    /// edited map applies from the next poll) and imports what is new.
    pub async fn poll_cap_feed(&self, url: &str, map: &Path) -> Result<Vec<FeedReport>> {
        let map = read_area_map(map)
            .await
            .map_err(|e| Error::invalid("area_map", &e))?;
        let xml = read_alert(url)
            .await
            .map_err(|e| Error::invalid("cap_feed", &e))?;
        match parse_cap_document(&xml)
            .map_err(|e| Error::invalid("cap_feed", &format!("{url}: {e}")))?
        {
            CapDocument::Feed(entries) => self.import_cap_feed(&entries, Some(url), &map).await,
            CapDocument::Alert(alert) => Ok(vec![FeedReport {
                entry: url.to_string(),
                result: self.import_new(&alert, &map).await?,
            }]),
        }
    }
}

/// An entry's link made absolute: an absolute http(s) URL as is, a relative one against the
/// feed's URL; a file path only when the feed itself was a file (`base` is `None`).
fn resolve_link(link: &str, base: Option<&str>) -> std::result::Result<String, String> {
    if link.starts_with("http://") || link.starts_with("https://") {
        return Ok(link.to_string());
    }
    match base {
        Some(b) => reqwest::Url::parse(b)
            .and_then(|u| u.join(link))
            .map(|u| u.to_string())
            .map_err(|e| format!("bad alert link {link:?}: {e}")),
        None => Err(format!(
            "the alert link {link:?} is relative; read the feed from its URL to follow it"
        )),
    }
}
