//! Batch operation types and how their stored `parameters` are read (SCFM §10). Parameters are
//! stored exactly as received; these readers interpret them.

use super::filter::{Family, Filter, cast_bool};
use super::validation::{self, ValidationErrors};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchType {
    CalloutPopulation,
    PhoneCallCreate,
    PhoneCallQueue,
    PhoneCallQueueRemoteFetch,
}

impl BatchType {
    pub const ALL: [BatchType; 4] = [
        BatchType::CalloutPopulation,
        BatchType::PhoneCallCreate,
        BatchType::PhoneCallQueue,
        BatchType::PhoneCallQueueRemoteFetch,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BatchType::CalloutPopulation => "BatchOperation::CalloutPopulation",
            BatchType::PhoneCallCreate => "BatchOperation::PhoneCallCreate",
            BatchType::PhoneCallQueue => "BatchOperation::PhoneCallQueue",
            BatchType::PhoneCallQueueRemoteFetch => "BatchOperation::PhoneCallQueueRemoteFetch",
        }
    }
}

/// Read-only view over a batch operation's `parameters`.
pub struct Params<'a>(pub &'a Map<String, Value>);

const FILTER_KEYS: [&str; 4] = [
    "contact_filter_params",
    "callout_filter_params",
    "callout_participation_filter_params",
    "phone_call_filter_params",
];

/// Rails' `to_i`: leading digits (with an optional sign), anything else 0.
pub fn leading_int(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let n: i64 = digits[..end].parse().unwrap_or(0);
    if neg { -n } else { n }
}

fn int_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => Some(leading_int(s)),
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

impl<'a> Params<'a> {
    fn filter(&self, key: &str, family: Family) -> Filter {
        Filter::parse(family, self.0.get(key))
    }
    pub fn contact_filter(&self) -> Filter {
        self.filter("contact_filter_params", Family::Contact)
    }
    pub fn callout_filter(&self) -> Filter {
        self.filter("callout_filter_params", Family::Callout)
    }
    pub fn participation_filter(&self) -> Filter {
        self.filter("callout_participation_filter_params", Family::Participation)
    }
    pub fn phone_call_filter(&self) -> Filter {
        self.filter("phone_call_filter_params", Family::PhoneCall)
    }
    pub fn limit(&self) -> Option<i64> {
        self.0.get("limit").and_then(int_value)
    }
    pub fn max(&self) -> Option<i64> {
        self.0.get("max").and_then(int_value)
    }
    pub fn max_per_period(&self) -> Option<i64> {
        self.0.get("max_per_period").and_then(int_value)
    }
    pub fn max_per_period_hours(&self) -> i64 {
        self.0
            .get("max_per_period_hours")
            .and_then(int_value)
            .unwrap_or(24)
    }
    /// The column counted for `max_per_period`; a fixed name, never client text.
    pub fn max_per_period_timestamp_column(&self) -> &'static str {
        match self
            .0
            .get("max_per_period_timestamp_attribute")
            .and_then(Value::as_str)
        {
            Some("created_at") => "created_at",
            Some("updated_at") => "updated_at",
            _ => "remotely_queued_at",
        }
    }
    pub fn max_per_period_statuses(&self) -> Option<Vec<String>> {
        self.0
            .get("max_per_period_statuses")
            .and_then(Value::as_str)
            .map(super::filter::split_list)
            .filter(|v| !v.is_empty())
    }
    pub fn skip_validate_preview_presence(&self) -> bool {
        self.0
            .get("skip_validate_preview_presence")
            .and_then(cast_bool)
            .unwrap_or(false)
    }
    pub fn remote_request_params(&self) -> Option<&'a Map<String, Value>> {
        self.0
            .get("remote_request_params")
            .and_then(Value::as_object)
    }

    /// Shape checks shared by every type: filter parameters must be objects ([fix] SCFM crashed
    /// its previews on a scalar).
    pub fn validate_shape(&self, errors: &mut ValidationErrors) {
        for key in FILTER_KEYS {
            if let Some(v) = self.0.get(key) {
                if !v.is_object() {
                    errors.add("parameters", validation::INVALID);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_round_trip() {
        for t in BatchType::ALL {
            assert_eq!(BatchType::parse(t.as_str()), Some(t));
        }
        assert_eq!(BatchType::parse("BatchOperation::Bogus"), None);
    }

    #[test]
    fn parameter_readers() {
        let p = json!({"limit": "12abc", "max": 5, "skip_validate_preview_presence": "1",
                       "max_per_period_timestamp_attribute": "bogus", "contact_filter_params": "x"});
        let p = Params(p.as_object().unwrap());
        assert_eq!(p.limit(), Some(12));
        assert_eq!(p.max(), Some(5));
        assert!(p.skip_validate_preview_presence());
        assert_eq!(p.max_per_period_hours(), 24);
        assert_eq!(p.max_per_period_timestamp_column(), "remotely_queued_at");
        let mut e = ValidationErrors::new();
        p.validate_shape(&mut e);
        assert_eq!(e, ValidationErrors::single("parameters", "is invalid"));
        assert_eq!(leading_int("abc"), 0);
        assert_eq!(leading_int(" -3x"), -3);
    }
}
