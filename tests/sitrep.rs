//! The situation report and the never-reached list (issue 15) on a campaign with known outcomes
//! per area, run by the real campaign runner against the fake provider (machine detection on):
//! Kandal 2 answered, 1 voicemail, 1 busy (retried in an hour: "not yet"); Takeo 1 answered,
//! 1 failed (not retried: unreachable), 1 busy; one contact without a province, answered. A
//! second callout of the same people, never started: all pending. Then exact figures through
//! the API (JSON and text), the CLI (`scfm sitrep`, `scfm export unreached` to a file and per
//! area) and the TUI (`S`, `:unreached`). Both engines.

#![allow(clippy::unwrap_used)]

mod support;
mod tui_support;

use serde_json::{Value, json};
use std::time::Duration;
use support::TestServer;
use support::fake_provider::{FakeConfig, FakeProvider, NumberMatch, Scenario};

/// (msisdn, province, name, scenario)
fn people() -> Vec<(&'static str, Option<&'static str>, &'static str, Scenario)> {
    vec![
        (
            "+85512100001",
            Some("Kandal"),
            "Sok Dara",
            Scenario::answered(),
        ),
        (
            "+85512100002",
            Some("Kandal"),
            "Meas Rina",
            Scenario::answered(),
        ),
        (
            "+85512100003",
            Some("Kandal"),
            "Keo Sophal",
            Scenario::machine(),
        ),
        (
            "+85512100004",
            Some("Kandal"),
            "Chan Bopha",
            Scenario::busy(),
        ),
        (
            "+85512200001",
            Some("Takeo"),
            "Heng Vuthy",
            Scenario::answered(),
        ),
        (
            "+85512200002",
            Some("Takeo"),
            "Vann Mony",
            Scenario::failed(),
        ),
        (
            "+85512200003",
            Some("Takeo"),
            "Lim Sreyneang",
            Scenario::busy(),
        ),
        ("+85512300001", None, "Ouk Chenda", Scenario::answered()),
    ]
}

async fn campaign() -> (FakeProvider, TestServer, i64, i64) {
    let mut config = FakeConfig::twilio();
    for (m, _, _, sc) in people() {
        config = config.scenario(NumberMatch::Exact(m.into()), sc);
    }
    let fake = FakeProvider::start(config).await;
    let s = TestServer::start_with(|c| {
        c.provider.account_sid = Some(fake.account_sid());
        c.provider.auth_token = Some(fake.auth_token());
        c.provider.base_url = Some(fake.base_url());
        c.provider.calls_per_second = 50.0;
        c.provider.poll_interval = Duration::from_millis(300);
    })
    .await;
    for (m, province, name, _) in people() {
        let mut meta = json!({ "name": name });
        if let Some(p) = province {
            meta["province"] = json!(p);
        }
        s.post_json("/api/contacts", json!({ "msisdn": m, "metadata": meta }))
            .await;
    }
    let dialing = json!({"from": "1234", "twiml_url": "https://example.org/t.xml",
        "max_calls_per_second": 50, "max_attempts": 2, "retry_delay_seconds": 3600,
        "retry_statuses": ["busy"], "machine_detection": true,
        "sms_fallback": {"body": "Flood: move to high ground now", "max_messages_per_second": 5}});
    let meta = json!({"name": "Flood warning", "sitrep_by": "province"});
    let callout = s
        .post_json(
            "/api/callouts",
            json!({ "dialing": dialing, "metadata": meta }),
        )
        .await;
    let id = callout["id"].as_i64().unwrap();
    s.populate(id).await;
    let idle = s.post_json("/api/callouts", json!({})).await;
    let idle = idle["id"].as_i64().unwrap();
    s.populate(idle).await;
    s.post_json(
        &format!("/api/callouts/{id}/callout_events"),
        json!({"event": "start"}),
    )
    .await;
    // Everyone dialled once and every call ended (the two busy wait an hour for a retry).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let p: Value = s
            .get(&format!("/api/callouts/{id}/progress"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // …and the one given up on (Takeo's failed call) got its text, delivered.
        if p["attempts"] == 8
            && p["in_progress"] == 0
            && p["reached_machine"] == 1
            && p["texts"] == json!({"delivered": 1})
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{p}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (fake, s, id, idle)
}

fn figures(v: &Value) -> [i64; 6] {
    [
        "people",
        "reached",
        "reached_machine",
        "not_yet",
        "unreachable",
        "pending",
    ]
    .map(|k| v[k].as_i64().unwrap_or(-1))
}

fn cli(s: &TestServer, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_scfm"))
        .args(args)
        .env("DATABASE_URL", s.config.database.as_url())
        .env("SCFM_DATA_DIR", s.dir.path())
        .env_remove("SCFM_AREA_MAP")
        .output()
        .unwrap()
}

const UNREACHED: &str = "\
province,name,msisdn,attempts,last_status,outcome,sms_status
Kandal,Chan Bopha,+85512100004,1,busy,not_yet,
Kandal,Keo Sophal,+85512100003,1,completed,reached_machine,
Takeo,Lim Sreyneang,+85512200003,1,busy,not_yet,
Takeo,Vann Mony,+85512200002,1,failed,unreachable,delivered
";

/// A CSV without its `last_status_at` column (a time), checked to be a timestamp.
fn without_times(csv: &str) -> String {
    let mut out = String::new();
    for (i, line) in csv.lines().enumerate() {
        let mut cells: Vec<&str> = line.split(',').collect();
        let t = cells.remove(5);
        if i == 0 {
            assert_eq!(t, "last_status_at");
        } else {
            assert!(t.starts_with("20") && t.ends_with('Z'), "{line}");
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn exact_figures_by_area_through_the_api_the_cli_and_the_tui() {
    let (_fake, s, id, idle) = campaign().await;

    // The API, grouped by the callout's own key.
    let r = s
        .get(&format!("/api/callouts/{id}/sitrep"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["by"], "province");
    assert_eq!(v["name"], "Flood warning");
    assert_eq!(figures(&v["totals"]), [8, 4, 1, 2, 1, 0]);
    let areas = v["areas"].as_array().unwrap();
    assert_eq!(areas.len(), 3);
    assert_eq!(areas[0]["area"], "Kandal");
    assert_eq!(figures(&areas[0]), [4, 2, 1, 1, 0, 0]);
    assert_eq!(areas[1]["area"], "Takeo");
    assert_eq!(figures(&areas[1]), [3, 1, 0, 1, 1, 0]);
    assert_eq!(v["totals"]["texts"]["total"], 1);
    assert_eq!(v["totals"]["texts"]["delivered"], 1);
    assert_eq!(areas[1]["texts"]["delivered"], 1);
    assert!(
        areas[0].get("texts").is_none(),
        "nobody in Kandal was texted"
    );
    assert_eq!(areas[2]["area"], Value::Null);
    assert_eq!(figures(&areas[2]), [1, 1, 0, 0, 0, 0]);
    let short = v["short"]["text"].as_str().unwrap();
    assert!(short.starts_with("Flood warning "), "{short}");
    assert!(
        short
            .ends_with(": 4/8 reached, 1 machine, 2 not yet, 1 unreachable, SMS 1/1 delivered. Kandal 2/4; Takeo 1/3"),
        "{short}"
    );
    assert_eq!(v["short"]["fits_one_sms"], true);
    assert!(v["made_at"].as_str().unwrap().ends_with('Z'));

    // Grouped by another key; the never-started callout is all pending.
    let v: Value = s
        .get(&format!("/api/callouts/{idle}/sitrep?by=name"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(figures(&v["totals"]), [8, 0, 0, 0, 0, 8]);
    assert_eq!(v["areas"].as_array().unwrap().len(), 8);
    assert_eq!(v["areas"][0]["area"], "Chan Bopha");

    // Text, long and short.
    let text = s
        .get(&format!("/api/callouts/{id}/sitrep?format=text"))
        .send()
        .await
        .unwrap();
    assert!(
        text.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = text.text().await.unwrap();
    assert!(text.contains("Total: 8 people: 4 reached (50.0%), 1 reached by machine, 2 not yet, 1 unreachable, 0 pending"), "{text}");
    let kandal: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("Kandal"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        kandal,
        ["Kandal", "4", "2", "50.0%", "1", "0", "1", "0", "0/0"]
    );
    assert!(
        text.contains("SMS fallback: 1 texts: 1 delivered, 0 sent, 0 failed, 0 waiting, 0 unknown"),
        "{text}"
    );
    assert!(text.contains("(no province)"), "{text}");
    let one = s
        .get(&format!("/api/callouts/{id}/sitrep?format=text&form=short"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(one.trim_end(), short);

    // Bad input: 4xx with a JSON body, never a 500.
    for (path, status) in [
        (format!("/api/callouts/{id}/sitrep?format=xml"), 422),
        (format!("/api/callouts/{id}/sitrep?form=tiny"), 422),
        (format!("/api/callouts/{id}/sitrep?by="), 422),
        ("/api/callouts/999/sitrep".to_string(), 404),
        ("/api/callouts/x/sitrep".to_string(), 404),
    ] {
        let r = s.get(&path).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        if status == 422 {
            let body: Value = r.json().await.unwrap();
            assert!(body.is_object(), "{path}: {body}");
        }
    }

    // The CLI: the short form and the never-reached list, one file and one per area.
    let out = cli(&s, &["sitrep", &id.to_string(), "--short"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), short);
    let file = s.dir.path().join("unreached.csv");
    let out = cli(
        &s,
        &[
            "export",
            "unreached",
            &id.to_string(),
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("4 people not reached"), "{stderr}");
    assert_eq!(
        without_times(&std::fs::read_to_string(&file).unwrap()),
        UNREACHED
    );
    let dir = s.dir.path().join("teams");
    let out = cli(
        &s,
        &[
            "export",
            "unreached",
            &id.to_string(),
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            format!("unreached-{id}-Kandal.csv"),
            format!("unreached-{id}-Takeo.csv")
        ]
    );
    let kandal = std::fs::read_to_string(dir.join(&files[0])).unwrap();
    assert_eq!(
        without_times(&kandal),
        UNREACHED.lines().take(3).collect::<Vec<_>>().join("\n") + "\n"
    );
    // The never-started callout by name: everyone, all pending.
    let out = cli(
        &s,
        &["export", "unreached", &idle.to_string(), "--by", "name"],
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    assert_eq!(csv.lines().count(), 9, "{csv}");
    assert_eq!(
        csv.lines().filter(|l| l.ends_with(",pending,")).count(),
        8,
        "{csv}"
    );
    let bad = cli(&s, &["sitrep", "999"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("callout 999 does not exist"));
    let bad = cli(
        &s,
        &["export", "unreached", &idle.to_string(), "--dir", "x"],
    );
    assert_eq!(bad.status.code(), Some(1), "per area needs a key");

    // The TUI: `S` on the selected callout opens the report; `:unreached FILE` writes the list.
    let service = s.running.as_ref().unwrap().service.clone();
    let mut h = tui_support::Harness::new(service, tui_support::info()).await;
    h.keys("2").await;
    for step in "jjjjkkkkkk".chars() {
        if h.app.callouts.current().map(|c| c.callout.id) == Some(id) {
            break;
        }
        h.keys(&step.to_string()).await;
    }
    assert_eq!(h.app.callouts.current().map(|c| c.callout.id), Some(id));
    h.keys("S").await;
    let screen = h.screen(120, 40);
    assert!(
        screen.contains(&format!("Situation report: callout {id}")),
        "{screen}"
    );
    assert!(screen.contains("Total: 8 people: 4 reached"), "{screen}");
    assert!(screen.contains("One SMS:"), "{screen}");
    h.code(crossterm::event::KeyCode::Esc).await;
    let tui_file = s.dir.path().join("tui-unreached.csv");
    tui_support::command(&mut h, &format!("unreached {}", tui_file.display())).await;
    let (text, error) = tui_support::message(&h);
    assert!(!error, "{text}");
    assert!(text.contains("exported 4 rows"), "{text}");
    assert_eq!(
        without_times(&std::fs::read_to_string(&tui_file).unwrap()),
        UNREACHED
    );
}
