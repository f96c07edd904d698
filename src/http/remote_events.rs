//! `/api/remote_phone_call_events`: the provider webhook (POST, signed, answers TwiML) and the
//! JSON index/show/update of stored events, plus their nested indexes.

use super::AppState;
use super::callback::{Callback, forbidden};
use super::error::{ApiError, ApiResult};
use super::extract::{Params, path_id};
use super::pagination::paginated;
use super::respond::{no_content, ok};
use crate::call_flow::twiml;
use crate::domain::filter::Family;
use crate::domain::route::{ROUTE_PARAM, Route};
use crate::service::{EventParent, WebhookOutcome, WebhookRequest};
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/remote_phone_call_events", get(index).post(webhook))
        .route(
            "/api/remote_phone_call_events/{id}",
            get(show).patch(update).put(update),
        )
        .route(
            "/api/phone_calls/{id}/remote_phone_call_events",
            get(of_call),
        )
        .route(
            "/api/callout_participations/{id}/remote_phone_call_events",
            get(of_participation),
        )
        .route(
            "/api/callouts/{id}/remote_phone_call_events",
            get(of_callout),
        )
        .route(
            "/api/contacts/{id}/remote_phone_call_events",
            get(of_contact),
        )
}

async fn list(s: &AppState, parent: EventParent, p: &Params) -> ApiResult {
    let paged = s
        .service
        .remote_phone_call_events(parent, &p.filter(Family::Event), p.page())
        .await?;
    Ok(paginated(p, paged))
}

async fn index(State(s): State<AppState>, p: Params) -> ApiResult {
    let parent = if let Some(id) = p.id("phone_call_id") {
        EventParent::PhoneCall(id)
    } else if let Some(id) = p.id("callout_participation_id") {
        EventParent::Participation(id)
    } else if let Some(id) = p.id("callout_id") {
        EventParent::Callout(id)
    } else if let Some(id) = p.id("contact_id") {
        EventParent::Contact(id)
    } else {
        EventParent::All
    };
    list(&s, parent, &p).await
}

async fn of_call(State(s): State<AppState>, Path(id): Path<String>, p: Params) -> ApiResult {
    list(&s, EventParent::PhoneCall(path_id(&id)?), &p).await
}

async fn of_participation(
    State(s): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult {
    list(&s, EventParent::Participation(path_id(&id)?), &p).await
}

async fn of_callout(State(s): State<AppState>, Path(id): Path<String>, p: Params) -> ApiResult {
    list(&s, EventParent::Callout(path_id(&id)?), &p).await
}

async fn of_contact(State(s): State<AppState>, Path(id): Path<String>, p: Params) -> ApiResult {
    list(&s, EventParent::Contact(path_id(&id)?), &p).await
}

async fn show(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    Ok(ok(&s
        .service
        .remote_phone_call_event(path_id(&id)?)
        .await?))
}

async fn update(State(s): State<AppState>, Path(id): Path<String>, p: Params) -> ApiResult {
    s.service
        .update_remote_phone_call_event(path_id(&id)?, p.metadata("metadata")?, p.merge_mode())
        .await?;
    Ok(no_content())
}

fn xml(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    r
}

/// Provider voice requests and status callbacks. Signature first (403, nothing stored); then
/// the service stores the event and answers TwiML once it is committed. A database that cannot
/// take the write (read-only, disk full, a failed batch commit) answers 503 JSON, so the
/// provider sees the event was not stored; other internal faults answer an apology, never 500.
async fn webhook(State(s): State<AppState>, req: Request) -> Response {
    let call = match Callback::read(req).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    // A call placed on the fallback route is called back with the route in its URL (part of
    // what is signed) and signed with that account's token.
    let route = Route::of(call.query_param(ROUTE_PARAM).as_deref());
    let Some(token) = s.service.auth_token_on(route) else {
        tracing::warn!(
            route = route.name(),
            "webhook refused: no provider auth token configured to check signatures"
        );
        return forbidden();
    };
    let (params, url) = match call.verify(token, s.service.dialing().public_url.as_deref()) {
        Some(v) => v,
        None => {
            tracing::warn!("webhook refused: bad or missing X-Twilio-Signature");
            return forbidden();
        }
    };
    match s
        .service
        .handle_webhook(WebhookRequest { params, url })
        .await
    {
        Ok(WebhookOutcome::Twiml(doc)) => xml(StatusCode::CREATED, doc),
        Ok(WebhookOutcome::Invalid(messages)) => {
            let mut body = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<errors>\n");
            for m in messages {
                body.push_str(&format!("  <error>{}</error>\n", xml_escape(&m)));
            }
            body.push_str("</errors>\n");
            xml(StatusCode::UNPROCESSABLE_ENTITY, body)
        }
        Err(crate::service::Error::Unavailable(m)) => ApiError::Unavailable(m).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "webhook failed; answering an apology");
            xml(StatusCode::OK, twiml::apology())
        }
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
