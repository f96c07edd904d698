//! Hostile metadata through the HTTP API: contacts whose metadata keys and values are full of
//! SQL, JSON-path, XML and URL metacharacters, queried with `q[metadata][key]=value` built from
//! the same pieces (proptest). The API's answer must equal a Rust-side reference filter over the
//! same data, never a 500. `SCFM_SOAK=1` multiplies the cases by 20.

#![allow(clippy::unwrap_used)]

mod support;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use support::TestServer;

const PIECES: &[&str] = &[
    "'",
    "\"",
    ";",
    "--",
    "$",
    ".",
    "$.a",
    "*",
    "%",
    "_",
    "\\",
    "<",
    ">",
    "&",
    "]]>",
    "<!--",
    " ",
    "+",
    "=",
    "#",
    "?",
    "a",
    "b",
    "1",
    "null",
    "true",
    "é",
    "' OR '1'='1",
    ")",
    "{",
    "}",
    "DROP TABLE contacts",
    "json_each(",
    "/",
    ",",
];
/// Values may also hold brackets (keys may not: Rack reads them as nesting).
const VALUE_ONLY: &[&str] = &["[", "]", "[0]", "[]"];

fn key() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 1..4)
        .prop_map(|v| v.concat())
        .prop_filter("Rack trims nothing from keys but a leading space", |k| {
            !k.starts_with(' ') && !k.trim().is_empty() && !k.contains(['[', ']'])
        })
}

fn value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(PIECES),
            1 => prop::sample::select(VALUE_ONLY)
        ],
        1..4,
    )
    .prop_map(|v| v.concat())
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn matches(meta: &Map<String, Value>, k: &str, v: &str) -> bool {
    meta.get(k).and_then(Value::as_str) == Some(v)
}

#[test]
fn metadata_filters_match_a_reference_filter() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(TestServer::start());
    let soak = std::env::var("SCFM_SOAK").is_ok_and(|v| !v.is_empty() && v != "0");

    // The data: 40 contacts over a small pool of hostile keys and values so queries hit.
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let pool_keys: Vec<String> = (0..6)
        .map(|_| key().new_tree(&mut runner).unwrap().current())
        .collect();
    let pool_values: Vec<String> = (0..8)
        .map(|_| value().new_tree(&mut runner).unwrap().current())
        .collect();
    let mut contacts: Vec<(String, Map<String, Value>)> = Vec::new();
    for i in 0..40usize {
        let mut meta = Map::new();
        for j in 0..(1 + i % 3) {
            let k = &pool_keys[(i * 7 + j * 3) % pool_keys.len()];
            let v = &pool_values[(i * 5 + j) % pool_values.len()];
            meta.insert(k.clone(), Value::String(v.clone()));
        }
        let msisdn = format!("+8551{:07}", 5_000_000 + i);
        let r = rt
            .block_on(
                s.http
                    .post(s.url("/api/contacts"))
                    .bearer_auth(support::TOKEN)
                    .json(&json!({"msisdn": msisdn, "metadata": meta}))
                    .send(),
            )
            .unwrap();
        assert_eq!(r.status(), 201);
        let stored: Value = rt.block_on(r.json()).unwrap();
        assert_eq!(
            stored["metadata"],
            Value::Object(meta.clone()),
            "stored as sent"
        );
        contacts.push((msisdn, meta));
    }

    let pick = |pool: Vec<String>, fresh: BoxedStrategy<String>| prop_oneof![3 => prop::sample::select(pool), 1 => fresh];
    let existing: Vec<(String, String)> = contacts
        .iter()
        .flat_map(|(_, m)| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        })
        .collect();
    let first = prop_oneof![
        prop::sample::select(existing),
        (
            pick(pool_keys.clone(), key().boxed()),
            pick(pool_values.clone(), value().boxed()),
        ),
    ];
    let query = (
        first,
        prop::option::of((
            pick(pool_keys.clone(), key().boxed()),
            pick(pool_values.clone(), value().boxed()),
        )),
    );
    let mut runner = TestRunner::new(Config {
        cases: if soak { 1280 } else { 64 },
        failure_persistence: None,
        ..Config::default()
    });
    let hits = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&query, |((k, v), second)| {
            let mut path = format!(
                "/api/contacts?per_page=100&q[metadata][{}]={}",
                enc(&k),
                enc(&v)
            );
            if let Some((k2, v2)) = &second {
                path.push_str(&format!("&q[metadata][{}]={}", enc(k2), enc(v2)));
            }
            let r = rt.block_on(s.get(&path).send()).unwrap();
            let status = r.status().as_u16();
            prop_assert_eq!(status, 200, "{}", path);
            let body: Value = rt.block_on(r.json()).unwrap();
            let got: BTreeSet<String> = body
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["msisdn"].as_str().unwrap().to_string())
                .collect();
            // Two conditions on the same key: the later one wins (a map keeps one value).
            let mut conds: Vec<(String, String)> = vec![(k.clone(), v.clone())];
            if let Some((k2, v2)) = second {
                conds.retain(|(k1, _)| *k1 != k2);
                conds.push((k2, v2));
            }
            let want: BTreeSet<String> = contacts
                .iter()
                .filter(|(_, m)| conds.iter().all(|(k, v)| matches(m, k, v)))
                .map(|(n, _)| n.clone())
                .collect();
            if !want.is_empty() {
                hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            prop_assert_eq!(got, want, "{}", path);
            Ok(())
        })
        .unwrap();
    eprintln!("fuzz_filter_api: queries with matches {hits:?}");
    rt.block_on(s.stop());
}
