//! The fake's REST surface (providers.md §1–§4): routing, fault injection, Basic auth, create
//! validation, fetch, update dispatch, error bodies per flavour, and the request log.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::Utc;
use serde_json::{Value, json};

use super::{
    ConnKill, FakeCall, FakeConfig, Fault, FaultAction, Flavour, GhostReply, Outcome, PathMatch,
    RecordedRequest, Shared, engine, resources,
};

pub(super) fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/__fake/requests", axum::routing::get(dump))
        .fallback(handle)
        .with_state(shared)
}

async fn dump(State(shared): State<Arc<Shared>>) -> Response {
    let requests: Vec<Value> = shared
        .state()
        .requests
        .iter()
        .map(|r| {
            json!({"at": r.at.to_rfc3339(), "method": r.method, "path": r.path,
            "query": r.raw_query, "form": r.form, "status": r.response_status, "fault": r.fault})
        })
        .collect();
    axum::Json(requests).into_response()
}

/// `/2010-04-01/Accounts/{sid}/Calls[.json]`
pub(super) fn is_collection(path: &str) -> bool {
    matches!(parse_path(path), Some((_, None, _)))
}

/// (account sid, call sid, had `.json`) of a Calls path.
fn parse_path(path: &str) -> Option<(String, Option<String>, bool)> {
    let rest = path.strip_prefix("/2010-04-01/Accounts/")?;
    let (account, rest) = rest.split_once('/')?;
    let (rest, json) = match rest.strip_suffix(".json") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    if rest == "Calls" {
        return Some((account.to_string(), None, json));
    }
    let call = rest.strip_prefix("Calls/")?;
    (!call.is_empty() && !call.contains('/'))
        .then(|| (account.to_string(), Some(call.to_string()), json))
}

fn path_matches(pattern: &PathMatch, path: &str) -> bool {
    match pattern {
        PathMatch::Any => true,
        PathMatch::Exact(p) => p == path,
        PathMatch::Contains(p) => path.contains(p.as_str()),
        PathMatch::CallsCollection => is_collection(path),
        PathMatch::CallInstance => matches!(parse_path(path), Some((_, Some(_), _))),
    }
}

fn take_fault(shared: &Shared, method: &str, path: &str) -> Option<FaultAction> {
    let mut state = shared.state();
    let index = state.faults.iter().position(|f: &Fault| {
        f.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && path_matches(&f.path, path)
            && f.remaining != Some(0)
    })?;
    let fault = &mut state.faults[index];
    if let Some(n) = fault.remaining.as_mut() {
        *n -= 1;
    }
    Some(fault.action.clone())
}

pub(super) struct Answer {
    status: u16,
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    pub(super) fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            content_type: Some("application/json; charset=utf-8".into()),
            headers: Vec::new(),
            body: body.to_string(),
        }
    }
    fn into_response(self) -> Response {
        let mut builder = Response::builder()
            .status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        if let Some(ct) = self.content_type {
            builder = builder.header("content-type", ct);
        }
        for (k, v) in self.headers {
            builder = builder.header(k, v);
        }
        builder
            .body(axum::body::Body::from(self.body))
            .expect("fake response")
    }
}

/// Twilio: integer code, 400 family; Somleng: string code.
fn error_answer(flavour: Flavour, status: u16, code: &str, message: &str) -> Answer {
    let more_info = format!("https://www.twilio.com/docs/errors/{code}");
    let body = match flavour {
        Flavour::Twilio => {
            let code: Value = code
                .parse::<u64>()
                .map_or_else(|_| json!(code), |n| json!(n));
            json!({"code": code, "message": message, "more_info": more_info, "status": status})
        }
        Flavour::Somleng => {
            json!({"message": message, "status": status, "code": code, "more_info": more_info})
        }
    };
    Answer::json(status, body)
}

pub(super) fn validation_error(flavour: Flavour, code: &str, message: &str) -> Answer {
    let status = if flavour == Flavour::Twilio { 400 } else { 422 };
    error_answer(flavour, status, code, message)
}

pub(super) fn not_found(flavour: Flavour, path: &str) -> Answer {
    match flavour {
        Flavour::Twilio => error_answer(
            flavour,
            404,
            "20404",
            &format!("The requested resource {path} was not found"),
        ),
        Flavour::Somleng => Answer::json(404, json!({"status": 404, "error": "Not Found"})),
    }
}

fn unauthorized(flavour: Flavour) -> Answer {
    let more_info = "https://www.twilio.com/docs/errors/20003";
    Answer::json(
        401,
        match flavour {
            Flavour::Twilio => {
                json!({"code": 20003, "detail": "Your AccountSid or AuthToken was incorrect.",
            "message": "Authenticate", "more_info": more_info, "status": 401})
            }
            Flavour::Somleng => json!({"code": "20003", "message": "Authenticate", "detail": "",
            "more_info": more_info, "status": 401}),
        },
    )
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Extension(kill): Extension<ConnKill>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let index = {
        let mut state = shared.state();
        state.requests.push(RecordedRequest {
            at: Utc::now(),
            method: method.to_string(),
            path: path.clone(),
            raw_query: uri.query().map(str::to_string),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            basic_auth: basic_auth(&headers),
            body: body.to_vec(),
            form: form.clone(),
            response_status: 0,
            response_body: String::new(),
            fault: None,
        });
        state.requests.len() - 1
    };
    let fault = take_fault(&shared, method.as_str(), &path);
    let note = |text: String| shared.state().requests[index].fault = Some(text);
    let answer = match fault {
        Some(FaultAction::Respond {
            status,
            content_type,
            headers,
            body,
        }) => {
            note(format!("respond {status}"));
            Answer {
                status,
                content_type,
                headers,
                body,
            }
        }
        Some(FaultAction::Drop) => {
            note("drop".into());
            kill.0.notify_one();
            return std::future::pending().await;
        }
        Some(FaultAction::Delay(d)) => {
            note(format!("delay {d:?}"));
            tokio::time::sleep(d).await;
            route(&shared, &method, &uri, &headers, &form).await
        }
        Some(FaultAction::Ghost(reply)) => {
            note(format!("ghost {reply:?}"));
            let real = route(&shared, &method, &uri, &headers, &form).await;
            let sid = serde_json::from_str::<Value>(&real.body)
                .ok()
                .and_then(|v| v["sid"].as_str().map(str::to_string));
            if let Some(call) = shared
                .state()
                .calls
                .iter_mut()
                .find(|c| Some(&c.sid) == sid.as_ref())
            {
                call.ghost = true;
            }
            match reply {
                GhostReply::Status(status) => error_answer(
                    Flavour::Twilio,
                    status,
                    "20500",
                    "An internal server error has occurred",
                ),
                GhostReply::Drop => {
                    kill.0.notify_one();
                    return std::future::pending().await;
                }
                GhostReply::Delay(d) => {
                    tokio::time::sleep(d).await;
                    real
                }
            }
        }
        None => route(&shared, &method, &uri, &headers, &form).await,
    };
    {
        let mut state = shared.state();
        state.requests[index].response_status = answer.status;
        state.requests[index].response_body = answer.body.clone();
    }
    answer.into_response()
}

async fn route(
    shared: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Answer {
    let config = shared.config();
    let flavour = config.flavour;
    let path = uri.path();
    let messages = super::messages::parse_path(path);
    let Some((account, call, json_suffix)) = parse_path(path).or(messages.clone()) else {
        return not_found(flavour, path);
    };
    if account.is_empty() {
        // The seed's text, whatever the flavour.
        return error_answer(
            flavour,
            404,
            "20404",
            &format!("The requested resource {path} was not found"),
        );
    }
    if flavour == Flavour::Twilio && !json_suffix {
        return not_found(flavour, path);
    }
    match basic_auth(headers) {
        Some((user, password))
            if user == account && user == config.account_sid && password == config.auth_token => {}
        _ => return unauthorized(flavour),
    }
    if messages.is_some() {
        let query = uri.query().unwrap_or("");
        return super::messages::route(shared, &config, method.as_str(), path, query, call, form);
    }
    match (method.as_str(), call) {
        ("POST", None) => create(shared, &config, form),
        ("GET", None) => resources::list(shared, &config, path, uri.query().unwrap_or("")),
        ("GET", Some(sid)) => match shared.state().calls.iter().find(|c| c.sid == sid) {
            Some(call) => Answer::json(200, resources::call_json(&config, call)),
            None => not_found(flavour, path),
        },
        ("POST", Some(sid)) => engine::update(shared, &config, &sid, form, path),
        _ => error_answer(flavour, 405, "20004", "Method not allowed"),
    }
}

fn create(shared: &Arc<Shared>, config: &FakeConfig, form: &[(String, String)]) -> Answer {
    let flavour = config.flavour;
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let somleng = flavour == Flavour::Somleng;
    let Some(to) = get("To") else {
        return validation_error(flavour, "21201", "No 'To' number is specified");
    };
    let Some(from) = get("From") else {
        return validation_error(
            flavour,
            if somleng { "20422" } else { "21213" },
            "No 'From' number is specified",
        );
    };
    if get("Url").is_none()
        && get("Twiml").is_none()
        && (somleng || get("ApplicationSid").is_none())
    {
        return validation_error(
            flavour,
            if somleng { "20422" } else { "21205" },
            "Url parameter is required. Please provide a valid Url, Twiml or ApplicationSid.",
        );
    }
    for name in ["Method", "StatusCallbackMethod", "FallbackMethod"] {
        if let Some(m) = get(name)
            && !m.eq_ignore_ascii_case("GET")
            && !m.eq_ignore_ascii_case("POST")
        {
            return validation_error(
                flavour,
                if somleng { "20422" } else { "21205" },
                &format!("{name} must be GET or POST"),
            );
        }
    }
    if let Some(numbers) = &config.from_numbers
        && !numbers.iter().any(|n| n == from)
    {
        return validation_error(
            flavour,
            "21210",
            &format!(
                "The source phone number provided, {from}, is not yet verified for your account."
            ),
        );
    }
    let scenario = config.scenario_for(to);
    if scenario.outcome == Outcome::InvalidNumber {
        return validation_error(
            flavour,
            "21211",
            &format!("The 'To' number {to} is not a valid phone number."),
        );
    }
    let now = Utc::now();
    let call = FakeCall {
        sid: resources::new_call_sid(flavour),
        to: to.to_string(),
        from: from.to_string(),
        status: "queued".into(),
        history: vec!["queued".into()],
        params: form.to_vec(),
        scenario,
        created_at: now,
        updated_at: now,
        start_time: None,
        end_time: None,
        duration: None,
        queue_time_ms: 0,
        ghost: false,
        next_sequence: 0,
        transcript: Vec::new(),
        in_flight_at_create: 0,
    };
    let call = engine::admit(shared, config, call);
    let body = resources::call_json(config, &call);
    engine::spawn_lifecycle(shared.clone(), call.sid.clone());
    Answer::json(201, body)
}
