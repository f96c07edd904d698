//! API authentication: HTTP basic (`HTTP_BASIC_AUTH_USER` / `_PASSWORD`, as SCFM) or a bearer
//! token (`SCFM_API_TOKEN` or the generated one). Checked before any lookup, so a 401 comes
//! before a 404. Only the provider webhook POST is exempt (it checks provider signatures).

use super::AppState;
use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

fn eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

pub async fn require(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let exempt = !path.starts_with("/api")
        || (req.method() == Method::POST && path == "/api/remote_phone_call_events");
    if exempt
        || authorized(
            &state,
            req.headers()
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok()),
        )
    {
        return next.run(req).await;
    }
    ApiError::Unauthorized {
        basic: state.auth.basic_user.is_some(),
    }
    .into_response()
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
