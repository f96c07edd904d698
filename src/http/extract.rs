//! Request parameters as SCFM read them: query and body (form with Rack brackets, or JSON)
//! merged into one nested map, plus what a pagination `Link` needs. Also the helpers handlers
//! use to take permitted keys out of that map.

use super::error::ApiError;
use super::params;
use axum::body::Body;
use axum::extract::{FromRequest, OriginalUri, Request};
use axum::http::header;
use serde_json::{Map, Value};

/// Largest request body accepted; larger gets 413.
pub const MAX_BODY: usize = 1024 * 1024;

/// The 422 message for a metadata parameter that is not an object.
pub const NOT_AN_OBJECT: &str = "must be an object (key/value pairs)";

#[derive(Debug, Default)]
pub struct Params {
    /// Body params, then query params over them (shallow).
    pub map: Map<String, Value>,
    /// Query params alone (pagination links repeat them).
    pub query: Map<String, Value>,
    /// `scheme://host/path` as the client addressed it.
    pub url_base: String,
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let original = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.clone())
            .unwrap_or(parts.uri.clone());
        let raw_query = original.query().unwrap_or("");
        let query =
            params::parse_nested(raw_query.as_bytes()).map_err(|_| ApiError::bad_request())?;
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_string();
        let scheme = parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .filter(|s| *s == "https" || *s == "http")
            .unwrap_or("http");
        let url_base = format!("{scheme}://{host}{}", original.path());
        let raw_content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_string();
        let content_type = raw_content_type.to_ascii_lowercase();
        let bytes = read_body(body).await?;
        let mut map = if bytes.is_empty() {
            Map::new()
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            // Rack 2.0 read form bodies with `&` as the only separator (`a=x;y` keeps `x;y`).
            params::parse_form_body(&bytes).map_err(|_| ApiError::bad_request())?
        } else if content_type.starts_with("multipart/form-data") {
            multipart(&raw_content_type, bytes).await?
        } else if content_type.starts_with("application/json") {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(m)) => {
                    let mut m = m;
                    params::compact_array_nulls(&mut m);
                    m
                }
                _ => return Err(ApiError::bad_request()),
            }
        } else {
            Map::new()
        };
        params::merge_shallow(&mut map, query.clone());
        Ok(Params {
            map,
            query,
            url_base,
        })
    }
}

/// `multipart/form-data` (what `curl -F` sends): text fields go through the same Rack key
/// grammar as form bodies; file parts are ignored (no route takes uploads).
async fn multipart(
    content_type: &str,
    bytes: bytes::Bytes,
) -> Result<Map<String, Value>, ApiError> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| ApiError::bad_request())?;
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut pairs: Vec<(String, String)> = Vec::new();
    while let Some(field) = parts
        .next_field()
        .await
        .map_err(|_| ApiError::bad_request())?
    {
        if field.file_name().is_some() {
            continue;
        }
        let Some(name) = field.name().map(str::to_string) else {
            continue;
        };
        let text = field.text().await.map_err(|_| ApiError::bad_request())?;
        pairs.push((name, text));
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    params::parse_form_body(encoded.as_bytes()).map_err(|_| ApiError::bad_request())
}

/// How long a client may take to send its body; a slow client (a byte a second) gets 408 and
/// the server keeps serving others (headers have their own read timeout in `http::serve`).
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Reads a whole body, at most `MAX_BODY` bytes within `BODY_TIMEOUT`.
pub async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    let read = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY));
    let Ok(result) = read.await else {
        return Err(ApiError::Status(axum::http::StatusCode::REQUEST_TIMEOUT));
    };
    result.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .map(|s| s.is::<http_body_util::LengthLimitError>())
            .unwrap_or(false);
        if too_large {
            ApiError::Status(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
        } else {
            ApiError::bad_request()
        }
    })
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// A permitted scalar key: strings as they are, numbers/booleans as text; objects and
    /// arrays are ignored (SCFM §2.3).
    pub fn scalar(&self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A permitted nullable scalar: `Some(None)` when given as null (JSON null or a bare key).
    /// A boolean key: JSON `true`/`false`, or the form texts `true`/`false`/`1`/`0`. Anything
    /// else is a 422 naming the key; absent is `None`.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" || s == "1" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" || s == "0" => Ok(Some(false)),
            Some(_) => Err(ApiError::from(crate::service::Error::invalid(
                key,
                "must be true or false",
            ))),
        }
    }

    pub fn nullable(&self, key: &str) -> Option<Option<String>> {
        match self.map.get(key)? {
            Value::Null => Some(None),
            Value::Object(_) | Value::Array(_) => None,
            _ => Some(self.scalar(key)),
        }
    }

    /// A permitted object key; scalars given for it are ignored.
    pub fn object(&self, key: &str) -> Option<Map<String, Value>> {
        self.map.get(key).and_then(Value::as_object).cloned()
    }

    /// `key` as a metadata object: absent or null is `None`; a string, number, boolean or
    /// array is a 422 naming the key, so nothing is stored (SCFM silently stored `{}`).
    pub fn metadata(&self, key: &str) -> Result<Option<Map<String, Value>>, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(_) => Err(ApiError::Invalid(
                crate::domain::validation::ValidationErrors::single(key, NOT_AN_OBJECT),
            )),
        }
    }

    /// An integer id given as a parameter (`contact_id=2`); `None` when absent or not a number.
    pub fn id(&self, key: &str) -> Option<i64> {
        self.scalar(key).and_then(|s| s.trim().parse().ok())
    }

    pub fn merge_mode(&self) -> crate::domain::metadata::MergeMode {
        crate::domain::metadata::MergeMode::parse(self.scalar("metadata_merge_mode").as_deref())
    }

    pub fn page(&self) -> crate::domain::Page {
        crate::domain::Page::parse(
            self.scalar("page").as_deref(),
            self.scalar("per_page").as_deref(),
        )
    }

    pub fn filter(&self, family: crate::domain::filter::Family) -> crate::domain::filter::Filter {
        crate::domain::filter::Filter::parse(family, self.map.get("q"))
    }
}

/// Parses a path id (`"12"`); anything else is a 404, as a missing record would be.
pub fn path_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(ApiError::not_found)
}

/// The service acting for the request's authenticated actor (set by `auth::require`). Handlers
/// take this instead of the bare state, so everything they change is recorded as that actor's.
pub struct Acting {
    pub service: crate::service::Service,
}

impl axum::extract::FromRequestParts<super::AppState> for Acting {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        let actor = parts
            .extensions
            .get::<crate::domain::actor::Actor>()
            .cloned()
            .unwrap_or(crate::domain::actor::Actor::SharedApi);
        Ok(Acting {
            service: state.service.acting_as(actor),
        })
    }
}
