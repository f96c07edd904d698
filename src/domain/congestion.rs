//! Congestion control of the dialler, as rules over what the provider and the network answer
//! (issue 13). No IO: the service feeds each create's answer and each call's final status into a
//! `Window` and acts on the `Verdict` (slow the account's pace down, push its next slot past a
//! Retry-After, hold dialling); the pace itself lives in the database, shared by every process.
//!
//! The scheme is additive increase, multiplicative decrease: congestion multiplies the pace by
//! `backoff` (at most once per `cooldown`, every process together), a clean stretch adds
//! `ramp_step` of the cap every `ramp_every`. After each slow-down the window starts afresh, so
//! one burst of refusals is counted once, not once per cooldown until it ages out.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The thresholds of congestion control; each has a setting (`SCFM_CONGESTION_*`,
/// `SCFM_BREAKER_*`, see the README's configuration table).
#[derive(Debug, Clone, PartialEq)]
pub struct CongestionSettings {
    /// How far back the shares below are counted.
    pub window: Duration,
    /// Slow down when at least this share of the creates in the window were refused (429),
    /// failed (5xx, timeout, connection refused) or answered slowly.
    pub threshold: f64,
    /// ... counted over at least this many creates.
    pub min_samples: usize,
    /// An accepted create answered this slowly counts as congested.
    pub slow_answer: Duration,
    /// Slow down when at least this share of the calls that ended in the window ended `failed`
    /// or `busy` (a congested network refusing calls) ...
    pub failed_share: f64,
    /// ... counted over at least this many calls.
    pub min_outcomes: usize,
    /// The pace is multiplied by this on congestion.
    pub backoff: f64,
    /// At most one slow-down per this long (all processes together).
    pub cooldown: Duration,
    /// While the window is clean, the pace rises by `ramp_step` of the cap this often.
    pub ramp_every: Duration,
    pub ramp_step: f64,
    /// The pace never falls below this share of the cap (short of a hold).
    pub min_share: f64,
    /// This many creates in a row not accepted (429, 5xx, timeouts, refused connections): the
    /// provider is not accepting calls; dialling is held (the circuit breaker opens).
    pub breaker_failures: u32,
    /// While held, the provider is asked (a harmless list of calls) this often.
    pub probe_every: Duration,
    /// When the breaker opens, the pace drops to this share of the cap, so dialling restarts
    /// gently after the hold and ramps up from there.
    pub restart_share: f64,
}

impl Default for CongestionSettings {
    fn default() -> Self {
        CongestionSettings {
            window: Duration::from_secs(30),
            threshold: 0.10,
            min_samples: 5,
            slow_answer: Duration::from_secs(3),
            failed_share: 0.6,
            min_outcomes: 20,
            backoff: 0.5,
            cooldown: Duration::from_secs(2),
            ramp_every: Duration::from_secs(5),
            ramp_step: 0.2,
            min_share: 0.05,
            breaker_failures: 10,
            probe_every: Duration::from_secs(10),
            restart_share: 0.25,
        }
    }
}

/// What one create request came to, as congestion control sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateSignal {
    /// Accepted; `slow` when it took at least `slow_answer`.
    Accepted { slow: bool },
    /// 429: not processed; wait `retry_after` when the provider said so.
    Throttled { retry_after: Option<Duration> },
    /// 5xx, a timeout or a refused connection: `message` says which.
    Failed { message: String },
    /// Refused for a reason of its own (a bad number, our credentials): says nothing about
    /// congestion.
    Neutral,
}

/// What to do after a signal.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Fine,
    /// Slow the pace down (`backoff`), saying why; honour `retry_after` on the schedule.
    SlowDown {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The provider is not accepting calls: hold dialling, saying why.
    Open {
        reason: String,
    },
}

/// Counts inside the window, for display (`GET /api/health`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Recent {
    pub creates: usize,
    pub congested_creates: usize,
    pub call_outcomes: usize,
    pub failed_or_busy: usize,
    pub failures_in_a_row: u32,
}

/// One process's recent signals.
#[derive(Debug, Default)]
pub struct Window {
    /// When, and whether congested.
    creates: VecDeque<(Instant, bool)>,
    /// When, and whether failed or busy.
    outcomes: VecDeque<(Instant, bool)>,
    in_a_row: u32,
}

fn share(samples: &VecDeque<(Instant, bool)>) -> (usize, usize) {
    (
        samples.iter().filter(|(_, bad)| *bad).count(),
        samples.len(),
    )
}

impl Window {
    fn prune(&mut self, now: Instant, window: Duration) {
        let Some(from) = now.checked_sub(window) else {
            return;
        };
        while self.creates.front().is_some_and(|(t, _)| *t < from) {
            self.creates.pop_front();
        }
        while self.outcomes.front().is_some_and(|(t, _)| *t < from) {
            self.outcomes.pop_front();
        }
    }

    /// Starts the shares afresh (after a slow-down: the new pace gets a look of its own).
    fn restart(&mut self) {
        self.creates.clear();
        self.outcomes.clear();
    }

    /// Notes a create's answer at `now`.
    pub fn create(
        &mut self,
        now: Instant,
        signal: &CreateSignal,
        s: &CongestionSettings,
    ) -> Verdict {
        self.prune(now, s.window);
        let congested = match signal {
            CreateSignal::Neutral => return Verdict::Fine,
            CreateSignal::Accepted { slow } => {
                self.in_a_row = 0;
                *slow
            }
            CreateSignal::Throttled { .. } | CreateSignal::Failed { .. } => {
                self.in_a_row += 1;
                true
            }
        };
        self.creates.push_back((now, congested));
        if s.breaker_failures > 0 && self.in_a_row >= s.breaker_failures {
            let last = match signal {
                CreateSignal::Failed { message } => message.clone(),
                _ => "HTTP 429 Too Many Requests".into(),
            };
            let reason = format!(
                "{BREAKER_REASON} ({} creates in a row not accepted, the last: {last}); dialling resumes by itself when it answers again",
                self.in_a_row
            );
            self.in_a_row = 0;
            self.restart();
            return Verdict::Open { reason };
        }
        if let CreateSignal::Throttled { retry_after } = signal {
            self.restart();
            let reason = match retry_after {
                Some(d) => format!(
                    "the provider answered 429 Too Many Requests (Retry-After {} s)",
                    d.as_secs_f64()
                ),
                None => "the provider answered 429 Too Many Requests".into(),
            };
            return Verdict::SlowDown {
                reason,
                retry_after: *retry_after,
            };
        }
        let (bad, n) = share(&self.creates);
        if congested && n >= s.min_samples.max(1) && bad as f64 >= s.threshold * n as f64 {
            self.restart();
            return Verdict::SlowDown {
                reason: format!(
                    "{bad} of the last {n} creates refused, failed or answered slowly (over {} s)",
                    s.slow_answer.as_secs_f64()
                ),
                retry_after: None,
            };
        }
        Verdict::Fine
    }

    /// Notes a call that ended `status` at `now`.
    pub fn outcome(&mut self, now: Instant, status: &str, s: &CongestionSettings) -> Verdict {
        self.prune(now, s.window);
        let bad = matches!(status, "failed" | "busy");
        self.outcomes.push_back((now, bad));
        let (k, n) = share(&self.outcomes);
        if bad && n >= s.min_outcomes.max(1) && k as f64 >= s.failed_share * n as f64 {
            self.restart();
            return Verdict::SlowDown {
                reason: format!("{k} of the last {n} calls ended failed or busy"),
                retry_after: None,
            };
        }
        Verdict::Fine
    }

    /// Whether things are clean enough to speed up: the latest `min_samples` creates answered
    /// well, failed or busy calls in the window under half their share (or too few to say), and
    /// no failure in a row.
    pub fn clean(&mut self, now: Instant, s: &CongestionSettings) -> bool {
        self.prune(now, s.window);
        // The latest creates answered well: older congestion still in the window does not keep
        // the pace down once the provider answers again.
        let creates_ok = self
            .creates
            .iter()
            .rev()
            .take(s.min_samples.max(1))
            .all(|(_, bad)| !bad);
        let (k, m) = share(&self.outcomes);
        let outcomes_ok = m < s.min_outcomes || (k as f64) < s.failed_share / 2.0 * m as f64;
        self.in_a_row == 0 && creates_ok && outcomes_ok
    }

    /// After the breaker's hold ends: one more failure opens it again (half-open).
    pub fn half_open(&mut self, s: &CongestionSettings) {
        self.in_a_row = s.breaker_failures.saturating_sub(1);
    }

    pub fn recent(&mut self, now: Instant, s: &CongestionSettings) -> Recent {
        self.prune(now, s.window);
        let (congested_creates, creates) = share(&self.creates);
        let (failed_or_busy, call_outcomes) = share(&self.outcomes);
        Recent {
            creates,
            congested_creates,
            call_outcomes,
            failed_or_busy,
            failures_in_a_row: self.in_a_row,
        }
    }
}

/// How every breaker hold's reason starts (so a process seeing the hold end knows it was one).
pub const BREAKER_REASON: &str = "the provider is not accepting calls";

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn a_share_of_congested_creates_slows_down_once_then_looks_afresh() {
        let s = CongestionSettings::default();
        let mut w = Window::default();
        let t0 = Instant::now();
        for i in 0..9 {
            assert_eq!(
                w.create(at(t0, i), &CreateSignal::Accepted { slow: false }, &s),
                Verdict::Fine
            );
        }
        let v = w.create(at(t0, 10), &CreateSignal::Accepted { slow: true }, &s);
        assert!(
            matches!(
                v,
                Verdict::SlowDown {
                    retry_after: None,
                    ..
                }
            ),
            "{v:?}"
        );
        // The window started afresh: one slow answer among few creates says nothing yet.
        assert_eq!(
            w.create(at(t0, 11), &CreateSignal::Accepted { slow: true }, &s),
            Verdict::Fine
        );
        assert!(!w.clean(at(t0, 12), &s));
    }

    #[test]
    fn a_429_slows_down_at_once_and_carries_its_retry_after() {
        let s = CongestionSettings::default();
        let mut w = Window::default();
        let v = w.create(
            Instant::now(),
            &CreateSignal::Throttled {
                retry_after: Some(Duration::from_secs(2)),
            },
            &s,
        );
        assert!(
            matches!(&v, Verdict::SlowDown { retry_after: Some(d), reason } if *d == Duration::from_secs(2) && reason.contains("429")),
            "{v:?}"
        );
    }

    #[test]
    fn failures_in_a_row_open_the_breaker_and_an_accepted_create_resets_them() {
        let s = CongestionSettings {
            breaker_failures: 3,
            min_samples: 100,
            ..Default::default()
        };
        let mut w = Window::default();
        let t0 = Instant::now();
        let fail = CreateSignal::Failed {
            message: "HTTP 503".into(),
        };
        assert_eq!(w.create(t0, &fail, &s), Verdict::Fine);
        assert_eq!(w.create(t0, &fail, &s), Verdict::Fine);
        assert_eq!(
            w.create(t0, &CreateSignal::Accepted { slow: false }, &s),
            Verdict::Fine
        );
        assert_eq!(w.create(t0, &fail, &s), Verdict::Fine);
        assert_eq!(w.create(t0, &fail, &s), Verdict::Fine);
        let v = w.create(t0, &fail, &s);
        assert!(
            matches!(&v, Verdict::Open { reason } if reason.starts_with(BREAKER_REASON) && reason.contains("HTTP 503")),
            "{v:?}"
        );
        // Half-open after the hold: the next failure opens it again.
        w.half_open(&s);
        assert!(matches!(w.create(t0, &fail, &s), Verdict::Open { .. }));
    }

    #[test]
    fn a_spike_of_failed_or_busy_calls_slows_down() {
        let s = CongestionSettings::default();
        let mut w = Window::default();
        let t0 = Instant::now();
        for i in 0..8 {
            assert_eq!(w.outcome(at(t0, i), "completed", &s), Verdict::Fine);
        }
        let mut verdicts = Vec::new();
        for i in 8..20 {
            verdicts.push(w.outcome(at(t0, i), if i % 4 == 0 { "busy" } else { "failed" }, &s));
        }
        assert!(
            matches!(verdicts.last(), Some(Verdict::SlowDown { .. })),
            "{verdicts:?}"
        );
        assert!(
            verdicts[..verdicts.len() - 1]
                .iter()
                .all(|v| *v == Verdict::Fine)
        );
    }

    #[test]
    fn old_signals_age_out_of_the_window() {
        let s = CongestionSettings {
            window: Duration::from_secs(1),
            ..Default::default()
        };
        let mut w = Window::default();
        let t0 = Instant::now();
        for i in 0..4 {
            w.create(at(t0, i), &CreateSignal::Accepted { slow: true }, &s);
        }
        assert_eq!(w.recent(at(t0, 10), &s).congested_creates, 4);
        assert!(w.clean(at(t0, 2_000), &s));
        assert_eq!(w.recent(at(t0, 2_000), &s), Recent::default());
    }
}
