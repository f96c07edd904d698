//! Runs a declarative flow for one provider request. The position travels in the `action` URL
//! of each `<Gather>`/`<Record>` (`flow_step`, `flow_try`), so no state is kept between requests;
//! the request's `Digits` or `RecordingUrl` picks the branch. Pure: returns the TwiML verbs and
//! the metadata writes for the service to apply.

use super::flow::{Flow, RawStep, Target, Text};
use super::twiml::Verb;
use serde_json::{Map, Value};

pub const STEP_PARAM: &str = "flow_step";
pub const TRY_PARAM: &str = "flow_try";
/// Most steps one response may run (a guard; loader checks already refuse endless documents).
const MAX_STEPS: usize = 100;

/// What the flow can read: metadata of the contact, participation and callout.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub contact: Map<String, Value>,
    pub participation: Map<String, Value>,
    pub callout: Map<String, Value>,
    /// The webhook URL the provider used, without `flow_step`/`flow_try` (actions point here).
    pub base_url: String,
}

/// A metadata write the flow asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOp {
    pub target: Target,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Turn {
    pub verbs: Vec<Verb>,
    pub stores: Vec<StoreOp>,
    /// The answer this request carried (digits or recording URL), for the event record.
    pub answer: Option<String>,
}

/// The provider request as the flow sees it.
#[derive(Debug, Clone, Default)]
pub struct Input<'a> {
    pub step: Option<&'a str>,
    pub attempt: u32,
    pub digits: Option<&'a str>,
    pub recording_url: Option<&'a str>,
}

fn lookup(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl Context {
    fn language(&self, flow: &Flow) -> String {
        flow.language_key
            .as_deref()
            .and_then(|k| lookup(&self.contact, k))
            .unwrap_or_else(|| flow.default_language.clone())
    }

    /// `{contact.name}`-style placeholders filled from metadata (text is escaped later by the
    /// TwiML writer, so contact-supplied text cannot inject markup).
    fn fill(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    let key = &after[..close];
                    let value = if let Some(k) = key.strip_prefix("contact.") {
                        lookup(&self.contact, k)
                    } else if let Some(k) = key.strip_prefix("callout.") {
                        lookup(&self.callout, k)
                    } else if let Some(k) = key.strip_prefix("participation.") {
                        lookup(&self.participation, k)
                    } else {
                        None
                    };
                    match value {
                        Some(v) => out.push_str(&v),
                        None if key.contains('.') => {}
                        None => out.push_str(&rest[open..open + close + 2]),
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn text(&self, flow: &Flow, t: &Text) -> String {
        let raw = match t {
            Text::One(s) => s.clone(),
            Text::Many(m) => {
                let lang = self.language(flow);
                m.get(&lang)
                    .or_else(|| m.get(&flow.default_language))
                    .or_else(|| m.values().next())
                    .cloned()
                    .unwrap_or_default()
            }
        };
        self.fill(&raw)
    }

    fn action(&self, step: &str, attempt: u32) -> String {
        let sep = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{sep}{STEP_PARAM}={step}&{TRY_PARAM}={attempt}",
            self.base_url
        )
    }

    fn say(&self, flow: &Flow, s: &RawStep, t: &Text) -> Verb {
        let mut attrs = Vec::new();
        if let Some(l) = &s.language {
            attrs.push(("language", l.clone()));
        }
        if let Some(v) = &s.voice {
            attrs.push(("voice", v.clone()));
        }
        Verb::Say {
            text: self.text(flow, t),
            attrs,
        }
    }
}

/// Runs one turn of `flow` for the request `input`.
pub fn run(flow: &Flow, ctx: &Context, input: &Input<'_>) -> Turn {
    let mut turn = Turn::default();
    let next = match input.step.and_then(|id| flow.step(id)) {
        None => Some(flow.start.clone()),
        Some(step) => answer(flow, ctx, step, input, &mut turn),
    };
    if let Some(id) = next {
        // What was just stored already counts (a chosen language speaks the next prompt).
        let mut ctx = ctx.clone();
        for op in &turn.stores {
            let map = match op.target {
                Target::Contact => &mut ctx.contact,
                Target::Participation => &mut ctx.participation,
            };
            map.insert(op.key.clone(), Value::String(op.value.clone()));
        }
        render_from(flow, &ctx, &id, 0, &mut turn);
    }
    turn
}

/// The TwiML from step `id` onwards, as the flow renders it when it reaches that step.
pub fn render_step(flow: &Flow, ctx: &Context, id: &str) -> Turn {
    let mut turn = Turn::default();
    render_from(flow, ctx, id, 0, &mut turn);
    turn
}

/// Handles the caller's answer to a waiting step; returns where to continue.
fn answer(
    flow: &Flow,
    ctx: &Context,
    step: &RawStep,
    input: &Input<'_>,
    turn: &mut Turn,
) -> Option<String> {
    let id = step.id.get_ref().clone();
    match step.kind.get_ref().as_str() {
        "record" => {
            let url = input.recording_url.map(str::to_string);
            turn.answer = url.clone();
            if let (Some(store), Some(url)) = (&step.store, url) {
                turn.stores.push(StoreOp {
                    target: store.target,
                    key: store.key.clone(),
                    value: url,
                });
            }
            step.next.as_ref().map(|n| n.get_ref().clone())
        }
        "gather" => {
            let digits = input.digits.map(str::trim).filter(|d| !d.is_empty());
            turn.answer = digits.map(str::to_string);
            let retries = step.retries.unwrap_or(2);
            let branch =
                digits.and_then(|d| step.branches.get(d).or_else(|| step.branches.get("*")));
            match (digits, branch) {
                (Some(d), Some(target)) => {
                    if let Some(store) = &step.store {
                        let value = store
                            .values
                            .get(d)
                            .cloned()
                            .unwrap_or_else(|| d.to_string());
                        turn.stores.push(StoreOp {
                            target: store.target,
                            key: store.key.clone(),
                            value,
                        });
                    }
                    Some(target.get_ref().clone())
                }
                (got, _) => {
                    let (message, fallback) = if got.is_some() {
                        (&step.invalid_text, &step.on_invalid)
                    } else {
                        (&step.no_input_text, &step.on_no_input)
                    };
                    if input.attempt < retries {
                        if let Some(m) = message {
                            turn.verbs.push(ctx.say(flow, step, m));
                        }
                        gather(flow, ctx, step, input.attempt + 1, turn);
                        None
                    } else {
                        fallback
                            .as_ref()
                            .or(step.next.as_ref())
                            .map(|f| f.get_ref().clone())
                            .or_else(|| {
                                turn.verbs.push(Verb::Hangup);
                                None
                            })
                    }
                }
            }
        }
        _ => {
            let _ = ctx;
            Some(id)
        }
    }
}

fn gather(flow: &Flow, ctx: &Context, s: &RawStep, attempt: u32, turn: &mut Turn) {
    let mut attrs = vec![
        ("action", ctx.action(s.id.get_ref(), attempt)),
        ("actionOnEmptyResult", "true".to_string()),
    ];
    if let Some(k) = &s.finish_on_key {
        attrs.push(("finishOnKey", k.clone()));
    }
    attrs.push(("method", "POST".to_string()));
    if let Some(n) = s.num_digits {
        attrs.push(("numDigits", n.to_string()));
    }
    if let Some(t) = s.timeout {
        attrs.push(("timeout", t.to_string()));
    }
    let mut children = Vec::new();
    for p in s.prompt.iter().flatten() {
        if let Some(t) = &p.say {
            children.push(ctx.say(flow, s, t));
        }
        if let Some(u) = &p.play {
            children.push(Verb::play(ctx.fill(u)));
        }
    }
    turn.verbs.push(Verb::Gather { attrs, children });
}

/// Appends the verbs of `id` and the steps after it until one waits for the caller or ends.
fn render_from(flow: &Flow, ctx: &Context, id: &str, attempt: u32, turn: &mut Turn) {
    let mut cur = Some(id.to_string());
    for _ in 0..MAX_STEPS {
        let Some(step) = cur.as_deref().and_then(|c| flow.step(c)) else {
            return;
        };
        let next = step.next.as_ref().map(|n| n.get_ref().clone());
        match step.kind.get_ref().as_str() {
            "say" => {
                if let Some(t) = &step.text {
                    turn.verbs.push(ctx.say(flow, step, t));
                }
            }
            "play" => {
                let url = step.url.clone().map(|u| ctx.fill(&u)).or_else(|| {
                    let from = step.url_from.as_deref()?;
                    if let Some(k) = from.strip_prefix("callout.") {
                        lookup(&ctx.callout, k)
                    } else {
                        from.strip_prefix("contact.")
                            .and_then(|k| lookup(&ctx.contact, k))
                    }
                });
                match (url, &step.fallback_text) {
                    (Some(u), _) if !u.is_empty() => turn.verbs.push(Verb::play(u)),
                    (_, Some(t)) => turn.verbs.push(ctx.say(flow, step, t)),
                    _ => {}
                }
            }
            "pause" => turn.verbs.push(Verb::Pause {
                length: step.length.unwrap_or(1),
            }),
            "store" => {
                if let (Some(store), Some(v)) = (&step.store, &step.value) {
                    turn.stores.push(StoreOp {
                        target: store.target,
                        key: store.key.clone(),
                        value: ctx.fill(v),
                    });
                }
            }
            "gather" => return gather(flow, ctx, step, attempt, turn),
            "record" => {
                let mut attrs = vec![("action", ctx.action(step.id.get_ref(), 0))];
                if let Some(m) = step.max_length {
                    attrs.push(("maxLength", m.to_string()));
                }
                attrs.push(("method", "POST".to_string()));
                return turn.verbs.push(Verb::Record { attrs });
            }
            "redirect" => {
                let url = step.url.clone().unwrap_or_default();
                return turn.verbs.push(Verb::Redirect {
                    url: ctx.fill(&url),
                });
            }
            "hangup" => return turn.verbs.push(Verb::Hangup),
            _ => return,
        }
        cur = next;
    }
}
