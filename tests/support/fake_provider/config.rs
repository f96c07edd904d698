//! Configuration of the fake provider: flavour, account, clock speed, the scenario table that
//! picks each call's outcome by destination number, and webhook knobs (providers.md §10).

use std::time::Duration;

/// Which provider the fake imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Twilio,
    Somleng,
}

/// How a call to a number ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Answered,
    Busy,
    NoAnswer,
    Failed,
    /// Rejected at create time: 400 (Twilio) / 422 (Somleng), code 21211.
    InvalidNumber,
}

/// What happens on a call, in call seconds (scaled by `FakeConfig::tick`).
#[derive(Clone, Debug)]
pub struct Scenario {
    pub outcome: Outcome,
    pub ring_secs: u64,
    /// Talk time when no TwiML is run (or the time the callee stays after the document ends).
    pub talk_secs: u64,
    /// Keys fed to each successive `<Gather>` (`""` = silence).
    pub digits: Vec<String>,
    /// Recording length reported for `<Record>`.
    pub record_secs: u64,
    /// The callee hangs up while the first `<Gather>` listens.
    pub hangup_during_gather: bool,
    /// What answering machine detection says once the call is answered, when the create asked
    /// for it (`MachineDetection`): `human` unless set (Twilio's `machine_end_beep`, …).
    pub answered_by: Option<&'static str>,
}

impl Scenario {
    fn with(outcome: Outcome) -> Self {
        Scenario {
            outcome,
            ring_secs: 3,
            talk_secs: 5,
            digits: Vec::new(),
            record_secs: 4,
            hangup_during_gather: false,
            answered_by: None,
        }
    }
    pub fn answered() -> Self {
        Self::with(Outcome::Answered)
    }
    pub fn answers_and_presses(script: &[&str]) -> Self {
        Scenario {
            digits: script.iter().map(|s| (*s).to_string()).collect(),
            ..Self::answered()
        }
    }
    pub fn hangup_during_gather() -> Self {
        Scenario {
            hangup_during_gather: true,
            ..Self::answered()
        }
    }
    /// Answered by a voicemail box (reported only when machine detection was asked for).
    pub fn machine() -> Self {
        Scenario {
            answered_by: Some("machine_end_beep"),
            ..Self::answered()
        }
    }
    pub fn busy() -> Self {
        Self::with(Outcome::Busy)
    }
    pub fn no_answer() -> Self {
        Scenario {
            ring_secs: 30,
            ..Self::with(Outcome::NoAnswer)
        }
    }
    pub fn failed() -> Self {
        Self::with(Outcome::Failed)
    }
    pub fn invalid_number() -> Self {
        Self::with(Outcome::InvalidNumber)
    }
}

/// Picks a scenario by destination: the exact `To`, or the last digits of it.
#[derive(Clone, Debug)]
pub enum NumberMatch {
    Exact(String),
    Suffix(String),
}

#[derive(Clone, Debug)]
pub struct ScenarioRule {
    pub number: NumberMatch,
    pub scenario: Scenario,
}

/// Misbehaviour of outgoing webhooks (providers.md §10 "Knobs").
#[derive(Clone, Debug, Default)]
pub struct WebhookKnobs {
    /// Sign with this token instead of the account's.
    pub wrong_token: Option<String>,
    /// Sign the URL with the default port written out (`:80` / `:443`).
    pub sign_with_default_port: bool,
    /// Send every status callback twice.
    pub duplicate: bool,
    /// Do not send status callbacks for these `CallStatus` values.
    pub drop_statuses: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct FakeConfig {
    pub flavour: Flavour,
    pub account_sid: String,
    pub auth_token: String,
    /// Real time per call second (1 ms by default: a 30 s ring takes 30 ms).
    pub tick: Duration,
    /// Checked in order; the first match wins, else `default_scenario`.
    pub scenarios: Vec<ScenarioRule>,
    pub default_scenario: Scenario,
    /// When set, `From` must be one of these (else 21210).
    pub from_numbers: Option<Vec<String>>,
    pub default_page_size: usize,
    /// Calls per second released from the queue (None: no queueing).
    pub cps: Option<f64>,
    /// Run the TwiML interpreter on answer when the call has a `Url`/`Twiml`.
    pub run_twiml: bool,
    pub webhooks: WebhookKnobs,
    /// Texts to these numbers end `failed` (30003); every other text is `delivered`.
    pub message_failures: Vec<NumberMatch>,
    /// Real time between a text's statuses (queued → sent → delivered/failed).
    pub message_step: Duration,
}

impl FakeConfig {
    pub fn twilio() -> Self {
        Self::new(Flavour::Twilio, "AC00000000000000000000000000000001".into())
    }
    pub fn somleng() -> Self {
        Self::new(
            Flavour::Somleng,
            "2ab9b23d-14de-4fa8-a5a2-75cb6dfd59b8".into(),
        )
    }
    fn new(flavour: Flavour, account_sid: String) -> Self {
        let preset = |suffix: &str, scenario: Scenario| ScenarioRule {
            number: NumberMatch::Suffix(suffix.into()),
            scenario,
        };
        FakeConfig {
            flavour,
            account_sid,
            auth_token: "scfm-test-auth-token".into(),
            tick: Duration::from_millis(1),
            // Presets by last digits; every other number answers and listens.
            scenarios: vec![
                preset("9001", Scenario::busy()),
                preset("9002", Scenario::no_answer()),
                preset("9003", Scenario::failed()),
                preset("9004", Scenario::invalid_number()),
                preset("9005", Scenario::answers_and_presses(&["1", "250#", ""])),
                preset("9006", Scenario::hangup_during_gather()),
            ],
            default_scenario: Scenario::answered(),
            from_numbers: None,
            default_page_size: 50,
            cps: None,
            run_twiml: true,
            webhooks: WebhookKnobs::default(),
            message_failures: Vec::new(),
            message_step: Duration::from_millis(20),
        }
    }
    pub fn flavour(flavour: Flavour) -> Self {
        match flavour {
            Flavour::Twilio => Self::twilio(),
            Flavour::Somleng => Self::somleng(),
        }
    }
    /// Add a rule in front of the presets.
    pub fn scenario(mut self, number: NumberMatch, scenario: Scenario) -> Self {
        self.scenarios.insert(0, ScenarioRule { number, scenario });
        self
    }
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }
    pub fn scenario_for(&self, to: &str) -> Scenario {
        self.scenarios
            .iter()
            .find(|rule| match &rule.number {
                NumberMatch::Exact(n) => n == to,
                NumberMatch::Suffix(s) => to.ends_with(s.as_str()),
            })
            .map_or_else(|| self.default_scenario.clone(), |r| r.scenario.clone())
    }
}
