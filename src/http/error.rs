//! One error type for every handler, answering in SCFM's JSON shapes. Client mistakes are 4xx;
//! 500 only for internal faults, logged and never echoed.

use crate::domain::ValidationErrors;
use crate::service;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub enum ApiError {
    Status(StatusCode),
    Invalid(ValidationErrors),
    Unauthorized {
        basic: bool,
    },
    /// The database cannot take writes right now; the client may retry.
    Unavailable(String),
}

impl ApiError {
    pub fn not_found() -> Self {
        ApiError::Status(StatusCode::NOT_FOUND)
    }
    pub fn bad_request() -> Self {
        ApiError::Status(StatusCode::BAD_REQUEST)
    }
}

impl From<service::Error> for ApiError {
    fn from(e: service::Error) -> Self {
        match e {
            service::Error::NotFound => ApiError::not_found(),
            service::Error::Invalid(v) => ApiError::Invalid(v),
            service::Error::BadRequest(m) => {
                tracing::info!(reason = %m, "bad request");
                ApiError::bad_request()
            }
            service::Error::Unavailable(m) => ApiError::Unavailable(m),
            service::Error::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

/// A JSON response with SCFM's content type.
pub fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// `{"status":N,"error":"<reason phrase>"}`.
pub fn status_body(status: StatusCode) -> Response {
    let body = serde_json::json!({
        "status": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
    });
    json_response(status, body.to_string())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Status(s) => status_body(s),
            ApiError::Invalid(v) => {
                let body = serde_json::json!({ "errors": v });
                json_response(StatusCode::UNPROCESSABLE_ENTITY, body.to_string())
            }
            ApiError::Unauthorized { basic } => {
                let mut r = status_body(StatusCode::UNAUTHORIZED);
                let challenge = if basic {
                    "Basic realm=\"Application\""
                } else {
                    "Bearer realm=\"Application\""
                };
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
                r
            }
            ApiError::Unavailable(m) => {
                tracing::error!(error = %m, "database unavailable");
                let body = serde_json::json!({
                    "status": 503,
                    "error": "Service Unavailable",
                    "message": "the database cannot be written (read-only or disk full); nothing was changed",
                });
                json_response(StatusCode::SERVICE_UNAVAILABLE, body.to_string())
            }
        }
    }
}

pub type ApiResult<T = Response> = Result<T, ApiError>;
