//! Resolving an alert through an [`AreaMap`]: which map areas its `<area>`s match, which match
//! nothing, and what each `<info>` says in which voice.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::area_map::{AreaMap, LanguageEntry, MapArea};
use super::{Alert, Area, Info};

/// An unmatched alert area's identity: its `areaDesc` and geocodes.
type AreaKey<'a> = (&'a str, &'a [(String, String)]);

/// What an alert reaches through a map. Nothing is dropped: every alert area is either behind a
/// matched map area or listed in `unmatched`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    /// One plan per info considered, in document order.
    pub infos: Vec<InfoPlan>,
    /// Map areas matched by any considered info, each once, in map order.
    pub areas: Vec<MatchedArea>,
    /// Alert areas that no map area matched, each once (same `areaDesc` and geocodes), in
    /// document order. The caller must show these.
    pub unmatched: Vec<UnmatchedArea>,
    /// Indices (into `alert.infos`) of infos left out because they had expired.
    pub expired_infos: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InfoPlan {
    /// Index into `alert.infos`.
    pub info_index: usize,
    /// The info's `<language>`.
    pub language: String,
    /// The `[[language]]` entry for it; `None` when the map has none (the caller warns, and may
    /// still `<Say>` the text in `language`).
    pub voice: Option<LanguageEntry>,
    /// What to say, see [`say_text`].
    pub say_text: String,
    /// Names of the map areas this info's areas matched, in map order.
    pub areas: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchedArea {
    pub name: String,
    /// The metadata equalities (see [`MapArea::contacts`]).
    pub contacts: Map<String, Value>,
    /// `<areaDesc>` of each alert area that matched it, each once, in document order.
    pub alert_areas: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmatchedArea {
    pub area_desc: String,
    pub geocodes: Vec<(String, String)>,
    /// Indices of the infos that name this area.
    pub infos: Vec<usize>,
}

/// Lowercase with runs of whitespace made one space, for comparing `<areaDesc>`s.
fn fold(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether `c` ends a sentence (Latin, Khmer `។ ៕`, Devanagari `।`, CJK `。`, and the like).
fn ends_sentence(c: char) -> bool {
    matches!(
        c,
        '.' | '!' | '?' | ':' | ';' | '។' | '៕' | '।' | '。' | '！' | '？'
    )
}

/// The text a call says for one info: `headline`, `description` and `instruction`, each with its
/// runs of whitespace (line breaks included) made one space and trimmed, the empty ones left out,
/// and joined so that each part ends a sentence: by a plain space after a part that already ends
/// one (no `..`, no `។.`), else by `"។ "` after Khmer text and `". "` after anything else (a
/// headline rarely ends with a full stop). An info with none of the three says its `event`.
pub fn say_text(info: &Info) -> String {
    let parts: Vec<String> = [&info.headline, &info.description, &info.instruction]
        .into_iter()
        .flatten()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return info.event.trim().to_string();
    }
    let mut out = String::new();
    for part in parts {
        if let Some(last) = out.chars().last() {
            out.push_str(if ends_sentence(last) {
                " "
            } else if ('\u{1780}'..='\u{17FF}').contains(&last) {
                "។ "
            } else {
                ". "
            });
        }
        out.push_str(&part);
    }
    out
}

impl MapArea {
    /// Whether the alert area `area` is this map area (see the type's docs).
    pub fn matches(&self, area: &Area) -> bool {
        let descs: Vec<String> = self.match_area_descs.iter().map(|d| fold(d)).collect();
        self.matches_folded(area, &fold(&area.area_desc), &descs)
    }

    /// [`MapArea::matches`] with the `areaDesc`s already folded, for resolving many areas.
    fn matches_folded(&self, area: &Area, desc: &str, descs: &[String]) -> bool {
        let by_code = self.match_geocodes.iter().any(|(name, value)| {
            area.geocodes.iter().any(|(n, v)| {
                n.trim().eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case(value)
            })
        });
        by_code || descs.iter().any(|d| d == desc)
    }
}

impl AreaMap {
    /// The `[[language]]` entry for an info language: an exact match, else the longest `lang`
    /// that is a prefix ending at a `-` (`km` for `km-KH`).
    pub fn language_for(&self, language: &str) -> Option<&LanguageEntry> {
        let wanted = language.trim().to_ascii_lowercase();
        self.languages
            .iter()
            .filter(|l| {
                let lang = l.lang.to_ascii_lowercase();
                wanted == lang
                    || wanted
                        .strip_prefix(&lang)
                        .is_some_and(|rest| rest.starts_with('-'))
            })
            .max_by_key(|l| l.lang.len())
    }

    /// Resolves every info of `alert`, expired or not.
    pub fn resolve(&self, alert: &Alert) -> Resolution {
        self.resolve_infos(alert, |_| true)
    }

    /// Resolves the infos of `alert` still in force at `now`; the expired ones are listed in
    /// `expired_infos` and match nothing.
    pub fn resolve_at(&self, alert: &Alert, now: DateTime<Utc>) -> Resolution {
        self.resolve_infos(alert, |info| !info.is_expired(now))
    }

    fn resolve_infos(&self, alert: &Alert, keep: impl Fn(&Info) -> bool) -> Resolution {
        // Sets and indices keep this linear in the alert's size: a hostile alert may hold
        // tens of thousands of areas.
        let folded: Vec<Vec<String>> = self
            .areas
            .iter()
            .map(|a| a.match_area_descs.iter().map(|d| fold(d)).collect())
            .collect();
        let mut hits: Vec<Vec<String>> = vec![Vec::new(); self.areas.len()];
        let mut seen: Vec<HashSet<&str>> = vec![HashSet::new(); self.areas.len()];
        let mut infos = Vec::new();
        let mut unmatched: Vec<UnmatchedArea> = Vec::new();
        let mut unmatched_at: HashMap<AreaKey<'_>, usize> = HashMap::new();
        let mut expired_infos = Vec::new();
        for (index, info) in alert.infos.iter().enumerate() {
            if !keep(info) {
                expired_infos.push(index);
                continue;
            }
            let mut matched = vec![false; self.areas.len()];
            for area in &info.areas {
                let desc = fold(&area.area_desc);
                let mut any = false;
                for (i, map_area) in self.areas.iter().enumerate() {
                    if map_area.matches_folded(area, &desc, &folded[i]) {
                        any = true;
                        matched[i] = true;
                        if seen[i].insert(area.area_desc.as_str()) {
                            hits[i].push(area.area_desc.clone());
                        }
                    }
                }
                if !any {
                    let key = (area.area_desc.as_str(), area.geocodes.as_slice());
                    match unmatched_at.get(&key) {
                        Some(&at) => {
                            let infos = &mut unmatched[at].infos;
                            if infos.last() != Some(&index) {
                                infos.push(index);
                            }
                        }
                        None => {
                            unmatched_at.insert(key, unmatched.len());
                            unmatched.push(UnmatchedArea {
                                area_desc: area.area_desc.clone(),
                                geocodes: area.geocodes.clone(),
                                infos: vec![index],
                            });
                        }
                    }
                }
            }
            infos.push(InfoPlan {
                info_index: index,
                language: info.language.clone(),
                voice: self.language_for(&info.language).cloned(),
                say_text: say_text(info),
                areas: self
                    .areas
                    .iter()
                    .zip(&matched)
                    .filter(|(_, m)| **m)
                    .map(|(a, _)| a.name.clone())
                    .collect(),
            });
        }
        let areas = self
            .areas
            .iter()
            .zip(hits)
            .filter(|(_, h)| !h.is_empty())
            .map(|(a, alert_areas)| MatchedArea {
                name: a.name.clone(),
                contacts: a.contacts.clone(),
                alert_areas,
            })
            .collect();
        Resolution {
            infos,
            areas,
            unmatched,
            expired_infos,
        }
    }
}
