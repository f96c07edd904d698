//! The situation report of a callout (issue 15): its figures in total and by area, from the
//! participations' last calls classified by `domain::outcome` (the rule the progress figures
//! use too). The grouping key is the one asked for, else the callout's `metadata.sitrep_by`
//! (CAP drafts copy the area map's `group_by` there), else the caller's fallback (the area
//! map's), else none: totals only.

use super::{Error, Result, Service};
use crate::domain::Callout;
use crate::domain::dialing::DialingSettings;
use crate::domain::outcome::{self, LastCall};
use crate::domain::sitrep::{self, Group, SITREP_BY, Sitrep};
use crate::store;

/// Longest grouping key accepted.
const MAX_KEY: usize = 200;

/// The callout's dialing settings, if it has valid ones.
pub(super) fn settings_of(callout: &Callout) -> Option<DialingSettings> {
    callout
        .dialing
        .as_ref()
        .and_then(|v| serde_json::from_value::<DialingSettings>(v.clone()).ok())
}

/// The grouping key: `asked`, else the callout's own, else `fallback`. An empty or overlong
/// key asked for is refused.
pub(super) fn grouping(
    callout: &Callout,
    asked: Option<&str>,
    fallback: Option<&str>,
) -> Result<Option<String>> {
    if let Some(k) = asked {
        if k.trim().is_empty() || k.chars().count() > MAX_KEY {
            return Err(Error::invalid(
                "by",
                &format!("must be a metadata key of 1 to {MAX_KEY} characters"),
            ));
        }
        return Ok(Some(k.to_string()));
    }
    let own = callout.metadata.get(SITREP_BY).and_then(|v| v.as_str());
    Ok(own
        .or(fallback)
        .filter(|k| !k.trim().is_empty())
        .map(str::to_string))
}

impl Service {
    /// The situation report of callout `id`, grouped by `by` (see the module docs for the
    /// default and `fallback`). `NotFound` when the callout does not exist.
    pub async fn sitrep(
        &self,
        id: i64,
        by: Option<&str>,
        fallback: Option<&str>,
    ) -> Result<Sitrep> {
        let mut conn = self.store().read().await?;
        let callout = store::callouts::get(&mut conn, id)
            .await?
            .ok_or(Error::NotFound)?;
        let key = grouping(&callout, by, fallback)?;
        let settings = settings_of(&callout);
        let rows = store::sitrep::outcome_counts(&mut conn, id, key.as_deref()).await?;
        let made_at = self.clock().now();
        let (totals, areas) = sitrep::tally(rows.iter().map(|r| {
            let last = LastCall {
                status: r.last_status.as_deref(),
                answered_by: r.answered_by.as_deref(),
                attempts: r.attempts,
                outcome_unknown: r.outcome_unknown,
            };
            Group {
                area: r.area.as_deref(),
                outcome: outcome::classify(&last, settings.as_ref()),
                text: r.text_status.as_deref(),
                people: r.participations,
            }
        }));
        Ok(Sitrep {
            callout_id: id,
            name: callout
                .metadata
                .get("name")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            status: callout.status.clone(),
            areas: if key.is_some() { areas } else { Vec::new() },
            by: key,
            made_at,
            time_zone: settings
                .as_ref()
                .and_then(|s| s.calling_window.as_ref())
                .map(|w| w.time_zone.clone()),
            totals,
        })
    }
}
