//! Helpers shared by the `api_*` integration tests: read a response as (status, headers, JSON),
//! compare JSON without timestamps but with key order, send raw HTTP bytes as `curl -g` would.
#![allow(dead_code)]

use crate::support::{TOKEN, TestServer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const JSON_CT: &str = "application/json; charset=utf-8";
pub const NOT_FOUND: &str = r#"{"status":404,"error":"Not Found"}"#;

/// A response read in full.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    /// Asserts status and, for bodies, SCFM's JSON content type.
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        if !self.text.is_empty() {
            assert_eq!(self.header("content-type"), JSON_CT, "body: {}", self.text);
        }
        self
    }

    /// `Per-Page` and `Total` as numbers.
    pub fn paging(&self) -> (i64, i64) {
        let n = |h: &str| {
            self.header(h)
                .parse::<i64>()
                .unwrap_or_else(|_| panic!("header {h} missing: {:?}", self.headers))
        };
        (n("per-page"), n("total"))
    }
}

pub async fn send(rb: reqwest::RequestBuilder) -> Resp {
    let r = rb.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    Resp {
        status,
        headers,
        text,
    }
}

pub async fn get(s: &TestServer, path: &str) -> Resp {
    send(s.get(path)).await
}

pub async fn post(s: &TestServer, path: &str, body: &str) -> Resp {
    send(s.post_form(path, body)).await
}

pub async fn patch(s: &TestServer, path: &str, body: &str) -> Resp {
    send(s.patch_form(path, body)).await
}

pub async fn delete(s: &TestServer, path: &str) -> Resp {
    send(s.delete(path)).await
}

/// A JSON body (`Content-Type: application/json`).
pub async fn post_json(s: &TestServer, path: &str, body: &Value) -> Resp {
    send(
        s.http
            .post(s.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await
}

pub async fn patch_json(s: &TestServer, path: &str, body: &Value) -> Resp {
    send(
        s.http
            .patch(s.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await
}

/// `2017-11-09T04:58:03.684Z`: UTC, exactly three fractional digits, `Z`.
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Removes `created_at`/`updated_at` from an object (or from each object of an array), checking
/// their format on the way; key order of everything else is kept.
pub fn strip_ts(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(strip_ts).collect()),
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                if k == "created_at" || k == "updated_at" {
                    let t = v.as_str().unwrap_or_default();
                    assert!(is_timestamp(t), "{k} is not a SCFM timestamp: {v}");
                    continue;
                }
                out.insert(k.clone(), v.clone());
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The serialized text of `v` without timestamps (key order significant).
pub fn text_no_ts(v: &Value) -> String {
    serde_json::to_string(&strip_ts(v)).expect("serialize")
}

/// Asserts that `actual` minus timestamps serializes exactly as `expected` (compact JSON text).
#[track_caller]
pub fn assert_json_text(actual: &Value, expected: &str) {
    let expected: Value = serde_json::from_str(expected).expect("expected is JSON");
    assert_eq!(
        text_no_ts(actual),
        serde_json::to_string(&expected).expect("serialize")
    );
}

/// The `id`s of an index body.
pub fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|o| o["id"].as_i64().expect("id"))
        .collect()
}

/// Ids listed at `path`, asserting 200 and that `Total` equals the number of ids (one page).
pub async fn list_ids(s: &TestServer, path: &str) -> Vec<i64> {
    let r = get(s, path).await.expect(200);
    let ids = ids(&r.json());
    assert_eq!(r.paging().1, ids.len() as i64, "Total for {path}");
    ids
}

/// Sends `request` (a full HTTP/1.1 request head, `\r\n` line ends, plus body) byte for byte and
/// returns the raw response. Lets a test put unescaped brackets on the wire, as `curl -g` does.
pub async fn raw(s: &TestServer, request: &str) -> String {
    let addr = s.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.expect("read response");
    String::from_utf8_lossy(&out).into_owned()
}

/// A raw GET with the test token and `Connection: close`.
pub async fn raw_get(s: &TestServer, target: &str) -> String {
    let host = s.base.trim_start_matches("http://");
    raw(
        s,
        &format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Connection: close\r\n\r\n"
        ),
    )
    .await
}
