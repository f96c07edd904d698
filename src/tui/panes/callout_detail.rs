//! The callout's progress panel (beside the list when wide, atop the detail view) and the
//! detail view: participations and calls. Progress is the service's `callout_progress`:
//! reached, not reached by reason, pending, in progress, attempts, ETA.

use super::super::theme::Theme;
use super::super::widgets::{progress, short_time, thousands};
use super::table;
use crate::domain::dialing::DialingSettings;
use crate::service::tui_queries::{CalloutDetail, CalloutSummary, IN_FLIGHT};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Widget, Wrap};
use serde_json::Value;

/// A callout's name (its `name` metadata; empty when unset).
pub fn name_of(metadata: &Value) -> String {
    metadata
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// `completed 3 · busy 1` plus the number still in flight.
fn calls_text(calls: &[(String, i64)]) -> String {
    if calls.is_empty() {
        return "no calls".into();
    }
    calls
        .iter()
        .map(|(s, n)| format!("{s} {}", thousands(*n)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Calls still moving (queued, dialled, ringing or talking).
fn in_flight(calls: &[(String, i64)]) -> i64 {
    calls
        .iter()
        .filter(|(s, _)| IN_FLIGHT.contains(&s.as_str()))
        .map(|(_, n)| n)
        .sum()
}

/// Rows `text` takes when word-wrapped to `width` (greedy, as `Wrap { trim: true }` does).
fn wrapped_rows(text: &str, width: usize) -> usize {
    let width = width.max(1);
    let (mut rows, mut used) = (1, 0);
    for word in text.split_whitespace() {
        let w = word.chars().count();
        let need = if used == 0 { w } else { used + 1 + w };
        if need <= width {
            used = need;
        } else {
            rows += 1 + (w.saturating_sub(1)) / width;
            used = (w - 1) % width + 1;
        }
    }
    rows
}

/// `from +855… · 2/s · 10 at once · 3 attempts 15m apart · window 08:00–20:00 …`, or manual.
pub fn dialing_text(dialing: Option<&Value>) -> String {
    let Some(v) = dialing.filter(|v| !v.is_null()) else {
        return "manual (no dialing settings; calls go through batch operations)".into();
    };
    let Ok(s) = serde_json::from_value::<DialingSettings>(v.clone()) else {
        return format!("{v}");
    };
    let flow = match (&s.call_flow_logic, &s.twiml_url) {
        (Some(f), _) => f.clone(),
        (None, Some(u)) => u.clone(),
        (None, None) => String::new(),
    };
    let mut out = format!(
        "from {} · {flow} · {}/s · {} at once · {} attempts {} apart on {}",
        s.from,
        s.max_calls_per_second,
        s.max_concurrent_calls,
        s.max_attempts,
        progress::eta_text(Some(s.retry_delay_seconds as i64)),
        s.retry_statuses.join(",")
    );
    if s.retry_backoff != 1.0 {
        out.push_str(&format!(" (×{} each)", s.retry_backoff));
    }
    if let Some(w) = &s.calling_window {
        let days = if w.days.is_empty() {
            "every day".to_string()
        } else {
            w.days.join(",")
        };
        out.push_str(&format!(
            " · window {}–{} {days} {}",
            w.start, w.end, w.time_zone
        ));
    }
    if s.machine_detection {
        out.push_str(" · machine detection");
    }
    if let Some(f) = &s.sms_fallback {
        out.push_str(&format!(
            " · SMS fallback {} at {}/s from {}",
            f.segments_text(),
            f.max_messages_per_second,
            s.sms_from().unwrap_or_default()
        ));
    }
    out
}

fn summary_lines(s: &CalloutSummary, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let c = &s.callout;
    let m = &c.metadata;
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("Callout {} ", c.id), theme.title()),
        Span::raw(format!("{} · ", name_of(m))),
        Span::styled(c.status.clone(), theme.status(&c.status)),
        Span::raw(format!(
            " · {} people · {} in flight",
            thousands(s.participations),
            thousands(in_flight(&s.calls))
        )),
    ])];
    let mut facts = vec![format!(
        "flow: {}",
        c.call_flow_logic.as_deref().unwrap_or("(default)")
    )];
    for key in ["message", "audio_url", "from"] {
        if let Some(v) = m.get(key).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            facts.push(format!("{key}: {v}"));
        }
    }
    if let Some(by) = &c.created_by {
        facts.push(format!("by {by}"));
    }
    if c.requires_approval {
        facts.push(match &c.approved_by {
            Some(a) => format!("approved by {a}"),
            None => "NEEDS APPROVAL by a second operator (A lists them)".into(),
        });
    }
    lines.push(Line::raw(facts.join(" · ")));
    lines.push(Line::raw(format!(
        "dialing: {}",
        dialing_text(c.dialing.as_ref())
    )));
    lines.push(Line::raw(format!("calls: {}", calls_text(&s.calls))));
    let bar = (width as usize).saturating_sub(14).min(40);
    lines.extend(progress::lines(&s.progress, bar));
    lines
}

/// Rows the panel needs at `width` (borders included).
fn summary_height(s: &CalloutSummary, width: u16, theme: &Theme) -> u16 {
    let inner = width.saturating_sub(2) as usize;
    let rows: usize = summary_lines(s, width, theme)
        .iter()
        .map(|l| wrapped_rows(&l.to_string(), inner))
        .sum();
    rows as u16 + 2
}

pub fn render_summary(s: &CalloutSummary, area: Rect, buf: &mut Buffer, theme: &Theme) {
    Paragraph::new(summary_lines(s, area.width, theme))
        .wrap(Wrap { trim: true })
        .block(Block::default().borders(Borders::ALL).title(" Progress "))
        .render(area, buf);
}

pub fn render_detail(d: Option<&CalloutDetail>, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let Some(d) = d else {
        Paragraph::new(Line::styled("loading callout…", theme.dim())).render(area, buf);
        return;
    };
    let head_rows =
        summary_height(&d.summary, area.width, theme).min(area.height.saturating_sub(8));
    let [head, body] =
        Layout::vertical([Constraint::Length(head_rows), Constraint::Min(4)]).areas(area);
    render_summary(&d.summary, head, buf, theme);
    let wide = area.width >= 120;
    let [left, right] = if wide {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body)
    };
    let rows = d
        .participations
        .iter()
        .map(|p| {
            Row::new(vec![
                p.id.to_string(),
                p.contact_id.to_string(),
                p.msisdn.clone(),
            ])
        })
        .collect();
    table(
        Line::raw(format!(
            " Participations (first {} of {}) ",
            d.participations.len(),
            thousands(d.participations_total)
        )),
        &["id", "contact", "msisdn"],
        &[
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Min(12),
        ],
        rows,
        None,
        left,
        buf,
        theme,
    );
    let rows = d
        .calls
        .iter()
        .map(|c| {
            Row::new(vec![
                c.id.to_string(),
                c.msisdn.clone(),
                c.status.clone(),
                short_time(&c.updated_at),
            ])
        })
        .collect();
    table(
        Line::raw(format!(" Calls, newest first ({}) ", d.calls.len())),
        &["id", "msisdn", "status", "updated"],
        &[
            Constraint::Length(7),
            Constraint::Length(14),
            Constraint::Length(19),
            Constraint::Min(8),
        ],
        rows,
        None,
        right,
        buf,
        theme,
    );
}

#[cfg(test)]
mod tests {
    use super::dialing_text;
    use serde_json::json;

    #[test]
    fn the_dialing_line_shows_the_fallback_text_segments_before_start() {
        let v = json!({"from": "1234", "twiml_url": "https://x/t.xml",
            "sms_fallback": {"body": "ទឹកជំនន់".repeat(20), "max_messages_per_second": 2.0}});
        let line = dialing_text(Some(&v));
        assert!(
            line.ends_with(" · SMS fallback 3 segments UCS-2 at 2/s from 1234"),
            "{line}"
        );
        let plain = dialing_text(Some(&json!({"from": "1", "twiml_url": "u"})));
        assert!(!plain.contains("SMS"), "{plain}");
    }
}
