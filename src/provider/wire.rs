//! Wire-format helpers shared by the provider client and the service layer: the stored shape of
//! a provider call resource (scfm-api.md §3), snake_case ⇄ CamelCase parameter names
//! (providers.md §1.2), turning `remote_request_params` into create-call form pairs, and pulling
//! the `message` out of an error body (providers.md §4.1). Works on `serde_json::Value` so that
//! unknown or oddly typed fields never make parsing fail.

use serde_json::{Map, Value};

use super::ProviderError;

/// Keys of a provider call resource that scfm stores, in the order it stores them (scfm-api.md §3).
pub const STORED_CALL_KEYS: [&str; 25] = [
    "account_sid",
    "annotation",
    "answered_by",
    "api_version",
    "caller_name",
    "date_created",
    "date_updated",
    "direction",
    "duration",
    "end_time",
    "forwarded_from",
    "from",
    "from_formatted",
    "group_sid",
    "parent_call_sid",
    "phone_number_sid",
    "price",
    "price_unit",
    "sid",
    "start_time",
    "status",
    "subresource_uris",
    "to",
    "to_formatted",
    "uri",
];

const DATE_KEYS: [&str; 4] = ["date_created", "date_updated", "start_time", "end_time"];

/// The `remote_request_params` keys scfm accepts (scfm-api.md §8.3).
pub const ALLOWED_REQUEST_KEYS: [&str; 21] = [
    "to",
    "from",
    "url",
    "application_sid",
    "method",
    "fallback_url",
    "fallback_method",
    "status_callback",
    "status_callback_event",
    "status_callback_method",
    "send_digits",
    "if_machine",
    "timeout",
    "record",
    "recording_channels",
    "recording_status_callback",
    "recording_status_callback_method",
    "sip_auth_username",
    "sip_auth_password",
    "machine_detection",
    "machine_detection_timeout",
];

/// Reduce a provider call resource to the stored shape: the keys of [`STORED_CALL_KEYS`] in that
/// order, null/absent ones omitted, `price` always a float (0.0 when null, missing or not a
/// number), the four dates converted from RFC 2822 to `2017-11-19T03:31:58.000+00:00` (kept as
/// received when they do not parse). A non-object input gives `{"price": 0.0}`.
pub fn reduce_call_payload(raw: &Value) -> Value {
    let empty = Map::new();
    let source = raw.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    for key in STORED_CALL_KEYS {
        if key == "price" {
            out.insert(key.to_string(), Value::from(price_value(source.get(key))));
            continue;
        }
        let Some(value) = source.get(key) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        let stored = match (DATE_KEYS.contains(&key), value.as_str()) {
            (true, Some(text)) => rfc2822_to_stored(text)
                .map(Value::String)
                .unwrap_or_else(|| value.clone()),
            _ => value.clone(),
        };
        out.insert(key.to_string(), stored);
    }
    Value::Object(out)
}

fn price_value(value: Option<&Value>) -> f64 {
    match value {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .unwrap_or(0.0),
        _ => 0.0,
    }
}

/// `Sun, 19 Nov 2017 03:31:58 +0000` → `2017-11-19T03:31:58.000+00:00` (offset as received).
pub fn rfc2822_to_stored(text: &str) -> Option<String> {
    chrono::DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|dt| dt.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string())
}

/// Parse a provider date (RFC 2822, or RFC 3339 as a courtesy) into UTC.
pub fn parse_provider_date(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = text.trim();
    chrono::DateTime::parse_from_rfc2822(text)
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|dt| dt.with_timezone(&chrono::Utc))
}

/// `status_callback_event` → `StatusCallbackEvent`: split on `_`, capitalise each part, join.
pub fn snake_to_camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for part in key.split('_') {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// `StatusCallbackEvent` → `status_callback_event`: `_` before every capital but the first,
/// everything lower-cased.
pub fn camel_to_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Why `remote_request_params` cannot be turned into a create request (nothing was sent).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("remote_request_params must be an object")]
    NotAnObject,
    #[error("remote_request_params: {0} is not included in the list")]
    UnknownKey(String),
    #[error(
        "remote_request_params: {0} has an unsupported value (objects and nested arrays are refused)"
    )]
    BadValue(String),
}

/// Build create-call form pairs from stored `remote_request_params` (snake_case keys) and the
/// call's msisdn: `To` first (always the msisdn; a given `to` is ignored), then the other keys in
/// their stored order, CamelCase names, arrays as repeated pairs (providers.md §1.2).
pub fn request_params_to_form(
    params: &Value,
    to: &str,
) -> Result<Vec<(String, String)>, ParamsError> {
    let empty = Map::new();
    let map = match params {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => return Err(ParamsError::NotAnObject),
    };
    let mut out = vec![("To".to_string(), to.to_string())];
    for (key, value) in map {
        if !ALLOWED_REQUEST_KEYS.contains(&key.as_str()) {
            return Err(ParamsError::UnknownKey(key.clone()));
        }
        if key == "to" {
            continue;
        }
        let name = snake_to_camel(key);
        match value {
            Value::Null => {}
            Value::Array(items) => {
                for item in items {
                    let text =
                        scalar_text(item).ok_or_else(|| ParamsError::BadValue(key.clone()))?;
                    out.push((name.clone(), text));
                }
            }
            other => {
                let text = scalar_text(other).ok_or_else(|| ParamsError::BadValue(key.clone()))?;
                out.push((name, text));
            }
        }
    }
    Ok(out)
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The `message` of a provider error body, when the body is a JSON object with a non-empty
/// string `message`. Empty, non-JSON or message-less bodies give `None`.
pub fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get("message")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The `code` of a provider error body as text (integer on Twilio, string on Somleng).
pub fn error_code(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get("code")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` body, pairs in order (`+` → `%2B`, space → `+`).
pub fn encode_form(params: &[(String, String)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// Classify a non-2xx provider answer (providers.md §4.2–§4.4). The message is the body's JSON
/// `message`; empty when the body is JSON without one (scfm-api.md §11.2 then stores just the
/// prefix); a placeholder naming the HTTP status when the body is empty or not JSON.
pub fn classify_error_response(
    status: u16,
    retry_after: Option<std::time::Duration>,
    body: &[u8],
) -> ProviderError {
    let is_json = serde_json::from_slice::<Value>(body).is_ok_and(|v| v.is_object());
    let message = match error_message(body) {
        Some(message) => message,
        None if is_json => String::new(),
        None => format!(
            "HTTP {status} {}",
            describe_body(body, "with a non-JSON body")
        ),
    };
    match status {
        429 => ProviderError::RateLimited {
            message,
            retry_after,
        },
        401 | 403 => ProviderError::Unauthorized { status, message },
        // 3xx (redirects are not followed) and 4xx: refused, nothing created.
        300..=499 => ProviderError::Rejected {
            status,
            code: error_code(body),
            message,
        },
        _ => ProviderError::Unknown {
            status: Some(status),
            message,
        },
    }
}

/// `with an empty body` for blank bodies, else `otherwise`.
pub fn describe_body(body: &[u8], otherwise: &str) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        "with an empty body".to_string()
    } else {
        otherwise.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reduces_to_stored_shape() {
        let raw = json!({
            "sid": "CA2", "status": "queued", "extra": 1, "to": "+85512345678",
            "date_created": "Sun, 19 Nov 2017 03:31:58 +0000",
            "date_updated": "Tue, 05 Mar 2024 10:15:28 +0700",
            "start_time": null, "price": "-0.03000", "account_sid": "AC1",
            "subresource_uris": {"b": 1, "a": 2}, "duration": 12,
        });
        let reduced = reduce_call_payload(&raw);
        let keys: Vec<&String> = reduced.as_object().expect("object").keys().collect();
        assert_eq!(
            keys,
            [
                "account_sid",
                "date_created",
                "date_updated",
                "duration",
                "price",
                "sid",
                "status",
                "subresource_uris",
                "to"
            ]
        );
        assert_eq!(reduced["date_created"], "2017-11-19T03:31:58.000+00:00");
        assert_eq!(reduced["date_updated"], "2024-03-05T10:15:28.000+07:00");
        assert_eq!(reduced["price"], json!(-0.03));
        assert_eq!(reduced["duration"], 12);
        let sub: Vec<&String> = reduced["subresource_uris"]
            .as_object()
            .expect("obj")
            .keys()
            .collect();
        assert_eq!(sub, ["b", "a"]);
    }

    #[test]
    fn price_defaults_and_numbers() {
        assert_eq!(reduce_call_payload(&json!({}))["price"], json!(0.0));
        assert!(reduce_call_payload(&json!({"price": null}))["price"].is_f64());
        assert_eq!(
            reduce_call_payload(&json!({"price": -0.5}))["price"],
            json!(-0.5)
        );
        assert_eq!(
            reduce_call_payload(&json!({"price": 0}))["price"],
            json!(0.0)
        );
        assert_eq!(
            reduce_call_payload(&json!({"price": "n/a"}))["price"],
            json!(0.0)
        );
        assert_eq!(reduce_call_payload(&json!("nope")), json!({"price": 0.0}));
    }

    #[test]
    fn unparseable_dates_kept() {
        let r = reduce_call_payload(&json!({"end_time": "2017-11-19T03:31:58.000Z"}));
        assert_eq!(r["end_time"], "2017-11-19T03:31:58.000Z");
    }

    #[test]
    fn name_mapping_round_trips_all_keys() {
        assert_eq!(
            snake_to_camel("status_callback_event"),
            "StatusCallbackEvent"
        );
        assert_eq!(snake_to_camel("url"), "Url");
        assert_eq!(camel_to_snake("ApplicationSid"), "application_sid");
        for key in ALLOWED_REQUEST_KEYS {
            assert_eq!(camel_to_snake(&snake_to_camel(key)), key);
        }
    }

    #[test]
    fn request_params_to_form_pairs() {
        let params = json!({"from": "+85510999999", "to": "+1", "url": "https://x/t",
            "status_callback_event": ["ringing", "completed"], "timeout": 45, "record": true});
        let form = request_params_to_form(&params, "+85512345678").expect("ok");
        let names: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            names,
            [
                ("To", "+85512345678"),
                ("From", "+85510999999"),
                ("Url", "https://x/t"),
                ("StatusCallbackEvent", "ringing"),
                ("StatusCallbackEvent", "completed"),
                ("Timeout", "45"),
                ("Record", "true")
            ]
        );
        assert_eq!(
            request_params_to_form(&json!({"From": "x"}), "+1"),
            Err(ParamsError::UnknownKey("From".into()))
        );
        assert_eq!(
            request_params_to_form(&json!({"url": {"a": 1}}), "+1"),
            Err(ParamsError::BadValue("url".into()))
        );
    }

    #[test]
    fn error_message_extraction() {
        assert_eq!(
            error_message(br#"{"code":20404,"message":"The requested resource x was not found"}"#)
                .as_deref(),
            Some("The requested resource x was not found")
        );
        assert_eq!(
            error_message(br#"{"status":404,"error":"Not Found"}"#),
            None
        );
        assert_eq!(error_message(b"<html>502</html>"), None);
        assert_eq!(error_message(b""), None);
        assert_eq!(error_message(b"[1,2]"), None);
        assert_eq!(error_code(br#"{"code":"21210"}"#).as_deref(), Some("21210"));
        assert_eq!(error_code(br#"{"code":21211}"#).as_deref(), Some("21211"));
    }
    #[test]
    fn form_encoding_plus_and_repeats() {
        let params = vec![
            ("To".to_string(), "+85512345678".to_string()),
            ("StatusCallbackEvent".to_string(), "ringing".to_string()),
            ("StatusCallbackEvent".to_string(), "completed".to_string()),
            ("Url".to_string(), "https://x.test/a?b=1 2".to_string()),
        ];
        assert_eq!(
            encode_form(&params),
            "To=%2B85512345678&StatusCallbackEvent=ringing&StatusCallbackEvent=completed&Url=https%3A%2F%2Fx.test%2Fa%3Fb%3D1+2"
        );
    }
}
