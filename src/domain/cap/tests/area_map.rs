use serde_json::json;

use super::super::*;
use super::{MINIMAL_INFO, alert_with, fixture, utc};

const EXAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/area_map.example.toml"
));

fn example() -> AreaMap {
    parse_area_map(EXAMPLE).unwrap()
}

fn obj(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn the_example_file_parses() {
    let m = example();
    assert_eq!(m.group_by.as_deref(), Some("province"));
    let names: Vec<&str> = m.areas.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Kandal", "Phnom Penh", "Prey Veng riverside"]);
    assert_eq!(
        m.areas[0].match_geocodes,
        vec![("EMMA_ID".into(), "KH-08".into())]
    );
    assert_eq!(
        m.areas[0].match_area_descs,
        vec!["Kandal Province", "ខេត្តកណ្ដាល"]
    );
    assert!(m.areas[1].match_geocodes.is_empty());
    assert_eq!(m.areas[2].match_geocodes.len(), 2);
    assert_eq!(
        m.areas[2].contacts,
        obj(json!({"province": "Prey Veng", "riverside": true}))
    );
    assert_eq!(
        m.languages,
        vec![
            LanguageEntry {
                lang: "km".into(),
                audio_url: Some("https://example.org/km.mp3".into()),
                say_language: Some("km-KH".into()),
            },
            LanguageEntry {
                lang: "en".into(),
                audio_url: None,
                say_language: Some("en-US".into()),
            },
        ]
    );
}

#[test]
fn resolving_the_flood_alert() {
    let alert = parse_alert(fixture!("flood_alert.xml")).unwrap();
    let r = example().resolve(&alert);
    assert_eq!(
        r.areas,
        vec![
            MatchedArea {
                name: "Kandal".into(),
                contacts: obj(json!({"province": "Kandal"})),
                alert_areas: vec!["Kandal Province".into(), "ខេត្តកណ្ដាល".into()],
            },
            MatchedArea {
                name: "Phnom Penh".into(),
                contacts: obj(json!({"province": "Phnom Penh"})),
                alert_areas: vec!["Phnom Penh Capital".into(), "រាជធានីភ្នំពេញ".into()],
            },
            MatchedArea {
                name: "Prey Veng riverside".into(),
                contacts: obj(json!({"province": "Prey Veng", "riverside": true})),
                alert_areas: vec!["Prey Veng Province".into(), "ខេត្តព្រៃវែង".into()],
            },
        ]
    );
    // Takeo is in no map area: listed, never dropped.
    assert_eq!(
        r.unmatched,
        vec![
            UnmatchedArea {
                area_desc: "Takeo Province".into(),
                geocodes: vec![("EMMA_ID".into(), "KH-21".into())],
                infos: vec![0],
            },
            UnmatchedArea {
                area_desc: "ខេត្តតាកែវ".into(),
                geocodes: vec![("EMMA_ID".into(), "KH-21".into())],
                infos: vec![1],
            },
        ]
    );
    assert!(r.expired_infos.is_empty());
    assert_eq!(r.infos.len(), 2);
    let en = &r.infos[0];
    assert_eq!((en.info_index, en.language.as_str()), (0, "en-US"));
    assert_eq!(en.voice.as_ref().unwrap().lang, "en");
    assert_eq!(
        en.say_text,
        "Flood warning for Kandal & Phnom Penh. The Mekong is rising and is expected to flood \
         riverside villages tonight. Move to high ground now and take your documents with you."
    );
    assert_eq!(en.areas, ["Kandal", "Phnom Penh", "Prey Veng riverside"]);
    let km = &r.infos[1];
    assert_eq!(km.language, "km-KH");
    assert_eq!(
        km.voice.as_ref().unwrap().audio_url.as_deref(),
        Some("https://example.org/km.mp3")
    );
    assert_eq!(
        km.say_text,
        "ការព្រមានទឹកជំនន់សម្រាប់ខេត្តកណ្ដាល និងភ្នំពេញ។ \
         ទឹកទន្លេមេគង្គកំពុងឡើងខ្ពស់ ហើយរំពឹងថានឹងលិចភូមិនៅតាមមាត់ទន្លេនៅយប់នេះ។ \
         សូមផ្លាស់ទីទៅកាន់ទីទួលខ្ពស់ភ្លាមៗ ហើយយកឯកសារសំខាន់ៗទៅជាមួយ។"
    );
    assert_eq!(km.areas, ["Kandal", "Phnom Penh", "Prey Veng riverside"]);
}

#[test]
fn expired_infos_are_left_out() {
    let alert = parse_alert(fixture!("expired_alert.xml")).unwrap();
    let m = example();
    let before = m.resolve_at(&alert, utc("2026-11-01T21:00:00+00:00"));
    assert!(before.expired_infos.is_empty());
    assert_eq!(before.areas[0].alert_areas, ["Kandal Province", "ខេត្តកណ្ដាល"]);
    let between = m.resolve_at(&alert, utc("2026-11-01T22:30:00+00:00"));
    assert_eq!(between.expired_infos, vec![1]);
    assert_eq!(between.infos.len(), 1);
    assert_eq!(between.areas[0].alert_areas, ["Kandal Province"]);
    let after = m.resolve_at(&alert, utc("2026-12-01T00:00:00+00:00"));
    assert_eq!(after.expired_infos, vec![0, 1]);
    assert!(after.infos.is_empty() && after.areas.is_empty() && after.unmatched.is_empty());
    // resolve() ignores expiry.
    assert_eq!(m.resolve(&alert).infos.len(), 2);
}

#[test]
fn the_same_unmatched_area_in_two_infos_is_listed_once() {
    let info = MINIMAL_INFO.replace("</info>", "<area><areaDesc>Kep</areaDesc></area></info>");
    let two = format!(
        "{info}{}",
        info.replace("<info>", "<info><language>km</language>")
    );
    let alert = parse_alert(&alert_with("", &two)).unwrap();
    let r = example().resolve(&alert);
    assert_eq!(
        r.unmatched,
        vec![UnmatchedArea {
            area_desc: "Kep".into(),
            geocodes: vec![],
            infos: vec![0, 1],
        }]
    );
    assert!(r.areas.is_empty());
    assert_eq!(r.infos[1].voice.as_ref().unwrap().lang, "km");
    assert!(r.infos[0].areas.is_empty());
}

#[test]
fn resolving_many_areas_stays_linear() {
    let areas: String = (0..20_000)
        .map(|i| format!("<area><areaDesc>Village {i}</areaDesc></area>"))
        .collect();
    let info = MINIMAL_INFO.replace(
        "</info>",
        &format!("{areas}<area><areaDesc>Kandal Province</areaDesc></area></info>"),
    );
    let alert = parse_alert(&alert_with("", &info)).unwrap();
    let start = std::time::Instant::now();
    let r = example().resolve(&alert);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(r.unmatched.len(), 20_000);
    assert_eq!(r.unmatched[19_999].area_desc, "Village 19999");
    assert_eq!(r.areas.len(), 1);
    assert_eq!(r.areas[0].alert_areas, ["Kandal Province"]);
}

#[test]
fn matching_ignores_case_and_spacing() {
    let m = example();
    let area = |desc: &str, codes: &[(&str, &str)]| Area {
        area_desc: desc.into(),
        polygons: vec![],
        circles: vec![],
        geocodes: codes
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        altitude: None,
        ceiling: None,
    };
    assert!(m.areas[0].matches(&area("  kandal   PROVINCE ", &[])));
    assert!(m.areas[0].matches(&area("Somewhere", &[("emma_id", "kh-08")])));
    assert!(!m.areas[0].matches(&area("Somewhere", &[("FIPS", "KH-08")])));
    assert!(!m.areas[0].matches(&area("Kandal", &[])));
    assert!(m.areas[2].matches(&area("x", &[("NCDM_DISTRICT", "1403")])));
}

#[test]
fn language_choice() {
    let m = parse_area_map(
        "[[area]]\nname = \"a\"\nmatch_area_desc = \"a\"\ncontacts = { a = 1 }\n\
         [[language]]\nlang = \"km\"\n[[language]]\nlang = \"km-KH\"\n[[language]]\nlang = \"en\"\n",
    )
    .unwrap();
    let lang = |l: &str| m.language_for(l).map(|e| e.lang.as_str());
    assert_eq!(lang("km-KH"), Some("km-KH"));
    assert_eq!(lang("KM-kh"), Some("km-KH"));
    assert_eq!(lang("km"), Some("km"));
    assert_eq!(lang("km-XX"), Some("km"));
    assert_eq!(lang("kmr"), None);
    assert_eq!(lang("en-GB"), Some("en"));
    assert_eq!(lang("fr-FR"), None);
    assert_eq!(m.areas[0].contacts, obj(json!({"a": 1})));
}

#[test]
fn say_text_rules() {
    let alert = parse_alert(&alert_with("", MINIMAL_INFO)).unwrap();
    let mut info = alert.infos[0].clone();
    assert_eq!(say_text(&info), "Flood");
    info.headline = Some("Flood warning!".into());
    info.instruction = Some("  Move\n   to high\tground  ".into());
    assert_eq!(say_text(&info), "Flood warning! Move to high ground");
    info.description = Some("Rising".into());
    assert_eq!(
        say_text(&info),
        "Flood warning! Rising. Move to high ground"
    );
}

fn map_error(text: &str) -> (usize, usize, String) {
    let e = parse_area_map(text).unwrap_err();
    (e.line, e.column, e.message)
}

const AREA: &str = "[[area]]\nname = \"Kandal\"\nmatch_area_desc = \"Kandal\"\ncontacts = { province = \"Kandal\" }\n";

#[test]
fn area_map_errors_have_lines() {
    assert_eq!(
        map_error(&format!(
            "{AREA}\n[[area]]\nname = \"kandal\"\nmatch_area_desc = \"x\"\ncontacts = {{ p = 1 }}\n"
        )),
        (7, 8, "the area name \"kandal\" is used twice".into())
    );
    assert_eq!(
        map_error("[[area]]\nname = \"Kandal\"\ncontacts = { province = \"Kandal\" }\n"),
        (
            1,
            1,
            "area \"Kandal\" has neither match_geocode nor match_area_desc: it could never match \
             an alert area"
                .into()
        )
    );
    assert_eq!(
        map_error("[[area]]\nname = \"Kandal\"\nmatch_area_desc = \"Kandal\"\ncontacts = {}\n"),
        (
            4,
            12,
            "area \"Kandal\" has an empty contacts filter: it would call every contact".into()
        )
    );
    assert_eq!(
        map_error("[[area]]\nname = \"K\"\nmatch_area_desc = \"K\"\ncontacts = { p = [1, 2] }\n"),
        (
            4,
            18,
            "contacts.p of area \"K\" must be a string, number or boolean (a metadata value to \
             equal)"
                .into()
        )
    );
    let (line, _, message) = map_error(&format!(
        "{AREA}match_geocodes = {{ valueName = \"a\", value = \"b\" }}\n"
    ));
    assert_eq!(line, 5);
    assert!(
        message.contains("unknown field `match_geocodes`"),
        "{message}"
    );
    let (line, _, _) = map_error("group_by = \"province\"\n\n[[area]\n");
    assert_eq!(line, 3);
    assert_eq!(
        map_error("group_by = \"province\"\n"),
        (
            1,
            1,
            "the area map has no [[area]]: no alert area could ever be matched".into()
        )
    );
    assert_eq!(
        map_error(&format!(
            "{AREA}[[language]]\nlang = \"km\"\n[[language]]\nlang = \"KM\"\n"
        )),
        (8, 8, "the language \"KM\" is given twice".into())
    );
    assert_eq!(
        map_error(&format!(
            "{AREA}[[language]]\nlang = \"km\"\naudio_url = \"file:///etc/passwd\"\n"
        )),
        (
            7,
            13,
            "audio_url \"file:///etc/passwd\" of language \"km\" is not an http(s) URL".into()
        )
    );
    assert_eq!(map_error(&format!("group_by = \" \"\n{AREA}")).0, 1);
}
