//! Hostile requests against the real server: a 10 MB body (413), deeply nested JSON and form
//! bodies (400, no stack overflow), 100,000 `q[...]` keys (an answer, never a 500), and slow
//! clients sending a byte a second: cut off by the header read timeout (10 s) or the body
//! timeout (20 s) while other requests keep being answered fast.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};
use support::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_deep_and_wide_bodies_get_clear_answers() {
    let s = TestServer::start().await;

    // 10 MB body: 413, and the server still answers.
    let big = "a".repeat(10 * 1024 * 1024);
    let r = s
        .post_form(
            "/api/contacts",
            &format!("msisdn=%2B85512345678&metadata[x]={big}"),
        )
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status(), 413),
        // The server may close the connection while the client is still sending.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    let r = s
        .http
        .post(s.url("/api/contacts"))
        .bearer_auth(support::TOKEN)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"msisdn\":\"+85512345678\",\"metadata\":{{\"x\":\"{big}\"}}}}"
        ))
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }

    // Deeply nested JSON (100,000 levels) and form keys: 400, no stack overflow.
    let deep_json = format!(
        "{{\"metadata\":{}1{}}}",
        "{\"a\":".repeat(100_000),
        "}".repeat(100_000)
    );
    let r = s
        .http
        .post(s.url("/api/contacts"))
        .bearer_auth(support::TOKEN)
        .header("content-type", "application/json")
        .body(deep_json)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let deep_arrays = format!(
        "{{\"metadata\":{}{}}}",
        "[".repeat(500_000),
        "]".repeat(500_000)
    );
    let r = s
        .http
        .post(s.url("/api/contacts"))
        .bearer_auth(support::TOKEN)
        .header("content-type", "application/json")
        .body(deep_arrays)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let deep_form = format!("msisdn=%2B85512345678&metadata{}=1", "[a]".repeat(50_000));
    let r = s
        .post_form("/api/contacts", &deep_form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // 100,000 distinct `q[...]` keys in a body (under 1 MB): answered, not a 500.
    let wide: String = (0..100_000u32)
        .map(|i| format!("q[{i:x}]=1"))
        .collect::<Vec<_>>()
        .join("&");
    assert!(wide.len() < 1024 * 1024);
    let t = Instant::now();
    let r = s
        .http
        .get(s.url("/api/contacts"))
        .bearer_auth(support::TOKEN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(wide.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "100,000 unknown filter keys are ignored");
    eprintln!("100,000 q keys in a body answered in {:?}", t.elapsed());
    // 40,000 keys under q[metadata] (1 MB of body): a filter with 40,000 conditions.
    let wide_meta: String = (0..40_000u32)
        .map(|i| format!("q[metadata][{i:x}]=1"))
        .collect::<Vec<_>>()
        .join("&");
    let r = s
        .http
        .get(s.url("/api/contacts"))
        .bearer_auth(support::TOKEN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(wide_meta)
        .send()
        .await;
    let r = r.unwrap();
    eprintln!("40,000 metadata conditions: {}", r.status());
    assert!(r.status().as_u16() < 500, "{}", r.status());
    // And in the query string (beyond the request-line limit): any answer but a 5xx.
    let r = s.get(&format!("/api/contacts?{wide}")).send().await;
    if let Ok(r) = r {
        assert!(r.status().as_u16() < 500, "{}", r.status());
        eprintln!("100,000 q keys in the query string: {}", r.status());
    }
    // Still healthy.
    let r = s.get("/api/contacts").send().await.unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}

/// Opens a connection that sends `head` at once and then `slow` a byte a second; returns how
/// long until the server closed it and what it answered.
async fn slow_client(addr: String, head: String, slow: &'static [u8]) -> (Duration, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let t = Instant::now();
    let mut answer = Vec::new();
    for b in slow {
        if stream.write_all(&[*b]).await.is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        if t.elapsed() > Duration::from_secs(40) {
            break;
        }
    }
    (t.elapsed(), String::from_utf8_lossy(&answer).to_string())
}

/// While `slow` runs, ordinary requests keep being answered fast; returns the slowest one.
async fn served_meanwhile(
    s: &TestServer,
    slow: tokio::task::JoinHandle<(Duration, String)>,
) -> (Duration, String, usize, Duration) {
    let mut worst = Duration::ZERO;
    let mut served = 0;
    while !slow.is_finished() {
        let t = Instant::now();
        let r = s.get("/api/contacts").send().await.unwrap();
        assert_eq!(r.status(), 200);
        worst = worst.max(t.elapsed());
        served += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (took, answer) = slow.await.unwrap();
    (took, answer, served, worst)
}

const SLOW: &[u8] = &[b'x'; 60];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_headers_a_byte_a_second_is_cut_off() {
    let s = TestServer::start().await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let head = "GET /api/contacts HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_string();
    let slow = tokio::spawn(slow_client(addr, head, SLOW));
    let (took, answer, served, worst) = served_meanwhile(&s, slow).await;
    eprintln!(
        "slow headers: cut off after {took:?} ({answer:?}); {served} other requests served, slowest {worst:?}"
    );
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(20),
        "{took:?}"
    );
    assert!(served >= 20, "{served}");
    assert!(worst < Duration::from_millis(500), "{worst:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_its_body_a_byte_a_second_gets_408() {
    let s = TestServer::start().await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let head = format!(
        "POST /api/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 60\r\n\r\n",
        support::TOKEN
    );
    let slow = tokio::spawn(slow_client(addr, head, SLOW));
    let (took, answer, served, worst) = served_meanwhile(&s, slow).await;
    eprintln!(
        "slow body: cut off after {took:?} ({:?}); {served} other requests served, slowest {worst:?}",
        answer.lines().next().unwrap_or("")
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        took >= Duration::from_secs(19) && took < Duration::from_secs(30),
        "{took:?}"
    );
    assert!(served >= 40, "{served}");
    assert!(worst < Duration::from_millis(500), "{worst:?}");
    s.stop().await;
}
