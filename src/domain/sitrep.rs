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

/// Adds up `(area, outcome, people)` rows (a row per group of the store's aggregate) into
/// totals and areas in report order.
pub fn tally<'a>(
    rows: impl IntoIterator<Item = (Option<&'a str>, Outcome, i64)>,
) -> (Tally, Vec<AreaTally>) {
    let mut areas: std::collections::BTreeMap<(bool, String), Tally> = Default::default();
    let mut totals = Tally::default();
    for (area, outcome, n) in rows {
        let mut t = Tally::default();
        t.add(outcome, n);
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
        let (totals, areas) = tally([
            (Some("Kandal"), Outcome::Reached, 5),
            (None, Outcome::Pending, 1),
            (Some("Kandal"), Outcome::Unreachable, 2),
            (Some("Banteay Meanchey"), Outcome::InProgress, 3),
            (Some("Kandal"), Outcome::NotYet, 1),
            (Some("Kandal"), Outcome::ReachedMachine, 1),
        ]);
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
