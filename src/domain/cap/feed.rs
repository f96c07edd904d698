//! Atom and RSS 2.0 feeds that announce CAP alerts: one [`FeedEntry`] per `<entry>` / `<item>`,
//! with a link to fetch the alert from, or the alert itself when the feed embeds it. The same
//! hostile-input rules as for alerts apply (see the [`super`] module docs).

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::alert::{alert_from, is_any_cap_alert, parse_time};
use super::xml::{self, Element};
use super::{Alert, CapError, CapErrorKind, Pos};

pub const ATOM_NAMESPACE: &str = "http://www.w3.org/2005/Atom";

/// The media type of a CAP document.
pub const CAP_MEDIA_TYPE: &str = "application/cap+xml";

/// One announced alert.
///
/// An entry's own faults (no id, a bad date) refuse the whole feed, with their line. An embedded
/// alert that is not valid CAP 1.2 does not: its error is kept in `alert_error`, so one bad
/// alert does not hide the others. An entry with neither a link nor an alert is kept too (both
/// `None`), for the caller to show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedEntry {
    /// Atom `<id>`; RSS `<guid>`, else `<link>`, else the enclosure's URL.
    pub id: String,
    /// Atom `<updated>`; RSS `<pubDate>`.
    pub updated: Option<DateTime<FixedOffset>>,
    /// Where to fetch the CAP document, as written (a relative URL is left to the caller to
    /// resolve against the feed's).
    pub cap_url: Option<String>,
    /// The first CAP `<alert>` found inside the entry (Atom `<content>`, or an RSS extension).
    pub alert: Option<Alert>,
    /// Why the embedded alert was refused, if it was.
    pub alert_error: Option<CapError>,
}

fn not_feed(pos: Pos, message: String) -> CapError {
    CapError::new(pos, CapErrorKind::NotCap, message)
}

fn invalid(pos: Pos, message: String) -> CapError {
    CapError::new(pos, CapErrorKind::Invalid, message)
}

/// Parses an Atom feed (`<feed xmlns="http://www.w3.org/2005/Atom">`) or an RSS 2.0 feed
/// (`<rss><channel>`), entries in document order.
pub fn parse_feed(xml: &str) -> Result<Vec<FeedEntry>, CapError> {
    let root = xml::parse_document(xml)?;
    match (root.name.as_str(), root.ns.as_deref()) {
        ("feed", None | Some(ATOM_NAMESPACE)) => {
            children(&root, "entry", AtomNs).map(atom_entry).collect()
        }
        ("rss", None) => {
            let channel = children(&root, "channel", NoNs).next().ok_or_else(|| {
                not_feed(
                    root.pos,
                    "<rss> lacks <channel> (required by RSS 2.0)".into(),
                )
            })?;
            children(channel, "item", NoNs).map(rss_item).collect()
        }
        ("RDF", _) => Err(not_feed(
            root.pos,
            "this is an RSS 1.0 (RDF) feed; scfm reads Atom and RSS 2.0 feeds".into(),
        )),
        ("alert", _) => Err(not_feed(
            root.pos,
            "this is a single CAP alert, not a feed: read it as an alert".into(),
        )),
        (name, _) => Err(not_feed(
            root.pos,
            format!("the root element is <{name}>, neither an Atom <feed> nor an RSS 2.0 <rss>"),
        )),
    }
}

#[derive(Clone, Copy)]
struct AtomNs;
#[derive(Clone, Copy)]
struct NoNs;

trait NsRule: Copy {
    fn accepts(self, ns: Option<&str>) -> bool;
}
impl NsRule for AtomNs {
    /// Atom elements, or unqualified ones in a feed that forgot its namespace.
    fn accepts(self, ns: Option<&str>) -> bool {
        matches!(ns, None | Some(ATOM_NAMESPACE))
    }
}
impl NsRule for NoNs {
    fn accepts(self, ns: Option<&str>) -> bool {
        ns.is_none()
    }
}

fn children<'a>(
    el: &'a Element,
    name: &'a str,
    rule: impl NsRule + 'a,
) -> impl Iterator<Item = &'a Element> + 'a {
    el.children
        .iter()
        .filter(move |c| c.name == name && rule.accepts(c.ns.as_deref()))
}

fn text_of<'a>(el: &'a Element, name: &'a str, rule: impl NsRule + 'a) -> Option<(&'a str, Pos)> {
    children(el, name, rule)
        .map(|c| (c.text.trim(), c.pos))
        .find(|(t, _)| !t.is_empty())
}

/// `type="application/cap+xml"`, ignoring case and parameters.
fn is_cap_type(media_type: Option<&str>) -> bool {
    media_type.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(CAP_MEDIA_TYPE))
    })
}

/// The first CAP alert inside `entry`, parsed, or its refusal.
fn embedded(entry: &Element) -> (Option<Alert>, Option<CapError>) {
    match entry
        .descendants()
        .into_iter()
        .find(|e| is_any_cap_alert(e))
    {
        None => (None, None),
        Some(el) => match alert_from(el) {
            Ok(alert) => (Some(alert), None),
            Err(e) => (None, Some(e)),
        },
    }
}

/// The link to the alert: a `<link>` (or out-of-line `<content src>`) of type
/// `application/cap+xml` first, else the first `<link>` whose `rel` is `alternate` (Atom's
/// default when `rel` is absent). `self`, `related`, `via` and other links are not the alert.
fn atom_cap_url(entry: &Element) -> Option<String> {
    let mut alternate = None;
    for c in &entry.children {
        if !AtomNs.accepts(c.ns.as_deref()) {
            continue;
        }
        let href = match c.name.as_str() {
            "link" => c.attr("href"),
            "content" => c.attr("src"),
            _ => None,
        };
        let Some(href) = href.map(str::trim).filter(|h| !h.is_empty()) else {
            continue;
        };
        if is_cap_type(c.attr("type")) {
            return Some(href.to_string());
        }
        let rel = c.attr("rel").map(str::trim).unwrap_or("alternate");
        if c.name == "link" && rel == "alternate" && alternate.is_none() {
            alternate = Some(href.to_string());
        }
    }
    alternate
}

fn atom_entry(entry: &Element) -> Result<FeedEntry, CapError> {
    let (id, _) = text_of(entry, "id", AtomNs)
        .ok_or_else(|| invalid(entry.pos, "<entry> lacks <id> (required by Atom)".into()))?;
    let updated = match text_of(entry, "updated", AtomNs) {
        None => None,
        Some((text, pos)) => Some(DateTime::parse_from_rfc3339(text).map_err(|_| {
            invalid(
                pos,
                format!("<updated> is {text:?}; Atom wants an RFC 3339 time such as 2026-12-04T10:00:00+07:00"),
            )
        })?),
    };
    let (alert, alert_error) = embedded(entry);
    Ok(FeedEntry {
        id: id.to_string(),
        updated,
        cap_url: atom_cap_url(entry),
        alert,
        alert_error,
    })
}

fn rss_item(item: &Element) -> Result<FeedEntry, CapError> {
    let guid = children(item, "guid", NoNs).find(|g| !g.text.trim().is_empty());
    let link = text_of(item, "link", NoNs).map(|(t, _)| t);
    let enclosures: Vec<&Element> = children(item, "enclosure", NoNs).collect();
    let cap_enclosure = enclosures
        .iter()
        .filter(|e| is_cap_type(e.attr("type")))
        .find_map(|e| e.attr("url").map(str::trim).filter(|u| !u.is_empty()));
    // A guid is a permalink unless isPermaLink="false" (RSS 2.0).
    let permalink = guid
        .filter(|g| g.attr("isPermaLink").map(str::trim) != Some("false"))
        .map(|g| g.text.trim())
        .filter(|g| g.starts_with("http://") || g.starts_with("https://"));
    let cap_url = cap_enclosure.or(link).or(permalink).map(str::to_string);
    let any_enclosure = enclosures.iter().find_map(|e| e.attr("url"));
    let id = guid
        .map(|g| g.text.trim())
        .or(link)
        .or(any_enclosure)
        .ok_or_else(|| {
            invalid(
                item.pos,
                "<item> has neither <guid> nor <link>: scfm cannot tell it from the others".into(),
            )
        })?;
    let updated = match text_of(item, "pubDate", NoNs) {
        None => None,
        Some((text, pos)) => Some(
            DateTime::parse_from_rfc2822(text)
                .ok()
                .or_else(|| parse_time(text))
                .ok_or_else(|| {
                    invalid(
                        pos,
                        format!("<pubDate> is {text:?}; RSS 2.0 wants an RFC 822 date such as Fri, 04 Dec 2026 10:00:00 +0700"),
                    )
                })?,
        ),
    };
    let (alert, alert_error) = embedded(item);
    Ok(FeedEntry {
        id: id.to_string(),
        updated,
        cap_url,
        alert,
        alert_error,
    })
}
