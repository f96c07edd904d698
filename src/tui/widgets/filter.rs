//! The `/` filter language, parsed into the service's filter objects. Contacts:
//! `province=Kandal gender=f +85512` (a bare number or `msisdn=` filters by msisdn, any other
//! `key=value` by metadata). Live calls: `callout=3 status=completed,failed`.

use serde_json::{Map, Value};

/// Contact filter text -> `contact_filter_params` (`{"msisdn": .., "metadata": {..}}`).
pub fn contact_filter(text: &str) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let mut meta = Map::new();
    for token in text.split_whitespace() {
        if let Some((k, v)) = token.split_once('=') {
            if k.is_empty() {
                return Err(format!("{token:?}: expected key=value"));
            }
            if k == "msisdn" {
                out.insert("msisdn".into(), Value::String(v.into()));
            } else {
                meta.insert(k.into(), Value::String(v.into()));
            }
        } else if token
            .trim_start_matches('+')
            .chars()
            .all(|c| c.is_ascii_digit())
            && !token.trim_start_matches('+').is_empty()
        {
            out.insert("msisdn".into(), Value::String(token.into()));
        } else {
            return Err(format!(
                "{token:?}: use key=value for metadata or a number for msisdn"
            ));
        }
    }
    if !meta.is_empty() {
        out.insert("metadata".into(), Value::Object(meta));
    }
    Ok(out)
}

/// Live-calls filter text -> (callout id, statuses).
pub fn calls_filter(text: &str) -> Result<(Option<i64>, Vec<String>), String> {
    let mut callout = None;
    let mut statuses = Vec::new();
    for token in text.split_whitespace() {
        match token.split_once('=') {
            Some(("callout", v)) => {
                callout = Some(
                    v.parse::<i64>()
                        .map_err(|_| format!("callout={v}: expected a callout id"))?,
                );
            }
            Some(("status", v)) => {
                statuses.extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_string));
            }
            _ => {
                return Err(format!(
                    "{token:?}: use callout=ID and status=a,b (e.g. status=completed)"
                ));
            }
        }
    }
    Ok((callout, statuses))
}

/// Metadata editor lines (`key=value`, one per line) -> a JSON object. Values starting with
/// `{` or `[` are read as JSON; everything else is text.
pub fn metadata_lines(lines: &[String]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("metadata line {}: expected key=value", i + 1));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() {
            return Err(format!("metadata line {}: empty key", i + 1));
        }
        let value = if v.starts_with('{') || v.starts_with('[') {
            serde_json::from_str(v)
                .map_err(|e| format!("metadata line {}: bad JSON: {e}", i + 1))?
        } else {
            Value::String(v.into())
        };
        out.insert(k.into(), value);
    }
    Ok(out)
}

/// A metadata object as editor lines (the inverse of `metadata_lines` for text values).
pub fn metadata_to_lines(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contact_filters() {
        let f = contact_filter("province=Kandal gender=f +85512").unwrap();
        assert_eq!(
            Value::Object(f),
            json!({"msisdn": "+85512", "metadata": {"province": "Kandal", "gender": "f"}})
        );
        assert!(contact_filter("bogus").is_err());
        assert!(contact_filter("").unwrap().is_empty());
    }

    #[test]
    fn calls_filters() {
        assert_eq!(
            calls_filter("callout=3 status=completed,failed").unwrap(),
            (Some(3), vec!["completed".into(), "failed".into()])
        );
        assert!(calls_filter("callout=x").is_err());
    }

    #[test]
    fn metadata_round_trip() {
        let m = metadata_lines(&["a=1".into(), "".into(), "b={\"c\":2}".into()]).unwrap();
        assert_eq!(Value::Object(m.clone()), json!({"a": "1", "b": {"c": 2}}));
        assert_eq!(
            metadata_to_lines(&Value::Object(m)),
            vec!["a=1", "b={\"c\":2}"]
        );
        assert!(metadata_lines(&["nope".into()]).is_err());
    }
}
