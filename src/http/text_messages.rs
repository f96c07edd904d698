//! The SMS fallback over HTTP: the provider's signed status callback for texts
//! (`POST /api/remote_text_message_events`, exempt from API credentials, checked against
//! `X-Twilio-Signature` like the voice webhook) and a callout's texts and their summary
//! (`GET /api/callouts/:id/text_messages`, `…/text_message_summary`).

use super::AppState;
use super::callback::{Callback, forbidden};
use super::error::{ApiError, ApiResult};
use super::extract::path_id;
use super::respond::{no_content, ok};
use crate::service::TEXT_EVENTS_PATH;
use axum::Router;
use axum::extract::{Path, Request, State};
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
    let text = match Callback::read(req).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(token) = s.service.dialing().auth_token.as_deref() else {
        tracing::warn!("text status callback refused: no provider auth token configured");
        return forbidden();
    };
    let (params, _url) = match text.verify(token, s.service.dialing().public_url.as_deref()) {
        Some(v) => v,
        None => {
            tracing::warn!("text status callback refused: bad or missing X-Twilio-Signature");
            return forbidden();
        }
    };
    match s.service.handle_text_status(&params).await {
        Ok(_) => no_content(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
