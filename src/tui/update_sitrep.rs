//! The situation report and the never-reached list on the App side (issue 15): `S` or
//! `:sitrep` opens the selected callout's report in a text popup (the long form, then the one-SMS
//! form with its note); `:unreached [FILE]` writes its never-reached list as CSV through the
//! export effect (default file `unreached-ID.csv` in the working directory).

use super::action::{Action, Effect, ExportTarget};
use super::app::{App, Modal};
use super::widgets::report::Report;
use crate::domain::sitrep::Sitrep;
use crate::domain::sitrep_text;

/// The popup's lines: the long form, then the short form and why it is short.
pub fn sitrep_lines(report: &Sitrep) -> Vec<String> {
    let mut lines: Vec<String> = sitrep_text::long(report)
        .lines()
        .map(str::to_string)
        .collect();
    let short = sitrep_text::short(report);
    lines.push(String::new());
    lines.push("One SMS:".into());
    lines.push(short.text);
    if let Some(note) = short.note {
        lines.push(format!("({note})"));
    }
    lines
}

impl App {
    fn selected_callout(&mut self, what: &str) -> Option<i64> {
        let id = self.callouts.current().map(|s| s.callout.id);
        if id.is_none() {
            self.error(format!("{what}: select a callout first (2, then j/k)"));
        }
        id
    }

    /// The sitrep and unreached actions, routed from `update`.
    pub(super) fn update_sitrep(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::ShowSitrep => {
                let Some(callout_id) = self.selected_callout("sitrep") else {
                    return vec![];
                };
                self.say(format!("situation report of callout {callout_id}…"));
                vec![Effect::LoadSitrep {
                    callout_id,
                    area_map: self.area_map.clone(),
                }]
            }
            Action::SitrepLoaded { callout_id, result } => {
                match result {
                    Ok(report) => {
                        self.say(format!("situation report of callout {callout_id}"));
                        self.modals.push(Modal::Report(Report {
                            title: format!("Situation report: callout {callout_id}"),
                            lines: sitrep_lines(&report),
                            scroll: 0,
                        }));
                    }
                    Err(e) => self.error(format!("sitrep: {e}")),
                }
                vec![]
            }
            Action::ExportUnreached(path) => {
                let Some(id) = self.selected_callout("unreached") else {
                    return vec![];
                };
                let path = path.unwrap_or_else(|| format!("unreached-{id}.csv"));
                self.update(Action::Export {
                    target: ExportTarget::Unreached(id),
                    path,
                })
            }
            _ => vec![],
        }
    }
}
