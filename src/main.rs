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
            scfm::startup::run_serve(config).await
        }
        Some(Command::Flows(cmd)) => {
            let code = scfm::cli::flows::run(&cmd, &config, &mut std::io::stdout())?;
            std::process::exit(code)
        }
        Some(Command::Import(cmd)) => {
            std::process::exit(scfm::cli::csv::import(&cmd, &config).await)
        }
        Some(Command::Export(cmd)) => {
            std::process::exit(scfm::cli::csv::export(&cmd, &config).await)
        }
        Some(Command::Operators(cmd)) => {
            std::process::exit(scfm::cli::operations::operators(&cmd, &config).await)
        }
        Some(Command::Journal(cmd)) => {
            std::process::exit(scfm::cli::operations::journal(&cmd, &config).await)
        }
        Some(Command::Cap(cmd)) => std::process::exit(scfm::cli::cap::run(&cmd, &config).await),
        Some(Command::Sitrep {
            callout,
            by,
            short,
            json,
            output,
        }) => {
            let code = scfm::cli::sitrep::sitrep(
                callout,
                by.as_deref(),
                short,
                json,
                output.as_deref(),
                &config,
            )
            .await;
            std::process::exit(code)
        }
        Some(Command::Demo) => {
            let _guard = scfm::logging::to_file(&config.data_dir)?;
            let options = tui_options();
            let result = scfm::cli::demo::run(&config, options).await;
            if let Err(e) = &result {
                eprintln!("scfm: {e:#}");
            }
            result.map(|_| ())
        }
        None => {
            // The TUI owns the screen: logs go to a file only.
            let _guard = scfm::logging::to_file(&config.data_dir)?;
            let options = tui_options();
            let result = scfm::startup::run_tui(config, options).await;
            match &result {
                Ok(log) => println!("scfm: log is at {}", log.display()),
                Err(e) => eprintln!("scfm: {e:#}"),
            }
            result.map(|_| ())
        }
    }
}

fn tui_options() -> scfm::tui::TuiOptions {
    let env_set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    scfm::tui::TuiOptions {
        mouse: env_set("SCFM_MOUSE"),
        no_color: env_set("NO_COLOR"),
    }
}
