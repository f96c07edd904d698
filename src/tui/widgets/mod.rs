//! Small widgets and the modal dialogs: status bar, help, confirm, command line, filter, forms.

pub mod callout_form;
pub mod command_line;
pub mod confirm;
mod contact_form;
pub mod filter;
pub mod form;
pub mod help;
mod preview_form;
pub mod progress;
pub mod report;
pub mod status_bar;

use ratatui::layout::Rect;

/// A `w` x `h` rectangle centred in `area` (clamped to it).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Keeps the end of `s` within `max` characters (paths: the file name matters most).
pub fn truncate_left(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    if max <= 1 {
        return "…".chars().take(max).collect();
    }
    let tail: String = s.chars().skip(n - (max - 1)).collect();
    format!("…{tail}")
}

/// Thousands separators for counts (1,000,000).
pub fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A JSON object as compact `key=value` text.
pub fn kv_text(v: &serde_json::Value) -> String {
    match v.as_object() {
        Some(m) => m
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        None => String::new(),
    }
}

/// `2024-05-01T08:00:00.000Z` -> `05-01 08:00:00`.
pub fn short_time(ts: &str) -> String {
    if ts.len() >= 19 {
        format!("{} {}", &ts[5..10], &ts[11..19])
    } else {
        ts.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(12), "12");
        assert_eq!(truncate_left("/a/b/c.sqlite3", 8), "…sqlite3");
        assert_eq!(short_time("2024-05-01T08:00:00.000Z"), "05-01 08:00:00");
    }
}
