//! The fake's Messages API (Twilio's and Somleng's wire format): create (`POST
//! …/Messages.json` with To, From, Body, StatusCallback → 201, a message resource with an `SM…`
//! sid, status `queued`), fetch one, list by `To`; each message then goes `sent` and
//! `delivered`, or `failed` for numbers matching `FakeConfig::message_failures`, a signed status
//! callback to its StatusCallback at each step.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::config::NumberMatch;
use super::resources::rfc2822;
use super::rest::{Answer, not_found, validation_error};
use super::{FakeConfig, Shared, webhooks};

/// A text the fake accepted.
#[derive(Clone, Debug)]
pub struct FakeMessage {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    pub status: String,
    pub history: Vec<String>,
    pub status_callback: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl FakeMessage {
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "delivered" | "failed" | "undelivered")
    }
}

/// (account, message sid, `.json`) of a Messages path.
pub(super) fn parse_path(path: &str) -> Option<(String, Option<String>, bool)> {
    let rest = path.strip_prefix("/2010-04-01/Accounts/")?;
    let (account, rest) = rest.split_once('/')?;
    let (rest, json) = match rest.strip_suffix(".json") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    if rest == "Messages" {
        return Some((account.to_string(), None, json));
    }
    let sid = rest.strip_prefix("Messages/")?;
    (!sid.is_empty() && !sid.contains('/'))
        .then(|| (account.to_string(), Some(sid.to_string()), json))
}

pub(super) fn is_collection(path: &str) -> bool {
    matches!(parse_path(path), Some((_, None, _)))
}

fn matches(rule: &NumberMatch, to: &str) -> bool {
    match rule {
        NumberMatch::Exact(n) => n == to,
        NumberMatch::Suffix(s) => to.ends_with(s.as_str()),
    }
}

fn message_json(config: &FakeConfig, m: &FakeMessage) -> Value {
    let failed = m.status == "failed";
    json!({
        "sid": m.sid, "account_sid": config.account_sid, "to": m.to, "from": m.from,
        "body": m.body, "status": m.status, "direction": "outbound-api",
        "api_version": "2010-04-01", "num_segments": scfm::domain::gsm7::segments(&m.body).count.to_string(),
        "date_created": rfc2822(m.created_at), "date_updated": rfc2822(m.created_at),
        "date_sent": null, "price": null, "price_unit": "USD",
        "error_code": if failed { json!(30003) } else { Value::Null },
        "error_message": if failed { json!("Unreachable destination handset") } else { Value::Null },
        "uri": format!("/2010-04-01/Accounts/{}/Messages/{}.json", config.account_sid, m.sid),
    })
}

pub(super) fn route(
    shared: &Arc<Shared>,
    config: &FakeConfig,
    method: &str,
    path: &str,
    query: &str,
    sid: Option<String>,
    form: &[(String, String)],
) -> Answer {
    let flavour = config.flavour;
    match (method, sid) {
        ("POST", None) => create(shared, config, form),
        ("GET", None) => {
            let to = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "To")
                .map(|(_, v)| v.into_owned());
            let mut list: Vec<Value> = shared
                .state()
                .messages
                .iter()
                .filter(|m| to.as_ref().is_none_or(|t| *t == m.to))
                .map(|m| message_json(config, m))
                .collect();
            list.reverse();
            Answer::json(
                200,
                json!({"messages": list, "next_page_uri": null, "page": 0}),
            )
        }
        ("GET", Some(sid)) => match shared.state().messages.iter().find(|m| m.sid == sid) {
            Some(m) => Answer::json(200, message_json(config, m)),
            None => not_found(flavour, path),
        },
        _ => not_found(flavour, path),
    }
}

fn create(shared: &Arc<Shared>, config: &FakeConfig, form: &[(String, String)]) -> Answer {
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    };
    let (Some(to), Some(from), Some(body)) = (get("To"), get("From"), get("Body")) else {
        return validation_error(
            config.flavour,
            "21604",
            "A 'To', 'From' and 'Body' are required",
        );
    };
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let m = FakeMessage {
        sid: format!("SM{hex}"),
        to: to.to_string(),
        from: from.to_string(),
        body: body.to_string(),
        status: "queued".into(),
        history: vec!["queued".into()],
        status_callback: get("StatusCallback").map(str::to_string),
        created_at: Utc::now(),
    };
    let answer = Answer::json(201, message_json(config, &m));
    let sid = m.sid.clone();
    shared.state().messages.push(m);
    shared.state().in_flight += 1;
    let shared = shared.clone();
    tokio::spawn(async move {
        lifecycle(&shared, &sid).await;
        shared.state().in_flight -= 1;
    });
    answer
}

async fn lifecycle(shared: &Arc<Shared>, sid: &str) {
    let config = shared.config();
    let Some(to) = shared
        .state()
        .messages
        .iter()
        .find(|m| m.sid == sid)
        .map(|m| m.to.clone())
    else {
        return;
    };
    let last = if config.message_failures.iter().any(|r| matches(r, &to)) {
        "failed"
    } else {
        "delivered"
    };
    for status in ["sent", last] {
        tokio::time::sleep(config.message_step).await;
        let (callback, params) = {
            let mut state = shared.state();
            let Some(m) = state.messages.iter_mut().find(|m| m.sid == sid) else {
                return;
            };
            m.status = status.to_string();
            m.history.push(status.to_string());
            let mut params = vec![
                ("AccountSid".to_string(), config.account_sid.clone()),
                ("ApiVersion".to_string(), "2010-04-01".to_string()),
                ("From".to_string(), m.from.clone()),
                ("MessageSid".to_string(), m.sid.clone()),
                ("MessageStatus".to_string(), status.to_string()),
                ("SmsSid".to_string(), m.sid.clone()),
                ("SmsStatus".to_string(), status.to_string()),
                ("To".to_string(), m.to.clone()),
            ];
            if status == "failed" {
                params.push(("ErrorCode".to_string(), "30003".to_string()));
            }
            (m.status_callback.clone(), params)
        };
        if let Some(url) = callback {
            webhooks::send_webhook(
                shared,
                &config,
                "message_status",
                sid,
                &url,
                "POST",
                &params,
            )
            .await;
        }
    }
}
