//! `metadata_merge_mode`: how a new metadata object combines with the stored one (SCFM §7).

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergeMode {
    /// Shallow: new top-level keys overwrite, others kept. Also any unknown mode name.
    #[default]
    Merge,
    Replace,
    /// Recursive where both sides hold objects; any other value from the new side wins.
    DeepMerge,
}

impl MergeMode {
    /// Case-sensitive, unknown values mean `merge` (as SCFM did).
    pub fn parse(raw: Option<&str>) -> Self {
        match raw {
            Some("replace") => MergeMode::Replace,
            Some("deep_merge") => MergeMode::DeepMerge,
            _ => MergeMode::Merge,
        }
    }
}

/// Applies `new` onto `old` with `mode`. Keys keep their first-insertion position; new keys are
/// appended (serde_json with `preserve_order`).
pub fn apply(
    old: &Map<String, Value>,
    new: Map<String, Value>,
    mode: MergeMode,
) -> Map<String, Value> {
    match mode {
        MergeMode::Replace => new,
        MergeMode::Merge => {
            let mut out = old.clone();
            for (k, v) in new {
                out.insert(k, v);
            }
            out
        }
        MergeMode::DeepMerge => deep_merge(old, new),
    }
}

fn deep_merge(old: &Map<String, Value>, new: Map<String, Value>) -> Map<String, Value> {
    let mut out = old.clone();
    for (k, v) in new {
        let merged = match (out.get(&k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => Value::Object(deep_merge(a, b)),
            (_, v) => v,
        };
        out.insert(k, merged);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn spec_examples() {
        let old = obj(json!({"a":"b","foo":"bar","baz":{"c":[1,2,3]}}));
        let new = obj(json!({"foo":"baz","bar":"baz","baz":{"x":[4,5,6]}}));
        let merged = apply(&old, new.clone(), MergeMode::Merge);
        assert_eq!(
            serde_json::to_string(&merged).unwrap(),
            r#"{"a":"b","foo":"baz","baz":{"x":[4,5,6]},"bar":"baz"}"#
        );
        let deep = apply(&old, new.clone(), MergeMode::DeepMerge);
        assert_eq!(
            serde_json::to_string(&deep).unwrap(),
            r#"{"a":"b","foo":"baz","baz":{"c":[1,2,3],"x":[4,5,6]},"bar":"baz"}"#
        );
        assert_eq!(apply(&old, new.clone(), MergeMode::Replace), new);
    }

    #[test]
    fn mode_parsing_is_case_sensitive() {
        assert_eq!(MergeMode::parse(Some("replace")), MergeMode::Replace);
        assert_eq!(MergeMode::parse(Some("deep_merge")), MergeMode::DeepMerge);
        assert_eq!(MergeMode::parse(Some("REPLACE")), MergeMode::Merge);
        assert_eq!(MergeMode::parse(None), MergeMode::Merge);
    }

    #[test]
    fn seed_update_keeps_order() {
        let out = apply(
            &Map::new(),
            obj(json!({"name":"Alice","gender":"f"})),
            MergeMode::Merge,
        );
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"name":"Alice","gender":"f"}"#
        );
    }
}
