//! The situation report of a callout (issue 15): how many people were reached, by a person or a
//! machine, how many are still to be tried, how many will not be tried again, and how many
//! have not been called yet, in total and grouped by one contact metadata key (province,
//! district, village…). Built from grouped counts; the text forms are in `sitrep_text`.

use super::outcome::Outcome;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The callout metadata key that names the default grouping of its situation report (CAP
/// drafts take it from the area map's `group_by`).
pub const SITREP_BY: &str = "sitrep_by";

/// The fallback texts (`dialing.sms_fallback`) of one area, or of the whole callout, by where
/// they stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Texts {
    /// Texts made, one per person at most.
    pub total: i64,
    /// Not sent yet (pending, or held while dialling is held or the callout paused).
    pub waiting: i64,
    /// Handed to the provider (sending, queued, sent); no delivery receipt yet.
    pub sent: i64,
    pub delivered: i64,
    /// Failed or undelivered.
    pub failed: i64,
    /// The create's outcome is unknown (never resent automatically).
    pub unknown: i64,
}

impl Texts {
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Counts `n` texts at `status` (`domain::sms_fallback::STATUSES`).
    pub fn add(&mut self, status: &str, n: i64) {
        self.total += n;
        match status {
            "pending" => self.waiting += n,
            "delivered" => self.delivered += n,
            "failed" | "undelivered" => self.failed += n,
            "unknown" => self.unknown += n,
            _ => self.sent += n,
        }
    }

    fn merge(&mut self, o: &Texts) {
        self.total += o.total;
        self.waiting += o.waiting;
        self.sent += o.sent;
        self.delivered += o.delivered;
        self.failed += o.failed;
        self.unknown += o.unknown;
    }
}

/// The figures of one area, or of the whole callout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub people: i64,
    /// A person answered the last call.
    pub reached: i64,
    /// A machine answered the last call.
    pub reached_machine: i64,
    /// Called without being reached; another attempt will be made.
    pub not_yet: i64,
    /// No further attempt will be made.
    pub unreachable: i64,
    /// Not called yet, or a call is ringing now (`in_progress` of them).
    pub pending: i64,
    pub in_progress: i64,
    /// The SMS fallback's texts to these people (absent from JSON when there are none).
    #[serde(skip_serializing_if = "Texts::is_empty")]
    pub texts: Texts,
}

impl Tally {
    /// Counts `n` people standing at `outcome`.
    pub fn add(&mut self, outcome: Outcome, n: i64) {
        self.people += n;
        match outcome {
            Outcome::Reached => self.reached += n,
            Outcome::ReachedMachine => self.reached_machine += n,
            Outcome::NotYet => self.not_yet += n,
            Outcome::Unreachable => self.unreachable += n,
            Outcome::Pending => self.pending += n,
            Outcome::InProgress => {
                self.pending += n;
                self.in_progress += n;
            }
        }
    }

    /// Everyone not reached by a person: what "not yet" means on the radio.
    pub fn outstanding(&self) -> i64 {
        self.people - self.reached
    }

    fn merge(&mut self, o: &Tally) {
        self.people += o.people;
        self.reached += o.reached;
        self.reached_machine += o.reached_machine;
        self.not_yet += o.not_yet;
        self.unreachable += o.unreachable;
        self.pending += o.pending;
        self.in_progress += o.in_progress;
        self.texts.merge(&o.texts);
    }
}

/// The figures of one value of the grouping key. `area` is None for people without the key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaTally {
    pub area: Option<String>,
    #[serde(flatten)]
    pub tally: Tally,
}

/// A callout's situation report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sitrep {
    pub callout_id: i64,
    /// The callout's `metadata.name`, if it has one.
    pub name: Option<String>,
    pub status: String,
    /// The metadata key the areas are grouped by; None: totals only.
    pub by: Option<String>,
    pub made_at: DateTime<Utc>,
    /// The zone the text forms show the time in (the calling window's), if any.
    pub time_zone: Option<String>,
    pub totals: Tally,
    /// One per value of `by`, in name order, people without the key last.
    pub areas: Vec<AreaTally>,
}

/// One group of the store's aggregate: `people` in `area` standing at `outcome`, whose
/// fallback text (if any) is at `text`.
#[derive(Debug, Clone, Copy)]
pub struct Group<'a> {
    pub area: Option<&'a str>,
    pub outcome: Outcome,
    pub text: Option<&'a str>,
    pub people: i64,
}

/// Adds up the groups into totals and areas in report order.
pub fn tally<'a>(rows: impl IntoIterator<Item = Group<'a>>) -> (Tally, Vec<AreaTally>) {
    let mut areas: std::collections::BTreeMap<(bool, String), Tally> = Default::default();
    let mut totals = Tally::default();
    for Group {
        area,
        outcome,
        text,
        people: n,
    } in rows
    {
        let mut t = Tally::default();
        t.add(outcome, n);
        if let Some(status) = text {
            t.texts.add(status, n);
        }
        totals.merge(&t);
        // (false, name) sorts before (true, ""): people without the key come last.
        let key = match area {
            Some(a) => (false, a.to_string()),
            None => (true, String::new()),
        };
        areas.entry(key).or_default().merge(&t);
    }
    let areas = areas
        .into_iter()
        .map(|((none, name), tally)| AreaTally {
            area: (!none).then_some(name),
            tally,
        })
        .collect();
    (totals, areas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_add_up_to_totals_and_sorted_areas() {
        let g = |area, outcome, text, people| Group {
            area,
            outcome,
            text,
            people,
        };
        let (totals, areas) = tally([
            g(Some("Kandal"), Outcome::Reached, None, 5),
            g(None, Outcome::Pending, None, 1),
            g(Some("Kandal"), Outcome::Unreachable, Some("delivered"), 1),
            g(Some("Kandal"), Outcome::Unreachable, Some("undelivered"), 1),
            g(Some("Banteay Meanchey"), Outcome::InProgress, None, 3),
            g(Some("Kandal"), Outcome::NotYet, None, 1),
            g(Some("Kandal"), Outcome::ReachedMachine, None, 1),
        ]);
        assert_eq!(
            (
                totals.texts.total,
                totals.texts.delivered,
                totals.texts.failed
            ),
            (2, 1, 1)
        );
        assert_eq!(totals.people, 13);
        assert_eq!(totals.reached, 5);
        assert_eq!(totals.pending, 4);
        assert_eq!(totals.in_progress, 3);
        assert_eq!(totals.outstanding(), 8);
        let names: Vec<Option<&str>> = areas.iter().map(|a| a.area.as_deref()).collect();
        assert_eq!(names, [Some("Banteay Meanchey"), Some("Kandal"), None]);
        let k = &areas[1].tally;
        assert_eq!(
            (
                k.people,
                k.reached,
                k.reached_machine,
                k.not_yet,
                k.unreachable
            ),
            (9, 5, 1, 1, 2)
        );
    }
}
