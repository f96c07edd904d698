//! The settings of congestion control and the circuit breaker (`domain::congestion`), as flags
//! and environment variables. Defaults are `CongestionSettings::default()`'s.

use crate::domain::congestion::CongestionSettings;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Args, Clone)]
pub struct CongestionArgs {
    /// Seconds of create answers and call ends congestion control looks back over.
    #[arg(
        long,
        global = true,
        env = "SCFM_CONGESTION_WINDOW_SECONDS",
        default_value_t = 30.0
    )]
    pub congestion_window_seconds: f64,
    /// Share of creates refused (429), failed (5xx, timeout) or slow in the window that slows
    /// dialling down.
    #[arg(
        long,
        global = true,
        env = "SCFM_CONGESTION_THRESHOLD",
        default_value_t = 0.10
    )]
    pub congestion_threshold: f64,
    /// Creates the window needs before its share counts.
    #[arg(
        long,
        global = true,
        env = "SCFM_CONGESTION_MIN_SAMPLES",
        default_value_t = 5
    )]
    pub congestion_min_samples: usize,
    /// Milliseconds after which an accepted create counts as a slow answer.
    #[arg(
        long,
        global = true,
        env = "SCFM_CONGESTION_SLOW_ANSWER_MS",
        default_value_t = 3000
    )]
    pub congestion_slow_answer_ms: u64,
    /// Share of calls ending failed or busy in the window that slows dialling down.
    #[arg(
        long,
        global = true,
        env = "SCFM_CONGESTION_FAILED_SHARE",
        default_value_t = 0.6
    )]
    pub congestion_failed_share: f64,
    /// Call ends the window needs before that share counts.
    #[arg(
        long,
        global = true,
        env = "SCFM_CONGESTION_MIN_OUTCOMES",
        default_value_t = 20
    )]
    pub congestion_min_outcomes: usize,
    /// The pace is multiplied by this on congestion.
    #[arg(
        long,
        global = true,
        env = "SCFM_CONGESTION_BACKOFF",
        default_value_t = 0.5
    )]
    pub congestion_backoff: f64,
    /// Milliseconds between two slow-downs (all processes together).
    #[arg(
        long,
        global = true,
        env = "SCFM_CONGESTION_COOLDOWN_MS",
        default_value_t = 2000
    )]
    pub congestion_cooldown_ms: u64,
    /// Seconds between two steps up while the window is clean.
    #[arg(
        long,
        global = true,
        env = "SCFM_CONGESTION_RAMP_SECONDS",
        default_value_t = 5.0
    )]
    pub congestion_ramp_seconds: f64,
    /// Each step up adds this share of the cap.
    #[arg(
        long,
        global = true,
        env = "SCFM_CONGESTION_RAMP_STEP",
        default_value_t = 0.2
    )]
    pub congestion_ramp_step: f64,
    /// The pace never falls under this share of the cap (short of a hold).
    #[arg(
        long,
        global = true,
        env = "SCFM_CONGESTION_MIN_SHARE",
        default_value_t = 0.05
    )]
    pub congestion_min_share: f64,
    /// Creates in a row not accepted (429, 5xx, timeouts, refused connections) that hold
    /// dialling (the circuit breaker); 0: never.
    #[arg(
        long,
        global = true,
        env = "SCFM_BREAKER_FAILURES",
        default_value_t = 10
    )]
    pub breaker_failures: u32,
    /// Seconds between checks of the provider while dialling is held (or the poll interval, if
    /// shorter).
    #[arg(
        long,
        global = true,
        env = "SCFM_BREAKER_PROBE_SECONDS",
        default_value_t = 10.0
    )]
    pub breaker_probe_seconds: f64,
    /// Share of the cap dialling restarts at after the breaker's hold.
    #[arg(
        long,
        global = true,
        env = "SCFM_BREAKER_RESTART_SHARE",
        default_value_t = 0.25
    )]
    pub breaker_restart_share: f64,
}

/// Seconds as a duration: a positive number of at most a day.
fn secs(v: f64, name: &str) -> Result<Duration, String> {
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!(
            "{name} must be a number of seconds above 0 (got {v})"
        ))
    }
}

/// A share of something: above 0, at most 1.
fn share(v: f64, name: &str) -> Result<f64, String> {
    if v.is_finite() && v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!("{name} must be above 0 and at most 1 (got {v})"))
    }
}

impl CongestionArgs {
    /// The settings; a value out of range is an error naming its variable.
    pub fn settings(&self) -> Result<CongestionSettings, String> {
        Ok(CongestionSettings {
            window: secs(
                self.congestion_window_seconds,
                "SCFM_CONGESTION_WINDOW_SECONDS",
            )?,
            threshold: share(self.congestion_threshold, "SCFM_CONGESTION_THRESHOLD")?,
            min_samples: self.congestion_min_samples.max(1),
            slow_answer: Duration::from_millis(self.congestion_slow_answer_ms.max(1)),
            failed_share: share(self.congestion_failed_share, "SCFM_CONGESTION_FAILED_SHARE")?,
            min_outcomes: self.congestion_min_outcomes.max(1),
            backoff: share(self.congestion_backoff, "SCFM_CONGESTION_BACKOFF")?,
            cooldown: Duration::from_millis(self.congestion_cooldown_ms),
            ramp_every: secs(self.congestion_ramp_seconds, "SCFM_CONGESTION_RAMP_SECONDS")?,
            ramp_step: share(self.congestion_ramp_step, "SCFM_CONGESTION_RAMP_STEP")?,
            min_share: share(self.congestion_min_share, "SCFM_CONGESTION_MIN_SHARE")?,
            breaker_failures: self.breaker_failures,
            probe_every: secs(self.breaker_probe_seconds, "SCFM_BREAKER_PROBE_SECONDS")?,
            restart_share: share(self.breaker_restart_share, "SCFM_BREAKER_RESTART_SHARE")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        c: CongestionArgs,
    }

    #[test]
    fn defaults_are_the_settings_defaults_and_bad_values_name_their_variable() {
        let cli = Cli::try_parse_from(["scfm"]).unwrap();
        assert_eq!(cli.c.settings().unwrap(), CongestionSettings::default());
        let cli = Cli::try_parse_from(["scfm", "--congestion-backoff", "1.5"]).unwrap();
        let e = cli.c.settings().unwrap_err();
        assert!(e.contains("SCFM_CONGESTION_BACKOFF"), "{e}");
        let cli = Cli::try_parse_from(["scfm", "--congestion-window-seconds", "0"]).unwrap();
        assert!(cli.c.settings().unwrap_err().contains("WINDOW"));
    }
}
