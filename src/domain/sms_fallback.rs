//! The SMS fallback of a callout (`dialing.sms_fallback`): a text sent once to each person the
//! calls did not reach, after their last failed attempt, through the voice provider's Messages
//! API at its own pace; and the statuses such a text goes through. No IO here.

use super::gsm7;
use serde::{Deserialize, Serialize};

/// Longest body accepted (Twilio's limit for one message body).
pub const MAX_BODY_CHARS: usize = 1600;

fn default_mps() -> f64 {
    1.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsFallback {
    /// The text.
    pub body: String,
    /// Sender (`From`); the callout's `dialing.from` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Creates per second for this callout's texts, every process together.
    #[serde(default = "default_mps")]
    pub max_messages_per_second: f64,
    /// Output only (recomputed from `body` on every parse): messages the network sends.
    #[serde(default)]
    pub segments: usize,
    /// Output only: `GSM-7` or `UCS-2`.
    #[serde(default)]
    pub encoding: String,
}

impl SmsFallback {
    /// The problems with these settings (empty when valid); recomputes the segment count.
    pub fn check(&mut self) -> Vec<&'static str> {
        let mut bad = Vec::new();
        if self.body.trim().is_empty() {
            bad.push("sms_fallback body can't be blank");
        }
        if self.body.chars().count() > MAX_BODY_CHARS {
            bad.push("sms_fallback body is longer than 1600 characters");
        }
        if self.from.as_deref().is_some_and(|f| f.trim().is_empty()) {
            bad.push("sms_fallback from can't be blank");
        }
        if !(self.max_messages_per_second > 0.0 && self.max_messages_per_second <= 1000.0) {
            bad.push("sms_fallback max_messages_per_second must be between 0 and 1000");
        }
        let s = gsm7::segments(&self.body);
        self.segments = s.count;
        self.encoding = s.encoding.as_str().to_string();
        bad
    }

    /// `1 segment GSM-7`, `3 segments UCS-2`: what an operator sees before start.
    pub fn segments_text(&self) -> String {
        let s = gsm7::segments(&self.body);
        let plural = if s.count == 1 { "" } else { "s" };
        format!("{} segment{plural} {}", s.count, s.encoding.as_str())
    }
}

/// A text's status in scfm: `pending` (to send) → `sending` (claimed; the create may be in
/// flight) → the provider's `queued` / `sent` / `delivered` / `undelivered` / `failed`; or
/// `unknown` when the create's outcome is unknown (never resent automatically).
pub const STATUSES: &[&str] = &[
    "pending",
    "sending",
    "queued",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "unknown",
];

/// Statuses after which nothing changes.
pub fn is_final(status: &str) -> bool {
    matches!(status, "delivered" | "undelivered" | "failed")
}

/// scfm's status for a status the provider reports (Twilio's and Somleng's message statuses);
/// None for statuses that say nothing about an outbound text.
pub fn from_provider(status: &str) -> Option<&'static str> {
    Some(match status.trim().to_ascii_lowercase().as_str() {
        "accepted" | "scheduled" | "queued" | "sending" => "queued",
        "sent" => "sent",
        "delivered" | "read" => "delivered",
        "undelivered" => "undelivered",
        "failed" | "canceled" => "failed",
        _ => return None,
    })
}

/// Order of the provider's statuses: a status never moves a text back (a late `sent` never
/// overwrites `delivered`).
pub fn rank(status: &str) -> u8 {
    match status {
        "pending" => 0,
        "sending" | "unknown" => 1,
        "queued" => 2,
        "sent" => 3,
        _ if is_final(status) => 4,
        _ => 0,
    }
}

/// A fallback text as stored and as the API renders it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextMessage {
    pub id: i64,
    pub callout_participation_id: i64,
    pub callout_id: i64,
    pub contact_id: i64,
    pub msisdn: String,
    pub from: String,
    pub body: String,
    pub segments: i64,
    pub status: String,
    /// The provider's message SID (`SM…` on Twilio).
    pub remote_message_id: Option<String>,
    /// The provider's own last status word.
    pub remote_status: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// When it was claimed for sending.
    pub claimed_at: Option<String>,
    /// When the provider accepted it.
    pub sent_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fallback(body: &str) -> SmsFallback {
        SmsFallback {
            body: body.into(),
            from: None,
            max_messages_per_second: 1.0,
            segments: 0,
            encoding: String::new(),
        }
    }

    #[test]
    fn checks_and_counts() {
        let mut f = fallback("Flood warning: move to high ground now.");
        assert!(f.check().is_empty());
        assert_eq!((f.segments, f.encoding.as_str()), (1, "GSM-7"));
        let mut km = fallback(&"ទឹកជំនន់".repeat(20));
        assert!(km.check().is_empty());
        assert_eq!((km.segments, km.encoding.as_str()), (3, "UCS-2"));
        assert_eq!(km.segments_text(), "3 segments UCS-2");
        assert_eq!(fallback(" ").check().len(), 1);
        assert_eq!(fallback(&"a".repeat(1601)).check().len(), 1);
        let mut slow = fallback("x");
        slow.max_messages_per_second = 0.0;
        assert_eq!(slow.check().len(), 1);
    }

    #[test]
    fn provider_statuses_map_and_never_go_back() {
        assert_eq!(from_provider("sending"), Some("queued"));
        assert_eq!(from_provider("DELIVERED"), Some("delivered"));
        assert_eq!(from_provider("receiving"), None);
        assert!(rank("delivered") > rank("sent") && rank("sent") > rank("queued"));
        assert!(rank("queued") > rank("sending"));
        assert!(is_final("failed") && !is_final("sent"));
    }
}
