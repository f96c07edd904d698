//! Timestamp filters (`_before`, `_or_before`, `_after`, `_or_after`, spec §6.5) and
//! pagination (`page`, `per_page`, `Per-Page`, `Total`, `Link`, spec §4).

mod api_common;
mod support;

use api_common::*;
use chrono::{DateTime, FixedOffset, Utc};
use support::{TOKEN, TestServer};

async fn check(s: &TestServer, path: &str, expected: &[i64]) {
    assert_eq!(list_ids(s, path).await, expected, "{path}");
}

/// Three contacts created a few milliseconds apart; returns their `created_at`.
async fn three_contacts(s: &TestServer) -> Vec<String> {
    let mut out = Vec::new();
    for m in ["%2B252662345678", "%2B252662345679", "%2B85510202103"] {
        let r = post(s, "/api/contacts", &format!("msisdn={m}"))
            .await
            .expect(201);
        out.push(r.json()["created_at"].as_str().expect("ts").to_string());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    out
}

#[tokio::test]
async fn timestamp_filters_on_full_timestamps() {
    let s = TestServer::start().await;
    let t = three_contacts(&s).await;
    let q = |k: &str, v: &str| format!("/api/contacts?q[created_at_{k}]={v}");
    check(&s, &q("or_after", &t[1]), &[2, 3]).await;
    check(&s, &q("after", &t[1]), &[3]).await;
    check(&s, &q("before", &t[1]), &[1]).await;
    check(&s, &q("or_before", &t[1]), &[1, 2]).await;
    check(
        &s,
        &format!(
            "/api/contacts?q[created_at_after]={}&q[created_at_before]={}",
            t[0], t[2]
        ),
        &[2],
    )
    .await;

    // The same instant with a numeric offset (`+` escaped, else it is a space).
    let t1: DateTime<Utc> = t[1].parse().expect("timestamp");
    let plus7 = FixedOffset::east_opt(7 * 3600).expect("offset");
    let offset = t1
        .with_timezone(&plus7)
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
        .replace('+', "%2B");
    check(&s, &q("or_after", &offset), &[2, 3]).await;
    check(&s, &q("before", &offset), &[1]).await;
    // `2017-11-29 01:36:02.123` (no zone = UTC), space sent as `+`.
    let spaced = t[1].trim_end_matches('Z').replace('T', "+");
    check(&s, &q("or_after", &spaced), &[2, 3]).await;
    check(&s, &q("after", &spaced), &[3]).await;

    // Long ago, with the date and time separated by a space.
    check(&s, &q("after", "2000-01-01+01:02:03"), &[1, 2, 3]).await;
    check(&s, &q("before", "2000-01-01+01:02:03"), &[]).await;
    check(&s, &q("before", "2000-01-01T01:02:03Z"), &[]).await;

    // Unparsable values are ignored: no filter, no error.
    for bad in ["yesterday", "2017-13-45", "", "now", "1"] {
        check(&s, &q("before", bad), &[1, 2, 3]).await;
    }

    // updated_at moves on update.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    patch(&s, "/api/contacts/1", "metadata[x]=1")
        .await
        .expect(204);
    check(
        &s,
        &format!("/api/contacts?q[updated_at_after]={}", t[2]),
        &[1],
    )
    .await;
    check(
        &s,
        &format!("/api/contacts?q[updated_at_or_before]={}", t[2]),
        &[2, 3],
    )
    .await;
    s.stop().await;
}

/// A date (or a time at exactly midnight UTC) compares by calendar date.
#[tokio::test]
async fn timestamp_filters_on_dates() {
    let s = TestServer::start().await;
    let t = three_contacts(&s).await;
    let today = &t[0][..10];
    let q = |k: &str, v: &str| format!("/api/contacts?q[created_at_{k}]={v}");
    check(&s, &q("or_before", today), &[1, 2, 3]).await;
    check(&s, &q("before", today), &[]).await;
    check(&s, &q("after", today), &[]).await;
    check(&s, &q("or_after", today), &[1, 2, 3]).await;
    let midnight = format!("{today}T00:00:00Z");
    check(&s, &q("or_before", &midnight), &[1, 2, 3]).await;
    check(&s, &q("after", &midnight), &[]).await;
    let midnight_spaced = format!("{today}+00:00:00");
    check(&s, &q("or_before", &midnight_spaced), &[1, 2, 3]).await;
    check(&s, &q("after", "2000-01-01"), &[1, 2, 3]).await;
    check(&s, &q("before", "2000-01-01"), &[]).await;

    // The same attributes on callouts, participations and batch operations.
    post(&s, "/api/callouts", "").await.expect(201);
    post(&s, "/api/callouts/1/callout_participations", "contact_id=1")
        .await
        .expect(201);
    post(
        &s,
        "/api/callouts/1/batch_operations",
        "type=BatchOperation::CalloutPopulation",
    )
    .await
    .expect(201);
    for base in [
        "/api/callouts",
        "/api/callout_participations",
        "/api/batch_operations",
    ] {
        check(&s, &format!("{base}?q[created_at_or_after]={today}"), &[1]).await;
        check(&s, &format!("{base}?q[updated_at_before]={today}"), &[]).await;
    }
    s.stop().await;
}

#[tokio::test]
async fn pagination_headers_and_link() {
    let s = TestServer::start().await;
    for n in 11..16 {
        post(
            &s,
            "/api/contacts",
            &format!("msisdn=%2B855102021{n}&metadata[k]=v+w"),
        )
        .await
        .expect(201);
    }
    let base = format!("{}/api/contacts", s.base);
    let link = |page: i64, rel: &str| {
        format!("<{base}?page={page}&per_page=2&q%5Bmetadata%5D%5Bk%5D=v+w>; rel=\"{rel}\"")
    };
    let query = "q[metadata][k]=v%20w&per_page=2";

    let r = get(&s, &format!("/api/contacts?{query}")).await.expect(200);
    assert_eq!(r.paging(), (2, 5));
    assert_eq!(ids(&r.json()), [1, 2]);
    assert_eq!(
        r.header("link"),
        format!("{}, {}", link(3, "last"), link(2, "next"))
    );

    let r = get(&s, &format!("/api/contacts?{query}&page=2"))
        .await
        .expect(200);
    assert_eq!(r.paging(), (2, 5));
    assert_eq!(ids(&r.json()), [3, 4]);
    assert_eq!(
        r.header("link"),
        [
            link(1, "first"),
            link(1, "prev"),
            link(3, "last"),
            link(3, "next")
        ]
        .join(", ")
    );

    let r = get(&s, &format!("/api/contacts?page=3&{query}"))
        .await
        .expect(200);
    assert_eq!(ids(&r.json()), [5]);
    assert_eq!(
        r.header("link"),
        format!("{}, {}", link(1, "first"), link(2, "prev"))
    );

    // Past the end: an empty page with the true Total; first/prev only.
    let r = get(&s, &format!("/api/contacts?page=7&{query}"))
        .await
        .expect(200);
    assert_eq!(r.text, "[]");
    assert_eq!(r.paging(), (2, 5));
    assert_eq!(
        r.header("link"),
        format!("{}, {}", link(1, "first"), link(6, "prev"))
    );

    // One page only, or nothing at all: no Link.
    let r = get(&s, "/api/contacts").await.expect(200);
    assert_eq!(r.paging(), (25, 5));
    assert_eq!(r.header("link"), "");
    let r = get(&s, "/api/contacts?q[msisdn]=wrong&per_page=1")
        .await
        .expect(200);
    assert_eq!((r.paging(), r.text.as_str()), ((1, 0), "[]"));
    assert_eq!(r.header("link"), "");

    // Missing, non-numeric or non-positive values mean page 1 and 25 per page.
    for q in [
        "per_page=0",
        "per_page=abc",
        "per_page=-3",
        "page=0",
        "page=abc",
    ] {
        let r = get(&s, &format!("/api/contacts?{q}")).await.expect(200);
        assert_eq!(r.paging(), (25, 5), "{q}");
        assert_eq!(ids(&r.json()), [1, 2, 3, 4, 5], "{q}");
    }
    s.stop().await;
}

/// The Link URL uses the Host the client addressed, keys sorted, brackets and `+` escaped.
#[tokio::test]
async fn link_uses_host_header_and_sorted_escaped_keys() {
    let s = TestServer::start().await;
    for body in [
        "msisdn=%2B252662345678&metadata[gender]=f",
        "msisdn=%2B252662345679&metadata[gender]=f",
        "msisdn=%2B85510202103&metadata[gender]=f",
    ] {
        post(&s, "/api/contacts", body).await.expect(201);
    }
    let r = send(
        s.http
            .get(s.url("/api/contacts?q[metadata][gender]=f&zeta=%2B1&per_page=2&a[]=x&page=1"))
            .bearer_auth(TOKEN)
            .header("host", "scfm:3000"),
    )
    .await
    .expect(200);
    let q = "a%5B%5D=x&page=2&per_page=2&q%5Bmetadata%5D%5Bgender%5D=f&zeta=%2B1";
    assert_eq!(
        r.header("link"),
        format!(
            "<http://scfm:3000/api/contacts?{q}>; rel=\"last\", \
             <http://scfm:3000/api/contacts?{q}>; rel=\"next\""
        )
    );

    // Nested and preview routes are paginated the same way.
    post(&s, "/api/callouts", "").await.expect(201);
    post(
        &s,
        "/api/callouts/1/batch_operations",
        "type=BatchOperation::CalloutPopulation",
    )
    .await
    .expect(201);
    let r = get(
        &s,
        "/api/batch_operations/1/preview/contacts?per_page=1&page=2",
    )
    .await
    .expect(200);
    assert_eq!(r.paging(), (1, 3));
    assert_eq!(ids(&r.json()), [2]);
    let p = format!("{}/api/batch_operations/1/preview/contacts", s.base);
    assert_eq!(
        r.header("link"),
        format!(
            "<{p}?page=1&per_page=1>; rel=\"first\", <{p}?page=1&per_page=1>; rel=\"prev\", \
             <{p}?page=3&per_page=1>; rel=\"last\", <{p}?page=3&per_page=1>; rel=\"next\""
        )
    );
    s.stop().await;
}
