//! The fake's resources: call SIDs per flavour, the call JSON of providers.md §1.3, and the list
//! route with filters (Twilio flavour), `PageSize`/`Page` and `next_page_uri` paging, newest first.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};

use super::rest::Answer;
use super::{FakeCall, FakeConfig, Flavour, Shared};

pub(super) fn new_call_sid(flavour: Flavour) -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match flavour {
        Flavour::Twilio => format!("CA{hex}"),
        Flavour::Somleng => format!(
            "{}-{}-4{}-a{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            &hex[17..20],
            &hex[20..32]
        ),
    }
}

pub(super) fn rfc2822(dt: chrono::DateTime<Utc>) -> String {
    dt.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// The call resource of providers.md §1.3 for the flavour.
pub(super) fn call_json(config: &FakeConfig, call: &FakeCall) -> Value {
    let account = &config.account_sid;
    let twilio = config.flavour == Flavour::Twilio;
    let uri = format!("/2010-04-01/Accounts/{account}/Calls/{}.json", call.sid);
    let ended_unconnected = call.is_final() && call.start_time.is_none();
    // Twilio reports AMD's verdict only when the create asked for it, once answered.
    let answered_by = (call.param("MachineDetection").is_some() && call.start_time.is_some())
        .then(|| call.scenario.answered_by.unwrap_or("human"));
    let mut v = json!({
        "sid": call.sid, "account_sid": account,
        "to": call.to, "to_formatted": call.to, "from": call.from, "from_formatted": call.from,
        "status": call.status, "direction": "outbound-api", "api_version": "2010-04-01",
        "date_created": rfc2822(call.created_at), "date_updated": rfc2822(call.updated_at),
        "start_time": call.start_time.map(rfc2822), "end_time": call.end_time.map(rfc2822),
        "duration": call.duration.map(|d| d.to_string()).or_else(|| ended_unconnected.then(|| "0".to_string())),
        "price": (call.status == "completed").then_some("-0.01300"), "price_unit": "USD",
        "answered_by": answered_by, "parent_call_sid": null,
        "phone_number_sid": if twilio { json!("PN00000000000000000000000000000003") } else { Value::Null },
        "caller_name": null, "forwarded_from": null, "group_sid": null, "annotation": null,
    });
    let obj = v.as_object_mut().expect("object literal");
    if twilio {
        obj.insert("queue_time".into(), json!(call.queue_time_ms.to_string()));
        obj.insert("trunk_sid".into(), Value::Null);
        obj.insert("uri".into(), json!(uri));
        obj.insert("subresource_uris".into(), json!({
            "notifications": format!("/2010-04-01/Accounts/{account}/Calls/{}/Notifications.json", call.sid),
            "recordings": format!("/2010-04-01/Accounts/{account}/Calls/{}/Recordings.json", call.sid),
        }));
    } else {
        obj.insert("uri".into(), json!(uri));
        obj.insert("subresource_uris".into(), json!({}));
    }
    v
}

pub(super) fn list(shared: &Arc<Shared>, config: &FakeConfig, path: &str, query: &str) -> Answer {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let page_size = get("PageSize")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(config.default_page_size)
        .clamp(1, 1000);
    let page = get("Page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let filters = config.flavour == Flavour::Twilio;
    let date = |dt: Option<chrono::DateTime<Utc>>| dt.map(|d| d.format("%Y-%m-%d").to_string());
    let keep = |c: &&FakeCall| {
        if !filters {
            return true;
        }
        let started = date(c.start_time);
        get("To").is_none_or(|v| v == c.to)
            && get("From").is_none_or(|v| v == c.from)
            && get("Status").is_none_or(|v| v == c.status)
            && get("StartTime").is_none_or(|v| started.as_deref() == Some(v))
            && get("StartTime>").is_none_or(|v| started.as_deref().is_some_and(|s| s >= v))
            && get("StartTime<").is_none_or(|v| started.as_deref().is_some_and(|s| s < v))
    };
    let state = shared.state();
    let matching: Vec<&FakeCall> = state.calls.iter().rev().filter(keep).collect();
    let start = page * page_size;
    let slice: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(page_size)
        .map(|c| call_json(config, c))
        .collect();
    let base: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Page" | "PageSize" | "PageToken"))
        .collect();
    let page_uri = |p: usize, token: Option<String>| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &base {
            s.append_pair(k, v);
        }
        s.append_pair("PageSize", &page_size.to_string())
            .append_pair("Page", &p.to_string());
        if let Some(t) = token {
            s.append_pair("PageToken", &t);
        }
        format!("{path}?{}", s.finish())
    };
    let has_next = matching.len() > start + page_size;
    let next = has_next.then(|| {
        page_uri(
            page + 1,
            matching
                .get(start + page_size - 1)
                .map(|c| format!("PA{}", c.sid)),
        )
    });
    let prev = (page > 0).then(|| page_uri(page - 1, None));
    Answer::json(
        200,
        json!({
            "calls": slice, "page": page, "page_size": page_size, "start": start,
            "end": start + slice.len().saturating_sub(1),
            "uri": page_uri(page, None), "first_page_uri": page_uri(0, None),
            "next_page_uri": next, "previous_page_uri": prev,
        }),
    )
}
