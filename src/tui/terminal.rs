//! Terminal lifecycle: enter raw mode and the alternate screen, and restore them exactly once
//! whichever way the TUI ends (normal exit, error, panic on the UI thread, SIGHUP). A panic on
//! any other thread (HTTP, workers) is only logged: printing it would scribble over the screen,
//! and the supervisor restarts the worker.

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ThreadId;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static MOUSE: AtomicBool = AtomicBool::new(false);
static UI_THREAD: OnceLock<ThreadId> = OnceLock::new();

/// Restores the terminal when dropped.
pub struct Guard(());

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Raw mode, alternate screen, hidden cursor; mouse capture only when asked for (it breaks
/// selecting text to copy over SSH).
pub fn enter(mouse: bool) -> std::io::Result<Guard> {
    let mut out = std::io::stdout();
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    crossterm::execute!(out, EnterAlternateScreen, crossterm::cursor::Hide)?;
    if mouse {
        crossterm::execute!(out, EnableMouseCapture)?;
        MOUSE.store(true, Ordering::SeqCst);
    }
    Ok(Guard(()))
}

/// Leaves the alternate screen and raw mode. Idempotent; errors are ignored (after SIGHUP the
/// terminal may be gone).
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout();
    if MOUSE.swap(false, Ordering::SeqCst) {
        let _ = crossterm::execute!(out, DisableMouseCapture);
    }
    let _ = crossterm::execute!(
        out,
        crossterm::terminal::EndSynchronizedUpdate,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Installs the panic hook. Call on the thread that owns the terminal.
pub fn install_panic_hook() {
    let _ = UI_THREAD.set(std::thread::current().id());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let on_ui = UI_THREAD.get() == Some(&std::thread::current().id());
        if on_ui {
            restore();
            tracing::error!(panic = %info, "panic on the UI thread");
            previous(info);
        } else {
            tracing::error!(panic = %info, "panic in a background task");
        }
    }));
}
