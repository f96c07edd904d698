//! The fake's small TwiML interpreter (providers.md §8, §10 "Call engine"): on answer it
//! requests the call's `Url` with signed voice parameters, then runs `Say`, `Play`, `Pause`,
//! `Gather` (digits from the scenario script), `Record`, `Redirect`, `Hangup`/`Reject`, following
//! `action`/`Redirect` URLs, with a loop guard, and keeps a per-call transcript.
//!
//! Not implemented: `FallbackUrl`, HTTP redirects of the document fetch (reqwest follows them),
//! Content-Type checks, recording status callbacks, speech input.

use std::sync::Arc;

use quick_xml::events::Event;

use super::webhooks::{send_webhook, voice_params};
use super::{FakeConfig, Flavour, Shared};

/// Documents per call before the interpreter gives up (a looping flow must fail, not hang).
const MAX_DOCUMENTS: usize = 50;

#[derive(Clone, Debug, PartialEq)]
pub enum TranscriptEntry {
    Fetch {
        url: String,
        method: String,
        params: Vec<(String, String)>,
        status: Option<u16>,
        body: String,
    },
    Verb {
        name: String,
        attrs: Vec<(String, String)>,
        text: String,
    },
    Digits(String),
    Error(String),
    Hangup(String),
}

#[derive(Clone, Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse(xml: &str) -> Result<Node, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    let open = |e: &quick_xml::events::BytesStart<'_>| -> Result<Node, String> {
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            let value = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
            attrs.push((String::from_utf8_lossy(a.key.as_ref()).into_owned(), value));
        }
        Ok(Node {
            name,
            attrs,
            ..Node::default()
        })
    };
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => stack.push(open(&e)?),
            Event::Empty(e) => {
                let node = open(&e)?;
                stack.last_mut().ok_or("bad nesting")?.children.push(node);
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("bad nesting")?;
                stack
                    .last_mut()
                    .ok_or("unbalanced end tag")?
                    .children
                    .push(node);
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(text.trim());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut root = stack.pop().ok_or("empty document")?;
    if !stack.is_empty() {
        return Err("unclosed element".into());
    }
    match root.children.len() {
        1 => Ok(root.children.remove(0)),
        0 => Err("no root element".into()),
        _ => Err("several root elements".into()),
    }
}

fn resolve(current: &str, target: &str) -> Option<String> {
    let base = reqwest::Url::parse(current).ok()?;
    base.join(target.trim()).ok().map(|u| u.to_string())
}

enum Next {
    Fetch {
        url: String,
        method: String,
        extra: Vec<(String, String)>,
    },
    End(String),
}

fn note(shared: &Shared, sid: &str, entry: TranscriptEntry) {
    if let Some(call) = shared.state().calls.iter_mut().find(|c| c.sid == sid) {
        call.transcript.push(entry);
    }
}

fn still_live(shared: &Shared, sid: &str) -> bool {
    shared
        .state()
        .calls
        .iter()
        .any(|c| c.sid == sid && !c.is_final())
}

/// Run the call's document(s) until hang-up; the caller then completes the call.
pub(super) async fn run(shared: &Arc<Shared>, config: &FakeConfig, sid: &str) {
    let Some(call) = shared.state().calls.iter().find(|c| c.sid == sid).cloned() else {
        return;
    };
    let tick = config.tick;
    let mut gathers = 0usize;
    let mut current_url = call.param("Url").map(str::to_string).unwrap_or_default();
    let mut next = match call.param("Url") {
        Some(url) => Next::Fetch {
            url: url.to_string(),
            method: call.param("Method").unwrap_or("POST").to_string(),
            extra: Vec::new(),
        },
        None => Next::End(String::new()),
    };
    let mut inline = if call.param("Url").is_none() {
        call.param("Twiml").map(str::to_string)
    } else {
        None
    };
    for round in 0..MAX_DOCUMENTS {
        let body = if let Some(doc) = inline.take() {
            doc
        } else {
            let Next::Fetch { url, method, extra } = &next else {
                break;
            };
            // Somleng's first voice request says `ringing` (providers.md §6.1).
            let status = if round == 0 && config.flavour == Flavour::Somleng {
                "ringing"
            } else {
                "in-progress"
            };
            let mut params = voice_params(config, &call, status);
            params.extend(extra.iter().cloned());
            current_url = url.clone();
            let record = send_webhook(shared, config, "voice", sid, url, method, &params).await;
            note(
                shared,
                sid,
                TranscriptEntry::Fetch {
                    url: url.clone(),
                    method: method.clone(),
                    params,
                    status: record.status,
                    body: record.body.clone(),
                },
            );
            let ok = record.status.is_some_and(|s| (200..300).contains(&s));
            if record.error.is_some() || (config.flavour == Flavour::Twilio && !ok) {
                note(
                    shared,
                    sid,
                    TranscriptEntry::Error(format!(
                        "document fetch failed: {:?} {:?}",
                        record.status, record.error
                    )),
                );
                return;
            }
            record.body
        };
        let doc = match parse(&body) {
            Ok(doc) if doc.name == "Response" => doc,
            Ok(doc) => {
                return note(
                    shared,
                    sid,
                    TranscriptEntry::Error(format!("root is <{}>, not <Response>", doc.name)),
                );
            }
            Err(e) => return note(shared, sid, TranscriptEntry::Error(format!("bad XML: {e}"))),
        };
        next = Next::End("end of document".into());
        for verb in &doc.children {
            if !still_live(shared, sid) {
                return;
            }
            note(
                shared,
                sid,
                TranscriptEntry::Verb {
                    name: verb.name.clone(),
                    attrs: verb.attrs.clone(),
                    text: verb.text.clone(),
                },
            );
            let method = verb.attr("method").unwrap_or("POST").to_string();
            let action = verb
                .attr("action")
                .and_then(|a| resolve(&current_url, a))
                .unwrap_or_else(|| current_url.clone());
            match verb.name.as_str() {
                "Say" | "Play" => tokio::time::sleep(tick * 2).await,
                "Pause" if config.flavour == Flavour::Twilio => {
                    let secs: u32 = verb
                        .attr("length")
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(1);
                    tokio::time::sleep(tick * secs).await;
                }
                "Gather" => {
                    let digits = call
                        .scenario
                        .digits
                        .get(gathers)
                        .cloned()
                        .unwrap_or_default();
                    if call.scenario.hangup_during_gather && gathers == 0 {
                        note(
                            shared,
                            sid,
                            TranscriptEntry::Hangup("callee hung up during gather".into()),
                        );
                        return;
                    }
                    gathers += 1;
                    let finish = verb.attr("finishOnKey").unwrap_or("#");
                    let pressed = if !finish.is_empty() {
                        digits.strip_suffix(finish).unwrap_or(&digits)
                    } else {
                        &digits
                    };
                    note(shared, sid, TranscriptEntry::Digits(digits.clone()));
                    let on_empty = verb.attr("actionOnEmptyResult") == Some("true");
                    if !pressed.is_empty() || on_empty {
                        let extra = if pressed.is_empty() {
                            Vec::new()
                        } else {
                            vec![("Digits".to_string(), pressed.to_string())]
                        };
                        next = Next::Fetch {
                            url: action,
                            method,
                            extra,
                        };
                        break;
                    }
                    tokio::time::sleep(tick * 5).await;
                }
                "Record" => {
                    let secs = call.scenario.record_secs;
                    tokio::time::sleep(tick * secs as u32).await;
                    let extra = vec![
                        (
                            "RecordingUrl".to_string(),
                            format!("{}/recordings/RE{}", shared.base_url, sid),
                        ),
                        ("RecordingDuration".to_string(), secs.to_string()),
                    ];
                    next = Next::Fetch {
                        url: action,
                        method,
                        extra,
                    };
                    break;
                }
                "Redirect" => {
                    next = match resolve(&current_url, &verb.text)
                        .filter(|_| !verb.text.trim().is_empty())
                    {
                        Some(url) => Next::Fetch {
                            url,
                            method,
                            extra: Vec::new(),
                        },
                        None => Next::End("empty <Redirect>".into()),
                    };
                    break;
                }
                "Hangup" | "Reject" => {
                    next = Next::End(format!("<{}>", verb.name));
                    break;
                }
                other => {
                    next = Next::End(format!("unsupported verb <{other}>"));
                    break;
                }
            }
        }
        if let Next::End(reason) = &next {
            note(shared, sid, TranscriptEntry::Hangup(reason.clone()));
            return;
        }
    }
    note(
        shared,
        sid,
        TranscriptEntry::Error(format!("loop guard: more than {MAX_DOCUMENTS} documents")),
    );
}
