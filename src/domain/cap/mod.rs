//! CAP 1.2 alerts in (issue 14), the pure half: parsing an OASIS Common Alerting Protocol 1.2
//! `<alert>`, the Atom and RSS feeds that announce alerts, and the TOML area map that turns an
//! alert's `<area>`s into contact filters and its languages into what a call says. No IO here:
//! the service fetches documents, keeps them, and turns a [`Resolution`] into a draft callout.
//!
//! Everything that reads XML goes through one hardened reader (`cap::xml`), which refuses hostile input before looking at
//! it further: any `<!DOCTYPE` (so no entity is ever defined, let alone expanded), any entity
//! reference other than XML's five and numeric character references, documents over
//! [`MAX_CAP_BYTES`] and nesting deeper than [`MAX_DEPTH`].
//!
//! Leniencies, where the standard is stricter than real publishers (each is deliberate):
//! - times: CAP's `2026-12-04T10:00:00+07:00`, and also `Z` and fractional seconds (both are
//!   unambiguous); a time without an offset is refused;
//! - children of a namespaced `<alert>` are read when they are in the CAP 1.2 namespace or in no
//!   namespace at all (a prefixed `<cap:alert>` with unprefixed children); elements in any other
//!   namespace are extensions and ignored, as are unknown CAP elements;
//! - element order is not checked; an element CAP allows once, given twice, is refused;
//! - an optional element present but empty (`<polygon></polygon>`) counts as absent.
//!
//! Enumerations are matched exactly, as the schema does (`Actual`, not `actual`).

mod alert;
pub mod area_map;
pub mod feed;
pub mod resolve;
mod xml;

#[cfg(test)]
mod tests;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;

pub use alert::{CAP_NAMESPACE, parse_alert};
pub use area_map::{AreaMap, AreaMapError, LanguageEntry, MapArea, parse_area_map};
pub use feed::{FeedEntry, parse_feed};
pub use resolve::{InfoPlan, MatchedArea, Resolution, UnmatchedArea, say_text};
pub use xml::{MAX_CAP_BYTES, MAX_DEPTH};

/// CAP's default `<language>` when an `<info>` names none.
pub const DEFAULT_LANGUAGE: &str = "en-US";

/// Why a CAP document or feed was refused, with the place of the problem (1-based line and
/// column, counted in characters) and a sentence a responder can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct CapError {
    pub line: usize,
    pub column: usize,
    pub kind: CapErrorKind,
    pub message: String,
}

/// The family of a [`CapError`], for callers that log or count refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CapErrorKind {
    /// Over [`MAX_CAP_BYTES`].
    TooLarge,
    /// Hostile or needlessly dangerous XML: a DOCTYPE, an entity other than the predefined five,
    /// nesting over [`MAX_DEPTH`]. Nothing of it was expanded.
    Refused,
    /// Not well-formed XML (unclosed tag, bad markup, undeclared prefix).
    Malformed,
    /// Well-formed, but not a CAP 1.2 alert or not a feed (wrong root, wrong namespace).
    NotCap,
    /// A CAP 1.2 alert that breaks the standard: a required element missing, a value outside an
    /// enumeration, a time without offset.
    Invalid,
}

impl CapError {
    pub(crate) fn new(pos: Pos, kind: CapErrorKind, message: impl Into<String>) -> Self {
        CapError {
            line: pos.line,
            column: pos.column,
            kind,
            message: message.into(),
        }
    }
}

/// A place in a document: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub const START: Pos = Pos { line: 1, column: 1 };
}

/// Implemented by every CAP enumeration: its exact spelling in the standard.
pub trait CapEnum: Sized + Copy + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
    fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == text)
    }
}

macro_rules! cap_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum $name { $($variant),+ }

        impl CapEnum for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

cap_enum!(
    /// `<status>`: the handling code. Only `Actual` is meant for the public.
    Status { Actual => "Actual", Exercise => "Exercise", System => "System", Test => "Test", Draft => "Draft" }
);
cap_enum!(
    /// `<msgType>`.
    MsgType { Alert => "Alert", Update => "Update", Cancel => "Cancel", Ack => "Ack", Error => "Error" }
);
cap_enum!(
    /// `<scope>`.
    Scope { Public => "Public", Restricted => "Restricted", Private => "Private" }
);
cap_enum!(
    /// `<category>` of an `<info>`.
    Category {
        Geo => "Geo", Met => "Met", Safety => "Safety", Security => "Security", Rescue => "Rescue",
        Fire => "Fire", Health => "Health", Env => "Env", Transport => "Transport",
        Infra => "Infra", Cbrne => "CBRNE", Other => "Other",
    }
);
cap_enum!(
    /// `<responseType>` of an `<info>`.
    ResponseType {
        Shelter => "Shelter", Evacuate => "Evacuate", Prepare => "Prepare", Execute => "Execute",
        Avoid => "Avoid", Monitor => "Monitor", Assess => "Assess", AllClear => "AllClear",
        None => "None",
    }
);
cap_enum!(
    /// `<urgency>`.
    Urgency { Immediate => "Immediate", Expected => "Expected", Future => "Future", Past => "Past", Unknown => "Unknown" }
);
cap_enum!(
    /// `<severity>`.
    Severity { Extreme => "Extreme", Severe => "Severe", Moderate => "Moderate", Minor => "Minor", Unknown => "Unknown" }
);
cap_enum!(
    /// `<certainty>` (CAP 1.2 dropped 1.0's `Very Likely`).
    Certainty { Observed => "Observed", Likely => "Likely", Possible => "Possible", Unlikely => "Unlikely", Unknown => "Unknown" }
);

/// One CAP 1.2 `<alert>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub identifier: String,
    pub sender: String,
    pub sent: DateTime<FixedOffset>,
    pub status: Status,
    pub msg_type: MsgType,
    pub source: Option<String>,
    pub scope: Scope,
    pub restriction: Option<String>,
    /// Required by CAP when `scope` is `Private` (checked).
    pub addresses: Option<String>,
    pub codes: Vec<String>,
    pub note: Option<String>,
    /// Earlier messages this one updates, cancels or acknowledges.
    pub references: Vec<Reference>,
    pub incidents: Option<String>,
    pub infos: Vec<Info>,
}

/// One `sender,identifier,sent` triple of `<references>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    pub sender: String,
    pub identifier: String,
    pub sent: DateTime<FixedOffset>,
}

/// One `<info>` block: the event in one language.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Info {
    /// RFC 3066 code as given, or [`DEFAULT_LANGUAGE`].
    pub language: String,
    /// At least one.
    pub categories: Vec<Category>,
    pub event: String,
    pub response_types: Vec<ResponseType>,
    pub urgency: Urgency,
    pub severity: Severity,
    pub certainty: Certainty,
    pub audience: Option<String>,
    /// `(valueName, value)` pairs of `<eventCode>`.
    pub event_codes: Vec<(String, String)>,
    pub effective: Option<DateTime<FixedOffset>>,
    pub onset: Option<DateTime<FixedOffset>>,
    pub expires: Option<DateTime<FixedOffset>>,
    pub sender_name: Option<String>,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    pub web: Option<String>,
    pub contact: Option<String>,
    /// `(valueName, value)` pairs of `<parameter>`, CAP's extension point.
    pub parameters: Vec<(String, String)>,
    pub resources: Vec<Resource>,
    pub areas: Vec<Area>,
}

/// One `<resource>` (`<derefUri>`, inline base64 content, is not kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub resource_desc: String,
    pub mime_type: String,
    /// Bytes, as the sender states it.
    pub size: Option<u64>,
    pub uri: Option<String>,
    pub digest: Option<String>,
}

/// One `<area>`. Shapes are kept as CAP's strings (`lat,lon lat,lon …`, `lat,lon radius`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Area {
    pub area_desc: String,
    pub polygons: Vec<String>,
    pub circles: Vec<String>,
    /// `(valueName, value)` pairs of `<geocode>`.
    pub geocodes: Vec<(String, String)>,
    pub altitude: Option<String>,
    pub ceiling: Option<String>,
}

impl Info {
    /// True once `expires` is at or before `now`. An info without `expires` never expires here
    /// (CAP leaves that to the recipient's policy).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }
}

impl Reference {
    /// The same message: equal sender and identifier, and the same instant for `sent` (offsets
    /// may differ).
    pub fn matches(&self, alert: &Alert) -> bool {
        self.sender == alert.sender
            && self.identifier == alert.identifier
            && self.sent == alert.sent
    }
}

/// Why an alert may not start a callout any more; its Display is the refusal for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alert {identifier} from {sender} expired at {expired_at}")]
pub struct AlertExpired {
    pub identifier: String,
    pub sender: String,
    /// The latest `expires` of its infos, in the sender's offset (RFC 3339).
    pub expired_at: String,
}

impl Alert {
    /// This alert's own `sender,identifier,sent`, the triple later messages reference.
    pub fn reference(&self) -> Reference {
        Reference {
            sender: self.sender.clone(),
            identifier: self.identifier.clone(),
            sent: self.sent,
        }
    }

    /// Expired when it has infos and every one of them is expired. An alert without infos (a
    /// Cancel or Ack often has none) never expires here.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        !self.infos.is_empty() && self.infos.iter().all(|i| i.is_expired(now))
    }

    /// The infos still in force at `now`, in document order.
    pub fn live_infos(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Info> {
        self.infos.iter().filter(move |i| !i.is_expired(now))
    }

    /// When the alert expired (the latest `expires` of its infos), if [`Alert::is_expired`].
    pub fn expired_at(&self, now: DateTime<Utc>) -> Option<DateTime<FixedOffset>> {
        if !self.is_expired(now) {
            return None;
        }
        self.infos.iter().filter_map(|i| i.expires).max()
    }

    /// `Err` with the operator's message (`alert X from Y expired at …`) when expired.
    pub fn check_not_expired(&self, now: DateTime<Utc>) -> Result<(), AlertExpired> {
        match self.expired_at(now) {
            None => Ok(()),
            Some(at) => Err(AlertExpired {
                identifier: self.identifier.clone(),
                sender: self.sender.clone(),
                expired_at: at.to_rfc3339(),
            }),
        }
    }
}

/// Whether every info of `alert` has expired at `now` (see [`Alert::is_expired`]).
pub fn expired(alert: &Alert, now: DateTime<Utc>) -> bool {
    alert.is_expired(now)
}
