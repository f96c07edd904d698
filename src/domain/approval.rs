//! The two-person start (issue 14): a callout that `requires_approval` starts only after a
//! second, different named operator approved it. Pure rules over the callout as stored and the
//! actor; the service applies them and the store's conditional statements keep them under races.
//!
//! Who counts as "the first person": the operator who created the callout. When it was made
//! without a named operator (SCFM's shared credential, a CAP import from the command line), the
//! operator who starts it is the first person, and may not be the approver. So two different
//! named operators always stand behind a start.

use super::Callout;
use super::actor::Actor;

/// Why an approval or a start is refused (the message goes into a 422 and the journal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Approving needs a named operator, not the shared credential.
    NotNamed,
    NotNeeded,
    NotWaiting,
    OwnCallout,
    AlreadyApproved,
    NeedsApproval,
    ApproverStarts,
    /// A draft whose CAP alert was cancelled (`cap_cancelled_by`): never approved or started.
    AlertCancelled,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotNamed => {
                "needs a named operator (an operator token, or the TUI's --operator)"
            }
            Refusal::NotNeeded => "is not needed: this callout does not require approval",
            Refusal::NotWaiting => "is only possible before the callout starts",
            Refusal::OwnCallout => {
                "must come from a second operator: the one who created the callout cannot approve it"
            }
            Refusal::AlreadyApproved => "was given already",
            Refusal::NeedsApproval => "needs approval by a second operator first (event: approve)",
            Refusal::ApproverStarts => {
                "must come from another operator than the approver (the callout was made without a named operator)"
            }
            Refusal::AlertCancelled => {
                "is refused: the CAP alert of this draft was cancelled (import a new alert to call out again)"
            }
        }
    }
}

pub fn can_approve(c: &Callout, by: &Actor) -> Result<(), Refusal> {
    let Some(name) = by.operator() else {
        return Err(Refusal::NotNamed);
    };
    if cancelled(c) {
        return Err(Refusal::AlertCancelled);
    }
    if !c.requires_approval {
        return Err(Refusal::NotNeeded);
    }
    if c.status != "initialized" {
        return Err(Refusal::NotWaiting);
    }
    if c.approved_by.is_some() {
        return Err(Refusal::AlreadyApproved);
    }
    if c.created_by.as_deref() == Some(name) {
        return Err(Refusal::OwnCallout);
    }
    Ok(())
}

/// The `start` event (initialized → running) of a callout as `by`.
pub fn can_start(c: &Callout, by: &Actor) -> Result<(), Refusal> {
    if cancelled(c) {
        return Err(Refusal::AlertCancelled);
    }
    if !c.requires_approval {
        return Ok(());
    }
    let Some(approver) = c.approved_by.as_deref() else {
        return Err(Refusal::NeedsApproval);
    };
    if c.created_by.is_none() && by.operator().is_none_or(|n| n == approver) {
        return Err(Refusal::ApproverStarts);
    }
    Ok(())
}

/// Drafted from a CAP alert that a later Cancel withdrew.
fn cancelled(c: &Callout) -> bool {
    c.metadata
        .get("cap_cancelled_by")
        .is_some_and(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn callout(created_by: Option<&str>, requires: bool, approved_by: Option<&str>) -> Callout {
        Callout {
            id: 1,
            status: "initialized".into(),
            call_flow_logic: None,
            metadata: json!({}),
            created_at: String::new(),
            updated_at: String::new(),
            dialing: None,
            created_by: created_by.map(str::to_string),
            started_by: None,
            requires_approval: requires,
            approved_by: approved_by.map(str::to_string),
            approved_at: None,
        }
    }

    fn op(n: &str) -> Actor {
        Actor::Operator(n.into())
    }

    #[test]
    fn a_second_operator_must_approve() {
        let c = callout(Some("ana"), true, None);
        assert_eq!(can_start(&c, &op("ana")), Err(Refusal::NeedsApproval));
        assert_eq!(can_approve(&c, &op("ana")), Err(Refusal::OwnCallout));
        assert_eq!(can_approve(&c, &Actor::SharedApi), Err(Refusal::NotNamed));
        assert_eq!(can_approve(&c, &op("bo")), Ok(()));
        let approved = callout(Some("ana"), true, Some("bo"));
        assert_eq!(
            can_approve(&approved, &op("cy")),
            Err(Refusal::AlreadyApproved)
        );
        assert_eq!(can_start(&approved, &op("ana")), Ok(()));
        assert_eq!(can_start(&approved, &op("bo")), Ok(()));
    }

    #[test]
    fn without_a_named_creator_the_starter_is_the_first_person() {
        let c = callout(None, true, Some("bo"));
        assert_eq!(can_start(&c, &op("bo")), Err(Refusal::ApproverStarts));
        assert_eq!(
            can_start(&c, &Actor::SharedApi),
            Err(Refusal::ApproverStarts)
        );
        assert_eq!(can_start(&c, &op("ana")), Ok(()));
    }

    #[test]
    fn callouts_without_the_flag_start_as_before() {
        let c = callout(None, false, None);
        assert_eq!(can_start(&c, &Actor::SharedApi), Ok(()));
        assert_eq!(can_approve(&c, &op("bo")), Err(Refusal::NotNeeded));
    }

    #[test]
    fn a_draft_whose_alert_was_cancelled_is_neither_approved_nor_started() {
        let mut c = callout(Some("ana"), true, Some("bo"));
        c.metadata = json!({"cap_msg_type": "Cancel", "cap_cancelled_by": "KH-1"});
        assert_eq!(can_start(&c, &op("ana")), Err(Refusal::AlertCancelled));
        c.approved_by = None;
        assert_eq!(can_approve(&c, &op("bo")), Err(Refusal::AlertCancelled));
    }
}
