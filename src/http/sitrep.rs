//! `GET /api/callouts/:id/sitrep` (an scfm addition): the situation report as JSON (its figures,
//! plus the long and short text forms), or as plain text with `format=text` (the long form, or
//! the short one with `form=short`) or `Accept: text/plain`. `by=KEY` groups by a contact
//! metadata key (default: the callout's `metadata.sitrep_by`).

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Acting, Params, path_id};
use super::respond::ok;
use crate::domain::sitrep_text;
use crate::service::Error;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/callouts/{id}/sitrep", get(sitrep))
}

/// Whether the client asked for text: `format=text`, or an Accept preferring text/plain.
fn wants_text(p: &Params, headers: &HeaderMap) -> Result<bool, ApiError> {
    match p.scalar("format").as_deref() {
        Some("text") => return Ok(true),
        Some("json") => return Ok(false),
        Some(_) => return Err(Error::invalid("format", "must be json or text").into()),
        None => {}
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(accept.starts_with("text/plain"))
}

async fn sitrep(s: Acting, Path(id): Path<String>, headers: HeaderMap, p: Params) -> ApiResult {
    let id = path_id(&id)?;
    let short = match p.scalar("form").as_deref() {
        None | Some("long") => false,
        Some("short") => true,
        Some(_) => return Err(Error::invalid("form", "must be long or short").into()),
    };
    let text = wants_text(&p, &headers)?;
    let by = p.scalar("by");
    let report = s.service.sitrep(id, by.as_deref(), None).await?;
    let brief = sitrep_text::short(&report);
    if text {
        let body = if short {
            format!("{}\n", brief.text)
        } else {
            sitrep_text::long(&report)
        };
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response());
    }
    let mut v = serde_json::to_value(&report).map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("text".into(), json!(sitrep_text::long(&report)));
        o.insert(
            "short".into(),
            json!({"text": brief.text, "fits_one_sms": brief.fits, "note": brief.note}),
        );
    }
    Ok(ok(&v))
}
