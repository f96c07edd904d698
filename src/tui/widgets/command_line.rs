//! The `:` command line and the `/` filter prompt: one line of input at the bottom, and the
//! parser for commands (`:contacts`, `:callout 3`, `:q`).

use super::super::action::{Action, PaneId};
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

/// Parses a `:` command into an action.
pub fn parse(cmd: &str) -> Result<Action, String> {
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
        ("", None) => Action::Back,
        _ => {
            return Err(format!(
                "unknown command :{cmd} (try :contacts, :callouts, :callout 3, :previews, :calls, :q)"
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
    }
}
