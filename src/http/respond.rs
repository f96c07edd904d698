//! Success responses in SCFM's shapes.

use super::error::json_response;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

pub fn ok<T: Serialize>(v: &T) -> Response {
    json_response(StatusCode::OK, to_json(v))
}

/// 201 with the body and `Location: <path>`.
pub fn created<T: Serialize>(location: String, v: &T) -> Response {
    let mut r = json_response(StatusCode::CREATED, to_json(v));
    if let Ok(l) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    r
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
