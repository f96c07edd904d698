//! Webhooks from the fake to the app: status callbacks per requested event (Twilio) or final
//! only (Somleng) with the parameters of providers.md §6.2, voice requests for `twiml.rs`, all
//! signed with `scfm::provider::signature::compute` over the exact URL used (§7), with the
//! knobs of `WebhookKnobs` and a record of every answer.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::{FakeCall, FakeConfig, Flavour, Shared, resources};

/// One webhook the fake sent, with the app's answer.
#[derive(Clone, Debug)]
pub struct WebhookRecord {
    /// `status` | `voice`.
    pub kind: String,
    pub call_sid: String,
    /// The URL requested (for GET, with the parameters in the query).
    pub url: String,
    pub method: String,
    pub params: Vec<(String, String)>,
    pub signature: String,
    /// None when the request failed (error set).
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub body: String,
    pub latency: Duration,
    pub error: Option<String>,
}

/// The voice-request parameter set of providers.md §6.1 for `call`.
pub(super) fn voice_params(
    config: &FakeConfig,
    call: &FakeCall,
    call_status: &str,
) -> Vec<(String, String)> {
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    vec![
        pair("AccountSid", &config.account_sid),
        pair("ApiVersion", "2010-04-01"),
        pair("CallSid", &call.sid),
        pair("CallStatus", call_status),
        pair("Called", &call.to),
        pair("Caller", &call.from),
        pair("Direction", "outbound-api"),
        pair("From", &call.from),
        pair("To", &call.to),
    ]
}

fn sip_code(status: &str) -> &'static str {
    match status {
        "completed" => "200",
        "busy" => "486",
        "no-answer" => "480",
        "canceled" => "487",
        _ => "404",
    }
}

/// Send the status callback for `event` if the call asked for it (Twilio: per requested event,
/// `completed` only by default; Somleng: the final one only, SequenceNumber 0).
pub(super) async fn status_callback(
    shared: &Arc<Shared>,
    config: &FakeConfig,
    sid: &str,
    event: &str,
) {
    let knobs = shared.config().webhooks;
    let prepared = {
        let mut state = shared.state();
        let Some(call) = state.calls.iter_mut().find(|c| c.sid == sid) else {
            return;
        };
        let Some(url) = call.param("StatusCallback").map(str::to_string) else {
            return;
        };
        let requested: Vec<&str> = call
            .params
            .iter()
            .filter(|(k, _)| k == "StatusCallbackEvent")
            .map(|(_, v)| v.as_str())
            .collect();
        let wanted = match config.flavour {
            Flavour::Twilio if requested.is_empty() => event == "completed",
            Flavour::Twilio => requested.contains(&event),
            Flavour::Somleng => event == "completed",
        };
        if !wanted {
            return;
        }
        let call_status = match event {
            "answered" => "in-progress".to_string(),
            "completed" => call.status.clone(),
            other => other.to_string(),
        };
        let sequence = match config.flavour {
            Flavour::Twilio => {
                call.next_sequence += 1;
                call.next_sequence - 1
            }
            Flavour::Somleng => 0,
        };
        if knobs.drop_statuses.contains(&call_status) {
            return;
        }
        let mut params = voice_params(config, call, &call_status);
        params.push(("CallbackSource".into(), "call-progress-events".into()));
        params.push(("SequenceNumber".into(), sequence.to_string()));
        params.push(("Timestamp".into(), resources::rfc2822(Utc::now())));
        if event == "completed" {
            params.push((
                "CallDuration".into(),
                call.duration.unwrap_or(0).to_string(),
            ));
            params.push(("SipResponseCode".into(), sip_code(&call_status).into()));
        }
        let method = call
            .param("StatusCallbackMethod")
            .unwrap_or("POST")
            .to_ascii_uppercase();
        (url, method, params)
    };
    let (url, method, params) = prepared;
    let times = if knobs.duplicate { 2 } else { 1 };
    for _ in 0..times {
        send_webhook(shared, config, "status", sid, &url, &method, &params).await;
    }
}

/// Send one signed webhook and record it; returns the record.
pub(super) async fn send_webhook(
    shared: &Arc<Shared>,
    config: &FakeConfig,
    kind: &str,
    sid: &str,
    url: &str,
    method: &str,
    params: &[(String, String)],
) -> WebhookRecord {
    let knobs = shared.config().webhooks;
    let token = knobs
        .wrong_token
        .clone()
        .unwrap_or_else(|| config.auth_token.clone());
    let encoded = scfm::provider::wire::encode_form(params);
    let is_get = method.eq_ignore_ascii_case("GET");
    let (request_url, signed): (String, &[(String, String)]) = if is_get {
        let sep = if url.contains('?') { '&' } else { '?' };
        (format!("{url}{sep}{encoded}"), &[])
    } else {
        (url.to_string(), params)
    };
    let signing_url = if knobs.sign_with_default_port {
        with_default_port(&request_url)
    } else {
        request_url.clone()
    };
    let signature = scfm::provider::signature::compute(&token, &signing_url, signed);
    let mut request = if is_get {
        shared.http.get(&request_url)
    } else {
        shared
            .http
            .post(&request_url)
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(encoded)
    };
    request = request
        .header("X-Twilio-Signature", &signature)
        .header("User-Agent", "TwilioProxy/1.1");
    if kind == "voice" {
        request = request.header("Accept", "text/xml, application/xml, text/html");
    }
    let started = std::time::Instant::now();
    let mut record = WebhookRecord {
        kind: kind.to_string(),
        call_sid: sid.to_string(),
        url: request_url,
        method: method.to_ascii_uppercase(),
        params: params.to_vec(),
        signature,
        status: None,
        content_type: None,
        body: String::new(),
        latency: Duration::ZERO,
        error: None,
    };
    match request.send().await {
        Ok(response) => {
            record.status = Some(response.status().as_u16());
            record.content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            match response.text().await {
                Ok(body) => record.body = body,
                Err(e) => record.error = Some(e.to_string()),
            }
        }
        Err(e) => record.error = Some(e.to_string()),
    }
    record.latency = started.elapsed();
    shared.state().webhooks.push(record.clone());
    record
}

/// `url` with `:80`/`:443` written out when it has no port (for the signing knob).
fn with_default_port(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    if url[start..end].contains(':') {
        return url.to_string();
    }
    let port = if url.starts_with("https") {
        "443"
    } else {
        "80"
    };
    format!("{}:{port}{}", &url[..end], &url[end..])
}
