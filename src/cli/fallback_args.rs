//! The fallback route's provider account (issue 13's failover), as flags and environment
//! variables: unset, there is no fallback.

use crate::provider::ProviderKind;
use clap::Args;

#[derive(Debug, Args, Clone)]
pub struct FallbackArgs {
    /// A second provider account for new attempts while the primary is held: `twilio` or
    /// `somleng` (unset: no fallback).
    #[arg(long, global = true, env = "SCFM_FALLBACK_PROVIDER")]
    pub fallback_provider: Option<String>,
    #[arg(long, global = true, env = "SCFM_FALLBACK_ACCOUNT_SID")]
    pub fallback_account_sid: Option<String>,
    #[arg(
        long,
        global = true,
        env = "SCFM_FALLBACK_AUTH_TOKEN",
        hide_env_values = true
    )]
    pub fallback_auth_token: Option<String>,
    /// The fallback's REST base URL (required for Somleng; Twilio's public API by default).
    #[arg(long, global = true, env = "SCFM_FALLBACK_API_URL")]
    pub fallback_api_url: Option<String>,
    /// The fallback account's own create requests per second.
    #[arg(
        long,
        global = true,
        env = "SCFM_FALLBACK_CALLS_PER_SECOND",
        default_value_t = 1.0
    )]
    pub fallback_calls_per_second: f64,
}

/// The fallback account, checked.
#[derive(Clone)]
pub struct FallbackSettings {
    pub kind: ProviderKind,
    pub account_sid: String,
    pub auth_token: String,
    pub base_url: String,
    pub calls_per_second: f64,
}

impl std::fmt::Debug for FallbackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackSettings")
            .field("kind", &self.kind)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("calls_per_second", &self.calls_per_second)
            .finish()
    }
}

fn set(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl FallbackArgs {
    /// None without `SCFM_FALLBACK_PROVIDER`; an error naming what is missing or wrong.
    pub fn settings(&self) -> Result<Option<FallbackSettings>, String> {
        let Some(provider) = set(&self.fallback_provider) else {
            return Ok(None);
        };
        let kind = match provider.to_ascii_lowercase().as_str() {
            "twilio" => ProviderKind::Twilio,
            "somleng" => ProviderKind::Somleng,
            other => {
                return Err(format!(
                    "SCFM_FALLBACK_PROVIDER {other:?} is not a provider (expected twilio or somleng)"
                ));
            }
        };
        let mut missing = Vec::new();
        let sid = set(&self.fallback_account_sid);
        let token = set(&self.fallback_auth_token);
        let url = set(&self.fallback_api_url)
            .or_else(|| kind.default_base_url().map(str::to_string))
            .map(|u| u.trim_end_matches('/').to_string());
        if sid.is_none() {
            missing.push("SCFM_FALLBACK_ACCOUNT_SID");
        }
        if token.is_none() {
            missing.push("SCFM_FALLBACK_AUTH_TOKEN");
        }
        if url.is_none() {
            missing.push("SCFM_FALLBACK_API_URL");
        }
        let cps = self.fallback_calls_per_second;
        if !(cps.is_finite() && cps > 0.0) {
            return Err(format!(
                "SCFM_FALLBACK_CALLS_PER_SECOND must be above 0 (got {cps})"
            ));
        }
        match (sid, token, url) {
            (Some(account_sid), Some(auth_token), Some(base_url)) => Ok(Some(FallbackSettings {
                kind,
                account_sid,
                auth_token,
                base_url,
                calls_per_second: cps,
            })),
            _ => Err(format!(
                "SCFM_FALLBACK_PROVIDER={} needs {}",
                kind.name(),
                missing.join(", ")
            )),
        }
    }
}
