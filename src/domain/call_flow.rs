//! Which call flow logic names exist (SCFM §12.3, §13). Which of them are registered for a
//! run, with the declarative flows loaded for it, is `call_flow::Registry`.

/// SCFM's default logic, always registered.
pub const APPLICATION: &str = "CallFlowLogic::Application";

/// Names built into the code (SCFM's AVF surveys). Declarative flows (`assets/flows/`, the
/// config dir, `--flows DIR`) add theirs. `REGISTERED_CALL_FLOW_LOGIC` may register any known
/// name; unknown names in that variable are ignored, as SCFM did.
pub const KNOWN: &[&str] = &[
    APPLICATION,
    "CallFlowLogic::AvfCapom::CapomShort",
    "CallFlowLogic::AvfCapom::CapomLong",
];

/// Splits `REGISTERED_CALL_FLOW_LOGIC` (comma list; trimming is a harmless fix over SCFM).
pub fn parse_list(raw: &str) -> Vec<String> {
    super::filter::split_list(raw)
}
