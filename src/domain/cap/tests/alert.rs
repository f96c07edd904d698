use super::super::*;
use super::{MINIMAL_INFO, alert_with, fixture, t, utc};

fn flood() -> Alert {
    parse_alert(fixture!("flood_alert.xml")).unwrap()
}

#[test]
fn flood_alert_header() {
    let a = flood();
    assert_eq!(a.identifier, "KH-NCDM-2026-0412");
    assert_eq!(a.sender, "warnings@ncdm.example.org");
    assert_eq!(a.sent, t("2026-12-04T10:00:00+07:00"));
    assert_eq!(a.sent.offset().local_minus_utc(), 7 * 3600);
    assert_eq!(a.status, Status::Actual);
    assert_eq!(a.msg_type, MsgType::Alert);
    assert_eq!(a.source.as_deref(), Some("Mekong river gauge network"));
    assert_eq!(a.scope, Scope::Public);
    assert_eq!(a.restriction, None);
    assert_eq!(a.addresses, None);
    assert_eq!(a.codes, vec!["IPAWSv1.0"]);
    assert_eq!(a.note, None);
    assert!(a.references.is_empty());
    assert_eq!(a.incidents.as_deref(), Some("KH-FLOOD-2026-07"));
    assert_eq!(a.infos.len(), 2);
}

#[test]
fn flood_alert_english_info() {
    let a = flood();
    let i = &a.infos[0];
    assert_eq!(i.language, "en-US");
    assert_eq!(i.categories, vec![Category::Met, Category::Safety]);
    assert_eq!(i.event, "River flood");
    assert_eq!(i.response_types, vec![ResponseType::Evacuate]);
    assert_eq!(
        (i.urgency, i.severity, i.certainty),
        (Urgency::Immediate, Severity::Severe, Certainty::Likely)
    );
    assert_eq!(i.event_codes, vec![("SAME".into(), "FLW".into())]);
    assert_eq!(i.effective, Some(t("2026-12-04T10:00:00+07:00")));
    assert_eq!(i.onset, Some(t("2026-12-04T18:00:00+07:00")));
    assert_eq!(i.expires, Some(t("2026-12-06T10:00:00+07:00")));
    assert_eq!(
        i.sender_name.as_deref(),
        Some("National Committee for Disaster Management")
    );
    assert_eq!(
        i.headline.as_deref(),
        Some("Flood warning for Kandal & Phnom Penh")
    );
    assert_eq!(
        i.description.as_deref(),
        Some("The Mekong is rising and is expected to flood riverside villages tonight.")
    );
    assert_eq!(
        i.instruction.as_deref(),
        Some("Move to high ground now and take your documents with you.")
    );
    assert_eq!(
        i.web.as_deref(),
        Some("https://ncdm.example.org/alerts/KH-NCDM-2026-0412")
    );
    assert_eq!(i.contact.as_deref(), Some("Hotline 1294"));
    // The extension elements (another namespace, and an unknown CAP one) are ignored.
    assert_eq!(i.parameters, vec![("river_level_m".into(), "10.4".into())]);
    assert_eq!(
        i.resources,
        vec![Resource {
            resource_desc: "Map of the warned area".into(),
            mime_type: "image/png".into(),
            size: Some(48213),
            uri: Some("https://ncdm.example.org/alerts/KH-NCDM-2026-0412/map.png".into()),
            digest: None,
        }]
    );
    let descs: Vec<&str> = i.areas.iter().map(|a| a.area_desc.as_str()).collect();
    assert_eq!(
        descs,
        [
            "Kandal Province",
            "Phnom Penh Capital",
            "Prey Veng Province",
            "Takeo Province"
        ]
    );
    assert_eq!(
        i.areas[0].polygons,
        vec!["11.50,104.80 11.60,105.10 11.20,105.20 11.10,104.90 11.50,104.80"]
    );
    assert_eq!(
        i.areas[0].geocodes,
        vec![("EMMA_ID".into(), "KH-08".into())]
    );
    assert_eq!(i.areas[1].circles, vec!["11.5564,104.9282 15"]);
    assert!(i.areas[1].geocodes.is_empty());
    assert_eq!(
        i.areas[3].geocodes,
        vec![("EMMA_ID".into(), "KH-21".into())]
    );
}

#[test]
fn flood_alert_khmer_info() {
    let a = flood();
    let i = &a.infos[1];
    assert_eq!(i.language, "km-KH");
    assert_eq!(i.event, "ទឹកជំនន់ទន្លេ");
    assert_eq!(
        i.headline.as_deref(),
        Some("ការព្រមានទឹកជំនន់សម្រាប់ខេត្តកណ្ដាល និងភ្នំពេញ")
    );
    assert_eq!(
        i.instruction.as_deref(),
        Some("សូមផ្លាស់ទីទៅកាន់ទីទួលខ្ពស់ភ្លាមៗ ហើយយកឯកសារសំខាន់ៗទៅជាមួយ។")
    );
    assert_eq!(i.effective, None);
    assert!(i.resources.is_empty());
    let descs: Vec<&str> = i.areas.iter().map(|a| a.area_desc.as_str()).collect();
    assert_eq!(descs, ["ខេត្តកណ្ដាល", "រាជធានីភ្នំពេញ", "ខេត្តព្រៃវែង", "ខេត្តតាកែវ"]);
    assert_eq!(
        i.areas[2].geocodes,
        vec![("EMMA_ID".into(), "KH-14".into())]
    );
}

#[test]
fn update_references_the_alert() {
    let original = flood();
    let u = parse_alert(fixture!("flood_update.xml")).unwrap();
    assert_eq!(u.msg_type, MsgType::Update);
    assert_eq!(
        u.note.as_deref(),
        Some("Prey Veng added to the evacuation order; expiry extended.")
    );
    assert_eq!(
        u.references,
        vec![Reference {
            sender: "warnings@ncdm.example.org".into(),
            identifier: "KH-NCDM-2026-0412".into(),
            sent: t("2026-12-04T10:00:00+07:00"),
        }]
    );
    assert_eq!(u.references[0], original.reference());
    assert!(u.references[0].matches(&original));
    assert!(!u.references[0].matches(&u));
    // No <language>: CAP's default.
    assert_eq!(u.infos[0].language, "en-US");
    assert_eq!(u.infos[0].severity, Severity::Extreme);
}

#[test]
fn cancel_references_alert_and_update() {
    let original = flood();
    let update = parse_alert(fixture!("flood_update.xml")).unwrap();
    let c = parse_alert(fixture!("flood_cancel.xml")).unwrap();
    assert_eq!(c.msg_type, MsgType::Cancel);
    assert_eq!(c.references.len(), 2);
    assert!(c.references[0].matches(&original));
    assert!(c.references[1].matches(&update));
    assert_eq!(c.references[1].identifier, "KH-NCDM-2026-0413");
    assert!(c.infos.is_empty());
    // No infos: nothing to expire, so a Cancel is never refused as expired.
    assert!(!c.is_expired(utc("2030-01-01T00:00:00+00:00")));
}

#[test]
fn reference_matches_the_same_instant_in_another_offset() {
    let original = flood();
    let r = Reference {
        sent: t("2026-12-04T03:00:00+00:00"),
        ..original.reference()
    };
    assert!(r.matches(&original));
    let later = Reference {
        sent: t("2026-12-04T03:00:01+00:00"),
        ..original.reference()
    };
    assert!(!later.matches(&original));
}

#[test]
fn expiry_of_infos_and_alert() {
    let a = parse_alert(fixture!("expired_alert.xml")).unwrap();
    // km info expires 22:00Z, en info 23:00Z (06:00+07:00 next day).
    let between = utc("2026-11-01T22:30:00+00:00");
    assert!(a.infos[1].is_expired(between));
    assert!(!a.infos[0].is_expired(between));
    assert!(!a.is_expired(between));
    assert!(!expired(&a, between));
    assert_eq!(a.live_infos(between).count(), 1);
    assert_eq!(a.expired_at(between), None);
    assert_eq!(a.check_not_expired(between), Ok(()));

    let after = utc("2026-12-04T12:00:00+07:00");
    assert!(expired(&a, after));
    assert_eq!(a.live_infos(after).count(), 0);
    assert_eq!(a.expired_at(after), Some(t("2026-11-02T06:00:00+07:00")));
    let refusal = a.check_not_expired(after).unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "alert KH-NCDM-2026-0377 from warnings@ncdm.example.org expired at 2026-11-02T06:00:00+07:00"
    );
}

#[test]
fn expiry_is_at_the_instant() {
    let a = flood();
    assert!(!a.is_expired(utc("2026-12-06T02:59:59+00:00")));
    assert!(a.is_expired(utc("2026-12-06T03:00:00+00:00")));
}

#[test]
fn an_info_without_expires_never_expires() {
    let a = parse_alert(&alert_with("", MINIMAL_INFO)).unwrap();
    assert_eq!(a.infos[0].expires, None);
    assert!(!a.is_expired(utc("2099-01-01T00:00:00+00:00")));
}

#[test]
fn namespace_prefixed_alert() {
    let a = parse_alert(fixture!("prefixed_alert.xml")).unwrap();
    assert_eq!(a.identifier, "KH-NCDM-2026-0600");
    assert_eq!(a.status, Status::Exercise);
    assert_eq!(a.scope, Scope::Restricted);
    assert_eq!(a.restriction.as_deref(), Some("Provincial committees only"));
    // CAP writes UTC as -00:00.
    assert_eq!(a.sent, t("2026-12-04T10:00:00+00:00"));
    let i = &a.infos[0];
    assert_eq!(i.categories, vec![Category::Cbrne]);
    assert_eq!(i.urgency, Urgency::Future);
    assert_eq!(i.areas[0].area_desc, "Sihanoukville port");
    assert_eq!(
        i.areas[0].geocodes,
        vec![("EMMA_ID".into(), "KH-18".into())]
    );
}

#[test]
fn prefixed_alert_with_unprefixed_children_is_read() {
    let xml = fixture!("prefixed_alert.xml")
        .replace("<cap:identifier>", "<identifier>")
        .replace("</cap:identifier>", "</identifier>");
    assert_eq!(parse_alert(&xml).unwrap().identifier, "KH-NCDM-2026-0600");
}

#[test]
fn other_namespaces_are_refused_clearly() {
    let cap11 = alert_with("", "").replace(":cap:1.2", ":cap:1.1");
    let e = parse_alert(&cap11).unwrap_err();
    assert_eq!(e.kind, CapErrorKind::NotCap);
    assert_eq!(
        e.to_string(),
        "line 1, column 1: this <alert> is CAP 1.1 (urn:oasis:names:tc:emergency:cap:1.1); \
         scfm reads CAP 1.2 only (urn:oasis:names:tc:emergency:cap:1.2)"
    );
    let other = alert_with("", "").replace("urn:oasis:names:tc:emergency:cap:1.2", "urn:x");
    let e = parse_alert(&other).unwrap_err();
    assert_eq!(
        e.message,
        "this <alert> is in the namespace urn:x, not CAP 1.2's urn:oasis:names:tc:emergency:cap:1.2"
    );
    let none = "\n<alert><identifier>x</identifier></alert>";
    let e = parse_alert(none).unwrap_err();
    assert_eq!((e.line, e.kind), (2, CapErrorKind::NotCap));
    assert!(
        e.message.starts_with("this <alert> has no namespace"),
        "{e}"
    );
    let feed = parse_alert(fixture!("atom_feed.xml")).unwrap_err();
    assert_eq!(
        feed.to_string(),
        "line 2, column 1: the root element is <feed>, not a CAP <alert> (this looks like a \
         feed: read it as one)"
    );
}
