//! `/api/batch_operations`: CRUD, events, previews and results.

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Acting, Params, path_id};
use super::pagination::paginated;
use super::respond::{created, no_content, ok};
use crate::domain::batch::BatchType;
use crate::domain::filter::Family;
use crate::service::BatchOperationInput;
use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/batch_operations", get(index).post(create))
        .route(
            "/api/batch_operations/{id}",
            get(show).patch(update).put(update).delete(destroy),
        )
        .route(
            "/api/batch_operations/{id}/batch_operation_events",
            post(event),
        )
        .route("/api/batch_operations/{id}/contacts", get(result_contacts))
        .route(
            "/api/batch_operations/{id}/callout_participations",
            get(result_participations),
        )
        .route(
            "/api/batch_operations/{id}/phone_calls",
            get(result_phone_calls),
        )
        .route(
            "/api/batch_operations/{id}/preview/contacts",
            get(preview_contacts),
        )
        .route(
            "/api/batch_operations/{id}/preview/callout_participations",
            get(preview_participations),
        )
        .route(
            "/api/batch_operations/{id}/preview/phone_calls",
            get(preview_phone_calls),
        )
}

pub(crate) fn input(p: &Params) -> Result<BatchOperationInput, ApiError> {
    Ok(BatchOperationInput {
        kind: p.scalar("type"),
        callout_id: p.id("callout_id"),
        parameters: p.object("parameters"),
        metadata: p.metadata("metadata")?,
        merge_mode: p.merge_mode(),
    })
}

/// A top-level `type` naming one of the four types restricts lookups to it [orig].
pub(crate) fn type_param(p: &Params) -> Vec<&'static str> {
    p.scalar("type")
        .as_deref()
        .and_then(BatchType::parse)
        .map(|t| vec![t.as_str()])
        .unwrap_or_default()
}

async fn index(s: Acting, p: Params) -> ApiResult {
    let paged = s
        .service
        .batch_operations(
            p.id("callout_id"),
            &type_param(&p),
            &p.filter(Family::BatchOperation),
            p.page(),
        )
        .await?;
    Ok(paginated(&p, paged))
}

async fn create(s: Acting, p: Params) -> ApiResult {
    let op = s.service.create_batch_operation(input(&p)?, false).await?;
    Ok(created(format!("/api/batch_operations/{}", op.id), &op))
}

async fn show(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    Ok(ok(&s
        .service
        .batch_operation(path_id(&id)?, &type_param(&p))
        .await?))
}

async fn update(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let mut i = input(&p)?;
    i.kind = None;
    s.service
        .update_batch_operation(path_id(&id)?, &type_param(&p), i)
        .await?;
    Ok(no_content())
}

async fn destroy(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    s.service
        .delete_batch_operation(path_id(&id)?, &type_param(&p))
        .await?;
    Ok(no_content())
}

async fn event(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let op = s
        .service
        .fire_batch_operation_event(path_id(&id)?, p.scalar("event").as_deref())
        .await?;
    Ok(created(format!("/api/batch_operations/{}", op.id), &op))
}

async fn result_contacts(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let paged = s
        .service
        .batch_result_contacts(path_id(&id)?, &p.filter(Family::Contact), p.page())
        .await?;
    Ok(paginated(&p, paged))
}

async fn result_participations(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let paged = s
        .service
        .batch_result_participations(path_id(&id)?, &p.filter(Family::Participation), p.page())
        .await?;
    Ok(paginated(&p, paged))
}

async fn result_phone_calls(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let paged = s
        .service
        .batch_result_phone_calls(path_id(&id)?, &p.filter(Family::PhoneCall), p.page())
        .await?;
    Ok(paginated(&p, paged))
}

async fn preview_contacts(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let paged = s
        .service
        .preview_contacts(path_id(&id)?, &p.filter(Family::Contact), p.page())
        .await?;
    Ok(paginated(&p, paged))
}

async fn preview_participations(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let paged = s
        .service
        .preview_participations(path_id(&id)?, p.page())
        .await?;
    Ok(paginated(&p, paged))
}

async fn preview_phone_calls(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let paged = s
        .service
        .preview_phone_calls(path_id(&id)?, p.page())
        .await?;
    Ok(paginated(&p, paged))
}
