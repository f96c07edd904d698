//! The idle test: the real event loop over a TestBackend, with the HTTP-less workers running and
//! no input. After the first loads land, nothing happening for 2 seconds draws no frame.
#![allow(clippy::unwrap_used)]

mod tui_support;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scfm::tui::app::App;
use scfm::tui::theme::Theme;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tui_support::{fixed_clock, info, seed, service_with};

#[tokio::test]
async fn an_idle_tui_draws_nothing() {
    let (_d, service) = service_with(fixed_clock()).await;
    seed(&service).await;
    // The seed's journal entries sealed now: sealed later by the worker, that commit would
    // reach the TUI at its next look at the database (every 2 s) and draw inside the window.
    service
        .seal_journal(scfm::store::journal::Sealing::Wait)
        .await
        .unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut workers = scfm::workers::spawn_all(&service, cancel.clone());
    let draws = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let loop_task = {
        let service = service.clone();
        let draws = draws.clone();
        tokio::spawn(async move {
            let mut app = App::new(info(), Theme::plain(), String::new(), None);
            let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
            let input = futures::stream::pending::<std::io::Result<crossterm::event::Event>>();
            let stop = async {
                let _ = stop_rx.await;
            };
            scfm::tui::event_loop::run(&mut app, &mut term, &service, input, stop, draws)
                .await
                .unwrap();
            term
        })
    };
    // Let the first loads land: wait until the frame count stops moving for a while.
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = draws.load(Ordering::SeqCst);
        if now == last && now > 0 {
            break;
        }
        last = now;
    }
    let before = draws.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = draws.load(Ordering::SeqCst);
    assert_eq!(after, before, "an idle TUI drew {} frames", after - before);
    // The loop is alive and showed the contacts it loaded.
    stop_tx.send(()).unwrap();
    let term = loop_task.await.unwrap();
    let screen = format!("{:?}", term.backend().buffer());
    assert!(screen.contains("+85512000001"));
    cancel.cancel();
    while workers.join_next().await.is_some() {}
}
