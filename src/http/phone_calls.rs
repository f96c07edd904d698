//! `/api/phone_calls`, its events, and the phone-call indexes nested under contacts, callouts
//! and participations.

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Acting, Params, path_id};
use super::pagination::paginated;
use super::respond::{created, no_content, ok};
use crate::domain::filter::Family;
use crate::service::{PhoneCallInput, PhoneCallParent};
use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/phone_calls", get(index))
        .route(
            "/api/phone_calls/{id}",
            get(show).patch(update).put(update).delete(destroy),
        )
        .route("/api/phone_calls/{id}/phone_call_events", post(event))
        .route(
            "/api/callout_participations/{id}/phone_calls",
            get(of_participation).post(create),
        )
        .route("/api/callouts/{id}/phone_calls", get(of_callout))
        .route("/api/contacts/{id}/phone_calls", get(of_contact))
}

fn input(p: &Params) -> Result<PhoneCallInput, ApiError> {
    Ok(PhoneCallInput {
        msisdn: p.scalar("msisdn"),
        call_flow_logic: p.nullable("call_flow_logic"),
        metadata: p.metadata("metadata")?,
        merge_mode: p.merge_mode(),
        remote_request_params: p.object("remote_request_params"),
    })
}

async fn list(s: &Acting, parent: PhoneCallParent, p: &Params) -> ApiResult {
    let paged = s
        .service
        .phone_calls(parent, &p.filter(Family::PhoneCall), p.page())
        .await?;
    Ok(paginated(p, paged))
}

async fn index(s: Acting, p: Params) -> ApiResult {
    // Nesting keys as plain parameters (SCFM §1.3), first present wins.
    let parent = if let Some(id) = p.id("callout_participation_id") {
        PhoneCallParent::Participation(id)
    } else if let Some(id) = p.id("callout_id") {
        PhoneCallParent::Callout(id)
    } else if let Some(id) = p.id("contact_id") {
        PhoneCallParent::Contact(id)
    } else if let Some(id) = p.id("batch_operation_id") {
        let paged = s
            .service
            .batch_result_phone_calls(id, &p.filter(Family::PhoneCall), p.page())
            .await?;
        return Ok(paginated(&p, paged));
    } else {
        PhoneCallParent::All
    };
    list(&s, parent, &p).await
}

async fn of_participation(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    list(&s, PhoneCallParent::Participation(path_id(&id)?), &p).await
}

async fn of_callout(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    list(&s, PhoneCallParent::Callout(path_id(&id)?), &p).await
}

async fn of_contact(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    list(&s, PhoneCallParent::Contact(path_id(&id)?), &p).await
}

async fn create(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let call = s
        .service
        .create_phone_call(path_id(&id)?, input(&p)?)
        .await?;
    Ok(created(format!("/api/phone_calls/{}", call.id), &call))
}

async fn show(s: Acting, Path(id): Path<String>) -> ApiResult {
    Ok(ok(&s.service.phone_call(path_id(&id)?).await?))
}

async fn update(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    s.service
        .update_phone_call(path_id(&id)?, input(&p)?)
        .await?;
    Ok(no_content())
}

async fn destroy(s: Acting, Path(id): Path<String>) -> ApiResult {
    s.service.delete_phone_call(path_id(&id)?).await?;
    Ok(no_content())
}

async fn event(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let call = s
        .service
        .fire_phone_call_event(path_id(&id)?, p.scalar("event").as_deref())
        .await?;
    Ok(created(format!("/api/phone_calls/{}", call.id), &call))
}
