//! Form/query parameter handling (spec §2.1, §2.2, §4).
//!
//! Owns three things and nothing else:
//! - parsing raw query strings and `application/x-www-form-urlencoded` bodies into nested
//!   JSON objects with Rack 2.0.3 `parse_nested_query` semantics (what Rails 5.1 controllers
//!   saw, including Rails' "deep munge" that drops nulls from arrays);
//! - the shallow per-top-level-key merge used for body < query < path precedence;
//! - Rails' `Hash#to_query`, used to rebuild the query part of pagination `Link` URLs.
//!
//! Parsing is linear in the input: at most [`MAX_PAIRS`] pairs and [`MAX_DEPTH`] nesting
//! levels per key, every map lookup is a hash lookup, and no key is rescanned per level
//! beyond a constant factor. Hostile input yields [`ParamsError::BadRequest`], never a panic.

use serde_json::{Map, Value};

/// Most `key=value` pairs accepted in one query string or body.
pub const MAX_PAIRS: usize = 200_000;

/// Rack's `param_depth_limit`: how many nesting levels one key may open.
pub const MAX_DEPTH: u32 = 100;

/// Why a query string or form body was rejected (the caller answers 400).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParamsError {
    /// Keys whose shapes conflict (`a=1&a[b]=2`), depth over the limit, too many pairs,
    /// an invalid `%` escape.
    #[error("bad request: {0}")]
    BadRequest(String),
}

/// Parse a raw query string (or a form body) with Rack 2.0 nested-params semantics (§2.2).
///
/// Pairs are split on `&` and `;` (spaces right after a separator are skipped, as Rack's
/// `/[&;] */` does), `+` is a space, `%XX` a byte (invalid UTF-8 is replaced lossily), and a
/// `%` not followed by two hex digits is a [`ParamsError::BadRequest`] (Rack 2.0 raised
/// `InvalidParameterError`, which Rails answered with 400). A pair without `=` has a
/// `Value::Null` value; every other value is a `Value::String`. Object keys keep their first
/// insertion order. Arrays have their nulls removed afterwards (Rails 5 deep munge).
///
/// # Errors
/// [`ParamsError::BadRequest`] on a shape conflict (`a=1&a[b]=2`), a key nested deeper than
/// [`MAX_DEPTH`], more than [`MAX_PAIRS`] pairs, or an invalid `%` escape.
pub fn parse_nested(input: &[u8]) -> Result<Map<String, Value>, ParamsError> {
    parse_with(input, b"&;")
}

/// Like [`parse_nested`] but for `application/x-www-form-urlencoded` request bodies exactly as
/// Rack 2.0 `Request#POST` read them: only `&` separates pairs (a `;` stays in the value), and
/// one trailing NUL byte is dropped (Rack's "Safari Ajax" fix).
///
/// # Errors
/// As [`parse_nested`].
pub fn parse_form_body(input: &[u8]) -> Result<Map<String, Value>, ParamsError> {
    let input = input.strip_suffix(b"\0").unwrap_or(input);
    parse_with(input, b"&")
}

/// Merge `over` into `base` shallowly per top-level key: `over` wins, and a key already in
/// `base` keeps its position. Used for body < query < path precedence (§2.1).
pub fn merge_shallow(base: &mut Map<String, Value>, over: Map<String, Value>) {
    for (key, value) in over {
        base.insert(key, value);
    }
}

/// Remove `null` elements from every array, at any depth (Rails 5 `deep_munge`, which
/// `parse_nested` already applies; exposed for JSON bodies, which Rails munged the same way).
pub fn compact_array_nulls(map: &mut Map<String, Value>) {
    for value in map.values_mut() {
        compact_value(value);
    }
}

/// Rails 5.1 `Hash#to_query` (what api-pagination used for `Link` URLs, §4).
///
/// Nested objects become `a[b][c]=v`, arrays `a[]=v` (an empty array or object value is
/// left out), null becomes `key=`. Names and values are escaped like Ruby's `CGI.escape`:
/// space -> `+`, ALPHA / DIGIT / `-` `.` `_` `~` kept, every other byte `%XX` (uppercase hex),
/// so `[` -> `%5B`, `+` -> `%2B`, `*` -> `%2A`. Like Rails, each object level sorts its
/// *encoded* `name=value` pieces byte-wise (which for ordinary keys is key order), except
/// objects inside arrays, which keep their order. Pieces are joined by `&`.
#[must_use]
pub fn to_query(map: &Map<String, Value>) -> String {
    hash_to_query(map, None)
}

// ---------------------------------------------------------------------------------------------
// Parsing

fn parse_with(input: &[u8], separators: &[u8]) -> Result<Map<String, Value>, ParamsError> {
    let mut params = Map::new();
    let mut pairs = 0usize;
    for (index, piece) in input.split(|b| separators.contains(b)).enumerate() {
        // Rack splits on /[&;] */: spaces following a separator belong to no pair.
        let piece = if index == 0 {
            piece
        } else {
            trim_leading_spaces(piece)
        };
        if piece.is_empty() {
            continue;
        }
        pairs += 1;
        if pairs > MAX_PAIRS {
            return Err(bad(format!("more than {MAX_PAIRS} parameters")));
        }
        let mut halves = piece.splitn(2, |&b| b == b'=');
        let key = unescape(halves.next().unwrap_or_default())?;
        let value = match halves.next() {
            Some(raw) => Value::String(unescape(raw)?),
            None => Value::Null,
        };
        normalize(&mut params, &key, value, MAX_DEPTH)?;
    }
    compact_array_nulls(&mut params);
    Ok(params)
}

fn trim_leading_spaces(piece: &[u8]) -> &[u8] {
    let start = piece.iter().position(|&b| b != b' ').unwrap_or(piece.len());
    &piece[start..]
}

fn bad(message: impl Into<String>) -> ParamsError {
    ParamsError::BadRequest(message.into())
}

/// `URI.decode_www_form_component`: `+` -> space, `%XX` -> byte, any other `%` is an error.
fn unescape(raw: &[u8]) -> Result<String, ParamsError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = raw.get(i + 1).and_then(|&b| hex_value(b));
                let lo = raw.get(i + 2).and_then(|&b| hex_value(b));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(bad("invalid %-encoding"));
                };
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Ok(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// What one `normalize` call hands back to its caller (Rack returns `params`, `Array(v)` or nil).
enum Outcome {
    /// The map passed in (mutated in place).
    Params,
    /// The key was exactly `[]` with a value: Rack returns `Array(v)`.
    Wrapped(Value),
    /// The key held no name: Rack returns nil.
    Nil,
}

impl Outcome {
    fn into_value(self, params: Map<String, Value>) -> Value {
        match self {
            Outcome::Params => Value::Object(params),
            Outcome::Wrapped(v) => Value::Array(vec![v]),
            Outcome::Nil => Value::Null,
        }
    }
}

/// Rack 2.0.3 `QueryParser#normalize_params`, step for step.
fn normalize(
    params: &mut Map<String, Value>,
    name: &str,
    v: Value,
    depth: u32,
) -> Result<Outcome, ParamsError> {
    if depth == 0 {
        return Err(bad(format!(
            "parameters nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let (k, after) = split_name(name);
    if k.is_empty() {
        return Ok(if !v.is_null() && name == "[]" {
            Outcome::Wrapped(v)
        } else {
            Outcome::Nil
        });
    }
    if after.is_empty() {
        params.insert(k.to_owned(), v);
    } else if after == "[" {
        params.insert(name.to_owned(), v);
    } else if after == "[]" {
        array_slot(params, k)?.push(v);
    } else if let Some(child) = array_child_key(after) {
        let array = array_slot(params, k)?;
        if let Some(Value::Object(last)) = array.last_mut()
            && !hash_has_key_path(last, child)
        {
            normalize(last, child, v, depth - 1)?;
        } else {
            let mut fresh = Map::new();
            let outcome = normalize(&mut fresh, child, v, depth - 1)?;
            array.push(outcome.into_value(fresh));
        }
    } else {
        let slot = params.entry(k.to_owned()).or_insert(Value::Null);
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(inner) = slot else {
            return Err(type_error("Hash", slot, k));
        };
        match normalize(inner, after, v, depth - 1)? {
            Outcome::Params => {}
            other => *slot = other.into_value(Map::new()),
        }
    }
    Ok(Outcome::Params)
}

/// `name =~ /\A[\[\]]*([^\[\]]+)\]*/`: returns (`$1`, `$'`), both empty when nothing matches.
fn split_name(name: &str) -> (&str, &str) {
    let bytes = name.as_bytes();
    let is_bracket = |b: &u8| *b == b'[' || *b == b']';
    let start = bytes
        .iter()
        .position(|b| !is_bracket(b))
        .unwrap_or(bytes.len());
    let end = bytes[start..]
        .iter()
        .position(is_bracket)
        .map_or(bytes.len(), |p| start + p);
    if end == start {
        return ("", "");
    }
    let after = bytes[end..]
        .iter()
        .position(|&b| b != b']')
        .map_or(bytes.len(), |p| end + p);
    (&name[start..end], &name[after..])
}

/// `after =~ /^\[\]\[([^\[\]]+)\]$/ || after =~ /^\[\](.+)$/`, giving `$1`.
fn array_child_key(after: &str) -> Option<&str> {
    let rest = after.strip_prefix("[]").filter(|rest| !rest.is_empty())?;
    let simple = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
    match simple {
        Some(inner) if !inner.is_empty() && !inner.contains(['[', ']']) => Some(inner),
        _ => Some(rest),
    }
}

/// Rack's `params_hash_has_key?`: does the bracket path `key` already exist in `hash`?
fn hash_has_key_path(hash: &Map<String, Value>, key: &str) -> bool {
    if key.contains("[]") {
        return false;
    }
    let mut parts = key.split(['[', ']']).filter(|part| !part.is_empty());
    let Some(mut part) = parts.next() else {
        return true;
    };
    let mut current = hash;
    loop {
        let Some(found) = current.get(part) else {
            return false;
        };
        match (parts.next(), found) {
            (None, _) => return true,
            (Some(next), Value::Object(inner)) => {
                current = inner;
                part = next;
            }
            (Some(_), _) => return false,
        }
    }
}

/// `params[k] ||= []`, then insist that it is an array.
fn array_slot<'a>(
    params: &'a mut Map<String, Value>,
    k: &str,
) -> Result<&'a mut Vec<Value>, ParamsError> {
    let slot = params.entry(k.to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    match slot {
        Value::Array(array) => Ok(array),
        other => Err(type_error("Array", other, k)),
    }
}

fn type_error(expected: &str, got: &Value, k: &str) -> ParamsError {
    let got = match got {
        Value::Null => "NilClass",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Numeric",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Hash",
    };
    bad(format!("expected {expected} (got {got}) for param `{k}'"))
}

fn compact_value(value: &mut Value) {
    match value {
        Value::Array(items) => {
            items.retain(|item| !item.is_null());
            items.iter_mut().for_each(compact_value);
        }
        Value::Object(map) => compact_array_nulls(map),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Building (Rails `to_query`)

fn hash_to_query(map: &Map<String, Value>, namespace: Option<&str>) -> String {
    let mut pieces: Vec<String> = map
        .iter()
        .filter(|(_, value)| !is_empty_container(value))
        .map(|(key, value)| match namespace {
            Some(ns) => value_to_query(value, &format!("{ns}[{key}]")),
            None => value_to_query(value, key),
        })
        .collect();
    if !namespace.is_some_and(|ns| ns.contains("[]")) {
        pieces.sort_unstable();
    }
    pieces.join("&")
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn value_to_query(value: &Value, key: &str) -> String {
    match value {
        Value::Object(map) => hash_to_query(map, Some(key)),
        Value::Array(items) => {
            let prefix = format!("{key}[]");
            if items.is_empty() {
                return pair(&prefix, "");
            }
            let pieces: Vec<String> = items
                .iter()
                .map(|item| value_to_query(item, &prefix))
                .collect();
            pieces.join("&")
        }
        Value::Null => pair(key, ""),
        Value::String(s) => pair(key, s),
        Value::Bool(b) => pair(key, &b.to_string()),
        Value::Number(n) => pair(key, &n.to_string()),
    }
}

fn pair(key: &str, value: &str) -> String {
    let mut out = String::with_capacity(key.len() + value.len() + 1);
    cgi_escape(key, &mut out);
    out.push('=');
    cgi_escape(value, &mut out);
    out
}

/// Ruby 2.4 `CGI.escape`.
fn cgi_escape(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0F)]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parse, then render as compact JSON (this checks key order too).
    fn parsed(input: &str) -> Result<String, ParamsError> {
        parse_nested(input.as_bytes()).map(|m| Value::Object(m).to_string())
    }

    fn json(text: &str) -> String {
        serde_json::from_str::<Value>(text)
            .map_or_else(|e| panic!("bad fixture {text}: {e}"), |v| v.to_string())
    }

    fn obj(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn parses_like_rack() {
        let cases: &[(&str, &str)] = &[
            // Seed cases.
            (
                "[metadata][name]=Alice&[metadata][gender]=f",
                r#"{"metadata":{"name":"Alice","gender":"f"}}"#,
            ),
            (
                "metadata[name]=Alice&metadata[gender]=f",
                r#"{"metadata":{"name":"Alice","gender":"f"}}"#,
            ),
            (
                "parameters[contact_filter_params][metadata][gender]=f",
                r#"{"parameters":{"contact_filter_params":{"metadata":{"gender":"f"}}}}"#,
            ),
            ("msisdn=%2B252662345678", r#"{"msisdn":"+252662345678"}"#),
            ("msisdn=+252662345678", r#"{"msisdn":" 252662345678"}"#),
            (
                "q[metadata][gender]=f",
                r#"{"q":{"metadata":{"gender":"f"}}}"#,
            ),
            (
                "q%5Bmetadata%5D%5Bgender%5D=f",
                r#"{"q":{"metadata":{"gender":"f"}}}"#,
            ),
            (
                "q[status]=remotely_queued,in_progress",
                r#"{"q":{"status":"remotely_queued,in_progress"}}"#,
            ),
            // Scalars, nulls, repeats, order.
            ("a", r#"{"a":null}"#),
            ("a=", r#"{"a":""}"#),
            ("a&b=1", r#"{"a":null,"b":"1"}"#),
            ("a=1&a=2", r#"{"a":"2"}"#),
            ("b=1&a=2&b=3", r#"{"b":"3","a":"2"}"#),
            ("a=b=c", r#"{"a":"b=c"}"#),
            ("a+b=c+d", r#"{"a b":"c d"}"#),
            ("name=%E1%9E%80%e1%9e%80", r#"{"name":"កក"}"#),
            ("名[x]=値", r#"{"名":{"x":"値"}}"#),
            ("a=%FF", r#"{"a":"\uFFFD"}"#),
            // Separators and empty pieces.
            ("", "{}"),
            ("&", "{}"),
            ("&&;;", "{}"),
            ("a=1&", r#"{"a":"1"}"#),
            ("a=1&&b=2", r#"{"a":"1","b":"2"}"#),
            ("a=1;b=2", r#"{"a":"1","b":"2"}"#),
            ("a=1& ;  b=2", r#"{"a":"1","b":"2"}"#),
            (" a=1&%20b=2", r#"{" a":"1"," b":"2"}"#),
            // Dropped keys.
            ("=x", "{}"),
            ("[]=x", "{}"),
            ("[]", "{}"),
            ("[[]]=x&]=y&=", "{}"),
            // Arrays (nulls compacted, as Rails' deep munge did).
            ("a[]=1&a[]=2", r#"{"a":["1","2"]}"#),
            ("a[]", r#"{"a":[]}"#),
            ("a[]&a[]=1", r#"{"a":["1"]}"#),
            ("a&a[]=1", r#"{"a":["1"]}"#),
            ("a[][]=1", r#"{"a":[["1"]]}"#),
            ("a[b][]=1&a[b][]=2", r#"{"a":{"b":["1","2"]}}"#),
            // Arrays of hashes.
            ("a[][x]=1&a[][y]=2", r#"{"a":[{"x":"1","y":"2"}]}"#),
            (
                "a[][x]=1&a[][y]=2&a[][x]=3",
                r#"{"a":[{"x":"1","y":"2"},{"x":"3"}]}"#,
            ),
            ("a[]=s&a[][x]=1", r#"{"a":["s",{"x":"1"}]}"#),
            (
                "a[][x][y]=1&a[][x][z]=2&a[][x][y]=3",
                r#"{"a":[{"x":{"y":"1","z":"2"}},{"x":{"y":"3"}}]}"#,
            ),
            ("a[][x][]=1&a[][x][]=2", r#"{"a":[{"x":["1","2"]}]}"#),
            // Degenerate keys, exactly as Rack 2.0.3 reads them.
            ("a[=1", r#"{"a[":"1"}"#),
            ("a[b[=1", r#"{"a":{"[b[":"1"}}"#),
            ("a]=1", r#"{"a":"1"}"#),
            ("a]b=1", r#"{"a":{"b":"1"}}"#),
            ("a[b]c]=1", r#"{"a":{"b":{"c":"1"}}}"#),
            ("a[[]]=x", r#"{"a":null}"#),
            ("a[]]=x", r#"{"a":[]}"#),
            // A null is replaced by a container; a scalar after a container wins (Rack: plain assignment).
            ("a&a[b]=1", r#"{"a":{"b":"1"}}"#),
            ("a[b]=2&a=1", r#"{"a":"1"}"#),
            ("a[]=2&a=1", r#"{"a":"1"}"#),
        ];
        for (input, expected) in cases {
            assert_eq!(parsed(input), Ok(json(expected)), "input: {input:?}");
        }
    }

    #[test]
    fn rejects_like_rack() {
        let cases: &[(&str, &str)] = &[
            ("a=1&a[b]=2", "expected Hash (got String) for param `a'"),
            ("a=1&a[]=2", "expected Array (got String) for param `a'"),
            ("a=1&a[][b]=2", "expected Array (got String) for param `a'"),
            ("a[]=1&a[b]=2", "expected Hash (got Array) for param `a'"),
            ("a[b]=1&a[]=2", "expected Array (got Hash) for param `a'"),
            (
                "a[b]=1&a[b][c]=2",
                "expected Hash (got String) for param `b'",
            ),
            ("a=100%", "invalid %-encoding"),
            ("a=%zz", "invalid %-encoding"),
            ("a=%4", "invalid %-encoding"),
            ("%=1", "invalid %-encoding"),
            ("=%", "invalid %-encoding"),
        ];
        for (input, message) in cases {
            assert_eq!(
                parsed(input),
                Err(ParamsError::BadRequest((*message).to_owned())),
                "input: {input:?}"
            );
        }
        let display = parse_nested(b"a=1&a[b]=2").map_err(|e| e.to_string());
        assert_eq!(
            display,
            Err("bad request: expected Hash (got String) for param `a'".to_owned())
        );
    }

    #[test]
    fn depth_limit_is_racks() {
        let key = |levels: usize| format!("a{}", "[b]".repeat(levels - 1));
        let ok = parse_nested(format!("{}=1", key(100)).as_bytes());
        assert!(ok.is_ok());
        let too_deep = parse_nested(format!("{}=1", key(101)).as_bytes());
        assert!(matches!(too_deep, Err(ParamsError::BadRequest(m)) if m.contains("deeper")));
        // Each `[][b]` (array of hashes) is one level too.
        assert!(parse_nested(format!("a{}=1", "[][b]".repeat(99)).as_bytes()).is_ok());
        assert!(parse_nested(format!("a{}=1", "[][b]".repeat(100)).as_bytes()).is_err());
        // A 1,000,000-level key fails fast.
        assert!(parse_nested(format!("a{}=1", "[b]".repeat(1_000_000)).as_bytes()).is_err());
    }

    #[test]
    fn pair_limit() {
        let at_limit = "a=1&".repeat(MAX_PAIRS);
        assert!(parse_nested(at_limit.as_bytes()).is_ok());
        let over = format!("{at_limit}b=2");
        assert!(matches!(
            parse_nested(over.as_bytes()),
            Err(ParamsError::BadRequest(_))
        ));
        // Empty pieces are not pairs.
        assert!(parse_nested(format!("{at_limit}&&&;;").as_bytes()).is_ok());
    }

    #[test]
    fn hostile_input_is_linear() {
        let wide: Vec<String> = (0..100_000).map(|i| format!("q[k{i}]=v")).collect();
        let map = parse_nested(wide.join("&").as_bytes());
        let count = map
            .ok()
            .and_then(|m| m.get("q").and_then(Value::as_object).map(Map::len));
        assert_eq!(count, Some(100_000));

        let many_hashes = "a[][x]=1&".repeat(100_000);
        let map = parse_nested(many_hashes.as_bytes());
        let count = map
            .ok()
            .and_then(|m| m.get("a").and_then(Value::as_array).map(Vec::len));
        assert_eq!(count, Some(100_000));

        let ten_mb = 10 * 1024 * 1024;
        for body in [
            format!("a{}=1", "[".repeat(ten_mb)),
            format!("a[]{}=1", "[".repeat(ten_mb)),
            format!("a[][b{}]=1", "x".repeat(ten_mb)),
            format!("a{}=1", "]".repeat(ten_mb)),
            "x".repeat(ten_mb),
            "%41".repeat(ten_mb / 3),
        ] {
            assert!(parse_nested(body.as_bytes()).is_ok());
        }
    }

    #[test]
    fn form_body_splits_on_ampersand_only() {
        let body = parse_form_body(b"a=1;b=2&c[d]=3\0").map(|m| Value::Object(m).to_string());
        assert_eq!(body, Ok(json(r#"{"a":"1;b=2","c":{"d":"3"}}"#)));
        assert_eq!(parse_form_body(b""), Ok(Map::new()));
    }

    #[test]
    fn merge_is_shallow_and_keeps_positions() {
        let mut base = obj(serde_json::json!({"q": {"a": "1"}, "page": "1", "id": "9"}));
        let query = obj(serde_json::json!({"q": {"b": "2"}, "per_page": "5"}));
        let path = obj(serde_json::json!({"id": "3"}));
        merge_shallow(&mut base, query);
        merge_shallow(&mut base, path);
        assert_eq!(
            Value::Object(base).to_string(),
            json(r#"{"q":{"b":"2"},"page":"1","id":"3","per_page":"5"}"#)
        );
    }

    #[test]
    fn compacts_nulls_at_any_depth() {
        let mut map = obj(serde_json::json!({"a": [null, {"b": [null, "1"]}], "c": null}));
        compact_array_nulls(&mut map);
        assert_eq!(
            Value::Object(map).to_string(),
            json(r#"{"a":[{"b":["1"]}],"c":null}"#)
        );
    }

    #[test]
    fn to_query_like_rails() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"page":"2","per_page":"2","q":{"metadata":{"gender":"f"}}}"#,
                "page=2&per_page=2&q%5Bmetadata%5D%5Bgender%5D=f",
            ),
            (
                r#"{"q":{"metadata":{"gender":"f"}},"per_page":"2","page":3}"#,
                "page=3&per_page=2&q%5Bmetadata%5D%5Bgender%5D=f",
            ),
            ("{}", ""),
            (r#"{"a":"x y+z*~-._/"}"#, "a=x+y%2Bz%2A~-._%2F"),
            (r#"{"a b":"ក"}"#, "a+b=%E1%9E%80"),
            (r#"{"a":null,"b":true,"c":1.5}"#, "a=&b=true&c=1.5"),
            (r#"{"a":["1","2"]}"#, "a%5B%5D=1&a%5B%5D=2"),
            (r#"{"a":[],"b":{},"c":"1"}"#, "c=1"),
            (r#"{"a":[[]]}"#, "a%5B%5D%5B%5D="),
            (
                r#"{"a":[{"y":"1","x":"2"}]}"#,
                "a%5B%5D%5By%5D=1&a%5B%5D%5Bx%5D=2",
            ),
            (
                r#"{"b":{"z":"1","y":"2"},"a":"3"}"#,
                "a=3&b%5By%5D=2&b%5Bz%5D=1",
            ),
            // Rails sorts encoded pieces, not keys: "a-b=" sorts before "a=".
            (r#"{"a":"1","a-b":"2"}"#, "a-b=2&a=1"),
        ];
        for (input, expected) in cases {
            let map = obj(serde_json::from_str(input).unwrap_or(Value::Null));
            assert_eq!(to_query(&map), *expected, "input: {input}");
        }
    }

    #[test]
    fn to_query_round_trips() {
        let inputs = [
            r#"{"page":"2","per_page":"2","q":{"metadata":{"gender":"f","name":"A & B; +1 [x]"}}}"#,
            r#"{"a":["1","2"],"b":{"c":{"d":"é"}},"e":""}"#,
            r#"{"a":[{"x":"1","y":"2"},{"x":"3"}],"z":"%"}"#,
        ];
        for input in inputs {
            let map = obj(serde_json::from_str(input).unwrap_or(Value::Null));
            let query = to_query(&map);
            assert_eq!(
                parse_nested(query.as_bytes()),
                Ok(map.clone()),
                "query: {query}"
            );
            // And parse -> to_query is stable.
            let again = parse_nested(query.as_bytes()).map(|m| to_query(&m));
            assert_eq!(again, Ok(query));
        }
    }
}
