//! The event loop: one task owns the App and the screen and `select!`s over terminal input,
//! effect results, service change events, a refresh timer that exists only after a change, a
//! frame-rate limit that exists only while a frame is owed, and shutdown. Nothing ticks: an
//! idle TUI draws nothing and sends nothing.

use super::action::{Action, Nav};
use super::app::App;
use super::effects;
use crate::service::ServiceEvent;
use crossterm::event::{Event, KeyEventKind, MouseEventKind};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// At most ~30 frames a second.
pub const FRAME: Duration = Duration::from_millis(33);
/// Changes reported by the service are coalesced for this long before panes reload.
pub const REFRESH_DELAY: Duration = Duration::from_millis(250);

/// While the database does not answer, how often the change feed asks again.
const DATABASE_RETRY: Duration = Duration::from_secs(1);

/// Something that can show the App.
pub trait Screen {
    fn draw(&mut self, app: &App) -> std::io::Result<()>;
}

impl<B: Backend> Screen for Terminal<B> {
    fn draw(&mut self, app: &App) -> std::io::Result<()> {
        Terminal::draw(self, |f| {
            let area = f.area();
            app.render(area, f.buffer_mut())
        })
        .map(|_| ())
    }
}

/// The real terminal: each frame wrapped in synchronized-update sequences against tearing.
pub struct Synced<B: Backend + std::io::Write>(pub Terminal<B>);

impl<B: Backend + std::io::Write> Screen for Synced<B> {
    fn draw(&mut self, app: &App) -> std::io::Result<()> {
        crossterm::queue!(
            self.0.backend_mut(),
            crossterm::terminal::BeginSynchronizedUpdate
        )?;
        Screen::draw(&mut self.0, app)?;
        crossterm::execute!(
            self.0.backend_mut(),
            crossterm::terminal::EndSynchronizedUpdate
        )
    }
}

fn handle_event(app: &mut App, ev: Event) -> (Vec<super::action::Effect>, bool) {
    match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => (app.handle_key(k), true),
        Event::Resize(..) => (app.update(Action::Resize), true),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => (app.update(Action::Nav(Nav::Down)), true),
            MouseEventKind::ScrollUp => (app.update(Action::Nav(Nav::Up)), true),
            _ => (vec![], false),
        },
        _ => (vec![], false),
    }
}

/// Runs until the App quits, input ends, or `shutdown` resolves. `draws` counts frames.
pub async fn run<S, E, F>(
    app: &mut App,
    screen: &mut S,
    service: &crate::service::Service,
    mut events: E,
    shutdown: F,
    draws: Arc<AtomicU64>,
) -> std::io::Result<()>
where
    S: Screen,
    E: Stream<Item = std::io::Result<Event>> + Unpin,
    F: Future<Output = ()>,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
    let mut changes = service.subscribe();
    let watcher = spawn_change_feed(service.clone(), tx.clone());
    let spawn = |effects: Vec<super::action::Effect>| {
        for e in effects {
            effects::spawn(service, e, &tx);
        }
    };
    spawn(app.start());
    tokio::pin!(shutdown);
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut refresh_at: Option<Instant> = None;
    let mut changes_open = true;
    let result = loop {
        if app.quit {
            break Ok(());
        }
        let mut draw_at = None;
        if dirty {
            match last_draw {
                Some(t) if t.elapsed() < FRAME => draw_at = Some(t + FRAME),
                _ => {
                    if let Err(e) = screen.draw(app) {
                        break Err(e);
                    }
                    draws.fetch_add(1, Ordering::Relaxed);
                    last_draw = Some(Instant::now());
                    dirty = false;
                }
            }
        }
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            ev = events.next() => match ev {
                Some(Ok(ev)) => {
                    let (effects, changed) = handle_event(app, ev);
                    dirty |= changed;
                    spawn(effects);
                }
                Some(Err(e)) => break Err(e),
                None => break Ok(()),
            },
            Some(action) = rx.recv() => {
                let stale = matches!(action, Action::AllStale);
                spawn(app.update(action));
                if stale {
                    refresh_at.get_or_insert_with(|| Instant::now() + REFRESH_DELAY);
                } else {
                    dirty = true;
                }
            }
            r = changes.recv(), if changes_open => {
                match r {
                    Ok(ev) => {
                        // A hold or a slow-down changes only the message and status lines:
                        // no pane reload follows to draw them.
                        dirty |= matches!(ev, ServiceEvent::DialingHeld(_) | ServiceEvent::DialingSlowed(_));
                        spawn(app.update(Action::ServiceChanged(ev)));
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::debug!(missed = n, "service events lagged; reloading");
                        spawn(app.update(Action::AllStale));
                    }
                    Err(RecvError::Closed) => changes_open = false,
                }
                // Drain what else is queued, then reload once after a short pause.
                while let Ok(ev) = changes.try_recv() {
                    dirty |= matches!(ev, ServiceEvent::DialingHeld(_) | ServiceEvent::DialingSlowed(_));
                    spawn(app.update(Action::ServiceChanged(ev)));
                }
                refresh_at.get_or_insert_with(|| Instant::now() + REFRESH_DELAY);
            }
            _ = sleep_until(refresh_at), if refresh_at.is_some() => {
                refresh_at = None;
                let effects = app.update(Action::Refresh);
                spawn(effects);
            }
            _ = sleep_until(draw_at), if draw_at.is_some() => {}
        }
    };
    watcher.abort();
    result
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => futures::future::pending().await,
    }
}

/// Follows the service's change feed and reports each change (a write by another process, or
/// by this one) as `AllStale`. Sends nothing while nothing changes. On a change it also reads
/// the dialling hold and pace, which publish `DialingHeld` / `DialingSlowed` when another
/// process changed them; those in place at start are reported at once.
fn spawn_change_feed(
    service: crate::service::Service,
    tx: mpsc::UnboundedSender<Action>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut feed = match service.change_feed().await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "change feed unavailable");
                return;
            }
        };
        // The service may have seen this hold or slow-down before the TUI subscribed to its
        // events.
        if let Ok(Some(why)) = service.dialing_held().await {
            let held = Action::ServiceChanged(ServiceEvent::DialingHeld(Some(why)));
            if tx.send(held).is_err() {
                return;
            }
        }
        if let Ok(Some(why)) = service.dialing_slowed().await {
            let slowed = Action::ServiceChanged(ServiceEvent::DialingSlowed(Some(why)));
            if tx.send(slowed).is_err() {
                return;
            }
        }
        loop {
            match feed.changed().await {
                Ok(()) => {
                    if let Err(e) = service.dialing_held().await {
                        tracing::warn!(error = %e, "reading the dialling hold failed");
                    }
                    if let Err(e) = service.dialing_slowed().await {
                        tracing::warn!(error = %e, "reading the dialling pace failed");
                    }
                    if tx.send(Action::AllStale).is_err() {
                        return;
                    }
                }
                // The database is away (a PostgreSQL restart, a lost network, a failed read):
                // say so, ask once a second until it answers, say that too, and reload
                // everything (changes may have been missed meanwhile).
                Err(e) => {
                    tracing::warn!(error = %e, "the change feed lost the database");
                    if tx.send(Action::DatabaseState(Some(e.to_string()))).is_err() {
                        return;
                    }
                    while service.ping_database().await.is_err() {
                        tokio::time::sleep(DATABASE_RETRY).await;
                    }
                    tracing::info!("the database answers again");
                    let back = [Action::DatabaseState(None), Action::AllStale];
                    if back.into_iter().any(|a| tx.send(a).is_err()) {
                        return;
                    }
                }
            }
        }
    })
}
