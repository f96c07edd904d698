use std::time::{Duration, Instant};

use super::super::*;
use super::{MINIMAL_INFO, alert_with, fixture};

/// Parsing hostile input must not expand anything; a second is orders of magnitude more than
/// refusing takes, and far less than expanding a billion laughs would.
const FAST: Duration = Duration::from_secs(1);

fn refused_quickly(xml: &str) -> CapError {
    let start = Instant::now();
    let e = parse_alert(xml).unwrap_err();
    assert!(start.elapsed() < FAST, "took {:?}", start.elapsed());
    e
}

#[test]
fn xxe_is_refused_at_the_doctype() {
    let e = refused_quickly(fixture!("xxe.xml"));
    assert_eq!(e.kind, CapErrorKind::Refused);
    assert_eq!((e.line, e.column), (2, 1));
    assert!(e.message.starts_with("<!DOCTYPE> is refused"), "{e}");
    assert!(!e.message.contains("root:"), "no file content leaks: {e}");
    // The same document as a feed.
    let e = parse_feed(fixture!("xxe.xml")).unwrap_err();
    assert_eq!((e.line, e.kind), (2, CapErrorKind::Refused));
}

#[test]
fn billion_laughs_is_refused_at_the_doctype_without_expanding() {
    let e = refused_quickly(fixture!("billion_laughs.xml"));
    assert_eq!(
        e.to_string(),
        "line 3, column 1: <!DOCTYPE> is refused: CAP alerts and feeds need none, and a DTD can \
         define entities that read local files (XXE) or expand without bound (billion laughs); \
         nothing in it was read"
    );
    let start = Instant::now();
    let e = parse_feed(fixture!("billion_laughs.xml")).unwrap_err();
    assert!(start.elapsed() < FAST);
    assert_eq!(e.line, 3);
}

#[test]
fn any_doctype_is_refused() {
    let xml = format!(
        "<?xml version=\"1.0\"?>\n\n<!DOCTYPE alert>\n{}",
        alert_with("", "")
    );
    let e = parse_alert(&xml).unwrap_err();
    assert_eq!((e.line, e.column, e.kind), (3, 1, CapErrorKind::Refused));
}

#[test]
fn undefined_entities_are_refused_where_they_stand() {
    let xml = alert_with("<note>water &nbsp; rising</note>\n", "");
    let e = parse_alert(&xml).unwrap_err();
    assert_eq!(e.kind, CapErrorKind::Refused);
    assert_eq!((e.line, e.column), (8, 13));
    assert_eq!(
        e.message,
        "the text uses the entity &nbsp;, which is refused: only &amp; &lt; &gt; &quot; &apos; \
         and numeric character references are read (no DTD entities)"
    );
    // The entity of the XXE fixture, without its DOCTYPE.
    let xml = alert_with("<note>&xxe;</note>\n", "");
    assert_eq!(parse_alert(&xml).unwrap_err().column, 7);
}

#[test]
fn entities_in_attributes_are_refused() {
    let xml = "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<entry><id>1</id>\n\
               <link href=\"https://x/&ext;\"/></entry></feed>";
    let e = parse_feed(xml).unwrap_err();
    assert_eq!((e.line, e.column, e.kind), (3, 1, CapErrorKind::Refused));
    assert!(
        e.message
            .starts_with("an attribute of <link> uses the entity &ext;"),
        "{e}"
    );
}

#[test]
fn predefined_and_numeric_references_are_read() {
    let xml = alert_with(
        "<note>&lt;b&gt; &amp; &quot;q&quot; &apos;a&apos; &#65;&#x17D4;</note>\n",
        "",
    );
    assert_eq!(
        parse_alert(&xml).unwrap().note.as_deref(),
        Some("<b> & \"q\" 'a' A។")
    );
    let cdata = alert_with("<note><![CDATA[&lol9; <raw>]]></note>\n", "");
    assert_eq!(
        parse_alert(&cdata).unwrap().note.as_deref(),
        Some("&lol9; <raw>")
    );
}

#[test]
fn a_bare_ampersand_is_refused() {
    let xml = alert_with("<note>Kandal & Takeo</note>\n", "");
    let e = parse_alert(&xml).unwrap_err();
    assert_eq!((e.line, e.column), (8, 14));
    assert!(e.message.contains("write it as &amp;"), "{e}");
}

#[test]
fn huge_input_is_refused_before_parsing() {
    let mut xml = alert_with("", MINIMAL_INFO);
    let pad = MAX_CAP_BYTES + 1 - xml.len();
    xml.insert_str(0, &" ".repeat(pad));
    assert_eq!(xml.len(), MAX_CAP_BYTES + 1);
    let e = refused_quickly(&xml);
    assert_eq!(e.kind, CapErrorKind::TooLarge);
    assert_eq!(
        e.to_string(),
        "line 1, column 1: the document has 2097153 bytes; scfm reads CAP alerts and feeds of at \
         most 2097152 bytes (2 MiB) and read none of it"
    );
    assert_eq!(parse_feed(&xml).unwrap_err().kind, CapErrorKind::TooLarge);
}

#[test]
fn input_of_exactly_the_cap_is_read() {
    let base = alert_with("", MINIMAL_INFO);
    let comment_overhead = "<!---->".len();
    let xml = format!(
        "<!--{}-->{base}",
        "x".repeat(MAX_CAP_BYTES - base.len() - comment_overhead)
    );
    assert_eq!(xml.len(), MAX_CAP_BYTES);
    assert_eq!(parse_alert(&xml).unwrap().identifier, "X-1");
}

/// An alert whose `<note>` holds `levels` nested `<x>`, one per line after line 8.
fn nested(levels: usize) -> String {
    let open: String = (0..levels).map(|_| "<x>\n").collect();
    let close: String = (0..levels).map(|_| "</x>").collect();
    alert_with(&format!("<note>\n{open}{close}</note>\n"), "")
}

#[test]
fn deep_nesting_is_refused() {
    // alert (1) / note (2) / x… : the 15th <x> is the 17th level.
    let e = parse_alert(&nested(40)).unwrap_err();
    assert_eq!(e.kind, CapErrorKind::Refused);
    assert_eq!(
        e.to_string(),
        "line 23, column 1: <x> is nested 17 elements deep; scfm reads at most 16"
    );
    assert!(parse_alert(&nested(14)).is_ok());
}

#[test]
fn malformed_structure() {
    let two_roots = format!("{}\n<alert/>", alert_with("", ""));
    let e = parse_alert(&two_roots).unwrap_err();
    assert_eq!((e.line, e.kind), (9, CapErrorKind::Malformed));
    assert_eq!(
        e.message,
        "a second root element <alert> follows </alert>; a document has one"
    );
    let e = parse_alert("\n  hello <alert/>").unwrap_err();
    assert_eq!((e.line, e.column), (2, 3));
    assert_eq!(
        e.message,
        "text outside the root element; is this XML at all?"
    );
    let e =
        parse_alert("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n<x:note/></alert>")
            .unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2, column 1: the namespace prefix `x:` is used but never declared with xmlns:x"
    );
    let e = parse_alert("").unwrap_err();
    assert_eq!(e.message, "the document holds no element");
    let e = parse_alert(&alert_with("", "").replace("</alert>", "</alert")).unwrap_err();
    assert_eq!(e.kind, CapErrorKind::Malformed);
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let xml = format!("\u{feff}{}", alert_with("", ""));
    assert_eq!(parse_alert(&xml).unwrap().identifier, "X-1");
}
