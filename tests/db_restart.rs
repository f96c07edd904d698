//! PostgreSQL restarted under a running campaign: two `scfm serve` processes are dialling 300
//! calls at 30 calls/s and a TUI (the real event loop over a TestBackend) is watching the same
//! database when the server is stopped with a fast shutdown (every session cut), kept away for
//! two seconds and started again. The processes reconnect by themselves and finish the
//! campaign: each number is created once, none is lost, the cap held; the TUI's status bar said
//! the database was unavailable and then that it was reachable again.
//!
//! PostgreSQL only (SQLite has no server to restart): it needs the throwaway cluster of
//! `.ci/postgres` (`SCFM_PG_DIR`), and says on stderr when it is skipped.

#![allow(clippy::unwrap_used)]

mod support;
mod tui_support;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scfm::tui::app::App;
use scfm::tui::event_loop::Screen;
use scfm::tui::theme::Theme;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::fake_provider::{FakeConfig, FakeProvider};
use support::serve::{self, Serve};
use support::{campaign, pace};

const CALLS: usize = 300;
const CPS: usize = 30;

/// A TestBackend that keeps the bottom lines (status bar, key help) of every frame drawn.
struct Recorder {
    term: Terminal<TestBackend>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Screen for Recorder {
    fn draw(&mut self, app: &App) -> std::io::Result<()> {
        Screen::draw(&mut self.term, app)?;
        let buf = self.term.backend().buffer();
        let h = buf.area.height;
        let bottom: Vec<String> = (h.saturating_sub(3)..h)
            .map(|y| {
                let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
                line.trim_end().to_string()
            })
            .collect();
        self.lines.lock().unwrap().push(bottom.join(" | "));
        Ok(())
    }
}

fn skip(why: &str) -> bool {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: db_restart::a_database_restart_under_a_campaign_loses_nothing: {why}"
    );
    true
}

/// Waits until some status line recorded so far contains `text`.
async fn wait_line(lines: &Mutex<Vec<String>>, text: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(l) = lines.lock().unwrap().iter().find(|l| l.contains(text)) {
            return l.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the TUI never said {text:?}; last lines: {:?}",
            lines
                .lock()
                .unwrap()
                .iter()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_a_campaign_loses_nothing() {
    if !scfm::store::location::testing_on_postgres() {
        skip("PostgreSQL only (SCFM_TEST_DATABASE is not set)");
        return;
    }
    if std::env::var("SCFM_PG_DIR").is_err() {
        skip("needs the cluster of .ci/postgres (SCFM_PG_DIR is not set)");
        return;
    }
    let fake = FakeProvider::start(FakeConfig::twilio()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = scfm::store::Location::for_tests(&dir.path().join("unused.sqlite3"));
    let mut procs = Vec::new();
    for i in 0..2 {
        let port = serve::free_port();
        let cmd = campaign::dialling_command(&db, dir.path(), port, &fake, CPS);
        procs.push(Serve::start(cmd, port, dir.path().join(format!("serve-{i}.log"))).await);
    }
    let numbers: Vec<String> = (0..CALLS)
        .map(|i| format!("+8551{:07}", 5_000_000 + i))
        .collect();
    campaign::create_calls(&procs[0], &numbers).await;

    // A TUI on the same database, in this process.
    let store = scfm::store::Store::open(db.clone()).await.unwrap();
    let service = scfm::service::Service::new(
        store,
        scfm::domain::time::Clock::System,
        scfm::call_flow::Registry::default(),
    );
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let tui = {
        let lines = lines.clone();
        tokio::spawn(async move {
            let mut app = App::new(tui_support::info(), Theme::plain(), String::new(), None);
            let mut screen = Recorder {
                term: Terminal::new(TestBackend::new(120, 30)).unwrap(),
                lines,
            };
            let input = futures::stream::pending::<std::io::Result<crossterm::event::Event>>();
            let stop = async {
                let _ = stop_rx.await;
            };
            let draws = Arc::new(AtomicU64::new(0));
            scfm::tui::event_loop::run(&mut app, &mut screen, &service, input, stop, draws)
                .await
                .unwrap();
        })
    };

    campaign::queue_all(&procs[0]).await;
    // Restart the server once a third of the calls are out.
    let deadline = Instant::now() + Duration::from_secs(60);
    while pace::creates(&fake).len() < CALLS / 3 {
        assert!(Instant::now() < deadline, "the campaign did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = pace::creates(&fake).len();
    let restart = tokio::task::spawn_blocking(|| {
        std::process::Command::new("bash")
            .args([".ci/postgres", "restart", "2"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        restart.status.success(),
        "restart failed: {}",
        String::from_utf8_lossy(&restart.stderr)
    );
    let down = wait_line(&lines, "database unavailable", 20).await;
    let up = wait_line(&lines, "database reachable again", 30).await;

    let t = campaign::tally(&procs[0], &fake, CALLS).await;
    eprintln!(
        "database restarted after {before} creates (away 2 s): {t}; the TUI said {down:?}, then {up:?}"
    );
    t.assert_safe(&fake, CPS);
    stop_tx.send(()).unwrap();
    tui.await.unwrap();
}
