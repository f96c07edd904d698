//! Malformed and invalid alerts: each refusal with its exact line, column and message.

use super::super::*;
use super::{MINIMAL_INFO, alert_with, fixture, t};

#[test]
fn unclosed_tag_names_both_places() {
    let e = parse_alert(fixture!("unclosed_tag.xml")).unwrap_err();
    assert_eq!(e.kind, CapErrorKind::Malformed);
    assert_eq!(
        e.to_string(),
        "line 15, column 3: </info> closes <event>, opened at line 11: is </event> missing or \
         misspelt?"
    );
}

#[test]
fn truncated_document_names_the_open_element() {
    let e = parse_alert(fixture!("truncated.xml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 9, column 3: <info> is never closed: the document ends before </info>"
    );
}

#[test]
fn missing_identifier() {
    let e = parse_alert(fixture!("missing_identifier.xml")).unwrap_err();
    assert_eq!(e.kind, CapErrorKind::Invalid);
    assert_eq!(
        e.to_string(),
        "line 3, column 1: <alert> lacks <identifier> (required by CAP 1.2)"
    );
}

#[test]
fn missing_event_names_the_first_bad_info() {
    let e = parse_alert(fixture!("missing_event.xml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 9, column 3: <info> lacks <event> (required by CAP 1.2)"
    );
}

#[test]
fn bad_msg_type() {
    let e = parse_alert(fixture!("bad_msg_type.xml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 7, column 3: <msgType> is \"Warning\"; CAP 1.2 allows Alert, Update, Cancel, Ack, Error"
    );
}

#[test]
fn bad_date() {
    let e = parse_alert(fixture!("bad_date.xml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 15, column 5: <expires> is \"04/12/2026 10:00\"; CAP 1.2 wants a date, time and UTC \
         offset such as 2026-12-04T10:00:00+07:00"
    );
}

fn invalid_message(xml: &str) -> (usize, String) {
    let e = parse_alert(xml).unwrap_err();
    assert_eq!(e.kind, CapErrorKind::Invalid, "{e}");
    (e.line, e.message)
}

#[test]
fn times_need_an_offset_and_may_use_z() {
    let no_offset = alert_with("", MINIMAL_INFO).replace("10:00:00+07:00", "10:00:00");
    assert_eq!(
        invalid_message(&no_offset),
        (
            4,
            "<sent> is \"2026-12-04T10:00:00\"; CAP 1.2 wants a date, time and UTC offset such \
             as 2026-12-04T10:00:00+07:00"
                .into()
        )
    );
    let zulu = alert_with("", MINIMAL_INFO).replace("10:00:00+07:00", "03:00:00.5Z");
    let a = parse_alert(&zulu).unwrap();
    assert_eq!(a.sent, t("2026-12-04T03:00:00.5+00:00"));
}

#[test]
fn identifiers_may_not_hold_separators() {
    let xml = alert_with("", "").replace("X-1", "X 1");
    assert_eq!(
        invalid_message(&xml),
        (
            2,
            "<identifier> \"X 1\" contains ' '; CAP 1.2 forbids spaces, commas, < and & in it"
                .into()
        )
    );
    let xml = alert_with("", "").replace("s@example.org", "a,b");
    assert_eq!(invalid_message(&xml).0, 3);
}

#[test]
fn enumerations_are_exact() {
    let xml = alert_with("", "").replace(">Actual<", ">actual<");
    assert_eq!(
        invalid_message(&xml),
        (
            5,
            "<status> is \"actual\"; CAP 1.2 allows Actual, Exercise, System, Test, Draft".into()
        )
    );
    let xml = alert_with("", &MINIMAL_INFO.replace(">Likely<", ">Very Likely<"));
    assert_eq!(
        invalid_message(&xml).1,
        "<certainty> is \"Very Likely\"; CAP 1.2 allows Observed, Likely, Possible, Unlikely, Unknown"
    );
    let xml = alert_with("", &MINIMAL_INFO.replace(">Met<", ">Weather<"));
    assert!(
        invalid_message(&xml)
            .1
            .starts_with("<category> is \"Weather\"")
    );
}

#[test]
fn structural_rules() {
    let private = alert_with("", "").replace(">Public<", ">Private<");
    assert_eq!(
        invalid_message(&private),
        (
            1,
            "<alert> has <scope>Private</scope> but no <addresses> (required by CAP 1.2 for \
             private alerts)"
                .into()
        )
    );
    let private =
        alert_with("<addresses>ops center</addresses>\n", "").replace(">Public<", ">Private<");
    assert_eq!(
        parse_alert(&private).unwrap().addresses.as_deref(),
        Some("ops center")
    );

    let twice = alert_with("<identifier>X-2</identifier>\n", "");
    assert_eq!(
        invalid_message(&twice),
        (
            8,
            "<alert> has a second <identifier>; CAP 1.2 allows one".into()
        )
    );
    let empty = alert_with("", "").replace(">X-1<", "> <");
    assert_eq!(
        invalid_message(&empty),
        (2, "<identifier> is empty (required by CAP 1.2)".into())
    );
    let no_category = alert_with("", &MINIMAL_INFO.replace("<category>Met</category>", ""));
    assert_eq!(
        invalid_message(&no_category),
        (8, "<info> lacks <category> (required by CAP 1.2)".into())
    );
}

#[test]
fn references_must_be_triples() {
    let xml = alert_with("<references>s@example.org,X-0</references>\n", "");
    assert_eq!(
        invalid_message(&xml),
        (
            8,
            "<references> entry \"s@example.org,X-0\" is not sender,identifier,sent (CAP 1.2 \
             separates the three by commas and entries by spaces)"
                .into()
        )
    );
    let xml = alert_with("<references>s@example.org,X-0,yesterday</references>\n", "");
    assert!(
        invalid_message(&xml)
            .1
            .starts_with("<references> entry \"s@example.org,X-0,yesterday\" has a bad sent time")
    );
}

#[test]
fn resources_and_geocodes_are_checked() {
    let info = MINIMAL_INFO.replace(
        "</info>",
        "<resource><resourceDesc>map</resourceDesc><mimeType>image/png</mimeType>\
         <size>big</size></resource></info>",
    );
    assert_eq!(
        invalid_message(&alert_with("", &info)).1,
        "<size> is \"big\"; CAP 1.2 wants a whole number of bytes"
    );
    let info = MINIMAL_INFO.replace(
        "</info>",
        "<resource><resourceDesc>map</resourceDesc></resource></info>",
    );
    assert_eq!(
        invalid_message(&alert_with("", &info)).1,
        "<resource> lacks <mimeType> (required by CAP 1.2)"
    );
    let info = MINIMAL_INFO.replace(
        "</info>",
        "<area><areaDesc>x</areaDesc><geocode><valueName>UGC</valueName></geocode></area></info>",
    );
    assert_eq!(
        invalid_message(&alert_with("", &info)).1,
        "<geocode> has 1 <valueName> but 0 <value>; CAP 1.2 pairs them"
    );
    let info = MINIMAL_INFO.replace("</info>", "<area><polygon>1,2 3,4</polygon></area></info>");
    assert_eq!(
        invalid_message(&alert_with("", &info)).1,
        "<area> lacks <areaDesc> (required by CAP 1.2)"
    );
}

#[test]
fn blank_optional_elements_count_as_absent() {
    let info = MINIMAL_INFO.replace(
        "</info>",
        "<headline> </headline><area><areaDesc>x</areaDesc><polygon></polygon></area></info>",
    );
    let a = parse_alert(&alert_with("<note></note>", &info)).unwrap();
    assert_eq!(a.note, None);
    assert_eq!(a.infos[0].headline, None);
    assert!(a.infos[0].areas[0].polygons.is_empty());
}
