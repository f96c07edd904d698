//! The callout form: name, call flow logic, audio URL, message and caller id, then the dialing
//! settings of the campaign runner (`CalloutInput.dialing`), shown while ^t has them on. Off
//! means a manual callout (saving removes any settings it had). The TUI only turns text into
//! the `dialing` object; the service validates it and its reasons (under `dialing`) come back
//! into the form and the status bar.

use super::super::action::{Action, CalloutFields, Effect};
use super::form::{Field, Form, Section};
use crate::service::tui_queries::CalloutSummary;
use serde_json::{Map, Value};

/// Dialing fields: key in the `dialing` object (`calling_window.x` nests), label, hint.
pub const DIALING: [(&str, &str, &str); 14] = [
    ("from", "from (caller id)", "required, e.g. +85510999999"),
    ("call_flow_logic", "call flow logic", "this or a TwiML URL"),
    ("twiml_url", "TwiML URL", "this or a call flow logic"),
    ("max_calls_per_second", "max calls per second", "default 1"),
    ("max_concurrent_calls", "max concurrent calls", "default 10"),
    (
        "retry_statuses",
        "retry statuses",
        "default failed,busy,not_answered,errored",
    ),
    ("max_attempts", "max attempts", "default 3"),
    ("retry_delay_seconds", "retry delay seconds", "default 900"),
    (
        "retry_backoff",
        "retry backoff",
        "default 1 (×delay per attempt)",
    ),
    (
        "calling_window.start",
        "window start",
        "HH:MM; empty = any time",
    ),
    ("calling_window.end", "window end", "HH:MM"),
    (
        "calling_window.days",
        "window days",
        "mon,tue,…; empty = every day",
    ),
    (
        "calling_window.time_zone",
        "window time zone",
        "e.g. Asia/Phnom_Penh",
    ),
    (
        "machine_detection",
        "machine detection",
        "no (yes to detect)",
    ),
];

/// The form field holding the dialing setting `key` (the base fields use some of the same
/// names: `from`, `call_flow_logic`).
fn dialing_field(key: &str) -> String {
    format!("dialing.{key}")
}

fn meta_str(metadata: &Value, key: &str) -> String {
    metadata
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null | Value::Bool(false) => String::new(),
        Value::Bool(true) => "yes".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// The stored `dialing` object as form text, in `DIALING` order.
pub fn dialing_values(dialing: Option<&Value>) -> Vec<String> {
    DIALING
        .iter()
        .map(|(key, _, _)| {
            let v = match key.split_once('.') {
                Some((outer, inner)) => dialing.and_then(|d| d.get(outer)?.get(inner)),
                None => dialing.and_then(|d| d.get(key)),
            };
            v.map(text_of).unwrap_or_default()
        })
        .collect()
}

/// Form text -> the `dialing` object: empty fields are left out (the service's defaults
/// apply); numbers, yes/no and comma lists go as text, which the service reads leniently
/// (as it does for form bodies); the calling window's days become a list.
pub fn dialing_map(values: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    let mut window = Map::new();
    for ((key, _, _), value) in DIALING.iter().zip(values) {
        let v = value.trim();
        if v.is_empty() {
            continue;
        }
        match key.split_once('.') {
            Some((_, "days")) => {
                let days = v
                    .split([',', ' '])
                    .filter(|d| !d.is_empty())
                    .map(|d| Value::String(d.to_string()))
                    .collect();
                window.insert("days".into(), Value::Array(days));
            }
            Some((_, inner)) => {
                window.insert(inner.into(), Value::String(v.into()));
            }
            None => {
                out.insert((*key).into(), Value::String(v.into()));
            }
        }
    }
    if !window.is_empty() {
        out.insert("calling_window".into(), Value::Object(window));
    }
    out
}

/// What the form starts with when editing `s`.
pub fn fields_of(s: &CalloutSummary) -> CalloutFields {
    let c = &s.callout;
    let m = &c.metadata;
    CalloutFields {
        name: meta_str(m, "name"),
        call_flow_logic: c.call_flow_logic.clone().unwrap_or_default(),
        audio_url: meta_str(m, "audio_url"),
        message: meta_str(m, "message"),
        from: meta_str(m, "from"),
        dialing_on: c.dialing.as_ref().is_some_and(|d| !d.is_null()),
        dialing: dialing_values(c.dialing.as_ref()),
    }
}

/// The form's text as `CalloutFields`.
pub fn fields_of_form(form: &Form) -> CalloutFields {
    CalloutFields {
        name: form.text("name"),
        call_flow_logic: form.text("call_flow_logic"),
        audio_url: form.text("audio_url"),
        message: form.text("message"),
        from: form.text("from"),
        dialing_on: form.section_on(),
        dialing: DIALING
            .iter()
            .map(|(key, _, _)| form.text(&dialing_field(key)))
            .collect(),
    }
}

/// The save: metadata keys that are set, the call flow logic, and the dialing settings
/// (`Some(None)` when off on an existing callout, removing any it had).
pub fn save_effect(id: Option<i64>, fields: CalloutFields) -> Effect {
    let mut metadata = Map::new();
    for (k, v) in [
        ("name", &fields.name),
        ("audio_url", &fields.audio_url),
        ("message", &fields.message),
        ("from", &fields.from),
    ] {
        if !v.is_empty() {
            metadata.insert(k.into(), Value::String(v.clone()));
        }
    }
    let dialing = match (fields.dialing_on, id) {
        (true, _) => Some(Some(dialing_map(&fields.dialing))),
        (false, Some(_)) => Some(None),
        (false, None) => None,
    };
    Effect::SaveCallout {
        id,
        call_flow_logic: Some(fields.call_flow_logic).filter(|s| !s.is_empty()),
        metadata,
        dialing,
    }
}

impl Form {
    pub fn callout(id: Option<i64>, f: &CalloutFields, flows: &str) -> Form {
        let title = match id {
            Some(id) => format!("Edit callout {id}"),
            None => "New callout".into(),
        };
        let one =
            |key: String, label: &str, v: &str| Field::new(key, label, vec![v.to_string()], false);
        let base = |key: &str, label: &str, v: &str| one(key.to_string(), label, v);
        let mut fields = vec![
            base("name", "name", &f.name),
            base("call_flow_logic", "call flow logic", &f.call_flow_logic).hint(flows),
            base("audio_url", "audio URL", &f.audio_url),
            base("message", "message", &f.message),
            base("from", "caller id (from)", &f.from).hint("for manual calls"),
        ];
        for (i, (key, label, hint)) in DIALING.iter().enumerate() {
            let value = f.dialing.get(i).map(String::as_str).unwrap_or("");
            let hint = if *key == "call_flow_logic" && !flows.is_empty() {
                flows
            } else {
                hint
            };
            fields.push(
                one(dialing_field(key), label, value)
                    .hint(hint)
                    .in_section(),
            );
        }
        let mut form = Form::new(title, fields, move |form| Action::SubmitCallout {
            id,
            fields: fields_of_form(form),
        });
        form.compact = true;
        form.section = Some(Section {
            on: f.dialing_on,
            on_text: "Dialing settings: on — the campaign runner dials, paces and retries",
            off_text: "Dialing settings: off — a manual callout (^t turns them on)",
        });
        form
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dialing_round_trip() {
        let stored = json!({
            "from": "+85510999999", "twiml_url": "https://x.org/t.xml",
            "max_calls_per_second": 2.0, "max_concurrent_calls": 5,
            "retry_statuses": ["busy", "failed"], "max_attempts": 3,
            "retry_delay_seconds": 60, "retry_backoff": 1.0, "machine_detection": true,
            "calling_window": {"start": "08:00", "end": "20:00", "days": ["mon", "tue"],
                               "time_zone": "Asia/Phnom_Penh"}
        });
        let values = dialing_values(Some(&stored));
        assert_eq!(values[0], "+85510999999");
        assert_eq!(values[5], "busy,failed");
        assert_eq!(values[11], "mon,tue");
        assert_eq!(values[13], "yes");
        let map = dialing_map(&values);
        assert_eq!(map["calling_window"]["days"], json!(["mon", "tue"]));
        assert_eq!(map["max_concurrent_calls"], "5");
        assert!(!map.contains_key("call_flow_logic"));
        assert!(dialing_map(&vec![String::new(); DIALING.len()]).is_empty());
    }
}
