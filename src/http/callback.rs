//! A provider's callback request (voice webhooks, text status callbacks): read once (the body
//! as form pairs, the original URI), then checked against `X-Twilio-Signature` over the URL the
//! provider signed (providers.md §5) before anything is stored. One place for the check, so the
//! voice and text callbacks cannot drift apart.

use crate::provider::signature;
use axum::body::Body;
use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// A callback as received.
pub(super) struct Callback {
    headers: HeaderMap,
    original: Uri,
    body_pairs: Vec<(String, String)>,
}

impl Callback {
    /// Reads the request (a body over the limit or too slow answers its 4xx).
    pub(super) async fn read(req: Request) -> Result<Callback, Response> {
        let (parts, body) = req.into_parts();
        let original = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.clone())
            .unwrap_or(parts.uri.clone());
        let bytes = super::extract::read_body(Body::new(body))
            .await
            .map_err(IntoResponse::into_response)?;
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| {
                c.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        let body_pairs = if is_form {
            form_urlencoded::parse(&bytes).into_owned().collect()
        } else {
            Vec::new()
        };
        Ok(Callback {
            headers: parts.headers,
            original,
            body_pairs,
        })
    }

    /// The first value of `name` in the query string.
    pub(super) fn query_param(&self, name: &str) -> Option<String> {
        self.original.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        })
    }

    /// Checks the signature with `token`: on success every parameter (the body's, then the
    /// query's) and the signed URL; None when it does not match (answer [`forbidden`]).
    pub(super) fn verify(
        self,
        token: &str,
        public_url: Option<&str>,
    ) -> Option<(Vec<(String, String)>, String)> {
        let url = signed_url(public_url, &self.headers, &self.original);
        let sig = self
            .headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok());
        if !signature::validate(token, &url, &self.body_pairs, sig) {
            return None;
        }
        let mut params = self.body_pairs;
        if let Some(q) = self.original.query() {
            params.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        Some((params, url))
    }
}

pub(super) fn forbidden() -> Response {
    let mut r = (StatusCode::FORBIDDEN, "Twilio Request Validation Failed.").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The URL the provider signed: `SCFM_PUBLIC_URL` + path and query when configured, else the
/// URL rebuilt from the request (`X-Forwarded-Proto`, `Host`).
fn signed_url(public: Option<&str>, headers: &HeaderMap, uri: &Uri) -> String {
    let path_q = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string());
    if let Some(base) = public {
        return format!("{base}{path_q}");
    }
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = h("x-forwarded-proto").unwrap_or("http");
    let host = h("x-forwarded-host")
        .or_else(|| h(header::HOST.as_str()))
        .unwrap_or("localhost");
    format!("{scheme}://{host}{path_q}")
}
