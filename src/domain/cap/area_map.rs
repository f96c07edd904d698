//! The area map: which contacts an alert's `<area>`s reach, and how each `<info>` language is
//! spoken. A TOML file (see `assets/area_map.example.toml`):
//!
//! ```toml
//! group_by = "province"
//! [[area]]
//! name = "Kandal"
//! match_geocode = { valueName = "EMMA_ID", value = "KH-08" }
//! match_area_desc = ["Kandal", "Kandal Province"]
//! contacts = { province = "Kandal" }
//! [[language]]
//! lang = "km"
//! say_language = "km-KH"
//! ```
//!
//! Refused with their line, because each would misdirect calls silently: unknown keys (a typo
//! such as `match_geocodes` would never match), an area with no match rule, an area whose
//! `contacts` is empty (it would call every contact), a contact value that is not a string,
//! number or boolean, a name or language given twice, and a map with no `[[area]]`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use toml::Spanned;

/// A parsed, checked area map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaMap {
    /// The contact metadata key reports group by (e.g. `province`), if set.
    pub group_by: Option<String>,
    pub areas: Vec<MapArea>,
    pub languages: Vec<LanguageEntry>,
}

/// One `[[area]]`: an alert `<area>` matches it when one of its geocode pairs equals one of the
/// area's (`valueName` and `value` compared ignoring ASCII case) or its `<areaDesc>` equals one of
/// `match_area_descs` (ignoring case and runs of spaces).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapArea {
    pub name: String,
    pub match_geocodes: Vec<(String, String)>,
    pub match_area_descs: Vec<String>,
    /// Contact metadata equalities, all of which must hold; the service sends it as SCFM's
    /// `contact_filter_params = {"metadata": contacts}`.
    pub contacts: Map<String, Value>,
}

/// One `[[language]]`: how an info whose language matches `lang` is spoken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LanguageEntry {
    /// `km` matches `km` and `km-KH`; `km-KH` matches only `km-KH` (ASCII case ignored). The
    /// longest matching entry wins.
    pub lang: String,
    /// A recording to `<Play>` instead of saying the text.
    pub audio_url: Option<String>,
    /// For `<Say language=…>`; the info's own language when absent.
    pub say_language: Option<String>,
}

/// A refused area map, with the place (1-based line and column) of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct AreaMapError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    group_by: Option<Spanned<String>>,
    #[serde(default)]
    area: Vec<Spanned<RawArea>>,
    #[serde(default)]
    language: Vec<Spanned<RawLanguage>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArea {
    name: Spanned<String>,
    #[serde(default)]
    match_geocode: OneOrMany<RawGeocode>,
    #[serde(default)]
    match_area_desc: OneOrMany<String>,
    contacts: Spanned<IndexMap<String, Spanned<toml::Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGeocode {
    #[serde(rename = "valueName")]
    value_name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLanguage {
    lang: Spanned<String>,
    audio_url: Option<Spanned<String>>,
    say_language: Option<String>,
}

/// A single table or string, or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

/// Parses and checks an area map.
pub fn parse_area_map(text: &str) -> Result<AreaMap, AreaMapError> {
    let err = |offset: usize, message: String| {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        AreaMapError {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            message,
        }
    };
    let raw: RawMap = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        err(offset, e.message().trim().to_string())
    })?;
    if raw.area.is_empty() {
        return Err(err(
            0,
            "the area map has no [[area]]: no alert area could ever be matched".into(),
        ));
    }
    let group_by = match raw.group_by {
        Some(g) if g.get_ref().trim().is_empty() => {
            return Err(err(g.span().start, "group_by is empty".into()));
        }
        g => g.map(|g| g.into_inner().trim().to_string()),
    };
    let mut areas: Vec<MapArea> = Vec::new();
    for spanned in raw.area {
        let at = spanned.span().start;
        let raw = spanned.into_inner();
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() {
            return Err(err(
                raw.name.span().start,
                "an [[area]] has an empty name".into(),
            ));
        }
        if areas.iter().any(|a| a.name.eq_ignore_ascii_case(&name)) {
            return Err(err(
                raw.name.span().start,
                format!("the area name {name:?} is used twice"),
            ));
        }
        let match_geocodes: Vec<(String, String)> = raw
            .match_geocode
            .into_vec()
            .into_iter()
            .map(|g| (g.value_name.trim().to_string(), g.value.trim().to_string()))
            .filter(|(n, v)| !n.is_empty() && !v.is_empty())
            .collect();
        let match_area_descs: Vec<String> = raw
            .match_area_desc
            .into_vec()
            .into_iter()
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect();
        if match_geocodes.is_empty() && match_area_descs.is_empty() {
            return Err(err(
                at,
                format!(
                    "area {name:?} has neither match_geocode nor match_area_desc: it could never \
                     match an alert area"
                ),
            ));
        }
        if raw.contacts.get_ref().is_empty() {
            return Err(err(
                raw.contacts.span().start,
                format!("area {name:?} has an empty contacts filter: it would call every contact"),
            ));
        }
        let mut contacts = Map::new();
        for (key, value) in raw.contacts.into_inner() {
            let json = match value.get_ref() {
                toml::Value::String(s) => Value::String(s.clone()),
                toml::Value::Integer(i) => Value::from(*i),
                toml::Value::Float(f) => Value::from(*f),
                toml::Value::Boolean(b) => Value::Bool(*b),
                _ => {
                    return Err(err(
                        value.span().start,
                        format!(
                            "contacts.{key} of area {name:?} must be a string, number or \
                             boolean (a metadata value to equal)"
                        ),
                    ));
                }
            };
            contacts.insert(key, json);
        }
        areas.push(MapArea {
            name,
            match_geocodes,
            match_area_descs,
            contacts,
        });
    }
    let mut languages: Vec<LanguageEntry> = Vec::new();
    for spanned in raw.language {
        let raw = spanned.into_inner();
        let lang = raw.lang.get_ref().trim().to_string();
        if lang.is_empty() {
            return Err(err(
                raw.lang.span().start,
                "a [[language]] has an empty lang".into(),
            ));
        }
        if languages.iter().any(|l| l.lang.eq_ignore_ascii_case(&lang)) {
            return Err(err(
                raw.lang.span().start,
                format!("the language {lang:?} is given twice"),
            ));
        }
        let audio_url = match raw.audio_url {
            None => None,
            Some(u) => {
                let url = u.get_ref().trim();
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(err(
                        u.span().start,
                        format!("audio_url {url:?} of language {lang:?} is not an http(s) URL"),
                    ));
                }
                Some(url.to_string())
            }
        };
        languages.push(LanguageEntry {
            lang,
            audio_url,
            say_language: raw
                .say_language
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        });
    }
    Ok(AreaMap {
        group_by,
        areas,
        languages,
    })
}
