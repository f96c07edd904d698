//! `/api/callout_participations` (no top-level POST: participations are created on a callout).

use super::AppState;
use super::error::ApiResult;
use super::extract::{Acting, Params, path_id};
use super::pagination::paginated;
use super::respond::{no_content, ok};
use crate::domain::filter::Family;
use crate::service::{ParticipationInput, ParticipationParent};
use axum::Router;
use axum::extract::Path;
use axum::routing::get;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/callout_participations", get(index))
        .route(
            "/api/callout_participations/{id}",
            get(show).patch(update).put(update).delete(destroy),
        )
}

async fn index(s: Acting, p: Params) -> ApiResult {
    let filter = p.filter(Family::Participation);
    // Nesting keys as plain parameters (SCFM §1.3): callout_id, contact_id, batch_operation_id.
    let paged = if let Some(id) = p.id("callout_id") {
        s.service
            .participations(ParticipationParent::Callout(id), &filter, p.page())
            .await?
    } else if let Some(id) = p.id("contact_id") {
        s.service
            .participations(ParticipationParent::Contact(id), &filter, p.page())
            .await?
    } else if let Some(id) = p.id("batch_operation_id") {
        s.service
            .batch_result_participations(id, &filter, p.page())
            .await?
    } else {
        s.service
            .participations(ParticipationParent::All, &filter, p.page())
            .await?
    };
    Ok(paginated(&p, paged))
}

async fn show(s: Acting, Path(id): Path<String>) -> ApiResult {
    Ok(ok(&s.service.participation(path_id(&id)?).await?))
}

async fn update(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let input = ParticipationInput {
        contact_id: None,
        msisdn: p.scalar("msisdn"),
        call_flow_logic: p.nullable("call_flow_logic"),
        metadata: p.metadata("metadata")?,
        merge_mode: p.merge_mode(),
    };
    s.service.update_participation(path_id(&id)?, input).await?;
    Ok(no_content())
}

async fn destroy(s: Acting, Path(id): Path<String>) -> ApiResult {
    s.service.delete_participation(path_id(&id)?).await?;
    Ok(no_content())
}
