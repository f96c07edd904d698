//! Typed `q[...]` filters (SCFM §6). Parsing turns a client's nested parameters into a list of
//! conditions over a fixed set of column names per resource family; the store turns conditions
//! into SQL with every client value bound. Column names here are compile-time constants, so no
//! SQL text ever comes from a client.

use super::msisdn;
use super::time::{FilterTime, parse_filter_time};
use serde_json::{Map, Value};

/// Which resource a filter applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Contact,
    Callout,
    Participation,
    PhoneCall,
    BatchOperation,
    Event,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Before,
    OrBefore,
    After,
    OrAfter,
}

impl Cmp {
    pub fn sql(self) -> &'static str {
        match self {
            Cmp::Before => "<",
            Cmp::OrBefore => "<=",
            Cmp::After => ">",
            Cmp::OrAfter => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Column IN (values). Integer columns hold only values that parsed as integers.
    TextIn {
        column: &'static str,
        values: Vec<String>,
    },
    IntIn {
        column: &'static str,
        values: Vec<i64>,
    },
    /// Normalised msisdn equality.
    Msisdn(String),
    /// The text form of the JSON value at `path` in `column` equals `value`; `None` means the
    /// path is missing or JSON null.
    Json {
        column: &'static str,
        path: Vec<String>,
        value: Option<String>,
    },
    Time {
        column: &'static str,
        cmp: Cmp,
        value: FilterTime,
    },
    HasPhoneCalls(bool),
    LastAttempt(Vec<String>),
    NoCallsOrLastAttempt(Vec<String>),
    /// Matches no row (a value that normalises to nothing, an unsupported array, ...).
    Nothing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub family: Family,
    pub conds: Vec<Cond>,
}

struct Spec {
    text_lists: &'static [&'static str],
    int_lists: &'static [&'static str],
    msisdn: bool,
    json: &'static [&'static str],
    times: &'static [&'static str],
    scopes: bool,
}

const TS: &[&str] = &["created_at", "updated_at"];

fn spec(f: Family) -> Spec {
    match f {
        Family::Contact => Spec {
            text_lists: &[],
            int_lists: &[],
            msisdn: true,
            json: &["metadata"],
            times: TS,
            scopes: false,
        },
        Family::Callout => Spec {
            text_lists: &["status", "call_flow_logic"],
            int_lists: &[],
            msisdn: false,
            json: &["metadata"],
            times: TS,
            scopes: false,
        },
        Family::Participation => Spec {
            text_lists: &["call_flow_logic"],
            int_lists: &["callout_id", "contact_id", "callout_population_id"],
            msisdn: true,
            json: &["metadata"],
            times: TS,
            scopes: true,
        },
        Family::PhoneCall => Spec {
            text_lists: &[
                "status",
                "call_flow_logic",
                "remote_call_id",
                "remote_status",
                "remote_direction",
                "remote_error_message",
            ],
            int_lists: &["callout_participation_id", "contact_id"],
            msisdn: true,
            json: &[
                "metadata",
                "remote_response",
                "remote_queue_response",
                "remote_request_params",
            ],
            times: &["created_at", "updated_at", "remotely_queued_at"],
            scopes: false,
        },
        Family::BatchOperation => Spec {
            text_lists: &["status"],
            int_lists: &[],
            msisdn: false,
            json: &["metadata", "parameters"],
            times: TS,
            scopes: false,
        },
        Family::Event => Spec {
            text_lists: &["call_flow_logic", "remote_call_id", "remote_direction"],
            int_lists: &["phone_call_id"],
            msisdn: false,
            json: &["metadata", "details"],
            times: TS,
            scopes: false,
        },
    }
}

/// Splits a comma list (§2.4): pieces trimmed, empty pieces dropped.
pub fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Rails' boolean cast as SCFM used it: `None` for blank (not applied).
pub fn cast_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(!matches!(
            s.as_str(),
            "0" | "f" | "F" | "false" | "FALSE" | "off" | "OFF"
        )),
        Value::Number(n) => Some(n.as_f64() != Some(0.0)),
        _ => Some(true),
    }
}

/// A scalar's text form as a filter value (strings as they are, numbers/booleans as JSON text).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Filter {
    pub fn empty(family: Family) -> Self {
        Filter {
            family,
            conds: Vec::new(),
        }
    }

    /// Parses a `q` object. A non-object `q` (or `q` absent) gives an empty filter; unknown keys
    /// are ignored; unparsable timestamps are ignored.
    pub fn parse(family: Family, q: Option<&Value>) -> Self {
        let mut f = Filter::empty(family);
        if let Some(Value::Object(map)) = q {
            f.add_all(map);
        }
        f
    }

    fn add_all(&mut self, map: &Map<String, Value>) {
        let s = spec(self.family);
        for (key, value) in map {
            let key = key.as_str();
            if let Some(col) = s.text_lists.iter().find(|c| **c == key) {
                self.conds.push(match list_values(value) {
                    Some(values) if !values.is_empty() => Cond::TextIn {
                        column: col,
                        values,
                    },
                    Some(_) => Cond::Nothing,
                    None => continue,
                });
            } else if let Some(col) = s.int_lists.iter().find(|c| **c == key) {
                self.conds.push(match list_values(value) {
                    Some(values) => {
                        let ints: Vec<i64> = values.iter().filter_map(|v| v.parse().ok()).collect();
                        if ints.is_empty() {
                            Cond::Nothing
                        } else {
                            Cond::IntIn {
                                column: col,
                                values: ints,
                            }
                        }
                    }
                    None => continue,
                });
            } else if s.msisdn && key == "msisdn" {
                if let Some(raw) = scalar_text(value) {
                    self.conds.push(match msisdn::normalize_for_filter(&raw) {
                        Some(m) => Cond::Msisdn(m.into_string()),
                        None => Cond::Nothing,
                    });
                }
            } else if let Some(col) = s.json.iter().find(|c| **c == key) {
                if let Value::Object(inner) = value {
                    let mut path = Vec::new();
                    json_leaves(col, inner, &mut path, &mut self.conds);
                }
            } else if s.scopes && key == "has_phone_calls" {
                if let Some(b) = cast_bool(value) {
                    self.conds.push(Cond::HasPhoneCalls(b));
                }
            } else if s.scopes
                && (key == "last_phone_call_attempt" || key == "no_phone_calls_or_last_attempt")
            {
                let Some(values) = list_values(value) else {
                    continue;
                };
                self.conds.push(if key == "last_phone_call_attempt" {
                    if values.is_empty() {
                        Cond::Nothing
                    } else {
                        Cond::LastAttempt(values)
                    }
                } else {
                    Cond::NoCallsOrLastAttempt(values)
                });
            } else if let Some((col, cmp)) = time_key(s.times, key) {
                if let Some(t) = scalar_text(value).as_deref().and_then(parse_filter_time) {
                    self.conds.push(Cond::Time {
                        column: col,
                        cmp,
                        value: t,
                    });
                }
            }
        }
    }
}

/// Values of a list key: a scalar split on commas. Arrays never matched in SCFM (`Some(vec![])`);
/// objects are ignored (`None`).
fn list_values(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(_) => Some(Vec::new()),
        Value::Object(_) => None,
        Value::Null => Some(Vec::new()),
        other => scalar_text(other).map(|s| split_list(&s)),
    }
}

fn json_leaves(
    column: &'static str,
    map: &Map<String, Value>,
    path: &mut Vec<String>,
    out: &mut Vec<Cond>,
) {
    for (k, v) in map {
        path.push(k.clone());
        match v {
            Value::Object(inner) => json_leaves(column, inner, path, out),
            Value::Array(_) => out.push(Cond::Nothing),
            Value::Null => out.push(Cond::Json {
                column,
                path: path.clone(),
                value: None,
            }),
            other => out.push(Cond::Json {
                column,
                path: path.clone(),
                value: scalar_text(other),
            }),
        }
        path.pop();
    }
}

fn time_key(attrs: &[&'static str], key: &str) -> Option<(&'static str, Cmp)> {
    // Longest suffixes first so `_or_before` is not read as `_before`.
    const SUFFIXES: [(&str, Cmp); 4] = [
        ("_or_before", Cmp::OrBefore),
        ("_or_after", Cmp::OrAfter),
        ("_before", Cmp::Before),
        ("_after", Cmp::After),
    ];
    for (suffix, cmp) in SUFFIXES {
        if let Some(attr) = key.strip_suffix(suffix) {
            if let Some(col) = attrs.iter().find(|a| **a == attr) {
                return Some((col, cmp));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(f: Family, q: Value) -> Vec<Cond> {
        Filter::parse(f, Some(&q)).conds
    }

    #[test]
    fn lists_split_and_cast() {
        assert_eq!(
            parse(
                Family::PhoneCall,
                json!({"status": "remotely_queued, in_progress,"})
            ),
            vec![Cond::TextIn {
                column: "status",
                values: vec!["remotely_queued".into(), "in_progress".into()]
            }]
        );
        assert_eq!(
            parse(Family::Participation, json!({"contact_id": "1"})),
            vec![Cond::IntIn {
                column: "contact_id",
                values: vec![1]
            }]
        );
        assert_eq!(
            parse(Family::Participation, json!({"contact_id": "abc"})),
            vec![Cond::Nothing]
        );
        assert_eq!(
            parse(Family::Callout, json!({"status": ""})),
            vec![Cond::Nothing]
        );
        assert_eq!(
            parse(Family::Callout, json!({"status": ["running"]})),
            vec![Cond::Nothing]
        );
        assert_eq!(
            parse(Family::Contact, json!({"status": "x", "bogus": "y"})),
            vec![]
        );
    }

    #[test]
    fn json_paths_and_types() {
        assert_eq!(
            parse(
                Family::Contact,
                json!({"metadata": {"gender": "f", "bar": {"baz": "foo"}, "age": 30, "ok": true, "gone": null}})
            ),
            vec![
                Cond::Json {
                    column: "metadata",
                    path: vec!["gender".into()],
                    value: Some("f".into())
                },
                Cond::Json {
                    column: "metadata",
                    path: vec!["bar".into(), "baz".into()],
                    value: Some("foo".into())
                },
                Cond::Json {
                    column: "metadata",
                    path: vec!["age".into()],
                    value: Some("30".into())
                },
                Cond::Json {
                    column: "metadata",
                    path: vec!["ok".into()],
                    value: Some("true".into())
                },
                Cond::Json {
                    column: "metadata",
                    path: vec!["gone".into()],
                    value: None
                },
            ]
        );
        // A scalar where an object is expected is ignored ([fix] for SCFM's 500).
        assert_eq!(parse(Family::Contact, json!({"metadata": "x"})), vec![]);
    }

    #[test]
    fn msisdn_normalised() {
        for raw in ["252662345700", "+252662345700", "+252 66 234 5700"] {
            assert_eq!(
                parse(Family::Contact, json!({ "msisdn": raw })),
                vec![Cond::Msisdn("+252662345700".into())]
            );
        }
        assert_eq!(
            parse(Family::Contact, json!({"msisdn": "wrong"})),
            vec![Cond::Nothing]
        );
    }

    #[test]
    fn timestamps() {
        let c = parse(
            Family::PhoneCall,
            json!({"created_at_or_before": "2017-11-29", "remotely_queued_at_after": "2017-11-29 01:36:02", "updated_at_before": "nope"}),
        );
        assert_eq!(c.len(), 2);
        assert!(matches!(
            c[0],
            Cond::Time {
                column: "created_at",
                cmp: Cmp::OrBefore,
                value: FilterTime::Date(_)
            }
        ));
        assert!(matches!(
            c[1],
            Cond::Time {
                column: "remotely_queued_at",
                cmp: Cmp::After,
                value: FilterTime::Instant(_)
            }
        ));
    }

    #[test]
    fn scopes() {
        let c = parse(
            Family::Participation,
            json!({"has_phone_calls": "False", "last_phone_call_attempt": "failed,errored", "no_phone_calls_or_last_attempt": ""}),
        );
        assert_eq!(
            c,
            vec![
                Cond::HasPhoneCalls(true),
                Cond::LastAttempt(vec!["failed".into(), "errored".into()]),
                Cond::NoCallsOrLastAttempt(vec![]),
            ]
        );
        assert_eq!(
            parse(Family::Participation, json!({"has_phone_calls": "false"})),
            vec![Cond::HasPhoneCalls(false)]
        );
        assert_eq!(
            parse(Family::Participation, json!({"has_phone_calls": ""})),
            vec![]
        );
        assert_eq!(
            parse(Family::Contact, json!({"has_phone_calls": "1"})),
            vec![]
        );
    }
}
