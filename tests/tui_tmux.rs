//! A smoke test as a person would run it: the real binary in a detached tmux session (80x24) on a
//! temp database, keys sent with `send-keys`, the screen read with `capture-pane`, quit with `q`,
//! and the terminal checked to be back (the shell line after the program printed its exit code).
//! Skips, saying why, only when tmux is not installed (CI installs it).
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(session: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let screen = tmux(&["capture-pane", "-p", "-t", session]);
        if screen.contains(what) {
            return screen;
        }
        assert!(
            Instant::now() < deadline,
            "never showed {what:?}; screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A detached 80x24 tmux session running `cmd`, killed when dropped (also when a check fails).
struct Session(String);

impl Session {
    /// None (after saying so) when tmux is not installed.
    fn start(test: &str, cmd: &str) -> Option<Session> {
        if Command::new("tmux").arg("-V").output().is_err() {
            println!("SKIPPED {test}: tmux is not installed");
            return None;
        }
        let name = format!("scfm-{test}-{}", std::process::id());
        let started = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "80",
                "-y",
                "24",
                cmd,
            ])
            .status()
            .unwrap();
        assert!(started.success());
        Some(Session(name))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

#[test]
fn tui_in_tmux() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    // A SQLite file in the temp dir, or a fresh PostgreSQL database with SCFM_TEST_DATABASE.
    let db = scfm::store::Location::for_tests(&dir.path().join("scfm.sqlite3")).as_url();
    let cmd = format!(
        "env -u NO_COLOR SCFM_DATA_DIR={d} DATABASE_URL={db} SCFM_LISTEN=127.0.0.1:0 \
         SCFM_API_TOKEN=smoke PLATFORM_PROVIDER=simulator TERM=xterm-256color {}; \
         echo SCFM-EXIT:$?; sleep 60",
        env!("CARGO_BIN_EXE_scfm")
    );
    let Some(guard) = Session::start("smoke", &cmd) else {
        return;
    };
    let session = guard.0.as_str();
    let screen = wait_for(session, "No contacts yet");
    assert!(screen.contains("[1 Contacts]"), "{screen}");
    assert!(screen.contains("SIMULATION"), "{screen}");
    assert!(screen.contains("workers on"), "{screen}");
    assert!(screen.contains("http://127.0.0.1:"), "{screen}");
    // Create a contact through the form.
    tmux(&["send-keys", "-t", session, "n"]);
    wait_for(session, "New contact");
    tmux(&[
        "send-keys",
        "-t",
        session,
        "+85512345678",
        "Tab",
        "province=Kandal",
        "C-s",
    ]);
    wait_for(session, "contact 1 saved");
    let screen = wait_for(session, "province=Kandal");
    assert!(screen.contains("+85512345678"), "{screen}");
    // Help and panes.
    tmux(&["send-keys", "-t", session, "?"]);
    wait_for(session, "Everywhere");
    tmux(&["send-keys", "-t", session, "Escape"]);
    tmux(&["send-keys", "-t", session, "4"]);
    wait_for(session, "Calls by status");
    // Quit; the program's exit status is printed on the restored screen.
    tmux(&["send-keys", "-t", session, "q"]);
    let screen = wait_for(session, "SCFM-EXIT:");
    assert!(screen.contains("SCFM-EXIT:0"), "{screen}");
    assert!(screen.contains("scfm: log is at"), "{screen}");
    assert!(
        !screen.contains("Calls by status"),
        "alternate screen left: {screen}"
    );
    assert!(std::path::Path::new(&format!("{d}/scfm.log")).exists());
}

/// The SSH link drops: SIGHUP ends the TUI cleanly (terminal restored, exit status 0, the log
/// says why) and the database stays usable by the next start.
#[test]
fn sighup_restores_the_terminal_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let db = scfm::store::Location::for_tests(&dir.path().join("scfm.sqlite3")).as_url();
    let cmd = format!(
        "env -u NO_COLOR SCFM_DATA_DIR={d} DATABASE_URL={db} SCFM_LISTEN=127.0.0.1:0 \
         SCFM_API_TOKEN=smoke PLATFORM_PROVIDER=simulator TERM=xterm-256color {} & \
         echo SCFM-PID:$!; wait $!; echo SCFM-EXIT:$?; sleep 60",
        env!("CARGO_BIN_EXE_scfm")
    );
    let Some(guard) = Session::start("hup", &cmd) else {
        return;
    };
    let session = guard.0.as_str();
    wait_for(session, "No contacts yet");
    let pid = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| {
                    env.split(|b| *b == 0)
                        .any(|kv| kv == format!("SCFM_DATA_DIR={d}").as_bytes())
                })
                .unwrap_or(false)
        })
        .expect("the scfm process");
    let hup = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let screen = wait_for(session, "SCFM-EXIT:");
    assert!(screen.contains("SCFM-EXIT:0"), "{screen}");
    assert!(
        !screen.contains("No contacts yet"),
        "alternate screen left: {screen}"
    );
    let log = std::fs::read_to_string(format!("{d}/scfm.log")).unwrap();
    assert!(log.contains("SIGHUP"), "{log}");
    // The database opens again (no stale lock, migrations applied).
    let out = Command::new(env!("CARGO_BIN_EXE_scfm"))
        .args(["export", "contacts", "-o", &format!("{d}/contacts.csv")])
        .env("SCFM_DATA_DIR", &d)
        .env("DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let csv = std::fs::read_to_string(format!("{d}/contacts.csv")).unwrap();
    assert!(csv.starts_with("msisdn"), "{csv}");
}
