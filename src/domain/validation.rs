//! Validation errors in SCFM's shape: attribute -> list of messages, in the order found.

use indexmap::IndexMap;
use serde::Serialize;

pub const BLANK: &str = "can't be blank";
pub const NOT_IN_LIST: &str = "is not included in the list";
pub const TAKEN: &str = "has already been taken";
pub const INVALID_NUMBER: &str = "is an invalid number";
pub const INVALID: &str = "is invalid";
pub const MUST_EXIST: &str = "must exist";

/// Ordered attribute -> messages map; serialises as `{"attr":["msg",...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(IndexMap<String, Vec<String>>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(attr: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(attr, message);
        e
    }

    /// Adds a message once per attribute (a rule that fails twice reports once).
    pub fn add(&mut self, attr: &str, message: impl Into<String>) {
        let message = message.into();
        let list = self.0.entry(attr.to_string()).or_default();
        if !list.contains(&message) {
            list.push(message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.0.iter()
    }

    /// "Remote direction can't be blank" style full messages (used by the XML webhook errors and
    /// by the TUI status bar).
    pub fn full_messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (attr, msgs) in &self.0 {
            for m in msgs {
                if attr == "base" {
                    out.push(m.clone());
                } else {
                    out.push(format!("{} {}", humanize(attr), m));
                }
            }
        }
        out
    }
}

/// Rails' `humanize`: `remote_direction` -> `Remote direction`.
pub fn humanize(attr: &str) -> String {
    let s = attr.strip_suffix("_id").unwrap_or(attr).replace('_', " ");
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.full_messages().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_unique_and_ordered() {
        let mut e = ValidationErrors::new();
        e.add("msisdn", BLANK);
        e.add("msisdn", BLANK);
        e.add("call_flow_logic", NOT_IN_LIST);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"msisdn":["can't be blank"],"call_flow_logic":["is not included in the list"]}"#
        );
        assert_eq!(
            e.full_messages(),
            vec![
                "Msisdn can't be blank",
                "Call flow logic is not included in the list"
            ]
        );
    }

    #[test]
    fn humanize_like_rails() {
        assert_eq!(humanize("remote_direction"), "Remote direction");
        assert_eq!(humanize("phone_call"), "Phone call");
        assert_eq!(humanize("contact_id"), "Contact");
    }
}
