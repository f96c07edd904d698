//! The command line: the clap flags (`args.rs`) and the verbs that run without the TUI or the
//! server: `flows list|check`, `import`/`export` (CSV) and the `demo` drill. `main` parses the
//! flags and calls one of these or `crate::startup`.

pub mod args;
pub mod cap;
pub mod congestion_args;
pub mod csv;
pub mod demo;
pub mod fallback_args;
pub mod flows;
pub mod operations;
pub mod sitrep;

pub use args::{
    CapCommand, Cli, Command, Common, ExportCommand, FlowsCommand, ImportCommand, JournalCommand,
    OperatorsCommand,
};
