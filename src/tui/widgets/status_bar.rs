//! The chrome around every pane: the tab bar (with the SIMULATION badge), the message line,
//! the status line (listen URL, provider and credentials, workers, database) and the key hints.

use super::super::action::PaneId;
use super::super::keymap::Binding;
use super::super::theme::Theme;
use super::{progress, thousands, truncate_left};
use crate::service::{ImportProgress, ON_FALLBACK};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

/// Whether this process serves the API (and runs the workers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Serving(String),
    /// The port was taken (another scfm, most likely): no server, no workers.
    PortTaken(String),
    /// Not started (tests, read-only).
    Off,
}

/// What the status bar says about this process; fixed at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub listen: Listen,
    pub provider: String,
    pub missing_credentials: Option<String>,
    pub simulated: bool,
    pub database: String,
    pub log_path: String,
}

impl Info {
    pub fn workers_running(&self) -> bool {
        matches!(self.listen, Listen::Serving(_))
    }
}

/// The last message, shown until the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

pub fn render_tabs(focus: PaneId, info: &Info, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let mut spans = Vec::new();
    let narrow = area.width < 100;
    for p in PaneId::ALL {
        let title = if narrow {
            match p {
                PaneId::Contacts => "Contacts",
                PaneId::Callouts => "Callouts",
                PaneId::Previews => "Previews",
                PaneId::Calls => "Calls",
            }
        } else {
            p.title()
        };
        let label = format!(" {} {} ", p.index() + 1, title);
        if p == focus {
            spans.push(Span::styled(
                format!("[{}]", label.trim()),
                theme.active_tab(),
            ));
        } else {
            spans.push(Span::raw(label));
        }
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
    if info.simulated {
        let badge = " SIMULATION ";
        let w = badge.len() as u16;
        if area.width > w {
            buf.set_span(
                area.x + area.width - w,
                area.y,
                &Span::styled(badge, theme.simulation()),
                w,
            );
        }
    }
}

/// Dialling's state as the status bar shows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dialling<'a> {
    /// Why dialling is held (refused credentials, or the provider not accepting calls), here or
    /// in another process.
    pub held: Option<&'a str>,
    /// Why congestion control has slowed it down.
    pub slowed: Option<&'a str>,
}

/// The last message; without one, why dialling is held, off or slowed, if it is.
pub fn render_message(
    message: Option<&Message>,
    info: &Info,
    dialling: Dialling<'_>,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let line = match message {
        Some(m) if m.error => Line::from(vec![
            Span::styled("error: ", theme.error()),
            Span::raw(format!("{} (log: {})", m.text, info.log_path)),
        ]),
        Some(m) => Line::raw(m.text.clone()),
        None => match (dialling.held, &info.missing_credentials, dialling.slowed) {
            (Some(why), _, _) if why.ends_with(ON_FALLBACK) => Line::from(vec![
                Span::styled("failover: ", theme.warning()),
                Span::raw(why.to_string()),
            ]),
            (Some(why), _, _) => Line::from(vec![
                Span::styled("dialling held: ", theme.warning()),
                Span::raw(why.to_string()),
            ]),
            (None, Some(missing), _) => Line::from(vec![
                Span::styled("dialling off: ", theme.warning()),
                Span::raw(missing.clone()),
            ]),
            (None, None, Some(why)) => Line::from(vec![
                Span::styled("dialling slowed: ", theme.warning()),
                Span::raw(why.to_string()),
            ]),
            (None, None, None) => Line::raw(""),
        },
    };
    buf.set_line(area.x, area.y, &line, area.width);
}

/// The status line: dialling held or slowed (here or in another process) replaces "credentials
/// set".
pub fn render_status(
    info: &Info,
    dialling: Dialling<'_>,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let mut spans = Vec::new();
    if info.simulated {
        spans.push(Span::styled(" SIMULATION ", theme.simulation()));
        spans.push(Span::raw(" "));
    }
    let listen = match &info.listen {
        Listen::Serving(url) => url.clone(),
        Listen::PortTaken(_) => "no server: port taken".into(),
        Listen::Off => "no server".into(),
    };
    let creds = if info.simulated {
        ""
    } else if info.missing_credentials.is_some() {
        ": no credentials"
    } else if dialling.held.is_some_and(|w| w.ends_with(ON_FALLBACK)) {
        ": failover"
    } else if dialling.held.is_some() {
        ": dialling held"
    } else if dialling.slowed.is_some() {
        ": dialling slowed"
    } else {
        ": credentials set"
    };
    let workers = if info.workers_running() {
        "workers on"
    } else {
        "workers off"
    };
    let head = format!("{listen} │ {}{creds} │ {workers} │ db ", info.provider);
    let used: usize = spans.iter().map(|s| s.width()).sum::<usize>() + head.chars().count();
    let room = (area.width as usize).saturating_sub(used).max(8);
    spans.push(Span::styled(head, theme.dim()));
    spans.push(Span::raw(truncate_left(&info.database, room)));
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

pub fn render_hints(bindings: &[Binding], area: Rect, buf: &mut Buffer, theme: &Theme) {
    let mut spans = Vec::new();
    for b in bindings.iter().filter(|b| b.hint) {
        let style = if b.disabled.is_some() {
            theme.dim()
        } else {
            ratatui::style::Style::new()
        };
        spans.push(Span::styled(
            b.label.to_string(),
            theme.title().patch(style),
        ));
        spans.push(Span::styled(format!(" {}  ", b.desc), style));
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

/// The import gauge, in place of the message line while an import of `path` runs: bytes read
/// of the file's size as a bar and a percentage, with the running totals.
pub fn render_import(path: &str, p: &ImportProgress, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let ratio = match p.total_bytes {
        Some(total) if total > 0 => p.bytes as f64 / total as f64,
        _ => 0.0,
    };
    let name = truncate_left(path, 24);
    let line = Line::from(vec![
        Span::styled("importing ", theme.title()),
        Span::raw(format!("{name} ")),
        Span::raw(progress::bar(ratio, 20)),
        Span::raw(format!(
            " {:>3.0}% · {} rows · {} invalid",
            ratio * 100.0,
            thousands(p.rows as i64),
            thousands(p.invalid as i64)
        )),
    ]);
    buf.set_line(area.x, area.y, &line, area.width);
}
