//! The call flow logics of this run (SCFM §12.3, §13): which names are registered, the
//! default, and the declarative flows loaded at start-up.

use super::flow::{Flow, FlowSet};
use crate::domain::call_flow::{APPLICATION, KNOWN};
use std::sync::Arc;

/// The registered names and the default, fixed at start-up.
#[derive(Debug, Clone)]
pub struct Registry {
    registered: Vec<String>,
    default: String,
    flows: Arc<FlowSet>,
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
        Self::with_flows(FlowSet::built_in(), requested, default)
    }

    /// Same, with the declarative flows loaded for this run (their names become known).
    pub fn with_flows(flows: FlowSet, requested: &[String], default: Option<&str>) -> Self {
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
            flows: Arc::new(flows),
        }
    }

    /// The declarative flow with this name, if any.
    pub fn flow(&self, name: &str) -> Option<&Flow> {
        self.flows.get(name)
    }

    pub fn flows(&self) -> &FlowSet {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::call_flow::parse_list;

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
