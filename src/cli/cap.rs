//! `scfm cap import FILE|URL --area-map MAP`: reads the alert (or a feed of alerts) and the map, asks the service for
//! the draft, and prints what an operator needs before anyone is called: the callout, each
//! area's people, the areas nothing matched, the ETA at the account's pace, and what to do next.
//! Exit code 0 when a draft was made or updated, 2 when the operator must decide (an Update or
//! Cancel of a callout already dialling), 1 when the alert or the map was refused.

use super::CapCommand;
use crate::config::Config;
use crate::domain::time::Clock;
use crate::service::{
    CapDocument, CapOutcome, Error, FeedReport, FeedResult, Service, parse_cap_document,
    read_alert, read_area_map,
};
use crate::store::Store;

pub async fn run(cmd: &CapCommand, config: &Config) -> i32 {
    let CapCommand::Import { source } = cmd;
    let Some(area_map) = &config.area_map else {
        eprintln!("scfm: cap import needs the area map: --area-map MAP (or SCFM_AREA_MAP)");
        return 1;
    };
    let map = match read_area_map(area_map).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("scfm: {e}");
            return 1;
        }
    };
    let xml = match read_alert(source).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("scfm: {e}");
            return 1;
        }
    };
    let store = match Store::open(&config.database).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("scfm: cannot open the database {}: {e}", config.database);
            return 1;
        }
    };
    let service = Service::new(store, Clock::System, config.registry.clone());
    let cps = config.provider.calls_per_second;
    let code = match parse_cap_document(&xml) {
        Err(e) => {
            eprintln!("scfm: {source}: {e}");
            1
        }
        Ok(CapDocument::Alert(alert)) => match service.import_alert(&alert, &map).await {
            Ok(outcome) => report(&outcome, cps),
            Err(Error::Invalid(v)) => {
                eprintln!("scfm: {source}: {v}");
                1
            }
            Err(e) => {
                eprintln!("scfm: {source}: {e}");
                1
            }
        },
        Ok(CapDocument::Feed(entries)) => {
            let base = source.contains("://").then_some(source.as_str());
            match service.import_cap_feed(&entries, base, &map).await {
                Ok(reports) => report_feed(&reports, cps),
                Err(e) => {
                    eprintln!("scfm: {source}: {e}");
                    1
                }
            }
        }
    };
    service.shutdown().await;
    code
}

/// A feed: one line per entry, then each import's report. Exit 2 when any entry asks the
/// operator to decide, else 1 when any was refused, else 0 (skipped entries are fine).
fn report_feed(reports: &[FeedReport], calls_per_second: f64) -> i32 {
    println!("feed: {} entries", reports.len());
    let mut code = 0;
    for r in reports {
        match &r.result {
            FeedResult::Done(outcome) => {
                println!("entry {}:", r.entry);
                code = code.max(report(outcome, calls_per_second));
            }
            FeedResult::Skipped(why) => println!("entry {}: skipped: {why}", r.entry),
            FeedResult::Refused(why) => {
                eprintln!("scfm: entry {}: refused: {why}", r.entry);
                if code == 0 {
                    code = 1;
                }
            }
        }
    }
    code
}

fn report(outcome: &CapOutcome, calls_per_second: f64) -> i32 {
    match outcome {
        CapOutcome::Drafted {
            callout,
            areas,
            unmatched,
            replaced,
        } => {
            let verb = if *replaced { "updated" } else { "drafted" };
            let name = callout
                .metadata
                .get("name")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            println!("callout {} {verb}: {name}", callout.id);
            println!("  nothing is dialled: a second operator must approve it, then start it");
            let mut total = 0;
            for a in areas {
                println!(
                    "  area {:<28} {:>9} people  (population preview: batch operation {})",
                    a.name, a.people, a.batch_operation_id
                );
                total += a.people;
            }
            for u in unmatched {
                println!("  NOT MATCHED by the area map: {u} (nobody there is called)");
            }
            let eta = total as f64 / calls_per_second.max(0.001);
            println!(
                "  {total} people (areas may overlap); about {:.0} min to place every first call at {calls_per_second}/s",
                eta / 60.0
            );
            0
        }
        CapOutcome::Cancelled { callout } => {
            println!(
                "callout {} (a draft) is marked cancelled; it was never dialled",
                callout.id
            );
            0
        }
        CapOutcome::AskToStop { callouts, msg_type } => {
            for c in callouts {
                eprintln!(
                    "scfm: {msg_type} for callout {} which is {}: nothing was changed; stop it with \
                     POST /api/callouts/{}/callout_events event=stop (or the TUI), or let it run",
                    c.id, c.status, c.id
                );
            }
            2
        }
    }
}
