//! Campaign progress as text (reached, not reached by reason, pending, in progress, attempts,
//! ETA) and a text bar, shared by the callouts and live calls panes and the import gauge. Bars
//! are characters with the percentage written next to them, so they read without colour.

use super::thousands;
use crate::service::Progress;
use ratatui::text::{Line, Span};

/// `7m05s`, `42s`, `2h10m`; `—` without an estimate (a manual callout).
pub fn eta_text(eta: Option<i64>) -> String {
    match eta {
        None => "—".into(),
        Some(s) if s < 60 => format!("{}s", s.max(0)),
        Some(s) if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        Some(s) => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

pub fn not_reached_total(p: &Progress) -> i64 {
    p.not_reached.values().sum()
}

/// `busy 8 · not_answered 30`, or `none`.
pub fn not_reached_text(p: &Progress) -> String {
    if p.not_reached.is_empty() {
        return "none".into();
    }
    p.not_reached
        .iter()
        .map(|(s, n)| format!("{s} {}", thousands(*n)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Participations that will not be called again (reached or not), as a share of all.
pub fn done_ratio(p: &Progress) -> f64 {
    if p.participations <= 0 {
        return 0.0;
    }
    let done = p.reached + p.reached_machine + not_reached_total(p);
    (done as f64 / p.participations as f64).clamp(0.0, 1.0)
}

/// `████░░░░` of `width` cells.
pub fn bar(ratio: f64, width: usize) -> String {
    let full = ((ratio.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("{}{}", "█".repeat(full), "░".repeat(width - full))
}

/// `reached 3 (+1 machine)`.
pub fn reached_text(p: &Progress) -> String {
    let mut s = format!("reached {}", thousands(p.reached));
    if p.reached_machine > 0 {
        s.push_str(&format!(" (+{} machine)", thousands(p.reached_machine)));
    }
    s
}

/// `SMS 3 delivered · 1 failed · 2 on the way` for a callout with an SMS fallback.
pub fn texts_text(texts: &std::collections::BTreeMap<String, i64>) -> String {
    let n = |keys: &[&str]| -> i64 { keys.iter().filter_map(|k| texts.get(*k)).sum() };
    let mut s = format!(
        "SMS {} delivered · {} failed · {} on the way",
        thousands(n(&["delivered"])),
        thousands(n(&["failed", "undelivered"])),
        thousands(n(&["pending", "sending", "queued", "sent"]))
    );
    let unknown = n(&["unknown"]);
    if unknown > 0 {
        s.push_str(&format!(" · {} unknown", thousands(unknown)));
    }
    s
}

/// The progress panel's lines.
pub fn lines(p: &Progress, bar_width: usize) -> Vec<Line<'static>> {
    let ratio = done_ratio(p);
    let mut out = vec![
        Line::raw(format!(
            "{} · not reached {}: {}",
            reached_text(p),
            thousands(not_reached_total(p)),
            not_reached_text(p)
        )),
        Line::raw(format!(
            "pending {} · in progress {} · attempts {} · ETA {}",
            thousands(p.pending),
            thousands(p.in_progress),
            thousands(p.attempts),
            eta_text(p.eta_seconds)
        )),
        Line::from(vec![
            Span::raw(bar(ratio, bar_width)),
            Span::raw(format!(" {:.0}% done", ratio * 100.0)),
        ]),
    ];
    if let Some(t) = &p.texts {
        out.push(Line::raw(texts_text(t)));
    }
    out
}

/// One line for the live calls pane: `#3 Evacuation running: reached 2 · …`; `wide` adds
/// machine answers, reasons and attempts.
pub fn one_line(name: &str, p: &Progress, wide: bool) -> String {
    let label = format!("#{} {name} {}", p.callout_id, p.status);
    if !wide {
        return format!(
            "{label}: reached {} · missed {} · pending {} · live {} · ETA {}",
            thousands(p.reached),
            thousands(not_reached_total(p)),
            thousands(p.pending),
            thousands(p.in_progress),
            eta_text(p.eta_seconds)
        );
    }
    format!(
        "{label}: {} · not reached {} ({}) · pending {} · in progress {} · attempts {} · ETA {}",
        reached_text(p),
        thousands(not_reached_total(p)),
        not_reached_text(p),
        thousands(p.pending),
        thousands(p.in_progress),
        thousands(p.attempts),
        eta_text(p.eta_seconds)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(eta_text(Some(425)), "7m05s");
        assert_eq!(eta_text(Some(42)), "42s");
        assert_eq!(eta_text(Some(7800)), "2h10m");
        assert_eq!(eta_text(None), "—");
        assert_eq!(bar(0.5, 4), "██░░");
        let mut p = Progress {
            participations: 4,
            reached: 1,
            reached_machine: 1,
            ..Progress::default()
        };
        p.not_reached.insert("busy".into(), 1);
        assert_eq!(not_reached_text(&p), "busy 1");
        assert!((done_ratio(&p) - 0.75).abs() < 1e-9);
    }
}
