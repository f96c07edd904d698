//! SCFM's AVF survey flows (`CallFlowLogic::AvfCapom::CapomShort` and `…::CapomLong`; the
//! tutorial's `CallFlowLogic::OutcomeMonitoring` is now a declarative flow): a state machine
//! kept per contact in `metadata.call_flow_data.<logic>`, stepped by keypad answers (SCFM
//! Appendix A). Pure functions: the service loads and saves the state.

use super::twiml::Verb;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Always,
    Yes,
    No,
    YesOrNo,
    Any,
}

type Rule = (&'static str, When, &'static str);

const SHORT: &[Rule] = &[
    ("initialized", When::Always, "playing_introduction"),
    (
        "playing_introduction",
        When::Always,
        "gathering_received_transfer",
    ),
    (
        "gathering_received_transfer",
        When::No,
        "recording_transfer_not_received_reason",
    ),
    (
        "gathering_received_transfer",
        When::Yes,
        "gathering_fee_paid",
    ),
    (
        "recording_transfer_not_received_reason",
        When::Always,
        "playing_transfer_not_received_exit_message",
    ),
    (
        "playing_transfer_not_received_exit_message",
        When::Always,
        "finished",
    ),
    ("gathering_fee_paid", When::Yes, "gathering_fee_paid_amount"),
    ("gathering_fee_paid", When::No, "recording_goods_purchased"),
    (
        "gathering_fee_paid_amount",
        When::Any,
        "recording_goods_purchased",
    ),
    (
        "recording_goods_purchased",
        When::Always,
        "gathering_safe_at_venue",
    ),
    (
        "gathering_safe_at_venue",
        When::YesOrNo,
        "playing_completed_survey_message",
    ),
    ("playing_completed_survey_message", When::Always, "finished"),
];

const LONG: &[Rule] = &[
    ("initialized", When::Always, "playing_introduction"),
    (
        "playing_introduction",
        When::Always,
        "gathering_received_transfer",
    ),
    (
        "gathering_received_transfer",
        When::No,
        "recording_transfer_not_received_reason",
    ),
    (
        "gathering_received_transfer",
        When::Yes,
        "gathering_received_transfer_amount",
    ),
    (
        "recording_transfer_not_received_reason",
        When::Always,
        "playing_transfer_not_received_exit_message",
    ),
    (
        "playing_transfer_not_received_exit_message",
        When::Always,
        "finished",
    ),
    (
        "gathering_received_transfer_amount",
        When::Any,
        "gathering_paid_for_transport",
    ),
    (
        "gathering_paid_for_transport",
        When::Yes,
        "gathering_paid_for_transport_amount",
    ),
    (
        "gathering_paid_for_transport",
        When::No,
        "gathering_safe_at_venue",
    ),
    (
        "gathering_paid_for_transport_amount",
        When::Any,
        "gathering_safe_at_venue",
    ),
    (
        "gathering_safe_at_venue",
        When::YesOrNo,
        "gathering_fee_paid",
    ),
    ("gathering_fee_paid", When::Yes, "gathering_fee_paid_amount"),
    ("gathering_fee_paid", When::No, "recording_goods_purchased"),
    (
        "gathering_fee_paid_amount",
        When::Any,
        "recording_goods_purchased",
    ),
    (
        "recording_goods_purchased",
        When::Always,
        "gathering_item_availability",
    ),
    (
        "gathering_item_availability",
        When::YesOrNo,
        "gathering_idp_status",
    ),
    (
        "gathering_idp_status",
        When::YesOrNo,
        "gathering_water_availability",
    ),
    (
        "gathering_water_availability",
        When::Any,
        "gathering_sickness",
    ),
    (
        "gathering_sickness",
        When::YesOrNo,
        "gathering_preferred_transfer_modality",
    ),
    (
        "gathering_preferred_transfer_modality",
        When::YesOrNo,
        "playing_completed_survey_message",
    ),
    ("playing_completed_survey_message", When::Always, "finished"),
];

const AWS: &str = "https://s3-ap-southeast-1.amazonaws.com/scfm.unicef.io/call_flow_logic";

/// A survey flow by logic name, or `None` for other names.
#[derive(Debug, Clone, Copy)]
pub struct Survey {
    rules: &'static [Rule],
    base: &'static str,
}

pub fn survey(name: &str) -> Option<Survey> {
    match name {
        "CallFlowLogic::AvfCapom::CapomShort" => Some(Survey {
            rules: SHORT,
            base: "avf_capom",
        }),
        "CallFlowLogic::AvfCapom::CapomLong" => Some(Survey {
            rules: LONG,
            base: "avf_capom",
        }),
        _ => None,
    }
}

impl Survey {
    /// The state after one step from `state` with `digits` (no matching rule: stay).
    pub fn step(&self, state: &str, digits: Option<&str>) -> String {
        let d = digits.map(str::trim).unwrap_or("");
        for (from, when, to) in self.rules {
            if *from != state {
                continue;
            }
            let ok = match when {
                When::Always => true,
                When::Yes => d == "1",
                When::No => d == "2",
                When::YesOrNo => d == "1" || d == "2",
                When::Any => !d.is_empty(),
            };
            if ok {
                return to.to_string();
            }
        }
        state.to_string()
    }

    fn play(&self, file: &str) -> Verb {
        Verb::play(format!("{AWS}/{}/{file}.wav", self.base))
    }

    /// TwiML for `state`. `changed`: whether this request moved the state (otherwise gathers
    /// first say they did not understand). `url`: the webhook URL as requested (redirects).
    pub fn twiml(&self, state: &str, changed: bool, url: &str) -> Vec<Verb> {
        if state == "playing_introduction" {
            return vec![
                self.play(state),
                Verb::Redirect {
                    url: url.to_string(),
                },
            ];
        }
        if state.starts_with("gathering_") {
            let digits = if state.ends_with("_amount") || state == "gathering_water_availability" {
                "3"
            } else {
                "1"
            };
            let mut children = Vec::new();
            if !changed {
                children.push(self.play("did_not_understand_response"));
            }
            children.push(self.play(state));
            return vec![Verb::Gather {
                attrs: vec![("numDigits", digits.into())],
                children,
            }];
        }
        if state.starts_with("recording_") {
            return vec![self.play(state), Verb::Record { attrs: Vec::new() }];
        }
        if state == "playing_transfer_not_received_exit_message"
            || state == "playing_completed_survey_message"
        {
            return vec![self.play(state), Verb::Hangup];
        }
        if state == "finished" {
            return vec![Verb::Hangup];
        }
        vec![Verb::say(super::NO_RESPONSE)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_the_long_survey() {
        let s = survey("CallFlowLogic::AvfCapom::CapomLong").unwrap();
        let mut state = "initialized".to_string();
        for (digits, expect) in [
            (None, "playing_introduction"),
            (None, "gathering_received_transfer"),
            (Some("9"), "gathering_received_transfer"),
            (Some("1"), "gathering_received_transfer_amount"),
            (Some("250"), "gathering_paid_for_transport"),
            (Some("2"), "gathering_safe_at_venue"),
        ] {
            state = s.step(&state, digits);
            assert_eq!(state, expect);
        }
        let doc = crate::call_flow::twiml::render(&s.twiml("gathering_safe_at_venue", false, "u"));
        assert!(doc.contains("<Gather numDigits=\"1\"><Play>https://s3-ap-southeast-1.amazonaws.com/scfm.unicef.io/call_flow_logic/avf_capom/did_not_understand_response.wav</Play>"), "{doc}");
        let amount =
            crate::call_flow::twiml::render(&s.twiml("gathering_fee_paid_amount", true, "u"));
        assert!(amount.contains("numDigits=\"3\""));
    }
}
