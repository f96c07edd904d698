//! Dialing settings of a callout (the campaign runner): who calls, how fast, how often to retry,
//! and when nobody may be dialled. A callout without settings keeps SCFM's manual behaviour.

use super::sms_fallback::SmsFallback;
use super::validation::ValidationErrors;
use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

fn default_retry_statuses() -> Vec<String> {
    ["failed", "busy", "not_answered", "errored"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_max_attempts() -> u32 {
    3
}
fn default_retry_delay() -> u64 {
    900
}
fn default_backoff() -> f64 {
    1.0
}
fn default_cps() -> f64 {
    1.0
}
fn default_concurrent() -> u32 {
    10
}

/// Hours and weekdays, in a time zone, outside which nobody is dialled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallingWindow {
    /// `HH:MM`, local time.
    pub start: String,
    /// `HH:MM`, local time (exclusive). May be earlier than `start` to span midnight.
    pub end: String,
    /// `mon`..`sun`; empty = every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// IANA zone name, e.g. `Asia/Phnom_Penh`.
    pub time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialingSettings {
    /// Caller ID (`From`).
    pub from: String,
    /// Flow run by scfm's webhook; needs `SCFM_PUBLIC_URL`. Alternative to `twiml_url`.
    #[serde(default)]
    pub call_flow_logic: Option<String>,
    /// A TwiML document the provider fetches itself (works without webhooks).
    #[serde(default)]
    pub twiml_url: Option<String>,
    #[serde(default = "default_cps")]
    pub max_calls_per_second: f64,
    #[serde(default = "default_concurrent")]
    pub max_concurrent_calls: u32,
    #[serde(default = "default_retry_statuses")]
    pub retry_statuses: Vec<String>,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Seconds between attempts.
    #[serde(default = "default_retry_delay")]
    pub retry_delay_seconds: u64,
    /// Each further attempt waits this many times longer (1 = constant).
    #[serde(default = "default_backoff")]
    pub retry_backoff: f64,
    #[serde(default)]
    pub calling_window: Option<CallingWindow>,
    /// Ask the provider to detect answering machines (Twilio `MachineDetection=Enable`).
    #[serde(default)]
    pub machine_detection: bool,
    /// A text sent once to each person the calls did not reach (`domain::sms_fallback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_fallback: Option<SmsFallback>,
}

const RETRYABLE: &[&str] = &[
    "failed",
    "busy",
    "not_answered",
    "errored",
    "canceled",
    "completed",
];

fn day(s: &str) -> Option<Weekday> {
    match s.to_ascii_lowercase().get(..3)? {
        "mon" => Some(Weekday::Mon),
        "tue" => Some(Weekday::Tue),
        "wed" => Some(Weekday::Wed),
        "thu" => Some(Weekday::Thu),
        "fri" => Some(Weekday::Fri),
        "sat" => Some(Weekday::Sat),
        "sun" => Some(Weekday::Sun),
        _ => None,
    }
}

fn hm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

/// Form bodies carry every value as text: read numbers, booleans and comma lists from strings.
fn lenient(v: &Map<String, Value>) -> Map<String, Value> {
    let mut out = v.clone();
    for (k, val) in out.iter_mut() {
        if let (Value::Object(inner), "sms_fallback") = (&mut *val, k.as_str()) {
            if let Some(Value::String(t)) = inner.get("max_messages_per_second") {
                if let Ok(f) = t.trim().parse::<f64>() {
                    inner.insert("max_messages_per_second".into(), serde_json::json!(f));
                }
            }
            continue;
        }
        let Value::String(text) = val else { continue };
        let t = text.trim().to_string();
        match k.as_str() {
            "max_calls_per_second" | "retry_backoff" => {
                if let Ok(f) = t.parse::<f64>() {
                    *val = serde_json::json!(f);
                }
            }
            "max_concurrent_calls" | "max_attempts" | "retry_delay_seconds" => {
                if let Ok(n) = t.parse::<u64>() {
                    *val = Value::from(n);
                }
            }
            "machine_detection" => {
                *val = Value::Bool(!matches!(
                    t.as_str(),
                    "" | "0" | "f" | "false" | "off" | "no"
                ));
            }
            "retry_statuses" => {
                *val = Value::Array(
                    super::filter::split_list(&t)
                        .into_iter()
                        .map(Value::String)
                        .collect(),
                );
            }
            _ => {}
        }
    }
    out
}

impl DialingSettings {
    /// Parses and validates the `dialing` object of a callout; errors name `dialing`.
    pub fn parse(v: &Map<String, Value>, errors: &mut ValidationErrors) -> Option<DialingSettings> {
        let mut s: DialingSettings = match serde_json::from_value(Value::Object(lenient(v))) {
            Ok(s) => s,
            Err(e) => {
                errors.add("dialing", format!("is invalid ({e})"));
                return None;
            }
        };
        let mut bad = |m: &str| errors.add("dialing", m.to_string());
        if s.from.trim().is_empty() {
            bad("from can't be blank");
        }
        match (&s.call_flow_logic, &s.twiml_url) {
            (None, None) => bad("needs call_flow_logic or twiml_url"),
            (Some(_), Some(_)) => bad("takes call_flow_logic or twiml_url, not both"),
            _ => {}
        }
        if !(s.max_calls_per_second > 0.0 && s.max_calls_per_second <= 1000.0) {
            bad("max_calls_per_second must be between 0 and 1000");
        }
        if s.max_concurrent_calls == 0 {
            bad("max_concurrent_calls must be at least 1");
        }
        if s.max_attempts == 0 || s.max_attempts > 20 {
            bad("max_attempts must be between 1 and 20");
        }
        if !(s.retry_backoff >= 1.0 && s.retry_backoff <= 10.0) {
            bad("retry_backoff must be between 1 and 10");
        }
        if s.retry_statuses
            .iter()
            .any(|r| !RETRYABLE.contains(&r.as_str()))
        {
            bad("retry_statuses must be final call statuses");
        }
        if let Some(w) = &s.calling_window {
            if hm(&w.start).is_none() || hm(&w.end).is_none() {
                bad("calling_window start/end must be HH:MM");
            }
            if w.days.iter().any(|d| day(d).is_none()) {
                bad("calling_window days must be mon..sun");
            }
            if w.time_zone.parse::<chrono_tz::Tz>().is_err() {
                bad("calling_window time_zone is not a known time zone");
            }
        }
        if let Some(f) = s.sms_fallback.as_mut() {
            for m in f.check() {
                bad(m);
            }
        }
        if errors.is_empty() { Some(s) } else { None }
    }

    /// The sender of the fallback text: its own `from`, else the caller ID.
    pub fn sms_from(&self) -> Option<&str> {
        let f = self.sms_fallback.as_ref()?;
        Some(f.from.as_deref().unwrap_or(&self.from))
    }

    /// Whether `now` falls inside the calling window (always, without one).
    pub fn in_window(&self, now: DateTime<Utc>) -> bool {
        let Some(w) = &self.calling_window else {
            return true;
        };
        let (Some(start), Some(end), Ok(tz)) = (
            hm(&w.start),
            hm(&w.end),
            w.time_zone.parse::<chrono_tz::Tz>(),
        ) else {
            return false;
        };
        let local = now.with_timezone(&tz);
        if !w.days.is_empty()
            && !w
                .days
                .iter()
                .filter_map(|d| day(d))
                .any(|d| d == local.weekday())
        {
            return false;
        }
        let t = local.time();
        if start <= end {
            t >= start && t < end
        } else {
            t >= start || t < end
        }
    }

    /// Delay before attempt `n + 1`, after `n` attempts (n ≥ 1).
    pub fn delay_after(&self, attempts: u32) -> chrono::Duration {
        let factor = self.retry_backoff.powi(attempts.saturating_sub(1) as i32);
        let secs = (self.retry_delay_seconds as f64 * factor).min(7.0 * 86_400.0);
        chrono::Duration::milliseconds((secs * 1000.0) as i64)
    }

    /// `remote_request_params` for a runner call (snake_case, as SCFM stores them).
    pub fn remote_request_params(&self, public_url: Option<&str>) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("from".into(), Value::String(self.from.clone()));
        let hook = public_url.map(|u| format!("{u}/api/remote_phone_call_events"));
        match (&self.twiml_url, &hook) {
            (Some(url), _) => {
                m.insert("url".into(), Value::String(url.clone()));
            }
            (None, Some(h)) => {
                m.insert("url".into(), Value::String(h.clone()));
            }
            (None, None) => {}
        }
        if let Some(h) = &hook {
            m.insert("status_callback".into(), Value::String(h.clone()));
        }
        if self.machine_detection {
            m.insert("machine_detection".into(), Value::String("Enable".into()));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn parse(v: Value) -> Result<DialingSettings, ValidationErrors> {
        let mut e = ValidationErrors::new();
        DialingSettings::parse(v.as_object().unwrap(), &mut e).ok_or(e)
    }

    #[test]
    fn defaults_and_validation() {
        let s = parse(json!({"from": "1234", "twiml_url": "https://x/t.xml"})).unwrap();
        assert_eq!(s.max_attempts, 3);
        assert_eq!(
            s.retry_statuses,
            vec!["failed", "busy", "not_answered", "errored"]
        );
        assert_eq!(s.delay_after(1), chrono::Duration::minutes(15));
        assert!(parse(json!({"from": "1"})).is_err());
        assert!(parse(json!({"from": "1", "twiml_url": "u", "bogus": 1})).is_err());
        assert!(parse(json!({"from": "1", "twiml_url": "u", "max_attempts": 0})).is_err());
        let e = parse(json!({"from": "1", "twiml_url": "u", "calling_window": {"start": "8", "end": "20:00", "time_zone": "Mars/Base"}})).unwrap_err();
        assert!(
            e.to_string().contains("HH:MM") && e.to_string().contains("time zone"),
            "{e}"
        );
    }

    #[test]
    fn form_strings_are_read() {
        let s = parse(json!({"from": "1", "twiml_url": "u", "max_attempts": "5", "max_calls_per_second": "2.5",
                             "machine_detection": "true", "retry_statuses": "busy, failed"}))
        .unwrap();
        assert_eq!(s.max_attempts, 5);
        assert_eq!(s.max_calls_per_second, 2.5);
        assert!(s.machine_detection);
        assert_eq!(s.retry_statuses, vec!["busy", "failed"]);
    }

    #[test]
    fn sms_fallback_is_validated_and_counted() {
        let s = parse(json!({"from": "1", "twiml_url": "u",
            "sms_fallback": {"body": "ទឹកជំនន់កំពុងកើនឡើង សូមចាកចេញ", "max_messages_per_second": "2"}}))
        .unwrap();
        let f = s.sms_fallback.as_ref().unwrap();
        assert_eq!((f.segments, f.encoding.as_str()), (1, "UCS-2"));
        assert_eq!(f.max_messages_per_second, 2.0);
        assert_eq!(s.sms_from(), Some("1"));
        // Stored and read back unchanged (the computed fields are accepted on input).
        let again: DialingSettings =
            serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(again, s);
        let e = parse(json!({"from": "1", "twiml_url": "u",
            "sms_fallback": {"body": "", "max_messages_per_second": 0}}))
        .unwrap_err();
        assert!(
            e.to_string().contains("blank") && e.to_string().contains("max_messages_per_second"),
            "{e}"
        );
        assert!(
            parse(
                json!({"from": "1", "twiml_url": "u", "sms_fallback": {"body": "x", "bogus": 1}})
            )
            .is_err()
        );
        let plain = parse(json!({"from": "1", "twiml_url": "u"})).unwrap();
        assert!(
            !serde_json::to_string(&plain)
                .unwrap()
                .contains("sms_fallback")
        );
    }

    #[test]
    fn backoff_grows() {
        let s = parse(
            json!({"from": "1", "twiml_url": "u", "retry_delay_seconds": 60, "retry_backoff": 2.0}),
        )
        .unwrap();
        assert_eq!(s.delay_after(1), chrono::Duration::seconds(60));
        assert_eq!(s.delay_after(3), chrono::Duration::seconds(240));
    }

    #[test]
    fn calling_window_in_its_time_zone() {
        let s = parse(json!({"from": "1", "twiml_url": "u", "calling_window":
            {"start": "08:00", "end": "20:00", "days": ["mon", "tue", "wed", "thu", "fri"], "time_zone": "Asia/Phnom_Penh"}}))
        .unwrap();
        // 2026-11-30 is a Monday. Phnom Penh is UTC+7.
        assert!(s.in_window(Utc.with_ymd_and_hms(2026, 11, 30, 1, 0, 0).unwrap())); // 08:00 local
        assert!(!s.in_window(Utc.with_ymd_and_hms(2026, 11, 30, 0, 59, 0).unwrap())); // 07:59
        assert!(!s.in_window(Utc.with_ymd_and_hms(2026, 11, 30, 13, 0, 0).unwrap())); // 20:00
        assert!(!s.in_window(Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap())); // Sunday
        let night = parse(json!({"from": "1", "twiml_url": "u", "calling_window":
            {"start": "22:00", "end": "02:00", "time_zone": "UTC"}}))
        .unwrap();
        assert!(night.in_window(Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0).unwrap()));
        assert!(night.in_window(Utc.with_ymd_and_hms(2026, 11, 30, 1, 0, 0).unwrap()));
        assert!(!night.in_window(Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()));
    }
}
