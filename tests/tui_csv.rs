//! CSV from the TUI (issue 6), headless: `:import` with its gauge, summary and `:invalid`, and
//! `:export` of contacts and of a callout, with their errors in the status bar.
#![allow(clippy::unwrap_used)]

mod tui_support;

use crossterm::event::KeyCode;
use scfm::service::ImportProgress;
use scfm::tui::action::Action;
use scfm::tui::app::Modal;
use tui_support::{Harness, command, fixed_clock, info, key, message, seed, service_with};

#[tokio::test]
async fn import_a_csv_with_a_gauge_a_summary_and_the_invalid_rows() {
    let (dir, service) = service_with(fixed_clock()).await;
    seed(&service).await;
    let mut h = Harness::new(service, info()).await;
    let path = dir.path().join("people.csv");
    std::fs::write(
        &path,
        "msisdn,name,province\n\
         +85512000001,Sokha,Pursat\n\
         +85512111001,Dara,Takeo\n\
         not-a-number,Bad,Kampot\n\
         +85512111002,Srey,Pursat\n\
         ,Nobody,Kandal\n",
    )
    .unwrap();
    let size = std::fs::metadata(&path).unwrap().len();

    // Enter starts the import as an effect: the gauge shows and keys still work meanwhile.
    h.keys(&format!(":import {}", path.display())).await;
    let effects = h.app.handle_key(key(KeyCode::Enter));
    assert!(h.app.csv.import.is_some());
    h.act(Action::ImportProgress(ImportProgress {
        bytes: size / 2,
        total_bytes: Some(size),
        rows: 2,
        ..ImportProgress::default()
    }))
    .await;
    let screen = h.screen(80, 24);
    assert!(
        screen.contains("importing") && screen.contains("50%"),
        "{screen}"
    );
    h.keys("j").await;
    // A second import waits for the first.
    command(&mut h, &format!("import {}", path.display())).await;
    assert!(
        message(&h).0.contains("already running"),
        "{:?}",
        message(&h)
    );
    h.settle(effects).await;

    assert!(h.app.csv.import.is_none());
    let last = h
        .reported
        .iter()
        .rev()
        .find_map(|a| match a {
            Action::ImportProgress(p) => Some(p.clone()),
            _ => None,
        })
        .expect("the import reported progress");
    assert_eq!((last.bytes, last.total_bytes), (size, Some(size)));
    let (text, error) = message(&h);
    assert!(!error, "{text}");
    for part in [
        "5 rows",
        "2 inserted",
        "1 updated",
        "2 invalid",
        "line 4: ",
        ":invalid",
    ] {
        assert!(text.contains(part), "{part:?} in {text:?}");
    }
    // The contacts pane reloaded: the new contacts are there, the existing one merged.
    assert_eq!(h.app.contacts.total, Some(7));
    assert!(
        h.app
            .contacts
            .rows
            .iter()
            .any(|c| c.msisdn == "+85512111002")
    );
    let sokha = h
        .service
        .contact_by_msisdn("+85512000001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sokha.metadata["province"], "Pursat");

    // :invalid lists them, line by line; any key closes the list.
    command(&mut h, "invalid").await;
    match h.app.modals.last() {
        Some(Modal::Report(r)) => {
            assert_eq!(r.lines.len(), 2, "{:?}", r.lines);
            assert!(r.lines[0].starts_with("line 4: "), "{:?}", r.lines);
            assert!(r.lines[1].starts_with("line 6: "), "{:?}", r.lines);
        }
        _ => panic!("expected the invalid rows"),
    }
    assert!(h.screen(80, 24).contains("line 4: "));
    h.code(KeyCode::Esc).await;
    assert!(h.app.modals.is_empty());

    // Another msisdn column name; a missing file is an error in the status bar.
    let other = dir.path().join("phones.csv");
    std::fs::write(&other, "Phone,team\n+85512111003,red\n").unwrap();
    command(
        &mut h,
        &format!("import {} --msisdn-column phone", other.display()),
    )
    .await;
    assert!(message(&h).0.contains("1 inserted"), "{:?}", message(&h));
    assert_eq!(h.app.contacts.total, Some(8));
    command(&mut h, &format!("import {}", other.display())).await;
    assert!(
        message(&h).1,
        "the header has no msisdn column: {:?}",
        message(&h)
    );
    command(&mut h, "import /nonexistent/people.csv").await;
    let (text, error) = message(&h);
    assert!(error && text.contains("cannot read"), "{text}");
}

#[tokio::test]
async fn export_contacts_and_a_callout_to_files() {
    let (dir, service) = service_with(fixed_clock()).await;
    seed(&service).await;
    let mut h = Harness::new(service, info()).await;
    let contacts = dir.path().join("contacts.csv");
    command(&mut h, &format!("export contacts {}", contacts.display())).await;
    let (text, error) = message(&h);
    assert!(!error && text.contains("exported 5 rows"), "{text}");
    let csv = std::fs::read_to_string(&contacts).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "msisdn,gender,name,province");
    assert_eq!(lines[1], "+85512000001,f,Sokha,Kandal");
    assert_eq!(lines.len(), 6);

    let callout = dir.path().join("callout 1.csv");
    command(&mut h, &format!("export callout 1 {}", callout.display())).await;
    assert!(
        message(&h).0.contains("exported 3 rows"),
        "{:?}",
        message(&h)
    );
    let csv = std::fs::read_to_string(&callout).unwrap();
    assert!(csv.starts_with("msisdn,"), "{csv}");
    assert!(csv.lines().next().unwrap().contains("final_status"));
    assert_eq!(csv.lines().count(), 4);

    // An unknown callout fails without touching an existing file.
    let keep = dir.path().join("keep.csv");
    std::fs::write(&keep, "keep").unwrap();
    command(&mut h, &format!("export callout 99 {}", keep.display())).await;
    let (text, error) = message(&h);
    assert!(error && text.contains("callout 99 not found"), "{text}");
    assert_eq!(std::fs::read_to_string(&keep).unwrap(), "keep");
    let partial = std::fs::read_dir(dir.path()).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")
    });
    assert!(!partial, "the temporary file was removed");
    // An unwritable path says so in the status bar.
    command(&mut h, "export contacts /nonexistent/dir/contacts.csv").await;
    let (text, error) = message(&h);
    assert!(error && text.contains("cannot write"), "{text}");
    assert!(h.screen(80, 24).contains("error: export to"));
    command(&mut h, "export contacts").await;
    assert!(
        message(&h).0.contains("usage: :export"),
        "{:?}",
        message(&h)
    );
}
