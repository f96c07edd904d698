//! The provider side of scfm: the `Provider` trait every voice provider implements (Twilio and
//! Somleng over HTTP in `twilio`, the simulator elsewhere), the request/response types, and the
//! error classification that decides what may be retried (providers.md §4.3–§4.4).
//!
//! The rule the classification serves: never place the same call twice. A create is retried only
//! when the provider certainly did not process it (`NotSent`, `RateLimited`).

pub mod messages;
pub mod signature;
pub mod simulator;
pub mod twilio;
pub mod wire;

use futures::future::BoxFuture;

pub use messages::{CreateMessage, RemoteMessage};
pub use twilio::HttpProvider;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    Twilio,
    Somleng,
}

impl ProviderKind {
    /// `"twilio"` | `"somleng"`.
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Twilio => "twilio",
            ProviderKind::Somleng => "somleng",
        }
    }

    /// The base URL of the provider's REST API when none is configured: Twilio has one public
    /// API host; Somleng has none to assume (each carrier runs its own), so a Somleng account
    /// without `SOMLENG_CLIENT_REST_API_BASE_URL` dials nowhere rather than sending its SID and
    /// token to a third party.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Twilio => Some("https://api.twilio.com"),
            ProviderKind::Somleng => None,
        }
    }
}

/// Create-call request: form pairs already in provider (CamelCase) names, To included. Order kept.
#[derive(Clone, Debug, Default)]
pub struct CreateCall {
    pub params: Vec<(String, String)>,
}

impl CreateCall {
    /// The first value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct RemoteCall {
    pub sid: String,
    pub status: Option<String>,
    pub direction: Option<String>,
    pub answered_by: Option<String>,
    pub to: Option<String>,
    /// Raw RFC 2822 text as received.
    pub date_created: Option<String>,
    /// The full JSON object as received.
    pub raw: serde_json::Value,
}

impl RemoteCall {
    /// A call resource from a JSON value: needs an object with a non-empty string `sid`; every
    /// other field is optional and read leniently (numbers become text).
    pub fn from_json(raw: serde_json::Value) -> Option<RemoteCall> {
        let obj = raw.as_object()?;
        let sid = obj.get("sid")?.as_str()?.trim();
        if sid.is_empty() {
            return None;
        }
        let text = |key: &str| -> Option<String> {
            match obj.get(key)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => None,
            }
        };
        Some(RemoteCall {
            sid: sid.to_string(),
            status: text("status"),
            direction: text("direction"),
            answered_by: text("answered_by"),
            to: text("to"),
            date_created: text("date_created"),
            raw,
        })
    }

    /// `date_created` parsed to UTC (None when absent or unparseable).
    pub fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.date_created
            .as_deref()
            .and_then(wire::parse_provider_date)
    }

    /// The stored shape of the resource (scfm-api.md §3).
    pub fn reduced(&self) -> serde_json::Value {
        wire::reduce_call_payload(&self.raw)
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum ProviderError {
    /// The request never reached the provider (DNS, refused, TLS, connect timeout, missing credentials detected locally). Safe to retry.
    #[error("{message}")]
    NotSent { message: String },
    /// 429: not processed, safe to retry after `retry_after` (Retry-After header seconds, if any).
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Option<std::time::Duration>,
    },
    /// 401/403: configuration problem; stop dialling.
    #[error("{message}")]
    Unauthorized { status: u16, message: String },
    /// 400/404/422 and other 4xx: rejected, nothing created. Do not retry.
    #[error("{message}")]
    Rejected {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// 5xx, timeout after send, reset, unparseable 2xx: outcome unknown. Never retry a create automatically.
    #[error("{message}")]
    Unknown {
        status: Option<u16>,
        message: String,
    },
}

impl ProviderError {
    /// The provider's `message` (HTTP errors whose body is JSON), a placeholder naming the HTTP
    /// status (non-JSON bodies), or the transport error text. Empty when the provider answered a
    /// JSON error body without a `message` (scfm-api.md §11.2 then stores just the prefix).
    pub fn message(&self) -> &str {
        match self {
            ProviderError::NotSent { message }
            | ProviderError::RateLimited { message, .. }
            | ProviderError::Unauthorized { message, .. }
            | ProviderError::Rejected { message, .. }
            | ProviderError::Unknown { message, .. } => message,
        }
    }

    /// A create may be sent again only when the provider certainly did not process it.
    pub fn is_retryable_for_create(&self) -> bool {
        matches!(
            self,
            ProviderError::NotSent { .. } | ProviderError::RateLimited { .. }
        )
    }

    /// GETs are safe to repeat unless the provider refused them for good (401/403/4xx).
    pub fn is_retryable_for_fetch(&self) -> bool {
        matches!(
            self,
            ProviderError::NotSent { .. }
                | ProviderError::RateLimited { .. }
                | ProviderError::Unknown { .. }
        )
    }
}

fn prefixed(prefix: &str, e: &ProviderError) -> String {
    let message = e.message().trim();
    if message.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}: {message}")
    }
}

/// The message SCFM stored: "Unable to create record: <provider message>" (see scfm-api.md §11.2; just the prefix when there is no message).
pub fn create_error_text(e: &ProviderError) -> String {
    prefixed("Unable to create record", e)
}

/// "Unable to fetch record: <provider message>" (scfm-api.md §11.3; just the prefix when there is no message).
pub fn fetch_error_text(e: &ProviderError) -> String {
    prefixed("Unable to fetch record", e)
}

pub trait Provider: Send + Sync + 'static {
    /// `"twilio"` | `"somleng"` | `"simulator"`.
    fn name(&self) -> &'static str;
    fn create_call<'a>(
        &'a self,
        req: &'a CreateCall,
    ) -> BoxFuture<'a, Result<RemoteCall, ProviderError>>;
    fn fetch_call<'a>(&'a self, sid: &'a str) -> BoxFuture<'a, Result<RemoteCall, ProviderError>>;
    /// Calls to `to` created at or after `since` (filter locally by date_created; follow next_page_uri; stop paging once older than since).
    fn list_calls<'a>(
        &'a self,
        to: &'a str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, Result<Vec<RemoteCall>, ProviderError>>;
    /// Sends a text (`POST …/Messages.json`). Retried only when certainly not processed.
    fn create_message<'a>(
        &'a self,
        req: &'a CreateMessage,
    ) -> BoxFuture<'a, Result<RemoteMessage, ProviderError>>;
    fn fetch_message<'a>(
        &'a self,
        sid: &'a str,
    ) -> BoxFuture<'a, Result<RemoteMessage, ProviderError>>;
    /// Messages to `to` created at or after `since` (reconciling a claim whose create never
    /// came back).
    fn list_messages<'a>(
        &'a self,
        to: &'a str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, Result<Vec<RemoteMessage>, ProviderError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts() {
        let e = ProviderError::Rejected {
            status: 404,
            code: Some("20404".into()),
            message: "The requested resource /2010-04-01/Accounts//Calls.json was not found".into(),
        };
        assert_eq!(
            create_error_text(&e),
            "Unable to create record: The requested resource /2010-04-01/Accounts//Calls.json was not found"
        );
        let e = ProviderError::Rejected {
            status: 404,
            code: None,
            message: String::new(),
        };
        assert_eq!(create_error_text(&e), "Unable to create record");
        assert_eq!(fetch_error_text(&e), "Unable to fetch record");
    }

    #[test]
    fn retry_rules() {
        let not_sent = ProviderError::NotSent {
            message: "refused".into(),
        };
        let rate = ProviderError::RateLimited {
            message: String::new(),
            retry_after: None,
        };
        let auth = ProviderError::Unauthorized {
            status: 401,
            message: "Authenticate".into(),
        };
        let rej = ProviderError::Rejected {
            status: 400,
            code: None,
            message: "x".into(),
        };
        let unk = ProviderError::Unknown {
            status: Some(500),
            message: "x".into(),
        };
        assert!(not_sent.is_retryable_for_create() && rate.is_retryable_for_create());
        assert!(!auth.is_retryable_for_create() && !rej.is_retryable_for_create());
        assert!(!unk.is_retryable_for_create());
        assert!(unk.is_retryable_for_fetch() && not_sent.is_retryable_for_fetch());
        assert!(!auth.is_retryable_for_fetch() && !rej.is_retryable_for_fetch());
    }

    #[test]
    fn remote_call_parsing() {
        let v = serde_json::json!({"sid": "CA1", "status": "queued", "to": "+1", "duration": 3});
        let call = RemoteCall::from_json(v).expect("call");
        assert_eq!(call.sid, "CA1");
        assert_eq!(call.status.as_deref(), Some("queued"));
        assert!(RemoteCall::from_json(serde_json::json!({"sid": ""})).is_none());
        assert!(RemoteCall::from_json(serde_json::json!({"sid": 5})).is_none());
        assert!(RemoteCall::from_json(serde_json::json!([1])).is_none());
    }
}
