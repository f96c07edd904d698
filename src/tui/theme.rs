//! Styles in one place. Meaning never rides on colour alone: selection is reversed and marked,
//! statuses are words, SIMULATION is a word in reverse video. With NO_COLOR set no colour is
//! used at all (crossterm also drops colours then).

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to a non-empty value (no-color.org).
    pub fn from_env(no_color: bool) -> Theme {
        Theme { color: !no_color }
    }

    pub fn plain() -> Theme {
        Theme { color: false }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    pub fn header(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn warning(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// The SIMULATION badge: reverse video and bold, coloured when allowed.
    pub fn simulation(&self) -> Style {
        let s = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
        if self.color { s.fg(Color::Yellow) } else { s }
    }

    pub fn active_tab(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    /// A call or callout status; the word itself carries the meaning.
    pub fn status(&self, status: &str) -> Style {
        match status {
            "completed" | "finished" | "running" => self.fg(Color::Green),
            "errored" | "failed" | "busy" | "not_answered" | "canceled" | "stopped" => {
                self.fg(Color::Red)
            }
            "queued" | "remotely_queued" | "remote_fetch_queued" | "in_progress" | "paused" => {
                self.fg(Color::Yellow)
            }
            _ => Style::new(),
        }
    }
}
