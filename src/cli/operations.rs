//! `scfm operators add|list|revoke` and `scfm journal verify|export`: thin glue between the
//! command line and the service. Exit code 0 on success, 1 with a message on stderr otherwise
//! (for `journal verify`: 1 when the chain is broken, naming the first broken entry).

use super::{JournalCommand, OperatorsCommand};
use crate::config::Config;
use crate::domain::time::Clock;
use crate::service::{Error, Service};
use crate::store::Store;
use std::io::Write;

async fn open_service(config: &Config) -> Result<Service, i32> {
    match Store::open(&config.database).await {
        Ok(store) => Ok(Service::new(store, Clock::System, config.registry.clone())),
        Err(e) => {
            eprintln!("scfm: cannot open the database {}: {e}", config.database);
            Err(1)
        }
    }
}

fn say_error(e: &Error) -> i32 {
    match e {
        Error::NotFound => eprintln!("scfm: no such operator"),
        Error::Invalid(v) => eprintln!("scfm: {v}"),
        other => eprintln!("scfm: {other}"),
    }
    1
}

pub async fn operators(cmd: &OperatorsCommand, config: &Config) -> i32 {
    let service = match open_service(config).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let code = match cmd {
        OperatorsCommand::Add { name } => match service.add_operator(name).await {
            Ok(new) => {
                println!(
                    "operator {} added; API token (shown once, keep it safe):",
                    new.operator.name
                );
                println!("{}", new.token);
                0
            }
            Err(e) => say_error(&e),
        },
        OperatorsCommand::List => match service.operators().await {
            Ok(list) => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{:<24} {:<26} revoked", "name", "added");
                for o in list {
                    let _ = writeln!(
                        out,
                        "{:<24} {:<26} {}",
                        o.name,
                        o.created_at,
                        o.revoked_at.as_deref().unwrap_or("-")
                    );
                }
                0
            }
            Err(e) => say_error(&e),
        },
        OperatorsCommand::Revoke { name } => match service.revoke_operator(name).await {
            Ok(o) => {
                println!(
                    "operator {} revoked at {}",
                    o.name,
                    o.revoked_at.unwrap_or_default()
                );
                0
            }
            Err(e) => say_error(&e),
        },
    };
    service.shutdown().await;
    code
}

pub async fn journal(cmd: &JournalCommand, config: &Config) -> i32 {
    let service = match open_service(config).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let code = match cmd {
        JournalCommand::Verify => match service.verify_journal().await {
            Ok(check) => match check.broken {
                None => {
                    println!(
                        "journal intact: {} entries; head {}",
                        check.verified, check.head_hash
                    );
                    0
                }
                Some(b) => {
                    eprintln!(
                        "scfm: journal BROKEN at {b} ({} entries verified before it)",
                        check.verified
                    );
                    1
                }
            },
            Err(e) => say_error(&e),
        },
        JournalCommand::Export { callout, output } => {
            let result = export(&service, *callout, output.as_deref()).await;
            match result {
                Ok(n) => {
                    eprintln!("scfm: {n} journal entries of callout {callout} written");
                    0
                }
                Err(e) => {
                    eprintln!("scfm: {e}");
                    1
                }
            }
        }
    };
    service.shutdown().await;
    code
}

/// One JSON object per line, in journal order, a page at a time.
async fn export(
    service: &Service,
    callout: i64,
    output: Option<&std::path::Path>,
) -> anyhow::Result<u64> {
    let mut out: Box<dyn Write> = match output {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let (mut after, mut n) = (0, 0u64);
    loop {
        let page = service.journal_entries(Some(callout), after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            let line = serde_json::json!({
                "seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
                "subject": e.subject, "callout_id": e.callout_id,
                "details": serde_json::from_str::<serde_json::Value>(&e.details).unwrap_or_default(),
                "prev_hash": e.prev_hash, "hash": e.hash,
            });
            writeln!(out, "{line}")?;
            n += 1;
        }
    }
    out.flush()?;
    Ok(n)
}
