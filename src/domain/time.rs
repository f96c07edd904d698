//! Timestamps: the stored/rendered form (`2017-11-09T04:58:03.684Z`), a clock that tests can
//! control, and the lenient parsing SCFM's timestamp filters accept.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Formats a time the way SCFM renders it: UTC, milliseconds, `Z`.
pub fn format_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Source of "now". Production uses the system clock; tests use a manual clock.
#[derive(Clone, Debug)]
pub enum Clock {
    System,
    /// Milliseconds since the epoch, shared so a test can advance it.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start.timestamp_millis())))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(ms) => Utc
                .timestamp_millis_opt(ms.load(Ordering::SeqCst))
                .single()
                .unwrap_or_else(Utc::now),
        }
    }

    pub fn now_str(&self) -> String {
        format_ts(self.now())
    }

    /// Moves a manual clock forward; no effect on the system clock.
    pub fn advance(&self, by: chrono::Duration) {
        if let Clock::Manual(ms) = self {
            ms.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
        }
    }
}

/// A parsed filter value: a calendar date (or a time exactly at midnight UTC), compared by the
/// date of the column; or a full timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterTime {
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

/// Lenient parsing of filter values (`2017-11-29`, `2017-11-29 01:36:02`, `...T...Z`, offsets,
/// fractional seconds). Unparsable values give `None` (the filter is then ignored).
pub fn parse_filter_time(raw: &str) -> Option<FilterTime> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(FilterTime::Date(d));
    }
    let instant = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            [
                "%Y-%m-%d %H:%M:%S%.f%:z",
                "%Y-%m-%d %H:%M:%S%.f%z",
                "%Y-%m-%dT%H:%M:%S%.f%z",
            ]
            .iter()
            .find_map(|f| DateTime::parse_from_str(s, f).ok())
            .map(|t| t.with_timezone(&Utc))
        })
        .or_else(|| {
            let naive = s.trim_end_matches('Z').trim_end_matches(" UTC");
            [
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M",
                "%Y-%m-%dT%H:%M",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(naive, f).ok())
            .map(|n| Utc.from_utc_datetime(&n))
        })?;
    if instant.time() == NaiveTime::MIN {
        Some(FilterTime::Date(instant.date_naive()))
    } else {
        Some(FilterTime::Instant(instant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_scfm() {
        let t = Utc.with_ymd_and_hms(2017, 11, 9, 4, 58, 3).unwrap()
            + chrono::Duration::milliseconds(684);
        assert_eq!(format_ts(t), "2017-11-09T04:58:03.684Z");
    }

    #[test]
    fn parses_filter_values() {
        let d = NaiveDate::from_ymd_opt(2017, 11, 29).unwrap();
        assert_eq!(parse_filter_time("2017-11-29"), Some(FilterTime::Date(d)));
        assert_eq!(
            parse_filter_time("2017-11-29 00:00:00"),
            Some(FilterTime::Date(d))
        );
        let t = Utc.with_ymd_and_hms(2017, 11, 29, 1, 36, 2).unwrap();
        for s in [
            "2017-11-29 01:36:02",
            "2017-11-29T01:36:02Z",
            "2017-11-29T08:36:02+07:00",
            "2017-11-29T01:36:02.000Z",
        ] {
            assert_eq!(parse_filter_time(s), Some(FilterTime::Instant(t)), "{s}");
        }
        assert_eq!(parse_filter_time("yesterday"), None);
        assert_eq!(parse_filter_time(""), None);
    }

    #[test]
    fn manual_clock_advances() {
        let c = Clock::manual(Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap());
        c.advance(chrono::Duration::seconds(90));
        assert_eq!(c.now_str(), "2020-01-01T00:01:30.000Z");
    }
}
