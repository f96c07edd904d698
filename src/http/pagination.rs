//! Index responses: JSON array plus `Per-Page`, `Total` and `Link` headers (SCFM §4).

use super::error::json_response;
use super::extract::Params;
use super::params::to_query;
use crate::domain::Paged;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

pub fn link_header(params: &Params, page: i64, total_pages: i64) -> Option<String> {
    let url = |n: i64| {
        let mut q = params.query.clone();
        q.insert("page".into(), Value::String(n.to_string()));
        format!("{}?{}", params.url_base, to_query(&q))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("<{}>; rel=\"first\"", url(1)));
        links.push(format!("<{}>; rel=\"prev\"", url(page - 1)));
    }
    if page < total_pages {
        links.push(format!("<{}>; rel=\"last\"", url(total_pages)));
        links.push(format!("<{}>; rel=\"next\"", url(page + 1)));
    }
    if links.is_empty() {
        None
    } else {
        Some(links.join(", "))
    }
}

pub fn paginated<T: Serialize>(params: &Params, paged: Paged<T>) -> Response {
    let body = serde_json::to_string(&paged.items).unwrap_or_else(|_| "[]".into());
    let mut r = json_response(StatusCode::OK, body);
    let h = r.headers_mut();
    h.insert("per-page", HeaderValue::from(paged.page.per_page));
    h.insert("total", HeaderValue::from(paged.total));
    if paged.total > 0 {
        if let Some(link) = link_header(params, paged.page.page, paged.total_pages()) {
            if let Ok(v) = HeaderValue::from_str(&link) {
                h.insert("link", v);
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn link_order_and_encoding() {
        let q = json!({"per_page": "2", "q": {"metadata": {"gender": "f"}}, "page": "2"});
        let p = Params {
            map: Default::default(),
            query: q.as_object().unwrap().clone(),
            url_base: "http://scfm:3000/api/contacts".into(),
        };
        let l = link_header(&p, 2, 3).unwrap();
        assert_eq!(
            l,
            "<http://scfm:3000/api/contacts?page=1&per_page=2&q%5Bmetadata%5D%5Bgender%5D=f>; rel=\"first\", \
             <http://scfm:3000/api/contacts?page=1&per_page=2&q%5Bmetadata%5D%5Bgender%5D=f>; rel=\"prev\", \
             <http://scfm:3000/api/contacts?page=3&per_page=2&q%5Bmetadata%5D%5Bgender%5D=f>; rel=\"last\", \
             <http://scfm:3000/api/contacts?page=3&per_page=2&q%5Bmetadata%5D%5Bgender%5D=f>; rel=\"next\""
        );
        assert_eq!(link_header(&p, 1, 1), None);
        // Past the end: first/prev only.
        assert!(link_header(&p, 5, 3).unwrap().ends_with("rel=\"prev\""));
    }
}
