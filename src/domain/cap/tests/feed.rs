use super::super::*;
use super::{fixture, t};

#[test]
fn atom_feed_by_link_and_embedded() {
    let entries = parse_feed(fixture!("atom_feed.xml")).unwrap();
    assert_eq!(entries.len(), 2);
    let linked = &entries[0];
    assert_eq!(linked.id, "urn:uuid:2c1e5a9e-4b8f-4d2a-9f61-0b7e3f0c0412");
    assert_eq!(linked.updated, Some(t("2026-12-04T10:00:00+07:00")));
    // The application/cap+xml link wins over the earlier text/html alternate and the self link.
    assert_eq!(
        linked.cap_url.as_deref(),
        Some("https://ncdm.example.org/alerts/0412.xml")
    );
    assert_eq!(linked.alert, None);
    assert_eq!(linked.alert_error, None);

    let embedded = &entries[1];
    assert_eq!(embedded.id, "urn:uuid:7d0f3c55-1e2b-4a8c-b3d9-5c6a2e1f0413");
    assert_eq!(embedded.updated, Some(t("2026-12-04T16:30:00+07:00")));
    assert_eq!(embedded.cap_url, None);
    let alert = embedded.alert.as_ref().unwrap();
    assert_eq!(alert.identifier, "KH-NCDM-2026-0413");
    assert_eq!(alert.msg_type, MsgType::Update);
    assert_eq!(alert.references[0].identifier, "KH-NCDM-2026-0412");
    assert_eq!(alert.infos[0].areas[0].area_desc, "Prey Veng Province");
}

fn atom(entry: &str) -> String {
    format!("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<entry>\n{entry}</entry>\n</feed>")
}

#[test]
fn atom_link_choice() {
    let one = |entry: &str| parse_feed(&atom(entry)).unwrap().remove(0).cap_url;
    // rel defaults to alternate.
    assert_eq!(
        one("<id>1</id><link rel=\"self\" href=\"s\"/><link href=\"a\"/>\n"),
        Some("a".into())
    );
    assert_eq!(one("<id>1</id><link rel=\"self\" href=\"s\"/>\n"), None);
    assert_eq!(
        one(
            "<id>1</id><link rel=\"alternate\" href=\"h\"/><link rel=\"related\" type=\"application/CAP+xml; charset=utf-8\" href=\"c\"/>\n"
        ),
        Some("c".into())
    );
    // Out-of-line content of the CAP type.
    assert_eq!(
        one("<id>1</id><content type=\"application/cap+xml\" src=\"https://x/a.xml\"/>\n"),
        Some("https://x/a.xml".into())
    );
}

#[test]
fn an_invalid_embedded_alert_is_kept_with_its_error() {
    let xml = atom(
        "<id>1</id>\n<content type=\"application/cap+xml\">\n\
         <alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><sender>s</sender></alert>\n\
         </content>\n",
    );
    let entry = parse_feed(&xml).unwrap().remove(0);
    assert_eq!(entry.id, "1");
    assert_eq!(entry.alert, None);
    assert_eq!(
        entry.alert_error.unwrap().to_string(),
        "line 5, column 1: <alert> lacks <identifier> (required by CAP 1.2)"
    );
    // A CAP 1.1 alert is found too, and refused with the version named.
    let xml = atom(
        "<id>1</id><content><alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.1\"/></content>\n",
    );
    let entry = parse_feed(&xml).unwrap().remove(0);
    assert!(
        entry
            .alert_error
            .unwrap()
            .message
            .starts_with("this <alert> is CAP 1.1")
    );
}

#[test]
fn atom_entry_faults_refuse_the_feed() {
    let e = parse_feed(&atom("<title>no id</title>\n")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2, column 1: <entry> lacks <id> (required by Atom)"
    );
    let e = parse_feed(&atom("<id>1</id>\n<updated>yesterday</updated>\n")).unwrap_err();
    assert_eq!((e.line, e.column), (4, 1));
    assert!(e.message.starts_with("<updated> is \"yesterday\""), "{e}");
}

#[test]
fn rss_feed() {
    let items = parse_feed(fixture!("rss_feed.xml")).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].id, "KH-NCDM-2026-0412");
    assert_eq!(items[0].updated, Some(t("2026-12-04T10:00:00+07:00")));
    // The CAP enclosure wins over the HTML link.
    assert_eq!(
        items[0].cap_url.as_deref(),
        Some("https://ncdm.example.org/alerts/0412.xml")
    );
    assert_eq!(items[0].alert, None);
    // No guid: the link is the id, and the place to fetch from.
    assert_eq!(items[1].id, "https://ncdm.example.org/alerts/0377.xml");
    assert_eq!(
        items[1].cap_url.as_deref(),
        Some("https://ncdm.example.org/alerts/0377.xml")
    );
    assert_eq!(items[1].updated, Some(t("2026-11-01T06:00:00+07:00")));
}

fn rss(item: &str) -> String {
    format!("<rss version=\"2.0\"><channel>\n<item>\n{item}</item>\n</channel></rss>")
}

#[test]
fn rss_items() {
    let one = |item: &str| parse_feed(&rss(item)).unwrap().remove(0);
    let permalink = one("<guid>https://x/a.xml</guid>\n");
    assert_eq!(permalink.id, "https://x/a.xml");
    assert_eq!(permalink.cap_url.as_deref(), Some("https://x/a.xml"));
    assert_eq!(permalink.updated, None);
    let opaque = one("<guid isPermaLink=\"false\">https://x/a.xml</guid>\n");
    assert_eq!(opaque.cap_url, None);
    let embedded = one(&format!(
        "<guid isPermaLink=\"false\">g</guid>{}",
        fixture!("prefixed_alert.xml").replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "")
    ));
    assert_eq!(embedded.alert.unwrap().identifier, "KH-NCDM-2026-0600");

    let e = parse_feed(&rss("<title>x</title>\n")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2, column 1: <item> has neither <guid> nor <link>: scfm cannot tell it from the others"
    );
    let e = parse_feed(&rss("<guid>g</guid>\n<pubDate>someday</pubDate>\n")).unwrap_err();
    assert_eq!((e.line, e.kind), (4, CapErrorKind::Invalid));
    assert!(e.message.starts_with("<pubDate> is \"someday\""), "{e}");
}

#[test]
fn not_feeds() {
    let e = parse_feed(fixture!("flood_alert.xml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3, column 1: this is a single CAP alert, not a feed: read it as an alert"
    );
    let e = parse_feed("<rss version=\"2.0\"/>").unwrap_err();
    assert_eq!(e.message, "<rss> lacks <channel> (required by RSS 2.0)");
    let e = parse_feed("<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"/>")
        .unwrap_err();
    assert_eq!(e.kind, CapErrorKind::NotCap);
    assert!(e.message.contains("RSS 1.0"));
    let e = parse_feed("<html/>").unwrap_err();
    assert_eq!(
        e.message,
        "the root element is <html>, neither an Atom <feed> nor an RSS 2.0 <rss>"
    );
    assert_eq!(parse_feed("<rss><channel/></rss>").unwrap(), vec![]);
}
