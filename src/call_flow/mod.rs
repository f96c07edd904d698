//! Call flow logic: what callers hear. Pure functions from a logic name, the call's state and
//! the provider's request to TwiML. The service resolves which logic applies and persists any
//! flow state.

pub mod avf;
pub mod engine;
pub mod flow;
pub mod registry;
pub mod twiml;

pub use registry::Registry;

use twiml::Verb;

pub const APPLICATION_SAY: &str = "Thanks for trying our documentation. Enjoy!";
pub const APPLICATION_PLAY: &str = "http://demo.twilio.com/docs/classic.mp3";
pub const NO_RESPONSE: &str = "Sorry. The application has no response. Goodbye.";

/// TwiML of SCFM's default logic (`CallFlowLogic::Application`), byte for byte.
pub fn application() -> String {
    twiml::render(&[Verb::say(APPLICATION_SAY), Verb::play(APPLICATION_PLAY)])
}

/// SCFM's generic fallback document.
pub fn no_response() -> String {
    twiml::render(&[Verb::say(NO_RESPONSE)])
}
