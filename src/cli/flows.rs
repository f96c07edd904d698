//! Small command-line verbs that run without the server: `scfm flows list|check`.

use super::FlowsCommand;
use crate::call_flow::engine::{self, Context};
use crate::call_flow::flow::Flow;
use crate::call_flow::twiml;
use crate::config::Config;
use std::io::Write;

/// Runs a `flows` subcommand, writing to `out`. Returns the process exit code.
pub fn run(cmd: &FlowsCommand, config: &Config, out: &mut dyn Write) -> std::io::Result<i32> {
    match cmd {
        FlowsCommand::List => {
            let registry = &config.registry;
            for flow in registry.flows().flows() {
                let state = if registry.is_registered(&flow.name) {
                    "registered"
                } else {
                    "known"
                };
                writeln!(
                    out,
                    "{}\t{state}\t{}\t{}",
                    flow.name, flow.source, flow.description
                )?;
            }
            for name in crate::domain::call_flow::KNOWN {
                if registry.flows().get(name).is_none() {
                    let state = if registry.is_registered(name) {
                        "registered"
                    } else {
                        "known"
                    };
                    writeln!(out, "{name}\t{state}\tbuilt-in code\tSCFM survey")?;
                }
            }
            for e in &registry.flows().errors {
                writeln!(out, "REFUSED {e}")?;
            }
            Ok(0)
        }
        FlowsCommand::Check { file } => {
            let name = file.display().to_string();
            let src = match std::fs::read_to_string(file) {
                Ok(s) => s,
                Err(e) => {
                    writeln!(out, "{name}: {e}")?;
                    return Ok(1);
                }
            };
            match Flow::parse(&src, &name) {
                Ok(flow) => {
                    write_steps(&flow, out)?;
                    Ok(0)
                }
                Err(e) => {
                    writeln!(out, "{e}")?;
                    Ok(1)
                }
            }
        }
    }
}

/// Prints, for every step, the TwiML a caller gets when the flow reaches it.
pub fn write_steps(flow: &Flow, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: ok ({} steps, starts at {:?})",
        flow.name,
        flow.steps.len(),
        flow.start
    )?;
    let ctx = Context {
        base_url: "https://scfm.example.org/api/remote_phone_call_events".into(),
        ..Context::default()
    };
    for step in &flow.steps {
        let id = step.id.get_ref();
        let turn = engine::render_step(flow, &ctx, id);
        writeln!(out, "\n[{id}] {}", step.kind.get_ref())?;
        writeln!(out, "{}", twiml::render(&turn.verbs))?;
        for s in &turn.stores {
            writeln!(out, "  stores {:?}.{} = {:?}", s.target, s.key, s.value)?;
        }
    }
    Ok(())
}
