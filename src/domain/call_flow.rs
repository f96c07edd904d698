//! Which call flow logic names exist and which are registered (SCFM §12.3, §13).

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

/// The registered names and the default, fixed at start-up.
#[derive(Debug, Clone)]
pub struct Registry {
    registered: Vec<String>,
    default: String,
    flows: std::sync::Arc<crate::call_flow::flow::FlowSet>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new(&[], None)
    }
}

impl Registry {
    /// `requested`: names from `REGISTERED_CALL_FLOW_LOGIC` (already split and trimmed);
    /// `default`: `DEFAULT_CALL_FLOW_LOGIC`, used only when registered.
    pub fn new(requested: &[String], default: Option<&str>) -> Self {
        Self::with_flows(
            crate::call_flow::flow::FlowSet::built_in(),
            requested,
            default,
        )
    }

    /// Same, with the declarative flows loaded for this run (their names become known).
    pub fn with_flows(
        flows: crate::call_flow::flow::FlowSet,
        requested: &[String],
        default: Option<&str>,
    ) -> Self {
        let mut known: Vec<String> = KNOWN.iter().map(|s| s.to_string()).collect();
        known.extend(flows.names());
        let mut registered = vec![APPLICATION.to_string()];
        for name in requested {
            if known.contains(name) && !registered.contains(name) {
                registered.push(name.clone());
            }
        }
        let default = match default {
            Some(d) if registered.iter().any(|r| r == d) => d.to_string(),
            _ => APPLICATION.to_string(),
        };
        Registry {
            registered,
            default,
            flows: std::sync::Arc::new(flows),
        }
    }

    /// The declarative flow with this name, if any.
    pub fn flow(&self, name: &str) -> Option<&crate::call_flow::flow::Flow> {
        self.flows.get(name)
    }

    pub fn flows(&self) -> &crate::call_flow::flow::FlowSet {
        &self.flows
    }

    pub fn is_registered(&self, name: &str) -> bool {
        self.registered.iter().any(|r| r == name)
    }

    pub fn registered(&self) -> &[String] {
        &self.registered
    }

    pub fn default_name(&self) -> &str {
        &self.default
    }

    /// The logic an event runs: the call's effective value if registered, else the default.
    pub fn resolve(&self, effective: Option<&str>) -> String {
        match effective {
            Some(name) if self.is_registered(name) => name.to_string(),
            _ => self.default.clone(),
        }
    }
}

/// Splits `REGISTERED_CALL_FLOW_LOGIC` (comma list; trimming is a harmless fix over SCFM).
pub fn parse_list(raw: &str) -> Vec<String> {
    super::filter::split_list(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration() {
        let r = Registry::new(
            &parse_list("CallFlowLogic::OutcomeMonitoring, Bogus"),
            Some("Bogus"),
        );
        assert!(r.is_registered("CallFlowLogic::OutcomeMonitoring"));
        assert!(r.is_registered(APPLICATION));
        assert!(!r.is_registered("Bogus"));
        assert_eq!(r.default_name(), APPLICATION);
        assert_eq!(
            r.resolve(Some("CallFlowLogic::AvfCapom::CapomLong")),
            APPLICATION
        );
        assert_eq!(
            r.resolve(Some("CallFlowLogic::OutcomeMonitoring")),
            "CallFlowLogic::OutcomeMonitoring"
        );
        let r2 = Registry::new(
            &parse_list("CallFlowLogic::OutcomeMonitoring"),
            Some("CallFlowLogic::OutcomeMonitoring"),
        );
        assert_eq!(r2.resolve(None), "CallFlowLogic::OutcomeMonitoring");
    }
}
