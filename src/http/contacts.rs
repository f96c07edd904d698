//! `/api/contacts` and its nested indexes. Thin: extract, call the service, map the result.

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Acting, Params, path_id};
use super::pagination::paginated;
use super::respond::{created, no_content, ok};
use crate::domain::filter::Family;
use crate::service::{ContactInput, ParticipationParent};
use axum::Router;
use axum::extract::Path;
use axum::routing::get;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/contacts", get(index).post(create))
        .route(
            "/api/contacts/{id}",
            get(show).patch(update).put(update).delete(destroy),
        )
        .route(
            "/api/contacts/{id}/callout_participations",
            get(participations),
        )
        .route("/api/contacts/{id}/callouts", get(callouts))
}

pub(crate) fn input(p: &Params) -> Result<ContactInput, ApiError> {
    Ok(ContactInput {
        msisdn: p.scalar("msisdn"),
        metadata: p.metadata("metadata")?,
        merge_mode: p.merge_mode(),
    })
}

async fn index(s: Acting, p: Params) -> ApiResult {
    // Nesting keys as plain parameters (SCFM §1.3): batch_operation_id, then callout_id.
    if let Some(bo) = p.id("batch_operation_id") {
        let paged = s
            .service
            .batch_result_contacts(bo, &p.filter(Family::Contact), p.page())
            .await?;
        return Ok(paginated(&p, paged));
    }
    let paged = s
        .service
        .contacts(p.id("callout_id"), &p.filter(Family::Contact), p.page())
        .await?;
    Ok(paginated(&p, paged))
}

async fn create(s: Acting, p: Params) -> ApiResult {
    let c = s.service.create_contact(input(&p)?).await?;
    Ok(created(format!("/api/contacts/{}", c.id), &c))
}

async fn show(s: Acting, Path(id): Path<String>) -> ApiResult {
    Ok(ok(&s.service.contact(path_id(&id)?).await?))
}

async fn update(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    s.service.update_contact(path_id(&id)?, input(&p)?).await?;
    Ok(no_content())
}

async fn destroy(s: Acting, Path(id): Path<String>) -> ApiResult {
    s.service.delete_contact(path_id(&id)?).await?;
    Ok(no_content())
}

async fn participations(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let parent = ParticipationParent::Contact(path_id(&id)?);
    let paged = s
        .service
        .participations(parent, &p.filter(Family::Participation), p.page())
        .await?;
    Ok(paginated(&p, paged))
}

async fn callouts(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let paged = s
        .service
        .callouts(Some(path_id(&id)?), &p.filter(Family::Callout), p.page())
        .await?;
    Ok(paginated(&p, paged))
}
