//! The run-time configuration, built once in `main` from flags and environment. `Debug` is
//! written by hand so secrets never reach a log line.

use crate::call_flow::Registry;
use crate::cli::Common;
use crate::cli::fallback_args::FallbackSettings;
use crate::domain::call_flow;
use crate::domain::congestion::CongestionSettings;
use crate::provider::ProviderKind;
use crate::store::Location;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderChoice {
    Twilio,
    Somleng,
    Simulator,
}

#[derive(Clone)]
pub struct ProviderSettings {
    pub choice: ProviderChoice,
    pub account_sid: Option<String>,
    pub auth_token: Option<String>,
    /// The provider's REST base URL, no trailing `/`. `None`: none is configured and there is
    /// no default to assume (Somleng without `SOMLENG_CLIENT_REST_API_BASE_URL`), so nothing is
    /// sent anywhere and dialling is refused naming the setting.
    pub base_url: Option<String>,
    pub calls_per_second: f64,
    pub poll_interval: Duration,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// How old an unresolved dial claim must be before reconciliation asks the provider.
    pub reconcile_after: Duration,
    /// How long an unknown dial outcome is looked for before the call is given up as errored.
    pub unknown_outcome_grace: Duration,
    /// Calls to one person in any hour, across callouts; 0: no limit.
    pub max_calls_per_person_per_hour: u32,
    /// Congestion control and the circuit breaker.
    pub congestion: CongestionSettings,
    /// A second account for new attempts while this one is held.
    pub fallback: Option<FallbackSettings>,
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("choice", &self.choice)
            .field("account_sid", &self.account_sid)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("base_url", &self.base_url)
            .field("calls_per_second", &self.calls_per_second)
            .finish()
    }
}

/// How API requests authenticate.
#[derive(Clone)]
pub struct ApiAuth {
    pub basic_user: Option<String>,
    pub basic_password: Option<String>,
    pub token: Option<String>,
}

impl std::fmt::Debug for ApiAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiAuth")
            .field("basic_user", &self.basic_user)
            .field(
                "basic_password",
                &self.basic_password.as_ref().map(|_| "<redacted>"),
            )
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database: Location,
    pub data_dir: PathBuf,
    pub listen: String,
    pub public_url: Option<String>,
    pub auth: ApiAuth,
    pub provider: ProviderSettings,
    pub registry: Registry,
    /// The TUI's named operator (`--operator`), if any.
    pub operator: Option<String>,
    /// The CAP area map (`--area-map`, `SCFM_AREA_MAP`): `scfm cap import` and the TUI's `:cap`.
    pub area_map: Option<PathBuf>,
    /// The CAP feed `scfm serve` polls (`--cap-feed`), if any.
    pub cap_feed: Option<CapFeed>,
}

/// A CAP feed to poll and how often.
#[derive(Clone, Debug, PartialEq)]
pub struct CapFeed {
    pub url: String,
    pub interval: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown PLATFORM_PROVIDER {0:?} (expected twilio, somleng or simulator)")]
    Provider(String),
    #[error("no data directory could be determined; pass --data-dir")]
    NoDataDir,
    #[error("{0}")]
    Setting(String),
    #[error("cannot use the API token file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where user call flows live by default: `<config dir>/flows`.
pub fn default_config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("org", "scfm", "scfm").map(|d| d.config_dir().to_path_buf())
}

pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("org", "scfm", "scfm").map(|d| d.data_dir().to_path_buf())
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref().filter(|s| !s.is_empty()).cloned()
}

/// `SOMLENG_CLIENT_REST_API_BASE_URL` for either provider (as SCFM); else, for Twilio only, its
/// public API (`SCFM_TWILIO_BASE_URL` overrides where that is, for tests). Somleng has no
/// default: its credentials must never travel to Twilio.
fn base_url(c: &Common, choice: ProviderChoice) -> Option<String> {
    let fallback = match choice {
        ProviderChoice::Twilio => non_empty(&c.twilio_base_url)
            .or_else(|| ProviderKind::Twilio.default_base_url().map(str::to_string)),
        ProviderChoice::Somleng => ProviderKind::Somleng.default_base_url().map(str::to_string),
        ProviderChoice::Simulator => None,
    };
    non_empty(&c.somleng_client_rest_api_base_url)
        .or(fallback)
        .map(|u| u.trim().trim_end_matches('/').to_string())
}

impl Config {
    pub fn from_cli(c: &Common) -> Result<Config, ConfigError> {
        let data_dir = match &c.data_dir {
            Some(d) => d.clone(),
            None => default_data_dir().ok_or(ConfigError::NoDataDir)?,
        };
        let database = c
            .database
            .clone()
            .unwrap_or_else(|| Location::Sqlite(data_dir.join("scfm.sqlite3")));
        let choice = match c.platform_provider.to_ascii_lowercase().as_str() {
            "twilio" | "" => ProviderChoice::Twilio,
            "somleng" => ProviderChoice::Somleng,
            "simulator" => ProviderChoice::Simulator,
            other => return Err(ConfigError::Provider(other.to_string())),
        };
        let (account_sid, auth_token) = match choice {
            ProviderChoice::Somleng => (
                non_empty(&c.somleng_account_sid),
                non_empty(&c.somleng_auth_token),
            ),
            _ => (
                non_empty(&c.twilio_account_sid),
                non_empty(&c.twilio_auth_token),
            ),
        };
        let mut flow_dirs: Vec<PathBuf> = Vec::new();
        if let Some(dir) = default_config_dir() {
            flow_dirs.push(dir.join("flows"));
        }
        if let Some(dir) = &c.flows {
            flow_dirs.push(dir.clone());
        }
        let dirs: Vec<&Path> = flow_dirs.iter().map(PathBuf::as_path).collect();
        let flows = crate::call_flow::flow::FlowSet::load(&dirs);
        let requested = c
            .registered_call_flow_logic
            .as_deref()
            .map(call_flow::parse_list)
            .unwrap_or_default();
        Ok(Config {
            database,
            data_dir,
            listen: c.listen.clone(),
            operator: non_empty(&c.operator),
            area_map: c.area_map.clone().filter(|p| !p.as_os_str().is_empty()),
            cap_feed: non_empty(&c.cap_feed).map(|url| CapFeed {
                url,
                interval: Duration::from_secs(c.cap_feed_interval.max(1)),
            }),
            public_url: non_empty(&c.public_url).map(|u| u.trim_end_matches('/').to_string()),
            auth: ApiAuth {
                basic_user: non_empty(&c.basic_auth_user),
                basic_password: non_empty(&c.basic_auth_password),
                token: non_empty(&c.api_token),
            },
            provider: ProviderSettings {
                choice,
                account_sid,
                auth_token,
                base_url: base_url(c, choice),
                calls_per_second: if c.calls_per_second > 0.0 {
                    c.calls_per_second
                } else {
                    1.0
                },
                poll_interval: Duration::from_secs(c.poll_interval.max(1)),
                connect_timeout: Duration::from_secs(5),
                request_timeout: Duration::from_secs(20),
                reconcile_after: Duration::from_secs(c.reconcile_after.max(1)),
                unknown_outcome_grace: Duration::from_secs(c.unknown_outcome_grace.max(1)),
                max_calls_per_person_per_hour: c.max_calls_per_person_per_hour,
                congestion: c.congestion.settings().map_err(ConfigError::Setting)?,
                fallback: c.fallback.settings().map_err(ConfigError::Setting)?,
            },
            registry: Registry::with_flows(flows, &requested, c.default_call_flow_logic.as_deref()),
        })
    }

    /// A configuration for tests: a database file (or, with `SCFM_TEST_DATABASE` set, a fresh
    /// PostgreSQL database: see `Location::for_tests`), a fixed API token, provider twilio
    /// without credentials (as SCFM starts).
    pub fn for_tests(database: &Path) -> Config {
        let dir = database.parent().map(Path::to_path_buf).unwrap_or_default();
        Config {
            database: Location::for_tests(database),
            data_dir: dir,
            listen: "127.0.0.1:0".into(),
            operator: None,
            area_map: None,
            cap_feed: None,
            public_url: None,
            auth: ApiAuth {
                basic_user: None,
                basic_password: None,
                token: Some("test-token".into()),
            },
            provider: ProviderSettings {
                choice: ProviderChoice::Twilio,
                account_sid: None,
                auth_token: None,
                base_url: ProviderKind::Twilio.default_base_url().map(str::to_string),
                calls_per_second: 1000.0,
                poll_interval: Duration::from_secs(1),
                connect_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(5),
                reconcile_after: Duration::from_secs(10),
                unknown_outcome_grace: Duration::from_secs(30),
                // Tests redial one number many times; the limit has tests of its own.
                max_calls_per_person_per_hour: 0,
                congestion: CongestionSettings::default(),
                fallback: None,
            },
            registry: Registry::default(),
        }
    }

    /// Ensures API credentials exist: with neither basic auth nor a token configured, reads or
    /// creates a random token in `<data dir>/api_token` (mode 0600). Returns the file's path
    /// when one was used, so the caller can log where it is (never the token).
    pub fn ensure_api_credentials(&mut self) -> Result<Option<PathBuf>, ConfigError> {
        if self.auth.basic_user.is_some() || self.auth.token.is_some() {
            return Ok(None);
        }
        let path = self.data_dir.join("api_token");
        let err = |source| ConfigError::TokenFile {
            path: path.clone(),
            source,
        };
        let token = match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => {
                std::fs::create_dir_all(&self.data_dir).map_err(err)?;
                let token = generate_token();
                write_private(&path, &token).map_err(err)?;
                token
            }
        };
        self.auth.token = Some(token);
        Ok(Some(path))
    }
}

fn generate_token() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a file readable only by its owner.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The base URL `from_cli` resolves for these settings (the environment's own ignored).
    fn base_url_for(
        provider: &str,
        base: Option<&str>,
        twilio_default: Option<&str>,
    ) -> Option<String> {
        let mut cli =
            crate::cli::Cli::try_parse_from(["scfm", "--data-dir", "/tmp/scfm-config-test"])
                .expect("parse");
        cli.common.platform_provider = provider.into();
        cli.common.somleng_client_rest_api_base_url = base.map(str::to_string);
        cli.common.twilio_base_url = twilio_default.map(str::to_string);
        Config::from_cli(&cli.common)
            .expect("config")
            .provider
            .base_url
    }

    #[test]
    fn somleng_has_no_default_base_url() {
        assert_eq!(base_url_for("somleng", None, None), None);
        // Not even where the Twilio default was moved to.
        assert_eq!(
            base_url_for("somleng", None, Some("http://127.0.0.1:9")),
            None
        );
        assert_eq!(
            base_url_for("somleng", Some("https://api.somleng.org/"), None).as_deref(),
            Some("https://api.somleng.org")
        );
        assert_eq!(
            base_url_for("twilio", None, None).as_deref(),
            Some("https://api.twilio.com")
        );
        assert_eq!(
            base_url_for("twilio", None, Some("http://127.0.0.1:9/")).as_deref(),
            Some("http://127.0.0.1:9")
        );
        // The configured base URL wins for Twilio too (as SCFM).
        assert_eq!(
            base_url_for(
                "twilio",
                Some("http://127.0.0.1:7"),
                Some("http://127.0.0.1:9")
            )
            .as_deref(),
            Some("http://127.0.0.1:7")
        );
    }

    #[test]
    fn generated_token_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::for_tests(&dir.path().join("db.sqlite3"));
        c.auth.token = None;
        let path = c.ensure_api_credentials().unwrap().unwrap();
        let first = c.auth.token.clone().unwrap();
        assert_eq!(first.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        c.auth.token = None;
        c.ensure_api_credentials().unwrap();
        assert_eq!(c.auth.token.unwrap(), first);
        assert!(!format!("{:?}", Config::for_tests(&path)).contains("test-token"));
    }
}
