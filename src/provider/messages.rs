//! Texts through the voice provider's Messages API (Twilio's and Somleng's, the same wire
//! format): the request and resource types and `HttpProvider`'s requests. Classification of
//! failures is the calls' (`twilio.rs`): a create is retried only when certainly not processed.

use super::{HttpProvider, ProviderError, wire};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use reqwest::header::CONTENT_TYPE;

/// Create-message request.
#[derive(Clone, Debug, Default)]
pub struct CreateMessage {
    pub to: String,
    pub from: String,
    pub body: String,
    /// Where the provider reports the message's statuses (signed).
    pub status_callback: Option<String>,
}

impl CreateMessage {
    /// Form pairs in the provider's names.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("To".to_string(), self.to.clone()),
            ("From".to_string(), self.from.clone()),
            ("Body".to_string(), self.body.clone()),
        ];
        if let Some(cb) = &self.status_callback {
            p.push(("StatusCallback".to_string(), cb.clone()));
        }
        p
    }
}

/// A message resource as the provider answered it.
#[derive(Clone, Debug)]
pub struct RemoteMessage {
    pub sid: String,
    pub status: Option<String>,
    pub to: Option<String>,
    pub date_created: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

impl RemoteMessage {
    /// From a JSON object with a non-empty string `sid`; other fields read leniently.
    pub fn from_json(raw: &serde_json::Value) -> Option<RemoteMessage> {
        let obj = raw.as_object()?;
        let sid = obj.get("sid")?.as_str()?.trim();
        if sid.is_empty() {
            return None;
        }
        let text = |key: &str| -> Option<String> {
            match obj.get(key)? {
                serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        Some(RemoteMessage {
            sid: sid.to_string(),
            status: text("status"),
            to: text("to"),
            date_created: text("date_created"),
            error_code: text("error_code"),
            error_message: text("error_message"),
        })
    }

    pub fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.date_created
            .as_deref()
            .and_then(wire::parse_provider_date)
    }
}

fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// Pages followed by one list (a safety net against a paging loop).
const MAX_PAGES: usize = 50;

impl HttpProvider {
    fn messages_url(&self) -> String {
        self.account_url("Messages.json")
    }

    fn into_message(
        status: u16,
        map: serde_json::Map<String, serde_json::Value>,
    ) -> Result<RemoteMessage, ProviderError> {
        RemoteMessage::from_json(&serde_json::Value::Object(map)).ok_or_else(|| {
            ProviderError::Unknown {
                status: Some(status),
                message: format!(
                    "provider answered HTTP {status} with a JSON object without a message sid"
                ),
            }
        })
    }

    pub(super) fn post_message<'a>(
        &'a self,
        req: &'a CreateMessage,
    ) -> BoxFuture<'a, Result<RemoteMessage, ProviderError>> {
        async move {
            let builder = self
                .client()
                .post(self.messages_url())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(wire::encode_form(&req.params()));
            let response = self.send(builder).await?;
            let status = response.status;
            Self::into_message(status, response.into_object()?)
        }
        .boxed()
    }

    pub(super) fn get_message<'a>(
        &'a self,
        sid: &'a str,
    ) -> BoxFuture<'a, Result<RemoteMessage, ProviderError>> {
        async move {
            let url = self.account_url(&format!("Messages/{}.json", self.segment(sid)));
            let response = self.send(self.client().get(url)).await?;
            let status = response.status;
            Self::into_message(status, response.into_object()?)
        }
        .boxed()
    }

    /// Messages to `to` created at or after `since` (the second it falls in), newest first as
    /// the provider pages them; filters are checked here too (Somleng may ignore them).
    pub(super) fn get_messages<'a>(
        &'a self,
        to: &'a str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, Result<Vec<RemoteMessage>, ProviderError>> {
        async move {
            let mut url = format!(
                "{}?{}",
                self.messages_url(),
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("To", to)
                    .append_pair("PageSize", "50")
                    .finish()
            );
            let since = chrono::Timelike::with_nanosecond(&since, 0).unwrap_or(since);
            let wanted = digits(to);
            let mut found = Vec::new();
            let mut seen = Vec::new();
            for _ in 0..MAX_PAGES {
                seen.push(url.clone());
                let page = self.send(self.client().get(&url)).await?.into_object()?;
                let mut older = false;
                for raw in page
                    .get("messages")
                    .and_then(|m| m.as_array())
                    .into_iter()
                    .flatten()
                {
                    let Some(m) = RemoteMessage::from_json(raw) else {
                        continue;
                    };
                    if m.to.as_deref().map(digits) != Some(wanted.clone()) {
                        continue;
                    }
                    match m.created_at() {
                        Some(at) if at < since => older = true,
                        _ => found.push(m),
                    }
                }
                let next = page
                    .get("next_page_uri")
                    .and_then(|v| v.as_str())
                    .map(str::trim)
                    .filter(|s| !s.is_empty());
                let (false, Some(next)) = (older, next) else {
                    break;
                };
                let next = if next.starts_with("http://") || next.starts_with("https://") {
                    next.to_string()
                } else {
                    format!("{}/{}", self.base_url(), next.trim_start_matches('/'))
                };
                if seen.contains(&next) {
                    break;
                }
                url = next;
            }
            Ok(found)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_resources_parse() {
        let m = RemoteMessage::from_json(&serde_json::json!({"sid": "SM1", "status": "queued",
            "to": "+85512000001", "error_code": null, "error_message": null}))
        .expect("message");
        assert_eq!(
            (m.sid.as_str(), m.status.as_deref()),
            ("SM1", Some("queued"))
        );
        assert!(m.error_code.is_none());
        assert!(RemoteMessage::from_json(&serde_json::json!({"status": "queued"})).is_none());
        let p = CreateMessage {
            to: "+1".into(),
            from: "2".into(),
            body: "hi".into(),
            status_callback: Some("http://x/cb".into()),
        }
        .params();
        assert_eq!(p[3].0, "StatusCallback");
    }
}
