//! `/api/callouts`, its events and nested indexes.

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Acting, Params, path_id};
use super::pagination::paginated;
use super::respond::{created, no_content, ok};
use crate::domain::filter::Family;
use crate::service::{BatchOperationInput, CalloutInput, ParticipationParent};
use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/callouts", get(index).post(create))
        .route(
            "/api/callouts/{id}",
            get(show).patch(update).put(update).delete(destroy),
        )
        .route("/api/callouts/{id}/callout_events", post(event))
        .route(
            "/api/callouts/{id}/callout_participations",
            get(participations).post(create_participation),
        )
        .route("/api/callouts/{id}/contacts", get(contacts))
        .route("/api/callouts/{id}/progress", get(progress))
        .route(
            "/api/callouts/{id}/batch_operations",
            get(batch_operations).post(create_batch_operation),
        )
}

fn input(p: &Params) -> Result<CalloutInput, ApiError> {
    Ok(CalloutInput {
        call_flow_logic: p.nullable("call_flow_logic"),
        metadata: p.metadata("metadata")?,
        merge_mode: p.merge_mode(),
        dialing: match p.get("dialing") {
            Some(serde_json::Value::Null) => Some(None),
            Some(serde_json::Value::Object(m)) => Some(Some(m.clone())),
            _ => None,
        },
        requires_approval: p.boolean("requires_approval")?,
    })
}

async fn index(s: Acting, p: Params) -> ApiResult {
    let paged = s
        .service
        .callouts(p.id("contact_id"), &p.filter(Family::Callout), p.page())
        .await?;
    Ok(paginated(&p, paged))
}

async fn create(s: Acting, p: Params) -> ApiResult {
    let c = s.service.create_callout(input(&p)?).await?;
    Ok(created(format!("/api/callouts/{}", c.id), &c))
}

async fn show(s: Acting, Path(id): Path<String>) -> ApiResult {
    Ok(ok(&s.service.callout(path_id(&id)?).await?))
}

async fn update(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    s.service.update_callout(path_id(&id)?, input(&p)?).await?;
    Ok(no_content())
}

async fn destroy(s: Acting, Path(id): Path<String>) -> ApiResult {
    s.service.delete_callout(path_id(&id)?).await?;
    Ok(no_content())
}

async fn event(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let c = s
        .service
        .fire_callout_event(path_id(&id)?, p.scalar("event").as_deref())
        .await?;
    Ok(created(format!("/api/callouts/{}", c.id), &c))
}

async fn participations(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let parent = ParticipationParent::Callout(path_id(&id)?);
    let paged = s
        .service
        .participations(parent, &p.filter(Family::Participation), p.page())
        .await?;
    Ok(paginated(&p, paged))
}

async fn create_participation(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let input = crate::service::ParticipationInput {
        contact_id: p.id("contact_id"),
        msisdn: p.scalar("msisdn"),
        call_flow_logic: p.nullable("call_flow_logic"),
        metadata: p.metadata("metadata")?,
        merge_mode: p.merge_mode(),
    };
    let cp = s.service.create_participation(path_id(&id)?, input).await?;
    Ok(created(
        format!("/api/callout_participations/{}", cp.id),
        &cp,
    ))
}

async fn contacts(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let paged = s
        .service
        .contacts(Some(path_id(&id)?), &p.filter(Family::Contact), p.page())
        .await?;
    Ok(paginated(&p, paged))
}

/// No 404 for a missing callout: an empty list [orig].
async fn batch_operations(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let id = id.parse::<i64>().unwrap_or(0);
    let types = super::batch_operations::type_param(&p);
    let paged = s
        .service
        .batch_operations(
            Some(id),
            &types,
            &p.filter(Family::BatchOperation),
            p.page(),
        )
        .await?;
    Ok(paginated(&p, paged))
}

async fn create_batch_operation(s: Acting, Path(id): Path<String>, p: Params) -> ApiResult {
    let mut input: BatchOperationInput = super::batch_operations::input(&p)?;
    input.callout_id = Some(path_id(&id)?);
    let op = s.service.create_batch_operation(input, true).await?;
    Ok(created(format!("/api/batch_operations/{}", op.id), &op))
}

/// Campaign progress (an scfm addition; SCFM had no such route).
async fn progress(s: Acting, Path(id): Path<String>) -> ApiResult {
    Ok(ok(&s.service.callout_progress(path_id(&id)?).await?))
}
