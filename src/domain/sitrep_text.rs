//! The two text forms of a situation report: the long one for a chat or a log (a table, one
//! row per area), and the short one that fits one SMS (160 GSM-7 characters), for the radio.
//!
//! In the short form "not yet" is everyone who will still be tried (the long form's "not yet"
//! plus "pending"), so reached + machine + not yet + unreachable add up to the people.

use super::gsm7;
use super::sitrep::{Sitrep, Tally};
use chrono::{DateTime, Utc};

/// When the report was made, in the report's zone (UTC when it has none or an unknown one).
fn local(at: DateTime<Utc>, zone: Option<&str>) -> (String, String) {
    match zone.and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
        Some(tz) => {
            let t = at.with_timezone(&tz);
            (
                t.format("%Y-%m-%d %H:%M %Z").to_string(),
                t.format("%H:%M").to_string(),
            )
        }
        None => (
            at.format("%Y-%m-%d %H:%M UTC").to_string(),
            at.format("%H:%MZ").to_string(),
        ),
    }
}

fn title(s: &Sitrep) -> String {
    match &s.name {
        Some(n) => format!("Callout {} \"{n}\" ({})", s.callout_id, s.status),
        None => format!("Callout {} ({})", s.callout_id, s.status),
    }
}

fn percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// The long form: a title, the time, the totals, and one table row per area.
pub fn long(s: &Sitrep) -> String {
    let (when, _) = local(s.made_at, s.time_zone.as_deref());
    let t = &s.totals;
    let mut out = format!(
        "Situation report: {}\nMade {when}\nTotal: {} people: {} reached ({}), {} reached by machine, {} not yet, {} unreachable, {} pending ({} ringing now)\n",
        title(s),
        t.people,
        t.reached,
        percent(t.reached, t.people),
        t.reached_machine,
        t.not_yet,
        t.unreachable,
        t.pending,
        t.in_progress
    );
    let texted = !t.texts.is_empty();
    if texted {
        let x = &t.texts;
        out.push_str(&format!(
            "SMS fallback: {} texts: {} delivered, {} sent, {} failed, {} waiting, {} unknown\n",
            x.total, x.delivered, x.sent, x.failed, x.waiting, x.unknown
        ));
    }
    let Some(by) = &s.by else {
        return out;
    };
    let none = format!("(no {by})");
    let names: Vec<&str> = s
        .areas
        .iter()
        .map(|a| a.area.as_deref().unwrap_or(&none))
        .collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .chain([by.chars().count(), "(all)".len()])
        .max()
        .unwrap_or(5);
    let row = |name: &str, cells: [String; 8]| {
        let pad = width - name.chars().count();
        let mut line = format!("{name}{}", " ".repeat(pad));
        let shown = if texted { 8 } else { 7 };
        for (c, w) in cells.iter().zip([8, 9, 8, 9, 13, 9, 9, 12]).take(shown) {
            line.push_str(&format!("{c:>w$}"));
        }
        line.push('\n');
        line
    };
    let head = [
        "people",
        "reached",
        "%",
        "machine",
        "unreachable",
        "not yet",
        "pending",
        "texted",
    ]
    .map(String::from);
    out.push('\n');
    out.push_str(&row(by, head));
    let cells = |t: &Tally| {
        [
            t.people.to_string(),
            t.reached.to_string(),
            percent(t.reached, t.people),
            t.reached_machine.to_string(),
            t.unreachable.to_string(),
            t.not_yet.to_string(),
            t.pending.to_string(),
            format!("{}/{}", t.texts.delivered, t.texts.total),
        ]
    };
    for (a, name) in s.areas.iter().zip(&names) {
        out.push_str(&row(name, cells(&a.tally)));
    }
    out.push_str(&row("(all)", cells(t)));
    out
}

/// The short form and, when it is not the whole report in one GSM-7 SMS, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Short {
    pub text: String,
    /// Whether `text` fits one GSM-7 SMS (160 characters).
    pub fits: bool,
    /// Set when something was left out or the text does not fit.
    pub note: Option<String>,
}

/// The short form: `NAME HH:MM: R/P reached, M machine, N not yet, U unreachable. AREA R/P; …`,
/// with as many areas (largest first) as fit in one GSM-7 SMS.
pub fn short(s: &Sitrep) -> Short {
    let (_, hhmm) = local(s.made_at, s.time_zone.as_deref());
    let t = &s.totals;
    let label = s
        .name
        .as_deref()
        .map(|n| shorten(n, 40))
        .filter(|n| gsm7::fits_one_gsm7(n))
        .unwrap_or_else(|| format!("Callout {}", s.callout_id));
    let mut text = format!("{label} {hhmm}: {}/{} reached", t.reached, t.people);
    if t.reached_machine > 0 {
        text.push_str(&format!(", {} machine", t.reached_machine));
    }
    text.push_str(&format!(
        ", {} not yet, {} unreachable",
        t.not_yet + t.pending,
        t.unreachable
    ));
    if !t.texts.is_empty() {
        text.push_str(&format!(
            ", SMS {}/{} delivered",
            t.texts.delivered, t.texts.total
        ));
    }
    let mut areas: Vec<_> = s.areas.iter().filter(|a| a.area.is_some()).collect();
    areas.sort_by_key(|a| std::cmp::Reverse(a.tally.people));
    let (mut shown, mut left, mut other_script, mut full) = (0, 0, 0, false);
    for (i, a) in areas.iter().enumerate() {
        let name = a.area.as_deref().unwrap_or_default();
        if !gsm7::fits_one_gsm7(name) {
            other_script += 1;
            left += 1;
            continue;
        }
        if full {
            left += 1;
            continue;
        }
        let sep = if shown == 0 { ". " } else { "; " };
        let candidate = format!("{text}{sep}{name} {}/{}", a.tally.reached, a.tally.people);
        // Room for the "; +N more" ending while areas remain after this one.
        let ending = if i + 1 < areas.len() {
            format!("; +{} more", areas.len())
        } else {
            String::new()
        };
        if gsm7::fits_one_gsm7(&format!("{candidate}{ending}")) {
            text = candidate;
            shown += 1;
        } else {
            full = true;
            left += 1;
        }
    }
    if left > 0 {
        text.push_str(&format!(
            "{}+{left} more",
            if shown == 0 { ". " } else { "; " }
        ));
    }
    let fits = gsm7::fits_one_gsm7(&text);
    let mut notes = Vec::new();
    if left > 0 {
        notes.push(format!(
            "{shown} of {} areas fit in one SMS; the long form has them all",
            areas.len()
        ));
    }
    if other_script > 0 {
        notes.push(format!(
            "{other_script} area names are not in the GSM-7 alphabet (they would make the text UCS-2, 70 characters per SMS)"
        ));
    }
    if !fits {
        let seg = gsm7::segments(&text);
        notes.push(format!(
            "does not fit one SMS: {} {} characters, {} messages",
            seg.units,
            seg.encoding.as_str(),
            seg.count
        ));
    }
    Short {
        text,
        fits,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

/// `s` cut to at most `max` characters, ending in `...` when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 3).collect();
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    use super::super::outcome::Outcome;
    use super::super::sitrep::{Group, tally};
    use super::*;
    use chrono::TimeZone;

    fn report(areas: &[(&str, i64, i64, i64)]) -> Sitrep {
        let mut rows = Vec::new();
        for (name, reached, not_yet, unreachable) in areas {
            for (outcome, people) in [
                (Outcome::Reached, *reached),
                (Outcome::NotYet, *not_yet),
                (Outcome::Unreachable, *unreachable),
            ] {
                rows.push(Group {
                    area: Some(*name),
                    outcome,
                    text: None,
                    people,
                });
            }
        }
        let (totals, areas) = tally(rows);
        Sitrep {
            callout_id: 7,
            name: Some("Flood warning".into()),
            status: "running".into(),
            by: Some("province".into()),
            made_at: Utc.with_ymd_and_hms(2026, 12, 4, 10, 5, 0).unwrap(),
            time_zone: Some("Asia/Phnom_Penh".into()),
            totals,
            areas,
        }
    }

    #[test]
    fn the_short_form_is_one_sms_with_the_largest_areas() {
        let s = report(&[("Kandal", 8412, 647, 41), ("Takeo", 100, 5, 0)]);
        let short = short(&s);
        assert_eq!(
            short.text,
            "Flood warning 17:05: 8512/9205 reached, 652 not yet, 41 unreachable. Kandal 8412/9100; Takeo 100/105"
        );
        assert!(short.fits);
        assert_eq!(short.note, None);
    }

    #[test]
    fn areas_that_do_not_fit_are_counted_and_noted() {
        let many: Vec<(String, i64)> = (0..30)
            .map(|i| (format!("District {i:02}"), 100 + i))
            .collect();
        let rows: Vec<(&str, i64, i64, i64)> =
            many.iter().map(|(n, r)| (n.as_str(), *r, 1, 0)).collect();
        let short = short(&report(&rows));
        assert!(short.fits, "{}", short.text);
        assert!(short.text.chars().count() <= 160);
        assert!(short.text.contains("more"), "{}", short.text);
        // The largest come first.
        assert!(short.text.contains("District 29 129/130"), "{}", short.text);
        assert!(short.note.unwrap().contains("of 30 areas"));
    }

    #[test]
    fn khmer_area_names_are_left_out_of_the_gsm7_text_with_a_note() {
        let short = short(&report(&[("កណ្ដាល", 10, 0, 0), ("Takeo", 5, 1, 0)]));
        assert!(short.fits);
        assert!(short.text.ends_with("Takeo 5/6; +1 more"), "{}", short.text);
        assert!(short.note.unwrap().contains("GSM-7"));
    }

    #[test]
    fn the_long_form_has_every_area_and_column() {
        let s = report(&[("Kandal", 8412, 647, 41), ("Takeo", 100, 5, 0)]);
        let text = long(&s);
        assert!(text.contains("Made 2026-12-04 17:05 +07"), "{text}");
        assert!(
            text.contains("Total: 9205 people: 8512 reached (92.5%)"),
            "{text}"
        );
        let kandal = text.lines().find(|l| l.starts_with("Kandal")).unwrap();
        let cells: Vec<&str> = kandal.split_whitespace().collect();
        assert_eq!(
            cells,
            ["Kandal", "9100", "8412", "92.4%", "0", "41", "647", "0"]
        );
    }
}
