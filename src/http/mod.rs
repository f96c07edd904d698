//! The HTTP server: SCFM's REST API under `/api` (axum on hyper). `router()` builds the routes;
//! `serve()` runs them on an already bound listener with title-case header names (so `curl -v`
//! prints `Per-Page`/`Total` as SCFM's tutorial shows), a header read timeout against slow
//! clients, and graceful shutdown.

mod auth;
mod batch_operations;
mod callback;
mod callouts;
mod contacts;
pub mod error;
pub mod extract;
mod health;
mod pagination;
pub mod params;
mod participations;
mod phone_calls;
mod remote_events;
mod respond;
mod sitrep;
mod text_messages;

use crate::config::ApiAuth;
use crate::service::Service;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use error::status_body;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub auth: Arc<ApiAuth>,
}

/// All routes, wrapped so that format suffixes are handled before routing and every `/api`
/// request is authenticated.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(contacts::routes())
        .merge(callouts::routes())
        .merge(sitrep::routes())
        .merge(participations::routes())
        .merge(batch_operations::routes())
        .merge(phone_calls::routes())
        .merge(remote_events::routes())
        .merge(text_messages::routes())
        .merge(health::routes())
        .route("/", axum::routing::get(root))
        .fallback(|| async { status_body(StatusCode::NOT_FOUND) })
        .method_not_allowed_fallback(|| async { status_body(StatusCode::NOT_FOUND) })
        .with_state(state.clone());
    Router::new()
        .fallback_service(api)
        .layer(middleware::from_fn_with_state(state, auth::require))
        .layer(middleware::from_fn(format_suffix))
}

async fn root() -> Response {
    let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_static("https://github.com/somleng/somleng-scfm"),
    );
    r
}

/// `/api/contacts.json` and `/api/contacts/1.json` route like the bare paths; other suffixes on
/// JSON routes answer 406. The webhook POST takes `.xml` and refuses `.json`.
async fn format_suffix(mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !path.starts_with("/api/") {
        return next.run(req).await;
    }
    let last = path.rsplit('/').next().unwrap_or("");
    let Some(dot) = last.rfind('.') else {
        return next.run(req).await;
    };
    let ext = &last[dot + 1..];
    let stripped = &path[..path.len() - ext.len() - 1];
    let webhook = req.method() == Method::POST && stripped == "/api/remote_phone_call_events";
    let acceptable = if webhook { ext == "xml" } else { ext == "json" };
    if !acceptable {
        return status_body(StatusCode::NOT_ACCEPTABLE);
    }
    let new_uri = match req.uri().query() {
        Some(q) => format!("{stripped}?{q}"),
        None => stripped.to_string(),
    };
    match new_uri.parse::<Uri>() {
        Ok(uri) => {
            *req.uri_mut() = uri;
            next.run(req).await
        }
        Err(_) => status_body(StatusCode::NOT_FOUND),
    }
}

/// Serves `app` on `listener` until `shutdown` flips to true; in-flight requests get up to
/// 10 s to finish.
pub async fn serve(listener: TcpListener, app: Router, mut shutdown: watch::Receiver<bool>) {
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let (stream, _peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let svc = TowerToHyperService::new(app.clone());
        let mut stop = shutdown.clone();
        tasks.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .title_case_headers(true)
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10));
            let conn = builder.serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
                }
            }
        });
        // Reap finished connections so the set does not grow.
        while tasks.try_join_next().is_some() {}
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}
