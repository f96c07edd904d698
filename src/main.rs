//! Entry point: flags -> Config -> logging -> the chosen mode.

use clap::Parser;
use scfm::cli::{Cli, Command};
use scfm::config::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::from_cli(&cli.common)?;
    match cli.command {
        Some(Command::Serve) => {
            scfm::logging::to_stderr();
            scfm::app::run_serve(config).await
        }
        Some(Command::Flows(cmd)) => {
            let code = scfm::commands::flows(&cmd, &config, &mut std::io::stdout())?;
            std::process::exit(code)
        }
        None => {
            scfm::logging::to_stderr();
            scfm::app::run_serve(config).await
        }
    }
}
