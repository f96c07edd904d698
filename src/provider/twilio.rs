//! `HttpProvider`: the reqwest client for Twilio and Somleng (same wire format, providers.md
//! §1–§2), and the classification of every failure into `ProviderError` (§4.3–§4.4).
//!
//! One `reqwest::Client`, built once with a connect and a total timeout; no redirects followed
//! (a POST must never be silently turned into a GET); Basic auth `SID:token` on every request.

use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};

use super::{
    CreateCall, CreateMessage, Provider, ProviderError, ProviderKind, RemoteCall, RemoteMessage,
    wire,
};

/// Characters escaped in a path segment (the account and call SIDs).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Records asked for per list page.
const LIST_PAGE_SIZE: u32 = 50;
/// Upper bound on pages followed by one `list_calls` (a safety net against a paging loop).
const LIST_MAX_PAGES: usize = 200;

pub struct HttpProvider {
    kind: ProviderKind,
    base_url: String,
    account_sid: String,
    auth_token: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProvider")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .finish()
    }
}

impl HttpProvider {
    /// Build the client. `base_url` without the `/2010-04-01` part (a trailing `/` is dropped).
    /// An unset or empty SID is kept empty: requests then go to `/Accounts//Calls.json` and the
    /// provider answers (404 on Twilio); refusing locally is the caller's decision.
    pub fn new(
        kind: ProviderKind,
        base_url: String,
        account_sid: Option<String>,
        auth_token: Option<String>,
        connect_timeout: Duration,
        total_timeout: Duration,
    ) -> Result<Self, ProviderError> {
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base_url).map_err(|e| ProviderError::NotSent {
            message: format!("invalid provider base URL {base_url:?}: {e}"),
        })?;
        match parsed.scheme() {
            "https" => {}
            "http" => {
                if !is_loopback(&parsed) {
                    tracing::warn!(
                        base_url = %base_url,
                        "provider base URL is plain http and not a loopback address; credentials travel unencrypted"
                    );
                }
            }
            other => {
                return Err(ProviderError::NotSent {
                    message: format!("provider base URL must be http or https, not {other}"),
                });
            }
        }
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(total_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("scfm/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::NotSent {
                message: format!("cannot build the HTTP client: {}", error_chain(&e)),
            })?;
        Ok(HttpProvider {
            kind,
            base_url,
            account_sid: account_sid.unwrap_or_default().trim().to_string(),
            auth_token: auth_token.unwrap_or_default(),
            client,
        })
    }

    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn calls_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Calls.json",
            self.base_url,
            utf8_percent_encode(&self.account_sid, SEGMENT)
        )
    }

    fn call_url(&self, sid: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Calls/{}.json",
            self.base_url,
            utf8_percent_encode(&self.account_sid, SEGMENT),
            utf8_percent_encode(sid, SEGMENT)
        )
    }

    /// `{base}/2010-04-01/Accounts/{sid}/{rest}` (for the Messages API, `messages.rs`).
    pub(super) fn account_url(&self, rest: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/{rest}",
            self.base_url,
            utf8_percent_encode(&self.account_sid, SEGMENT)
        )
    }

    /// `value` escaped as one path segment.
    pub(super) fn segment(&self, value: &str) -> String {
        utf8_percent_encode(value, SEGMENT).to_string()
    }

    pub(super) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn authed(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        builder
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header(ACCEPT, "application/json")
    }

    /// Send, read the whole body, and return (status, body) or the classified transport error.
    pub(super) async fn send(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<Response, ProviderError> {
        let response = self.authed(builder).send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            // A 2xx whose body we could not read: the outcome is unknown.
            Err(e) if (200..300).contains(&status) => return Err(transport_error(e)),
            // For an error status the status alone classifies it.
            Err(_) => Vec::new(),
        };
        Ok(Response {
            status,
            retry_after,
            body,
        })
    }

    async fn get_call(&self, url: String) -> Result<RemoteCall, ProviderError> {
        let response = self.send(self.client.get(url)).await?;
        response.into_call()
    }

    async fn list(
        &self,
        to: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<RemoteCall>, ProviderError> {
        let mut url = format!(
            "{}?{}",
            self.calls_url(),
            form_urlencoded::Serializer::new(String::new())
                .append_pair("To", to)
                .append_pair("PageSize", &LIST_PAGE_SIZE.to_string())
                .finish()
        );
        // Provider dates have whole seconds: a call created just after `since` shows the
        // second `since` falls in, so compare against that second.
        let since = chrono::Timelike::with_nanosecond(&since, 0).unwrap_or(since);
        let wanted = digits(to);
        let mut found = Vec::new();
        let mut seen_urls = Vec::new();
        for _ in 0..LIST_MAX_PAGES {
            seen_urls.push(url.clone());
            let response = self.send(self.client.get(&url)).await?;
            let page = response.into_object()?;
            let mut older_seen = false;
            if let Some(calls) = page.get("calls").and_then(|c| c.as_array()) {
                for raw in calls {
                    let Some(call) = RemoteCall::from_json(raw.clone()) else {
                        continue;
                    };
                    // Somleng ignores filters: check `to` here as well.
                    if call.to.as_deref().map(digits) != Some(wanted.clone()) {
                        continue;
                    }
                    match call.created_at() {
                        Some(created) if created < since => older_seen = true,
                        // Unparseable dates are kept: they cannot be proven too old.
                        _ => found.push(call),
                    }
                }
            }
            if older_seen {
                break;
            }
            let next = page
                .get("next_page_uri")
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let Some(next) = next else { break };
            let next_url = if next.starts_with("http://") || next.starts_with("https://") {
                next.to_string()
            } else {
                format!("{}/{}", self.base_url, next.trim_start_matches('/'))
            };
            if seen_urls.contains(&next_url) {
                break;
            }
            url = next_url;
        }
        Ok(found)
    }
}

impl Provider for HttpProvider {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn create_call<'a>(
        &'a self,
        req: &'a CreateCall,
    ) -> BoxFuture<'a, Result<RemoteCall, ProviderError>> {
        async move {
            let body = wire::encode_form(&req.params);
            let builder = self
                .client
                .post(self.calls_url())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body);
            self.send(builder).await?.into_call()
        }
        .boxed()
    }

    fn fetch_call<'a>(&'a self, sid: &'a str) -> BoxFuture<'a, Result<RemoteCall, ProviderError>> {
        self.get_call(self.call_url(sid)).boxed()
    }

    fn list_calls<'a>(
        &'a self,
        to: &'a str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, Result<Vec<RemoteCall>, ProviderError>> {
        self.list(to, since).boxed()
    }

    fn create_message<'a>(
        &'a self,
        req: &'a CreateMessage,
    ) -> BoxFuture<'a, Result<RemoteMessage, ProviderError>> {
        self.post_message(req)
    }

    fn fetch_message<'a>(
        &'a self,
        sid: &'a str,
    ) -> BoxFuture<'a, Result<RemoteMessage, ProviderError>> {
        self.get_message(sid)
    }

    fn list_messages<'a>(
        &'a self,
        to: &'a str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, Result<Vec<RemoteMessage>, ProviderError>> {
        self.get_messages(to, since)
    }
}

pub(super) struct Response {
    pub(super) status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

impl Response {
    /// A 2xx JSON object, or the classified error.
    pub(super) fn into_object(
        self,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ProviderError> {
        if !(200..300).contains(&self.status) {
            return Err(self.into_error());
        }
        match serde_json::from_slice::<serde_json::Value>(&self.body) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            _ => Err(ProviderError::Unknown {
                status: Some(self.status),
                message: format!(
                    "provider answered HTTP {} {}",
                    self.status,
                    wire::describe_body(&self.body, "with a body that is not a JSON object")
                ),
            }),
        }
    }

    /// A 2xx call resource with a `sid`, or the classified error.
    fn into_call(self) -> Result<RemoteCall, ProviderError> {
        let status = self.status;
        let map = self.into_object()?;
        RemoteCall::from_json(serde_json::Value::Object(map)).ok_or_else(|| {
            ProviderError::Unknown {
                status: Some(status),
                message: format!(
                    "provider answered HTTP {status} with a JSON object without a call sid"
                ),
            }
        })
    }

    fn into_error(self) -> ProviderError {
        wire::classify_error_response(self.status, self.retry_after, &self.body)
    }
}

/// Classify a reqwest error: nothing sent (connect/builder) vs. outcome unknown.
fn transport_error(e: reqwest::Error) -> ProviderError {
    let message = error_chain(&e);
    if e.is_connect() || e.is_builder() {
        ProviderError::NotSent { message }
    } else if e.is_timeout() {
        ProviderError::Unknown {
            status: None,
            message: format!("timed out waiting for the provider: {message}"),
        }
    } else {
        ProviderError::Unknown {
            status: e.status().map(|s| s.as_u16()),
            message,
        }
    }
}

/// The error and its sources, joined with `: ` (reqwest's own text omits the cause).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_classification_never_panics() {
        let r = |status: u16, body: &[u8]| Response {
            status,
            retry_after: None,
            body: body.to_vec(),
        };
        assert!(matches!(
            r(502, b"<html>bad gateway</html>").into_error(),
            ProviderError::Unknown {
                status: Some(502),
                ..
            }
        ));
        assert!(matches!(
            r(404, b"").into_error(),
            ProviderError::Rejected { status: 404, .. }
        ));
        assert!(matches!(
            r(403, b"\xff\xfe").into_error(),
            ProviderError::Unauthorized { status: 403, .. }
        ));
        let e = r(
            422,
            br#"{"code":"21210","message":"From is invalid","status":422}"#,
        )
        .into_error();
        match e {
            ProviderError::Rejected {
                status,
                code,
                message,
            } => {
                assert_eq!(
                    (status, code.as_deref(), message.as_str()),
                    (422, Some("21210"), "From is invalid")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            r(404, br#"{"status":404,"error":"Not Found"}"#)
                .into_error()
                .message(),
            ""
        );
        assert!(matches!(
            r(200, b"OK").into_call(),
            Err(ProviderError::Unknown {
                status: Some(200),
                ..
            })
        ));
        assert!(matches!(
            r(201, br#"{"status":"queued"}"#).into_call(),
            Err(ProviderError::Unknown { .. })
        ));
        assert!(r(201, br#"{"sid":"CA1"}"#).into_call().is_ok());
    }

    #[test]
    fn builds_paths_with_empty_sid() {
        let p = HttpProvider::new(
            ProviderKind::Twilio,
            "http://127.0.0.1:9/".into(),
            None,
            None,
            Duration::from_secs(1),
            Duration::from_secs(2),
        )
        .expect("provider");
        assert_eq!(
            p.calls_url(),
            "http://127.0.0.1:9/2010-04-01/Accounts//Calls.json"
        );
        assert_eq!(
            p.call_url("CA1"),
            "http://127.0.0.1:9/2010-04-01/Accounts//Calls/CA1.json"
        );
        assert!(
            HttpProvider::new(
                ProviderKind::Twilio,
                "ftp://x".into(),
                None,
                None,
                Duration::from_secs(1),
                Duration::from_secs(1)
            )
            .is_err()
        );
    }
}
