//! Tests of CAP parsing, hostile input, feeds and the area map, on fixtures under
//! `tests/fixtures/cap/`.
#![allow(clippy::unwrap_used)]

mod alert;
mod area_map;
mod feed;
mod hostile;
mod invalid;

use chrono::{DateTime, FixedOffset, Utc};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cap/",
            $name
        ))
    };
}
pub(crate) use fixture;

/// A time in CAP's form.
fn t(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    t(text).with_timezone(&Utc)
}

/// A minimal valid alert, header on lines 1-7; `alert_extra` then `info` start line 8.
fn alert_with(alert_extra: &str, info: &str) -> String {
    format!(
        r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>X-1</identifier>
<sender>s@example.org</sender>
<sent>2026-12-04T10:00:00+07:00</sent>
<status>Actual</status>
<msgType>Alert</msgType>
<scope>Public</scope>
{alert_extra}{info}</alert>"#
    )
}

const MINIMAL_INFO: &str = "<info><category>Met</category><event>Flood</event>\
<urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty></info>\n";
