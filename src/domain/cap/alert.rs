//! `<alert>` from the element tree: required elements, enumerations, times, references.

use chrono::{DateTime, FixedOffset};

use super::xml::{self, Element};
use super::{
    Alert, Area, CapEnum, CapError, CapErrorKind, DEFAULT_LANGUAGE, Info, Pos, Reference, Resource,
    Scope,
};

/// The CAP 1.2 namespace; an `<alert>` in any other is refused.
pub const CAP_NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";

const CAP_FAMILY: &str = "urn:oasis:names:tc:emergency:cap:";

/// Parses one CAP 1.2 alert document. See the module docs of [`super`] for what is refused and
/// what is tolerated.
pub fn parse_alert(xml: &str) -> Result<Alert, CapError> {
    let root = xml::parse_document(xml)?;
    if root.name != "alert" {
        let hint = match root.name.as_str() {
            "feed" | "rss" => " (this looks like a feed: read it as one)",
            _ => "",
        };
        return Err(not_cap(
            root.pos,
            format!(
                "the root element is <{}>, not a CAP <alert>{hint}",
                root.name
            ),
        ));
    }
    alert_from(&root)
}

/// Whether `el` is an `<alert>` of some CAP version (for feeds looking for embedded alerts).
pub(super) fn is_any_cap_alert(el: &Element) -> bool {
    el.name == "alert"
        && el
            .ns
            .as_deref()
            .is_some_and(|ns| ns.starts_with(CAP_FAMILY))
}

fn not_cap(pos: Pos, message: String) -> CapError {
    CapError::new(pos, CapErrorKind::NotCap, message)
}

fn invalid(pos: Pos, message: String) -> CapError {
    CapError::new(pos, CapErrorKind::Invalid, message)
}

/// Reads an `<alert>` element (already known to be named `alert`).
pub(super) fn alert_from(el: &Element) -> Result<Alert, CapError> {
    match el.ns.as_deref() {
        Some(CAP_NAMESPACE) => {}
        Some(ns) if ns.starts_with(CAP_FAMILY) => {
            let version = &ns[CAP_FAMILY.len()..];
            return Err(not_cap(
                el.pos,
                format!(
                    "this <alert> is CAP {version} ({ns}); scfm reads CAP 1.2 only ({CAP_NAMESPACE})"
                ),
            ));
        }
        Some(ns) => {
            return Err(not_cap(
                el.pos,
                format!("this <alert> is in the namespace {ns}, not CAP 1.2's {CAP_NAMESPACE}"),
            ));
        }
        None => {
            return Err(not_cap(
                el.pos,
                format!(
                    "this <alert> has no namespace; a CAP 1.2 alert declares xmlns=\"{CAP_NAMESPACE}\""
                ),
            ));
        }
    }
    let f = Fields(el);
    let identifier = f.required("identifier")?;
    no_separators(&identifier, "identifier")?;
    let sender = f.required("sender")?;
    no_separators(&sender, "sender")?;
    let sent = f.required_time("sent")?;
    let status = f.required_enum("status")?;
    let msg_type = f.required_enum("msgType")?;
    let scope: Scope = f.required_enum("scope")?;
    let addresses = f.optional("addresses")?;
    if scope == Scope::Private && addresses.is_none() {
        return Err(invalid(
            el.pos,
            "<alert> has <scope>Private</scope> but no <addresses> (required by CAP 1.2 for \
             private alerts)"
                .into(),
        ));
    }
    let references = match f.optional_at("references")? {
        None => Vec::new(),
        Some((text, pos)) => parse_references(&text, pos)?,
    };
    let infos = f.all("info").map(info_from).collect::<Result<_, _>>()?;
    Ok(Alert {
        identifier: identifier.0,
        sender: sender.0,
        sent,
        status,
        msg_type,
        source: f.optional("source")?,
        scope,
        restriction: f.optional("restriction")?,
        addresses,
        codes: f.all_text("code"),
        note: f.optional("note")?,
        references,
        incidents: f.optional("incidents")?,
        infos,
    })
}

/// CAP: identifiers and senders "MUST NOT include spaces, commas or restricted characters (< and
/// &)" — `<references>` would be ambiguous otherwise.
fn no_separators((text, pos): &(String, Pos), name: &str) -> Result<(), CapError> {
    match text
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, ',' | '<' | '&'))
    {
        None => Ok(()),
        Some(c) => Err(invalid(
            *pos,
            format!(
                "<{name}> {text:?} contains {c:?}; CAP 1.2 forbids spaces, commas, < and & in it"
            ),
        )),
    }
}

fn parse_references(text: &str, pos: Pos) -> Result<Vec<Reference>, CapError> {
    text.split_whitespace()
        .map(|triple| {
            let parts: Vec<&str> = triple.split(',').collect();
            let [sender, identifier, sent] = parts[..] else {
                return Err(invalid(
                    pos,
                    format!(
                        "<references> entry {triple:?} is not sender,identifier,sent (CAP 1.2 \
                         separates the three by commas and entries by spaces)"
                    ),
                ));
            };
            let sent = parse_time(sent).ok_or_else(|| {
                invalid(
                    pos,
                    format!(
                        "<references> entry {triple:?} has a bad sent time {sent:?}; {TIME_FORM}"
                    ),
                )
            })?;
            Ok(Reference {
                sender: sender.to_string(),
                identifier: identifier.to_string(),
                sent,
            })
        })
        .collect()
}

fn info_from(el: &Element) -> Result<Info, CapError> {
    let f = Fields(el);
    let categories = f
        .all("category")
        .map(|c| f.parse_enum(c))
        .collect::<Result<Vec<_>, _>>()?;
    if categories.is_empty() {
        return Err(f.lacks("category"));
    }
    let response_types = f
        .all("responseType")
        .map(|c| f.parse_enum(c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Info {
        language: f
            .optional("language")?
            .unwrap_or_else(|| DEFAULT_LANGUAGE.to_string()),
        categories,
        event: f.required("event")?.0,
        response_types,
        urgency: f.required_enum("urgency")?,
        severity: f.required_enum("severity")?,
        certainty: f.required_enum("certainty")?,
        audience: f.optional("audience")?,
        event_codes: f.pairs("eventCode")?,
        effective: f.optional_time("effective")?,
        onset: f.optional_time("onset")?,
        expires: f.optional_time("expires")?,
        sender_name: f.optional("senderName")?,
        headline: f.optional("headline")?,
        description: f.optional("description")?,
        instruction: f.optional("instruction")?,
        web: f.optional("web")?,
        contact: f.optional("contact")?,
        parameters: f.pairs("parameter")?,
        resources: f
            .all("resource")
            .map(resource_from)
            .collect::<Result<_, _>>()?,
        areas: f.all("area").map(area_from).collect::<Result<_, _>>()?,
    })
}

fn resource_from(el: &Element) -> Result<Resource, CapError> {
    let f = Fields(el);
    let size = match f.optional_at("size")? {
        None => None,
        Some((text, pos)) => Some(text.parse::<u64>().map_err(|_| {
            invalid(
                pos,
                format!("<size> is {text:?}; CAP 1.2 wants a whole number of bytes"),
            )
        })?),
    };
    Ok(Resource {
        resource_desc: f.required("resourceDesc")?.0,
        mime_type: f.required("mimeType")?.0,
        size,
        uri: f.optional("uri")?,
        digest: f.optional("digest")?,
    })
}

fn area_from(el: &Element) -> Result<Area, CapError> {
    let f = Fields(el);
    Ok(Area {
        area_desc: f.required("areaDesc")?.0,
        polygons: f.all_text("polygon"),
        circles: f.all_text("circle"),
        geocodes: f.pairs("geocode")?,
        altitude: f.optional("altitude")?,
        ceiling: f.optional("ceiling")?,
    })
}

const TIME_FORM: &str =
    "CAP 1.2 wants a date, time and UTC offset such as 2026-12-04T10:00:00+07:00";

/// CAP's `YYYY-MM-DDThh:mm:ss±hh:mm`; also `Z` and fractional seconds (see [`super`]).
pub(super) fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    if text.len() < 20 || text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}

/// The CAP children of one element.
struct Fields<'a>(&'a Element);

impl<'a> Fields<'a> {
    /// Children named `name` in the CAP 1.2 namespace or in none.
    fn all(&self, name: &'a str) -> impl Iterator<Item = &'a Element> + use<'a> {
        let parent: &'a Element = self.0;
        parent.children.iter().filter(move |c| {
            c.name == name && matches!(c.ns.as_deref(), None | Some(CAP_NAMESPACE))
        })
    }

    fn all_text(&self, name: &'a str) -> Vec<String> {
        self.all(name)
            .map(|c| c.text.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()
    }

    fn lacks(&self, name: &str) -> CapError {
        invalid(
            self.0.pos,
            format!("<{}> lacks <{name}> (required by CAP 1.2)", self.0.name),
        )
    }

    fn at_most_one(&self, name: &'a str) -> Result<Option<&'a Element>, CapError> {
        let mut it = self.all(name);
        let first = it.next();
        if let Some(second) = it.next() {
            return Err(invalid(
                second.pos,
                format!(
                    "<{}> has a second <{name}>; CAP 1.2 allows one",
                    self.0.name
                ),
            ));
        }
        Ok(first)
    }

    /// Trimmed text and place of an optional element; present but blank counts as absent.
    fn optional_at(&self, name: &'a str) -> Result<Option<(String, Pos)>, CapError> {
        Ok(self.at_most_one(name)?.and_then(|c| {
            let text = c.text.trim();
            (!text.is_empty()).then(|| (text.to_string(), c.pos))
        }))
    }

    fn optional(&self, name: &'a str) -> Result<Option<String>, CapError> {
        Ok(self.optional_at(name)?.map(|(t, _)| t))
    }

    fn required(&self, name: &'a str) -> Result<(String, Pos), CapError> {
        let el = self.at_most_one(name)?.ok_or_else(|| self.lacks(name))?;
        let text = el.text.trim();
        if text.is_empty() {
            return Err(invalid(
                el.pos,
                format!("<{name}> is empty (required by CAP 1.2)"),
            ));
        }
        Ok((text.to_string(), el.pos))
    }

    fn parse_enum<T: CapEnum>(&self, el: &Element) -> Result<T, CapError> {
        let text = el.text.trim();
        T::parse(text).ok_or_else(|| {
            let allowed: Vec<&str> = T::ALL.iter().map(|v| v.as_str()).collect();
            invalid(
                el.pos,
                format!(
                    "<{}> is {text:?}; CAP 1.2 allows {}",
                    el.name,
                    allowed.join(", ")
                ),
            )
        })
    }

    fn required_enum<T: CapEnum>(&self, name: &'a str) -> Result<T, CapError> {
        let el = self.at_most_one(name)?.ok_or_else(|| self.lacks(name))?;
        self.parse_enum(el)
    }

    fn time((text, pos): (String, Pos), name: &str) -> Result<DateTime<FixedOffset>, CapError> {
        parse_time(&text).ok_or_else(|| invalid(pos, format!("<{name}> is {text:?}; {TIME_FORM}")))
    }

    fn required_time(&self, name: &'a str) -> Result<DateTime<FixedOffset>, CapError> {
        Self::time(self.required(name)?, name)
    }

    fn optional_time(&self, name: &'a str) -> Result<Option<DateTime<FixedOffset>>, CapError> {
        self.optional_at(name)?
            .map(|found| Self::time(found, name))
            .transpose()
    }

    /// `<geocode>`, `<parameter>`, `<eventCode>`: `valueName` and `value` children, paired in
    /// order (CAP 1.2 has one pair per element; several pairs in one are tolerated).
    fn pairs(&self, name: &'a str) -> Result<Vec<(String, String)>, CapError> {
        let mut out = Vec::new();
        for el in self.all(name) {
            let f = Fields(el);
            let names: Vec<&Element> = f.all("valueName").collect();
            let values: Vec<&Element> = f.all("value").collect();
            if names.is_empty() {
                return Err(f.lacks("valueName"));
            }
            if names.len() != values.len() {
                return Err(invalid(
                    el.pos,
                    format!(
                        "<{name}> has {} <valueName> but {} <value>; CAP 1.2 pairs them",
                        names.len(),
                        values.len()
                    ),
                ));
            }
            for (n, v) in names.iter().zip(values) {
                let n = n.text.trim();
                if n.is_empty() {
                    return Err(invalid(
                        el.pos,
                        format!("<{name}> has an empty <valueName>"),
                    ));
                }
                out.push((n.to_string(), v.text.trim().to_string()));
            }
        }
        Ok(out)
    }
}
