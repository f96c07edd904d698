//! Command-line flags (clap), each with its environment variable. `main` turns them into a
//! `Config`; nothing else reads the environment.

use crate::store::Location;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "scfm",
    version,
    about = "Emergency phone-call campaigns: SCFM-compatible REST API, workers and TUI over SQLite"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run headless: the HTTP API and the background workers, logging to stderr.
    Serve,
    /// A drill: the TUI on a throwaway database with sample contacts and a running campaign on
    /// the SIMULATED provider. Nobody is really called.
    Demo,
    /// Call flows: list the known ones, or check a flow file and print what callers will hear.
    #[command(subcommand)]
    Flows(FlowsCommand),
    /// Import data from CSV (contacts).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export data as CSV (contacts, or a callout's results).
    #[command(subcommand)]
    Export(ExportCommand),
    /// Named operators: add one (prints its API token once), list them, revoke one.
    #[command(subcommand)]
    Operators(OperatorsCommand),
    /// The tamper-evident journal: check its hash chain, or write a callout's entries.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// CAP 1.2 alerts: turn one into a draft callout (nothing is dialled until approved and started).
    #[command(subcommand)]
    Cap(CapCommand),
    /// A callout's situation report: reached, by machine, not yet, unreachable and pending, in
    /// total and by area (the long form; `--short` for one SMS).
    Sitrep {
        /// The callout id.
        callout: i64,
        /// Group by this contact metadata key (default: the callout's `sitrep_by`, else the
        /// area map's `group_by`).
        #[arg(long)]
        by: Option<String>,
        /// The short form that fits one SMS (160 GSM-7 characters), with a note when it cannot.
        #[arg(long)]
        short: bool,
        /// The figures as JSON.
        #[arg(long, conflicts_with = "short")]
        json: bool,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CapCommand {
    /// Read a CAP alert (a file, or an http(s) URL) and draft its callout through the area map.
    Import {
        /// The alert: a file path or an http(s):// URL. The area map is `--area-map MAP`
        /// (or `SCFM_AREA_MAP`), required here.
        source: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OperatorsCommand {
    /// Add an operator and print its API token (shown once; only its hash is stored).
    Add {
        /// 1 to 64 letters, digits, '.', '_' or '-'.
        name: String,
    },
    /// List operators (name, added, revoked).
    List,
    /// Revoke an operator's token at once.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Check every entry's hash and link; exit 0 when intact, 1 naming the first broken entry.
    Verify,
    /// Write one callout's entries as JSON lines (all fields, hashes included).
    Export {
        /// The callout id.
        callout: i64,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import contacts: an msisdn column plus any other columns into metadata. Existing
    /// numbers are merged into, invalid rows are listed with their line number.
    Contacts {
        /// The CSV file (UTF-8, header row required).
        file: PathBuf,
        /// Header of the column holding the phone numbers (case-insensitive).
        #[arg(long, default_value = "msisdn")]
        msisdn_column: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Every contact: msisdn plus one column per metadata key.
    Contacts {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// One row per participation of a callout: metadata, attempts, final status, answers.
    Callout {
        /// The callout id.
        id: i64,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Everyone a callout did not reach (never called, still trying, given up, or a machine
    /// answered), by area, for field teams: name, msisdn, attempts, last status and time.
    Unreached {
        /// The callout id.
        callout: i64,
        /// Group by this contact metadata key (default: the callout's `sitrep_by`, else the
        /// area map's `group_by`).
        #[arg(long)]
        by: Option<String>,
        /// Write one CSV (the area in its first column) to this file instead of standard output.
        #[arg(long, short, conflicts_with = "dir")]
        output: Option<PathBuf>,
        /// Write one CSV per area into this directory (created if missing).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// List built-in and user flows (and files refused with their errors).
    List,
    /// Validate a flow file and print the TwiML of every step.
    Check {
        /// The TOML flow file.
        file: PathBuf,
    },
}

/// `DATABASE_URL=sqlite://PATH`, a plain path, or `postgres://…` / `postgresql://…`.
fn parse_database(s: &str) -> Result<Location, String> {
    Location::parse(s)
}

#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Database: a SQLite file path (or sqlite://PATH), or a PostgreSQL URL (postgres://…);
    /// created and migrated on start. Default: scfm.sqlite3 in the data dir.
    #[arg(long, global = true, env = "DATABASE_URL", value_parser = parse_database)]
    pub database: Option<Location>,
    /// Address the HTTP server listens on.
    #[arg(
        long,
        global = true,
        env = "SCFM_LISTEN",
        default_value = "127.0.0.1:3000"
    )]
    pub listen: String,
    /// Directory for the generated API token, logs and the default database.
    #[arg(long, global = true, env = "SCFM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The TUI runs as this named operator (`scfm operators add NAME`): every change it makes
    /// is recorded as theirs.
    #[arg(long, global = true, env = "SCFM_OPERATOR")]
    pub operator: Option<String>,
    /// The CAP area map (TOML; see assets/area_map.example.toml): which contacts each alert
    /// area reaches. Used by `scfm cap import` and by the TUI's `:cap FILE`.
    #[arg(long, global = true, env = "SCFM_AREA_MAP")]
    pub area_map: Option<PathBuf>,
    /// A CAP feed (Atom or RSS, an http(s) URL or a file) that `scfm serve` polls: each new
    /// alert becomes a draft callout through the area map (nothing is dialled until approved).
    #[arg(long, global = true, env = "SCFM_CAP_FEED")]
    pub cap_feed: Option<String>,
    /// Seconds between polls of `--cap-feed` (one poll per interval across all processes).
    #[arg(
        long,
        global = true,
        env = "SCFM_CAP_FEED_INTERVAL",
        default_value_t = 60
    )]
    pub cap_feed_interval: u64,
    /// Public base URL the provider reaches scfm at (webhook signatures and callback URLs).
    #[arg(long, global = true, env = "SCFM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Bearer token for the API. Without it (and without basic auth) one is generated.
    #[arg(long, global = true, env = "SCFM_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// HTTP basic auth user for the API (as SCFM).
    #[arg(long, global = true, env = "HTTP_BASIC_AUTH_USER")]
    pub basic_auth_user: Option<String>,
    /// HTTP basic auth password for the API (any password when unset, as SCFM).
    #[arg(
        long,
        global = true,
        env = "HTTP_BASIC_AUTH_PASSWORD",
        hide_env_values = true
    )]
    pub basic_auth_password: Option<String>,
    /// Voice provider: twilio (default, as SCFM), somleng, or simulator (drills only).
    #[arg(
        long,
        global = true,
        env = "PLATFORM_PROVIDER",
        default_value = "twilio"
    )]
    pub platform_provider: String,
    #[arg(long, global = true, env = "TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    #[arg(long, global = true, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<String>,
    #[arg(long, global = true, env = "SOMLENG_ACCOUNT_SID")]
    pub somleng_account_sid: Option<String>,
    #[arg(
        long,
        global = true,
        env = "SOMLENG_AUTH_TOKEN",
        hide_env_values = true
    )]
    pub somleng_auth_token: Option<String>,
    /// Provider REST base URL (applies to either provider, as SCFM did). Required for Somleng:
    /// without it a Somleng account dials nothing.
    #[arg(long, global = true, env = "SOMLENG_CLIENT_REST_API_BASE_URL")]
    pub somleng_client_rest_api_base_url: Option<String>,
    /// Where Twilio's REST API is when no base URL is set (default `https://api.twilio.com`);
    /// tests point it at a local server. Never used for Somleng.
    #[arg(long, global = true, env = "SCFM_TWILIO_BASE_URL", hide = true)]
    pub twilio_base_url: Option<String>,
    /// Comma list of call flow logic names to register.
    #[arg(long, global = true, env = "REGISTERED_CALL_FLOW_LOGIC")]
    pub registered_call_flow_logic: Option<String>,
    /// Default call flow logic (used only if registered).
    #[arg(long, global = true, env = "DEFAULT_CALL_FLOW_LOGIC")]
    pub default_call_flow_logic: Option<String>,
    /// Directory of extra call flow files (`*.toml`), besides `<config dir>/flows`.
    #[arg(long, global = true, env = "SCFM_FLOWS_DIR")]
    pub flows: Option<PathBuf>,
    /// Provider create-call requests per second (Twilio's default account limit is 1).
    #[arg(
        long,
        global = true,
        env = "SCFM_CALLS_PER_SECOND",
        default_value_t = 1.0
    )]
    pub calls_per_second: f64,
    /// Seconds between status polls of calls in flight.
    #[arg(long, global = true, env = "SCFM_POLL_INTERVAL", default_value_t = 30)]
    pub poll_interval: u64,
    /// Seconds an unresolved dial claim (crash mid-dial) waits before reconciliation asks the
    /// provider.
    #[arg(
        long,
        global = true,
        env = "SCFM_RECONCILE_AFTER",
        default_value_t = 60
    )]
    pub reconcile_after: u64,
    /// Seconds an unknown dial outcome is looked for at the provider before the call is given up
    /// as errored (never redialled).
    #[arg(
        long,
        global = true,
        env = "SCFM_UNKNOWN_OUTCOME_GRACE",
        default_value_t = 300
    )]
    pub unknown_outcome_grace: u64,
    /// Calls to one person (contact) in any hour, across every callout; 0: no limit. A person
    /// is never called while another call to them is in flight, whatever this is.
    #[arg(
        long,
        global = true,
        env = "SCFM_MAX_CALLS_PER_PERSON_PER_HOUR",
        default_value_t = 3
    )]
    pub max_calls_per_person_per_hour: u32,
    #[command(flatten)]
    pub congestion: super::congestion_args::CongestionArgs,
    #[command(flatten)]
    pub fallback: super::fallback_args::FallbackArgs,
}
