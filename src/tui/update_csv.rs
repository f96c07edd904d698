//! `:import` and `:export` on the App side: start the effect, follow the import's progress for
//! the gauge, and say what came of it (rows, inserted, updated, invalid; `:invalid` lists the
//! invalid rows). One import at a time; input is never blocked while it runs.

use super::action::{Action, Effect, ExportTarget, PaneId};
use super::app::{App, Modal};
use super::csv_jobs::{ImportJob, invalid_text, summary};
use super::panes::Component;
use super::widgets::report::Report;
use super::widgets::thousands;
use crate::service::{ImportProgress, ImportReport};

impl App {
    pub(super) fn start_import(
        &mut self,
        path: String,
        msisdn_column: Option<String>,
    ) -> Vec<Effect> {
        if let Some(job) = &self.csv.import {
            self.error(format!(
                "an import is already running ({}); wait for it to finish",
                job.path
            ));
            return vec![];
        }
        self.csv.import = Some(ImportJob {
            path: path.clone(),
            progress: ImportProgress::default(),
        });
        self.say(format!("importing {path}…"));
        vec![Effect::ImportContacts {
            path,
            msisdn_column,
        }]
    }

    pub(super) fn import_progress(&mut self, p: ImportProgress) -> Vec<Effect> {
        if let Some(job) = &mut self.csv.import {
            job.progress = p;
        }
        vec![]
    }

    pub(super) fn import_finished(
        &mut self,
        path: String,
        result: Result<Box<ImportReport>, String>,
    ) -> Vec<Effect> {
        self.csv.import = None;
        match result {
            Ok(report) => {
                self.say(summary(&path, &report));
                self.csv.last_import = Some((path, *report));
            }
            Err(e) => self.error(format!("import {path}: {e}")),
        }
        // Batches committed before a failure stay, so reload either way.
        self.contacts.load.stale = true;
        if self.focus == PaneId::Contacts {
            self.contacts.reload()
        } else {
            vec![]
        }
    }

    pub(super) fn show_import_errors(&mut self) -> Vec<Effect> {
        let Some((path, r)) = &self.csv.last_import else {
            self.say("no import yet in this session (:import FILE)");
            return vec![];
        };
        if r.invalid.is_empty() {
            let text = format!("{path}: no invalid rows");
            self.say(text);
            return vec![];
        }
        let mut lines: Vec<String> = r.invalid.iter().map(invalid_text).collect();
        if r.invalid_count > r.invalid.len() as u64 {
            lines.push(format!(
                "… and {} more",
                thousands((r.invalid_count - r.invalid.len() as u64) as i64)
            ));
        }
        let title = format!(
            "{path}: {} invalid rows (not imported)",
            thousands(r.invalid_count as i64)
        );
        self.modals.push(Modal::Report(Report {
            title,
            lines,
            scroll: 0,
        }));
        vec![]
    }

    pub(super) fn start_export(&mut self, target: ExportTarget, path: String) -> Vec<Effect> {
        self.say(format!("exporting {} to {path}…", target.describe()));
        vec![Effect::Export {
            target,
            path,
            area_map: self.area_map.clone(),
        }]
    }

    pub(super) fn export_finished(
        &mut self,
        target: ExportTarget,
        path: String,
        result: Result<u64, String>,
    ) -> Vec<Effect> {
        match result {
            Ok(rows) => self.say(format!(
                "exported {} rows ({}) to {path}",
                thousands(rows as i64),
                target.describe()
            )),
            Err(e) => self.error(format!("export to {path}: {e}")),
        }
        vec![]
    }

    /// The CSV actions, routed from `update`.
    pub(super) fn update_csv(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Import {
                path,
                msisdn_column,
            } => self.start_import(path, msisdn_column),
            Action::Export { target, path } => self.start_export(target, path),
            Action::ShowImportErrors => self.show_import_errors(),
            Action::ImportProgress(p) => self.import_progress(p),
            Action::ImportFinished { path, result } => self.import_finished(path, result),
            Action::ExportFinished {
                target,
                path,
                result,
            } => self.export_finished(target, path, result),
            _ => vec![],
        }
    }
}
