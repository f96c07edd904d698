//! The SMS fallback over HTTP: the provider's signed status callback for texts
//! (`POST /api/remote_text_message_events`, exempt from API credentials, checked against
//! `X-Twilio-Signature` like the voice webhook) and a callout's texts and their summary
//! (`GET /api/callouts/:id/text_messages`, `…/text_message_summary`).

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::path_id;
use super::remote_events::{forbidden, signed_url};
use super::respond::{no_content, ok};
use crate::provider::signature;
use crate::service::TEXT_EVENTS_PATH;
use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(TEXT_EVENTS_PATH, post(webhook))
        .route("/api/callouts/{id}/text_messages", get(of_callout))
        .route("/api/callouts/{id}/text_message_summary", get(summary))
}

async fn of_callout(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    Ok(ok(&s.service.text_messages_of(path_id(&id)?).await?))
}

async fn summary(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    Ok(ok(&s.service.text_message_summary(path_id(&id)?).await?))
}

/// A text's status callback: signature first (403, nothing stored), then the service applies
/// it. 204 when stored or when the text is unknown here (the provider only logs answers).
async fn webhook(State(s): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let original = parts
        .extensions
        .get::<OriginalUri>()
        .map(|u| u.0.clone())
        .unwrap_or(parts.uri.clone());
    let bytes = match super::extract::read_body(Body::new(body)).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| {
            c.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let body_pairs: Vec<(String, String)> = if is_form {
        form_urlencoded::parse(&bytes).into_owned().collect()
    } else {
        Vec::new()
    };
    let Some(token) = s.service.dialing().auth_token.as_deref() else {
        tracing::warn!("text status callback refused: no provider auth token configured");
        return forbidden();
    };
    let url = signed_url(
        s.service.dialing().public_url.as_deref(),
        &parts.headers,
        &original,
    );
    let sig = parts
        .headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok());
    if !signature::validate(token, &url, &body_pairs, sig) {
        tracing::warn!("text status callback refused: bad or missing X-Twilio-Signature");
        return forbidden();
    }
    let mut params = body_pairs;
    if let Some(q) = original.query() {
        params.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    match s.service.handle_text_status(&params).await {
        Ok(_) => no_content(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
