//! Fault injection rules for the fake's REST side (providers.md §10): matched by method + path,
//! applied once, N times or always.

use std::time::Duration;

/// Which requests a fault applies to.
#[derive(Clone, Debug)]
pub enum PathMatch {
    Any,
    Exact(String),
    Contains(String),
    /// `/2010-04-01/Accounts/{sid}/Calls[.json]` (create with POST, list with GET).
    CallsCollection,
    /// `/2010-04-01/Accounts/{sid}/Calls/{call}[.json]` (fetch with GET, update with POST).
    CallInstance,
}

/// What a ghost call answers after creating the call for real.
#[derive(Clone, Debug)]
pub enum GhostReply {
    Status(u16),
    Drop,
    /// Answer the real 201 only after this long (drives the client into its timeout).
    Delay(Duration),
}

#[derive(Clone, Debug)]
pub enum FaultAction {
    Respond {
        status: u16,
        content_type: Option<String>,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Wait, then answer normally.
    Delay(Duration),
    /// Read the request, then close the connection without answering.
    Drop,
    Ghost(GhostReply),
}

impl FaultAction {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        FaultAction::Respond {
            status,
            content_type: Some("application/json".into()),
            headers: Vec::new(),
            body: body.to_string(),
        }
    }
    /// A Twilio-shaped error body.
    pub fn error(status: u16, code: u32, message: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({"code": code, "message": message,
                "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status}),
        )
    }
    pub fn unauthorized() -> Self {
        Self::error(401, 20003, "Authenticate")
    }
    pub fn not_found() -> Self {
        Self::error(404, 20404, "The requested resource was not found")
    }
    pub fn rate_limited(retry_after_secs: Option<u64>) -> Self {
        let body = serde_json::json!({"code": 20429, "message": "Too Many Requests",
            "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429});
        FaultAction::Respond {
            status: 429,
            content_type: Some("application/json".into()),
            headers: retry_after_secs
                .map(|s| vec![("Retry-After".to_string(), s.to_string())])
                .unwrap_or_default(),
            body: body.to_string(),
        }
    }
    pub fn server_error() -> Self {
        Self::error(500, 20500, "An internal server error has occurred")
    }
    pub fn html(status: u16) -> Self {
        FaultAction::Respond {
            status,
            content_type: Some("text/html".into()),
            headers: Vec::new(),
            body: format!("<html><body><h1>{status} Bad Gateway</h1></body></html>"),
        }
    }
    pub fn non_json_ok() -> Self {
        FaultAction::Respond {
            status: 200,
            content_type: Some("text/plain".into()),
            headers: Vec::new(),
            body: "OK".into(),
        }
    }
    pub fn created_without_sid() -> Self {
        Self::json(
            201,
            serde_json::json!({"status": "queued", "direction": "outbound-api"}),
        )
    }
}

#[derive(Clone, Debug)]
pub struct Fault {
    pub method: Option<String>,
    pub path: PathMatch,
    pub action: FaultAction,
    /// How many more times it applies; `None` = always.
    pub remaining: Option<usize>,
}

impl Fault {
    /// Applies once to requests with `method` (any when None) whose path matches.
    pub fn new(method: Option<&str>, path: PathMatch, action: FaultAction) -> Self {
        Fault {
            method: method.map(str::to_string),
            path,
            action,
            remaining: Some(1),
        }
    }
    pub fn on_create(action: FaultAction) -> Self {
        Self::new(Some("POST"), PathMatch::CallsCollection, action)
    }
    pub fn on_fetch(action: FaultAction) -> Self {
        Self::new(Some("GET"), PathMatch::CallInstance, action)
    }
    pub fn on_list(action: FaultAction) -> Self {
        Self::new(Some("GET"), PathMatch::CallsCollection, action)
    }
    pub fn times(mut self, n: usize) -> Self {
        self.remaining = Some(n);
        self
    }
    pub fn always(mut self) -> Self {
        self.remaining = None;
        self
    }
}
