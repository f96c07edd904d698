//! Declarative call flows: a TOML file of steps (`say`, `play`, `gather`, `record`, `redirect`,
//! `pause`, `hangup`, `store`) that operators can read, write and check on a laptop. Loading
//! validates everything a caller could trip over (unknown step types and keys, references to
//! missing steps, loops with no exit) and reports file, line and reason. See docs/CALL_FLOWS.md.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use toml::Spanned;

/// Text with optional per-language variants: `"Hello"` or `{ en = "Hello", km = "…" }`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Text {
    One(String),
    Many(BTreeMap<String, String>),
}

/// Where a `store` writes: the contact's or the participation's metadata.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Contact,
    Participation,
}

/// Writes an answer into metadata: `values` maps keys pressed to stored values (absent: the raw
/// digits, or the recording URL after `record`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoreSpec {
    pub target: Target,
    pub key: String,
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

/// A prompt inside a gather: `{ say = … }` or `{ play = "url" }`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    pub say: Option<Text>,
    pub play: Option<String>,
}

/// One step as written. Which fields apply depends on `type`; the loader checks them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub id: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    pub next: Option<Spanned<String>>,
    // say
    pub text: Option<Text>,
    pub voice: Option<String>,
    pub language: Option<String>,
    // play
    pub url: Option<String>,
    /// `callout.<key>` or `contact.<key>`: read the URL from metadata at run time.
    pub url_from: Option<String>,
    /// Said when `url_from` finds nothing.
    pub fallback_text: Option<Text>,
    // gather
    pub prompt: Option<Vec<Prompt>>,
    pub num_digits: Option<u32>,
    pub timeout: Option<u32>,
    pub finish_on_key: Option<String>,
    #[serde(default)]
    pub branches: BTreeMap<String, Spanned<String>>,
    pub on_no_input: Option<Spanned<String>>,
    pub on_invalid: Option<Spanned<String>>,
    pub retries: Option<u32>,
    pub invalid_text: Option<Text>,
    pub no_input_text: Option<Text>,
    // record
    pub max_length: Option<u32>,
    // pause
    pub length: Option<u32>,
    // store (also on gather and record)
    pub store: Option<StoreSpec>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    name: String,
    description: Option<String>,
    /// Contact metadata key choosing the language variant (e.g. `language`).
    language_key: Option<String>,
    default_language: Option<String>,
    start: Option<Spanned<String>>,
    #[serde(rename = "step")]
    steps: Vec<RawStep>,
}

/// A validated flow.
#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    pub description: String,
    pub language_key: Option<String>,
    pub default_language: String,
    pub start: String,
    pub steps: Vec<RawStep>,
    index: HashMap<String, usize>,
    /// Where it came from (file path or `built-in`).
    pub source: String,
}

/// A load error with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct FlowError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

pub const STEP_TYPES: &[&str] = &[
    "say", "play", "gather", "record", "redirect", "pause", "hangup", "store",
];

fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl Flow {
    pub fn step(&self, id: &str) -> Option<&RawStep> {
        self.index.get(id).map(|i| &self.steps[*i])
    }

    /// Parses and validates a flow file's text. `file` names it in errors.
    pub fn parse(src: &str, file: &str) -> Result<Flow, FlowError> {
        let err = |line: usize, reason: String| FlowError {
            file: file.to_string(),
            line,
            reason,
        };
        let raw: RawFlow = toml::from_str(src).map_err(|e| {
            let line = e.span().map(|s| line_of(src, s.start)).unwrap_or(1);
            err(line, e.message().trim().to_string())
        })?;
        let at = |s: &std::ops::Range<usize>| line_of(src, s.start);
        if raw.steps.is_empty() {
            return Err(err(1, "a flow needs at least one [[step]]".into()));
        }
        let mut index = HashMap::new();
        for (i, s) in raw.steps.iter().enumerate() {
            if index.insert(s.id.get_ref().clone(), i).is_some() {
                return Err(err(
                    at(&s.id.span()),
                    format!("step id {:?} is used twice", s.id.get_ref()),
                ));
            }
        }
        let check_ref = |r: &Spanned<String>, what: &str| -> Result<(), FlowError> {
            if index.contains_key(r.get_ref()) {
                Ok(())
            } else {
                Err(err(
                    at(&r.span()),
                    format!("{what} refers to a missing step {:?}", r.get_ref()),
                ))
            }
        };
        for s in &raw.steps {
            let kind = s.kind.get_ref().as_str();
            let line = at(&s.kind.span());
            if !STEP_TYPES.contains(&kind) {
                return Err(err(
                    line,
                    format!(
                        "unknown step type {kind:?} (expected one of {})",
                        STEP_TYPES.join(", ")
                    ),
                ));
            }
            let need = |ok: bool, what: &str| {
                if ok {
                    Ok(())
                } else {
                    Err(err(line, format!("a {kind} step needs {what}")))
                }
            };
            match kind {
                "say" => need(s.text.is_some(), "`text`")?,
                "play" => need(
                    s.url.is_some() || s.url_from.is_some(),
                    "`url` or `url_from`",
                )?,
                "gather" => need(!s.branches.is_empty(), "`branches`")?,
                "redirect" => need(s.url.is_some(), "`url`")?,
                "store" => need(
                    s.store.is_some() && s.value.is_some(),
                    "`store` and `value`",
                )?,
                _ => {}
            }
            if let Some(from) = &s.url_from {
                if !(from.starts_with("callout.") || from.starts_with("contact.")) {
                    return Err(err(
                        line,
                        format!("url_from must be callout.<key> or contact.<key>, not {from:?}"),
                    ));
                }
            }
            if let Some(n) = &s.next {
                check_ref(n, "next")?;
            }
            for target in s.branches.values() {
                check_ref(target, "a branch")?;
            }
            for r in [&s.on_no_input, &s.on_invalid].into_iter().flatten() {
                check_ref(r, "on_no_input/on_invalid")?;
            }
        }
        let start = match &raw.start {
            Some(s) => {
                check_ref(s, "start")?;
                s.get_ref().clone()
            }
            None => raw.steps[0].id.get_ref().clone(),
        };
        let flow = Flow {
            name: raw.name,
            description: raw.description.unwrap_or_default(),
            language_key: raw.language_key,
            default_language: raw.default_language.unwrap_or_else(|| "en".into()),
            start,
            steps: raw.steps,
            index,
            source: file.to_string(),
        };
        flow.check_exits(src, file)?;
        Ok(flow)
    }

    /// Steps a step can continue to.
    fn successors(s: &RawStep) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        if let Some(n) = &s.next {
            out.push(n.get_ref());
        }
        out.extend(s.branches.values().map(|v| v.get_ref().as_str()));
        out.extend(
            [&s.on_no_input, &s.on_invalid]
                .into_iter()
                .flatten()
                .map(|v| v.get_ref().as_str()),
        );
        out
    }

    /// Refuses loops with no exit: every reachable step must be able to reach an end (a hangup,
    /// a redirect away, or a step with nowhere to go), and no cycle may run without waiting for
    /// the caller (it would build an endless document).
    fn check_exits(&self, src: &str, file: &str) -> Result<(), FlowError> {
        let n = self.steps.len();
        let mut can_end = vec![false; n];
        let mut changed = true;
        while changed {
            changed = false;
            for (i, s) in self.steps.iter().enumerate() {
                if can_end[i] {
                    continue;
                }
                let succ = Self::successors(s);
                let kind = s.kind.get_ref().as_str();
                let ends = kind == "hangup"
                    || kind == "redirect"
                    || succ.is_empty()
                    || succ
                        .iter()
                        .any(|t| self.index.get(*t).map(|j| can_end[*j]).unwrap_or(false));
                if ends {
                    can_end[i] = true;
                    changed = true;
                }
            }
        }
        for (i, s) in self.steps.iter().enumerate() {
            if !can_end[i] {
                return Err(FlowError {
                    file: file.into(),
                    line: line_of(src, s.id.span().start),
                    reason: format!("step {:?} is in a loop with no exit", s.id.get_ref()),
                });
            }
        }
        // Cycles through steps that never wait (say/play/pause/store/…): endless documents.
        for (i, s) in self.steps.iter().enumerate() {
            let mut seen = vec![false; n];
            let mut cur = Some(i);
            while let Some(c) = cur {
                let step = &self.steps[c];
                if matches!(
                    step.kind.get_ref().as_str(),
                    "gather" | "record" | "hangup" | "redirect"
                ) {
                    break;
                }
                if seen[c] {
                    return Err(FlowError {
                        file: file.into(),
                        line: line_of(src, s.id.span().start),
                        reason: format!(
                            "step {:?} loops without waiting for the caller",
                            s.id.get_ref()
                        ),
                    });
                }
                seen[c] = true;
                cur = step
                    .next
                    .as_ref()
                    .and_then(|n| self.index.get(n.get_ref()).copied());
            }
        }
        Ok(())
    }
}

/// Built-in flows, shipped in `assets/flows/` under SCFM's names.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "assets/flows/application.toml",
        include_str!("../../assets/flows/application.toml"),
    ),
    (
        "assets/flows/hello_world.toml",
        include_str!("../../assets/flows/hello_world.toml"),
    ),
    (
        "assets/flows/play_message.toml",
        include_str!("../../assets/flows/play_message.toml"),
    ),
    (
        "assets/flows/outcome_monitoring.toml",
        include_str!("../../assets/flows/outcome_monitoring.toml"),
    ),
    (
        "assets/flows/registration.toml",
        include_str!("../../assets/flows/registration.toml"),
    ),
];

/// The flows known to this run: built-ins plus user files. A file with an error is refused
/// (and reported) while the rest keep working.
#[derive(Debug, Clone, Default)]
pub struct FlowSet {
    flows: Vec<Flow>,
    pub errors: Vec<FlowError>,
}

impl FlowSet {
    pub fn built_in() -> FlowSet {
        let mut set = FlowSet::default();
        for (file, src) in BUILT_IN {
            set.add(Flow::parse(src, file));
        }
        set
    }

    /// Built-ins plus every `*.toml` in `dirs` (missing dirs are skipped). A user flow with a
    /// built-in's name replaces it.
    pub fn load(dirs: &[&Path]) -> FlowSet {
        let mut set = FlowSet::built_in();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            {
                let file = path.display().to_string();
                match std::fs::read_to_string(&path) {
                    Ok(src) => set.add(Flow::parse(&src, &file)),
                    Err(e) => set.errors.push(FlowError {
                        file,
                        line: 0,
                        reason: e.to_string(),
                    }),
                }
            }
        }
        set
    }

    fn add(&mut self, flow: Result<Flow, FlowError>) {
        match flow {
            Ok(f) => {
                self.flows.retain(|x| x.name != f.name);
                self.flows.push(f);
            }
            Err(e) => self.errors.push(e),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Flow> {
        self.flows.iter().find(|f| f.name == name)
    }

    pub fn names(&self) -> Vec<String> {
        self.flows.iter().map(|f| f.name.clone()).collect()
    }

    pub fn flows(&self) -> &[Flow] {
        &self.flows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> FlowError {
        Flow::parse(src, "f.toml").unwrap_err()
    }

    #[test]
    fn built_ins_load() {
        let set = FlowSet::built_in();
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert_eq!(set.names().len(), BUILT_IN.len());
    }

    #[test]
    fn bad_toml_has_a_line() {
        let e = err("name = \"x\"\n[[step]]\nid = \"a\"\ntype = \n");
        assert_eq!(e.file, "f.toml");
        assert_eq!(e.line, 4, "{e}");
    }

    #[test]
    fn unknown_step_type_and_key() {
        let e = err("name = \"x\"\n[[step]]\nid = \"a\"\ntype = \"dance\"\n");
        assert_eq!(e.line, 4);
        assert!(e.reason.contains("unknown step type \"dance\""), "{e}");
        let e = err("name = \"x\"\n[[step]]\nid = \"a\"\ntype = \"hangup\"\ncolour = \"red\"\n");
        assert!(e.reason.contains("colour"), "{e}");
    }

    #[test]
    fn branch_to_missing_step() {
        let src = "name = \"x\"\n[[step]]\nid = \"a\"\ntype = \"gather\"\nbranches = { \"1\" = \"nowhere\" }\n";
        let e = err(src);
        assert_eq!(e.line, 5);
        assert!(e.reason.contains("missing step \"nowhere\""), "{e}");
    }

    #[test]
    fn loops_without_exit_are_refused() {
        let gather_loop = "name = \"x\"\n[[step]]\nid = \"a\"\ntype = \"gather\"\nbranches = { \"1\" = \"b\" }\n\
                           [[step]]\nid = \"b\"\ntype = \"say\"\ntext = \"hi\"\nnext = \"a\"\n";
        let e = err(gather_loop);
        assert!(e.reason.contains("loop with no exit"), "{e}");
        let say_loop = "name = \"x\"\n[[step]]\nid = \"a\"\ntype = \"say\"\ntext = \"hi\"\nnext = \"b\"\n\
                        [[step]]\nid = \"b\"\ntype = \"say\"\ntext = \"ho\"\nnext = \"a\"\n";
        assert!(
            err(say_loop).reason.contains("no exit")
                || err(say_loop).reason.contains("without waiting")
        );
        // A menu that loops back but can also hang up is fine.
        let ok = "name = \"x\"\n[[step]]\nid = \"a\"\ntype = \"gather\"\nbranches = { \"1\" = \"a\", \"2\" = \"b\" }\n\
                  [[step]]\nid = \"b\"\ntype = \"hangup\"\n";
        assert!(Flow::parse(ok, "f.toml").is_ok());
    }

    #[test]
    fn duplicate_ids_and_requirements() {
        let e = err(
            "name = \"x\"\n[[step]]\nid = \"a\"\ntype = \"hangup\"\n[[step]]\nid = \"a\"\ntype = \"hangup\"\n",
        );
        assert!(e.reason.contains("used twice"), "{e}");
        let e = err("name = \"x\"\n[[step]]\nid = \"a\"\ntype = \"say\"\n");
        assert!(e.reason.contains("needs `text`"), "{e}");
    }

    #[test]
    fn a_bad_file_does_not_stop_the_others() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bad.toml"),
            "name = \"Bad\"\n[[step]]\nid = \"a\"\ntype = \"nope\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("good.toml"),
            "name = \"Mine\"\n[[step]]\nid = \"a\"\ntype = \"say\"\ntext = \"hi\"\n",
        )
        .unwrap();
        let set = FlowSet::load(&[dir.path()]);
        assert!(set.get("Mine").is_some());
        assert!(set.get("CallFlowLogic::Registration").is_some());
        assert_eq!(set.errors.len(), 1);
        assert!(
            set.errors[0].to_string().contains("bad.toml:4"),
            "{}",
            set.errors[0]
        );
    }
}
