//! The `:` command line and the `/` filter prompt: one line of input at the bottom, and the
//! parser for commands (`:contacts`, `:callout 3`, `:import FILE`, `:cap FILE`, `:q`). `COMMANDS` lists them
//! for the help, next to the parser so the two do not drift.

use super::super::action::{Action, ExportTarget, PaneId};
use super::super::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Widget};
use tui_textarea::TextArea;

/// A one-line prompt (`:` or `/`).
pub struct Prompt {
    pub prefix: &'static str,
    pub input: TextArea<'static>,
}

pub enum PromptOutcome {
    Stay,
    Cancel,
    Submit(String),
}

impl Prompt {
    pub fn new(prefix: &'static str, initial: &str) -> Prompt {
        let mut input = TextArea::new(vec![initial.to_string()]);
        input.set_cursor_line_style(Style::default());
        input.move_cursor(tui_textarea::CursorMove::End);
        Prompt { prefix, input }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> PromptOutcome {
        match key.code {
            KeyCode::Esc => PromptOutcome::Cancel,
            KeyCode::Enter => PromptOutcome::Submit(self.text()),
            _ => {
                self.input.input(key);
                PromptOutcome::Stay
            }
        }
    }

    pub fn text(&self) -> String {
        self.input.lines().join(" ").trim().to_string()
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        Clear.render(area, buf);
        let p = self.prefix.len() as u16;
        buf.set_line(area.x, area.y, &Line::styled(self.prefix, theme.title()), p);
        let rest = Rect {
            x: area.x + p,
            width: area.width.saturating_sub(p),
            ..area
        };
        (&self.input).render(rest, buf);
    }
}

/// The commands, as shown in the help: usage and what it does.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        ":contacts :callouts :previews :calls",
        "go to a pane (or 1-4)",
    ),
    (":callout ID", "open a callout"),
    (
        ":import FILE [--msisdn-column NAME]",
        "import contacts (columns -> metadata)",
    ),
    (":invalid", "invalid rows of the last import"),
    (
        ":cap FILE|URL [--area-map MAP]",
        "CAP alert -> draft callout (needs approval)",
    ),
    (":approvals", "callouts waiting for a second operator"),
    (":export contacts FILE", "write every contact as CSV"),
    (
        ":export callout ID FILE",
        "participations, attempts, outcomes",
    ),
    (":sitrep", "situation report of the selected callout (S)"),
    (
        ":unreached [FILE]",
        "people the selected callout did not reach, CSV",
    ),
    (":q  :q!", "quit (:q! without asking)"),
];

const IMPORT_USAGE: &str = "usage: :import FILE [--msisdn-column NAME]";
const CAP_USAGE: &str = "usage: :cap FILE|URL [--area-map MAP] (default map: SCFM_AREA_MAP)";
const EXPORT_USAGE: &str = "usage: :export contacts FILE | :export callout ID FILE";

/// `FILE [--msisdn-column NAME]` (the file name may contain spaces).
fn parse_import(args: &[&str]) -> Result<Action, String> {
    let mut path = Vec::new();
    let mut msisdn_column = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if *a == "--msisdn-column" {
            msisdn_column = Some(it.next().ok_or(IMPORT_USAGE)?.to_string());
        } else if let Some(v) = a.strip_prefix("--msisdn-column=") {
            msisdn_column = Some(v.to_string());
        } else {
            path.push(*a);
        }
    }
    if path.is_empty() {
        return Err(IMPORT_USAGE.into());
    }
    Ok(Action::Import {
        path: path.join(" "),
        msisdn_column,
    })
}

/// `FILE|URL [--area-map MAP]` (the file name may contain spaces).
fn parse_cap(args: &[&str]) -> Result<Action, String> {
    let mut path = Vec::new();
    let mut area_map = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if *a == "--area-map" {
            area_map = Some(it.next().ok_or(CAP_USAGE)?.to_string());
        } else if let Some(v) = a.strip_prefix("--area-map=") {
            area_map = Some(v.to_string());
        } else {
            path.push(*a);
        }
    }
    if path.is_empty() {
        return Err(CAP_USAGE.into());
    }
    Ok(Action::ImportCap {
        path: path.join(" "),
        area_map,
    })
}

fn parse_export(args: &[&str]) -> Result<Action, String> {
    let (target, rest) = match args {
        ["contacts", rest @ ..] => (ExportTarget::Contacts, rest),
        ["callout", id, rest @ ..] => (
            ExportTarget::Callout(
                id.parse()
                    .map_err(|_| format!("callout {id}: expected a callout id"))?,
            ),
            rest,
        ),
        _ => return Err(EXPORT_USAGE.into()),
    };
    if rest.is_empty() {
        return Err(EXPORT_USAGE.into());
    }
    Ok(Action::Export {
        target,
        path: rest.join(" "),
    })
}

/// Parses a `:` command into an action.
pub fn parse(cmd: &str) -> Result<Action, String> {
    let all: Vec<&str> = cmd.split_whitespace().collect();
    match all.split_first() {
        Some((&"import", args)) => return parse_import(args),
        Some((&"export", args)) => return parse_export(args),
        Some((&"cap", args)) => return parse_cap(args),
        Some((&"unreached", args)) => {
            return Ok(Action::ExportUnreached(
                (!args.is_empty()).then(|| args.join(" ")),
            ));
        }
        _ => {}
    }
    let mut words = cmd.split_whitespace();
    let head = words.next().unwrap_or("");
    let arg = words.next();
    Ok(match (head, arg) {
        ("contacts" | "contact" | "1", None) => Action::Focus(PaneId::Contacts),
        ("callouts" | "2", None) => Action::Focus(PaneId::Callouts),
        ("callout" | "callouts", Some(id)) => Action::OpenCallout(
            id.parse()
                .map_err(|_| format!("callout {id}: expected a callout id"))?,
        ),
        ("callout", None) => Action::Focus(PaneId::Callouts),
        ("previews" | "preview" | "batches" | "3", None) => Action::Focus(PaneId::Previews),
        ("calls" | "live" | "4", None) => Action::Focus(PaneId::Calls),
        ("q" | "quit", None) => Action::Quit,
        ("q!" | "quit!", None) => Action::ForceQuit,
        ("help" | "h", None) => Action::ShowHelp,
        ("invalid", None) => Action::ShowImportErrors,
        ("approvals" | "approve", None) => Action::OpenApprovals,
        ("sitrep", None) => Action::ShowSitrep,
        ("", None) => Action::Back,
        _ => {
            return Err(format!(
                "unknown command :{cmd} (try :callouts, :callout 3, :import FILE, :export contacts FILE, :q; ? lists them)"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert!(matches!(parse("callout 3"), Ok(Action::OpenCallout(3))));
        assert!(matches!(
            parse("contacts"),
            Ok(Action::Focus(PaneId::Contacts))
        ));
        assert!(matches!(parse("q"), Ok(Action::Quit)));
        assert!(parse("callout x").is_err());
        assert!(parse("bogus").is_err());
        assert!(matches!(
            parse("import /tmp/my file.csv --msisdn-column phone"),
            Ok(Action::Import { path, msisdn_column: Some(c) }) if path == "/tmp/my file.csv" && c == "phone"
        ));
        assert!(parse("import").is_err());
        assert!(matches!(
            parse("export callout 3 out.csv"),
            Ok(Action::Export { target: ExportTarget::Callout(3), path }) if path == "out.csv"
        ));
        assert!(matches!(
            parse("export contacts c.csv"),
            Ok(Action::Export {
                target: ExportTarget::Contacts,
                ..
            })
        ));
        assert!(parse("export callout x f.csv").is_err());
        assert!(parse("export contacts").is_err());
        assert!(matches!(
            parse("cap alerts/flood 1.xml --area-map m.toml"),
            Ok(Action::ImportCap { path, area_map: Some(m) }) if path == "alerts/flood 1.xml" && m == "m.toml"
        ));
        assert!(matches!(
            parse("cap a.xml"),
            Ok(Action::ImportCap { area_map: None, .. })
        ));
        assert!(parse("cap --area-map m.toml").is_err());
        assert!(matches!(parse("approvals"), Ok(Action::OpenApprovals)));
    }
}
