//! `GET /api/health`: whether this process reaches its database, and where dialling stands
//! (held, slowed by congestion control, or at the cap), for operators and load balancers. The
//! database away answers 503 (`service::Error`'s mapping), so a load balancer's check fails;
//! dialling held answers 200 with `"status": "held"`: the process is fine, the provider is not.

use super::AppState;
use super::error::ApiResult;
use super::respond::ok;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/health", get(health))
}

async fn health(State(s): State<AppState>) -> ApiResult {
    let dialing = s.service.dialing_health().await?;
    Ok(ok(&serde_json::json!({
        "status": dialing.status,
        "database": "ok",
        "dialing": dialing,
    })))
}
