//! scfm: emergency phone-call campaigns. One binary: a ratatui TUI, an SCFM-compatible REST API,
//! background workers that dial through Twilio-compatible providers, over one SQLite file.
//!
//! Layers point one way: `http`, `workers` (and the TUI) call `service`; `service` calls `store`
//! and `provider`; `domain` holds the pure rules everyone shares.

pub mod call_flow;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod logging;
pub mod provider;
pub mod service;
pub mod startup;
pub mod store;
pub mod tui;
pub mod workers;
