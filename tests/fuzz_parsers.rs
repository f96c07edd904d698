//! Hostile input, property-based (proptest): the bracket/form parser and `to_query`, the filter
//! builder, the msisdn parser, the flow loader and the TwiML writer never panic or hang on
//! arbitrary input, and keep their round-trip promises. Case counts are capped so the file runs
//! in seconds; `SCFM_SOAK=1` multiplies them by 20.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use scfm::call_flow::flow::Flow;
use scfm::call_flow::twiml::{self, Verb};
use scfm::domain::Msisdn;
use scfm::domain::filter::{Family, Filter};
use scfm::http::params::{parse_form_body, parse_nested, to_query};
use serde_json::{Map, Value};

fn cases(n: u32) -> Config {
    let soak = std::env::var("SCFM_SOAK").is_ok_and(|v| !v.is_empty() && v != "0");
    Config {
        cases: if soak { n * 20 } else { n },
        failure_persistence: None,
        ..Config::default()
    }
}

/// Pieces hostile to SQL, JSON paths, XML and URL encoding.
const META: &[&str] = &[
    "'",
    "\"",
    ";",
    "--",
    "/*",
    "*/",
    "$",
    ".",
    "$.a",
    "*",
    "%",
    "%25",
    "%zz",
    "_",
    "\\",
    "<",
    ">",
    "&",
    "&amp;",
    "]]>",
    "<!--",
    "?>",
    "\u{0}",
    "\u{1}",
    "\t",
    "\n",
    "\r",
    " ",
    "+",
    "=",
    "#",
    "a",
    "b",
    "1",
    "0",
    "-1",
    "1e3",
    "null",
    "true",
    "é",
    "😀",
    "\u{202e}",
    "DROP TABLE contacts",
    "' OR '1'='1",
    "json_extract(",
    ")",
    "[",
    "]",
    "[]",
    "[0]",
    "{",
    "}",
    ",",
];

fn hostile() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(META), 0..6).prop_map(|v| v.concat())
}

/// Text mixing hostile pieces and arbitrary characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![hostile(), any::<String>(), "[ -~]{0,40}"]
}

/// Raw query strings made of bracket-heavy keys.
fn query() -> impl Strategy<Value = Vec<u8>> {
    let key = prop::collection::vec(
        prop_oneof![
            "[a-z]{1,3}",
            Just("[".to_string()),
            Just("]".to_string()),
            Just("[]".to_string()),
            Just("[a]".to_string()),
            Just("%5B".to_string()),
            Just("%5D".to_string()),
            Just("%".to_string()),
            Just("%0".to_string()),
        ],
        0..8,
    )
    .prop_map(|v| v.concat());
    let pair = (key, prop::option::of(hostile())).prop_map(|(k, v)| match v {
        Some(v) => format!("{k}={v}"),
        None => k,
    });
    prop_oneof![
        prop::collection::vec(pair, 0..12).prop_map(|v| v.join("&").into_bytes()),
        prop::collection::vec(any::<u8>(), 0..200),
    ]
}

/// Nested maps of string leaves with keys free of brackets (which Rack reads as nesting).
fn nested() -> impl Strategy<Value = Map<String, Value>> {
    let key =
        "[^\\[\\]\u{0}]{1,6}".prop_filter("no leading space", |k: &String| !k.starts_with(' '));
    let leaf = text().prop_map(Value::String);
    let value = leaf.prop_recursive(3, 16, 4, move |inner| {
        prop::collection::vec(
            (
                "[a-z$.'\"%&=+;]{1,5}"
                    .prop_filter("no leading space", |k: &String| !k.starts_with(' ')),
                inner,
            ),
            1..4,
        )
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
    });
    prop::collection::vec((key, value), 0..5).prop_map(|pairs| pairs.into_iter().collect())
}

#[test]
fn bracket_parser_never_panics_and_round_trips_to_query() {
    let mut runner = TestRunner::new(cases(512));
    runner
        .run(&query(), |raw| {
            let a = parse_nested(&raw);
            let _ = parse_form_body(&raw);
            if let Ok(map) = a {
                // Whatever parsed can be written back out and parsed again.
                let again = to_query(&map);
                prop_assert!(parse_nested(again.as_bytes()).is_ok(), "{again}");
            }
            Ok(())
        })
        .unwrap();
    let mut runner = TestRunner::new(cases(256));
    runner
        .run(&nested(), |map| {
            let q = to_query(&map);
            let back = parse_nested(q.as_bytes()).unwrap();
            prop_assert_eq!(&back, &map, "query {}", q);
            Ok(())
        })
        .unwrap();
}

#[test]
fn deep_and_wide_keys_are_refused_or_parsed_quickly() {
    let t = std::time::Instant::now();
    let deep = format!("{}=1", "a".to_string() + &"[a]".repeat(10_000));
    assert!(
        parse_nested(deep.as_bytes()).is_err(),
        "depth over the limit"
    );
    let wide: String = (0..100_000)
        .map(|i| format!("q[k{i}]=v"))
        .collect::<Vec<_>>()
        .join("&");
    let map = parse_nested(wide.as_bytes()).unwrap();
    assert_eq!(map["q"].as_object().unwrap().len(), 100_000);
    let _ = Filter::parse(Family::Contact, map.get("q"));
    assert!(
        t.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        t.elapsed()
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(
                            &[
                                "metadata",
                                "msisdn",
                                "status",
                                "created_at_or_after",
                                "updated_at_before",
                                "callout_id",
                                "has_phone_calls",
                                "last_phone_call_attempt",
                                "no_phone_calls_or_last_attempt",
                                "remote_response",
                                "details",
                                "phone_call_id",
                            ][..]
                        )
                        .prop_map(str::to_string),
                        text(),
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

#[test]
fn filter_builder_never_panics() {
    let families = [
        Family::Contact,
        Family::Callout,
        Family::Participation,
        Family::PhoneCall,
        Family::BatchOperation,
        Family::Event,
    ];
    let mut runner = TestRunner::new(cases(512));
    runner
        .run(&json_value(), |q| {
            for f in families {
                let _ = Filter::parse(f, Some(&q));
                let wrapped =
                    Value::Object(std::iter::once(("metadata".to_string(), q.clone())).collect());
                let _ = Filter::parse(f, Some(&wrapped));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn msisdn_parser_never_panics_and_is_idempotent() {
    let raw = prop_oneof![
        text(),
        "[+0-9() .-]{0,30}",
        "\\+?[0-9]{1,20}",
        "\\+855[0-9]{6,10}",
        "(tel:|\\+|00)?[0-9 ]{0,25}(x|ext|#)?[0-9]{0,4}",
    ];
    let mut runner = TestRunner::new(cases(2048));
    runner
        .run(&raw, |raw| {
            if let Ok(m) = Msisdn::parse(&raw) {
                let s = m.as_str().to_string();
                prop_assert!(s.starts_with('+'), "{raw:?} -> {s}");
                prop_assert!(s[1..].bytes().all(|b| b.is_ascii_digit()), "{s}");
                let again = Msisdn::parse(&s);
                prop_assert_eq!(again.map(|m| m.as_str().to_string()), Ok(s));
            }
            Ok(())
        })
        .unwrap();
}

fn seed_flows() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/flows");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    v.sort();
    v
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    Replace(usize, String),
    Duplicate(usize, usize),
}

fn apply(src: &str, muts: &[Mutation]) -> String {
    let mut s: Vec<char> = src.chars().collect();
    for m in muts {
        let len = s.len().max(1);
        match m {
            Mutation::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(s.len());
                if at < end {
                    s.drain(at..end);
                }
            }
            Mutation::Insert(at, t) => {
                let at = (at % len).min(s.len());
                s.splice(at..at, t.chars());
            }
            Mutation::Replace(at, t) => {
                let at = at % len;
                let end = (at + t.chars().count()).min(s.len());
                if at <= end {
                    s.splice(at..end, t.chars());
                }
            }
            Mutation::Duplicate(at, n) => {
                let at = at % len;
                let end = (at + n).min(s.len());
                if at < end {
                    let copy: Vec<char> = s[at..end].to_vec();
                    s.splice(end..end, copy);
                }
            }
        }
    }
    s.into_iter().collect()
}

#[test]
fn flow_loader_never_panics_on_mutated_toml() {
    let seeds = seed_flows();
    assert!(!seeds.is_empty());
    let toml_bits = prop_oneof![
        text(),
        prop::sample::select(
            &[
                "[[step]]\n",
                "id = \"x\"\n",
                "type = \"gather\"\n",
                "type = \"redirect\"\nto = \"x\"\n",
                "branches = { \"1\" = \"x\" }\n",
                "next = \"start\"\n",
                "retries = 99999999999999999999\n",
                "timeout = -1\n",
                "num_digits = 0\n",
                "say = { en = \"",
                "prompt = [",
                "]",
                "}",
                "\"\"\"",
                "'''",
                "\u{0}",
                "length = 4294967296\n",
                "store = { target = \"contact\", key = \"\", values = {} }\n",
            ][..]
        )
        .prop_map(str::to_string),
    ];
    let mutation = prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), toml_bits.clone()).prop_map(|(a, t)| Mutation::Insert(a, t)),
        (any::<usize>(), toml_bits).prop_map(|(a, t)| Mutation::Replace(a, t)),
        (any::<usize>(), 0usize..200).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
    ];
    let strategy = (
        0..seeds.len(),
        prop::collection::vec(mutation, 1..6),
        any::<bool>(),
    );
    let mut runner = TestRunner::new(cases(512));
    let parsed = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&strategy, |(seed, muts, raw)| {
            let src = if raw {
                muts.iter()
                    .filter_map(|m| match m {
                        Mutation::Insert(_, t) | Mutation::Replace(_, t) => Some(t.as_str()),
                        _ => None,
                    })
                    .collect::<String>()
            } else {
                apply(&seeds[seed], &muts)
            };
            if let Ok(flow) = Flow::parse(&src, "fuzz.toml") {
                parsed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // A flow that loads has its start step.
                prop_assert!(flow.step(&flow.start).is_some());
            }
            Ok(())
        })
        .unwrap();
    eprintln!("flow loader: {parsed:?} mutated flows still loaded");
}

/// Reads a document back: (element name, attributes, text) for every element, unescaped.
type Element = (String, Vec<(String, String)>, String);

fn read_back(xml: &str) -> Result<Vec<Element>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).to_string();
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|e| e.to_string())?;
                    attrs.push((
                        String::from_utf8_lossy(a.key.as_ref()).to_string(),
                        a.unescape_value().map_err(|e| e.to_string())?.to_string(),
                    ));
                }
                out.push((name, attrs, String::new()));
                open.push(out.len() - 1);
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).to_string();
                out.push((name, Vec::new(), String::new()));
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?;
                if let Some(i) = open.last() {
                    out[*i].2.push_str(&text);
                }
            }
            Event::CData(t) => {
                if let Some(i) = open.last() {
                    out[*i].2.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

#[test]
fn twiml_writer_output_parses_back_to_the_same_text() {
    let strategy = (text(), text(), text(), text(), 0u32..10_000);
    let mut runner = TestRunner::new(cases(1024));
    runner
        .run(&strategy, |(say, voice, url, redirect, length)| {
            let verbs = vec![
                Verb::Say {
                    text: say.clone(),
                    attrs: vec![("voice", voice.clone())],
                },
                Verb::Gather {
                    attrs: vec![("action", url.clone())],
                    children: vec![Verb::say(say.clone()), Verb::play(url.clone())],
                },
                Verb::Pause { length },
                Verb::Redirect {
                    url: redirect.clone(),
                },
                Verb::Hangup,
            ];
            let xml = twiml::render(&verbs);
            prop_assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>"));
            let els = read_back(&xml).map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
            let names: Vec<&str> = els.iter().map(|e| e.0.as_str()).collect();
            prop_assert_eq!(
                names,
                vec![
                    "Response", "Say", "Gather", "Say", "Play", "Pause", "Redirect", "Hangup"
                ],
                "{}",
                xml
            );
            prop_assert_eq!(&els[1].2, &say);
            prop_assert_eq!(&els[1].1, &vec![("voice".to_string(), voice.clone())]);
            prop_assert_eq!(&els[2].1, &vec![("action".to_string(), url.clone())]);
            prop_assert_eq!(&els[3].2, &say);
            prop_assert_eq!(&els[4].2, &url);
            prop_assert_eq!(&els[6].2, &redirect);
            Ok(())
        })
        .unwrap();
}
