//! API authentication: HTTP basic (`HTTP_BASIC_AUTH_USER` / `_PASSWORD`, as SCFM) or a bearer
//! token (`SCFM_API_TOKEN` or the generated one), both acting as the shared `api` actor; or a
//! named operator's token (`scfm operators add`), acting as that operator. Checked before any
//! lookup, so a 401 comes before a 404. Only the provider webhooks' POSTs (calls, texts) are
//! exempt (they check provider signatures). The actor goes into the request's extensions for [`super::extract::Acting`].

use super::AppState;
use super::error::ApiError;
use crate::domain::actor::Actor;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

fn eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

pub async fn require(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let exempt = !path.starts_with("/api")
        || (req.method() == Method::POST
            && (path == "/api/remote_phone_call_events"
                || path == crate::service::TEXT_EVENTS_PATH));
    if exempt {
        return next.run(req).await;
    }
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let actor = if authorized(&state, header.as_deref()) {
        Some(Actor::SharedApi)
    } else {
        match operator(&state, header.as_deref()).await {
            Ok(actor) => actor,
            Err(e) => return ApiError::from(e).into_response(),
        }
    };
    match actor {
        Some(actor) => {
            req.extensions_mut().insert(actor);
            next.run(req).await
        }
        None => ApiError::Unauthorized {
            basic: state.auth.basic_user.is_some(),
        }
        .into_response(),
    }
}

/// A named operator's token: `Authorization: Bearer TOKEN`, or basic with the operator's name
/// and the token as password (`curl -u ana:TOKEN`).
async fn operator(state: &AppState, header: Option<&str>) -> crate::service::Result<Option<Actor>> {
    let Some(header) = header else {
        return Ok(None);
    };
    let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
    let (user, token) = match scheme.to_ascii_lowercase().as_str() {
        "bearer" => (None, value.trim().to_string()),
        "basic" => {
            let Some(decoded) = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
            else {
                return Ok(None);
            };
            let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
            (Some(user.to_string()), password.to_string())
        }
        _ => return Ok(None),
    };
    if !token.starts_with("scfm_op_") {
        return Ok(None);
    }
    let actor = state.service.operator_for_token(&token).await?;
    Ok(actor.filter(|a| match (&user, a.operator()) {
        (Some(u), Some(name)) => u.is_empty() || eq(u, name),
        _ => true,
    }))
}

fn authorized(state: &AppState, header: Option<&str>) -> bool {
    let auth = &state.auth;
    let Some(header) = header else { return false };
    let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => auth
            .token
            .as_deref()
            .map(|t| eq(value.trim(), t))
            .unwrap_or(false),
        "basic" => {
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(value.trim()) else {
                return false;
            };
            let Ok(decoded) = String::from_utf8(decoded) else {
                return false;
            };
            let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
            if let Some(expected_user) = &auth.basic_user {
                let user_ok = eq(user, expected_user);
                let password_ok = auth
                    .basic_password
                    .as_deref()
                    .map(|p| eq(password, p))
                    .unwrap_or(true);
                if user_ok && password_ok {
                    return true;
                }
            }
            // `curl -u :TOKEN` also works with a token.
            auth.token
                .as_deref()
                .map(|t| eq(password, t))
                .unwrap_or(false)
        }
        _ => false,
    }
}
