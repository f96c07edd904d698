//! Where one participation stands, from its last call and the callout's retry settings: the
//! one rule behind the progress figures, the situation report and the never-reached export,
//! so the three always agree.

use super::dialing::DialingSettings;
use serde::Serialize;

/// A participation's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The last call completed and a person answered (or machine detection was off).
    Reached,
    /// The last call completed but a machine (or fax) answered.
    ReachedMachine,
    /// A call is queued at scfm or with the provider, or ringing now.
    InProgress,
    /// Not called yet (no call, or one created but not queued).
    Pending,
    /// Called without reaching anyone; another attempt will be made.
    NotYet,
    /// No further attempt will be made: attempts used up, a status that is not retried, or a
    /// create whose outcome stayed unknown (never redialled without an operator).
    Unreachable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reached => "reached",
            Outcome::ReachedMachine => "reached_machine",
            Outcome::InProgress => "in_progress",
            Outcome::Pending => "pending",
            Outcome::NotYet => "not_yet",
            Outcome::Unreachable => "unreachable",
        }
    }

    /// Whether a person heard the message.
    pub fn reached_a_person(self) -> bool {
        self == Outcome::Reached
    }
}

/// Call statuses at scfm or the provider that have not ended yet.
pub const ACTIVE: &[&str] = &[
    "queued",
    "remotely_queued",
    "remote_fetch_queued",
    "in_progress",
];

/// What is known of a participation's last call.
#[derive(Debug, Clone, Copy)]
pub struct LastCall<'a> {
    /// The last call's status; None when never called.
    pub status: Option<&'a str>,
    /// The provider's `answered_by`, when it said.
    pub answered_by: Option<&'a str>,
    /// Calls made so far.
    pub attempts: i64,
    /// The last create's outcome stayed unknown.
    pub outcome_unknown: bool,
}

/// Whether `answered_by` names a machine (Twilio's `machine_*` values, or `fax`).
pub fn is_machine(answered_by: &str) -> bool {
    answered_by.starts_with("machine") || answered_by == "fax"
}

/// The standing of a participation whose last call is `last`, under the callout's dialing
/// settings (None: a manual callout, where nothing is retried automatically).
pub fn classify(last: &LastCall<'_>, settings: Option<&DialingSettings>) -> Outcome {
    match last.status {
        None | Some("created") => Outcome::Pending,
        Some(s) if ACTIVE.contains(&s) => Outcome::InProgress,
        Some("completed") => {
            if last.answered_by.is_some_and(is_machine) {
                Outcome::ReachedMachine
            } else {
                Outcome::Reached
            }
        }
        Some(_) if last.outcome_unknown => Outcome::Unreachable,
        Some(s) => {
            let retried = settings.is_some_and(|st| {
                st.retry_statuses.iter().any(|r| r == s) && last.attempts < st.max_attempts as i64
            });
            if retried {
                Outcome::NotYet
            } else {
                Outcome::Unreachable
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DialingSettings {
        let v = serde_json::json!({"from": "1234", "twiml_url": "https://example.org/t.xml", "max_attempts": 3});
        let mut errors = crate::domain::ValidationErrors::default();
        DialingSettings::parse(v.as_object().unwrap(), &mut errors).unwrap()
    }

    fn last(status: Option<&str>, attempts: i64) -> LastCall<'_> {
        LastCall {
            status,
            answered_by: None,
            attempts,
            outcome_unknown: false,
        }
    }

    #[test]
    fn each_standing_from_the_last_call() {
        let st = settings();
        let s = Some(&st);
        assert_eq!(classify(&last(None, 0), s), Outcome::Pending);
        assert_eq!(classify(&last(Some("created"), 1), s), Outcome::Pending);
        assert_eq!(
            classify(&last(Some("in_progress"), 1), s),
            Outcome::InProgress
        );
        assert_eq!(classify(&last(Some("completed"), 1), s), Outcome::Reached);
        let machine = LastCall {
            answered_by: Some("machine_end_beep"),
            ..last(Some("completed"), 1)
        };
        assert_eq!(classify(&machine, s), Outcome::ReachedMachine);
        assert_eq!(classify(&last(Some("busy"), 2), s), Outcome::NotYet);
        assert_eq!(classify(&last(Some("busy"), 3), s), Outcome::Unreachable);
        // Not a retried status: no further attempt.
        assert_eq!(
            classify(&last(Some("canceled"), 1), s),
            Outcome::Unreachable
        );
        let unknown = LastCall {
            outcome_unknown: true,
            ..last(Some("errored"), 1)
        };
        assert_eq!(classify(&unknown, s), Outcome::Unreachable);
        // A manual callout retries nothing.
        assert_eq!(classify(&last(Some("busy"), 1), None), Outcome::Unreachable);
    }
}
