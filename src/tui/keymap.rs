//! Key bindings as data. Every pane and the App list their bindings here; the same list routes
//! keys, fills the hint bar and builds the `?` help, so help never drifts from the keys.

use super::action::{Action, Nav, PaneId};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Code(KeyCode),
}

impl Key {
    pub fn matches(self, ev: &KeyEvent) -> bool {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        match self {
            Key::Char(c) => ev.code == KeyCode::Char(c) && !ctrl && !alt,
            Key::Ctrl(c) => ev.code == KeyCode::Char(c) && ctrl,
            Key::Code(code) => ev.code == code && !ctrl,
        }
    }
}

/// One binding: keys, label as shown, what it does, and whether it is available now.
#[derive(Debug, Clone)]
pub struct Binding {
    pub keys: &'static [Key],
    pub label: &'static str,
    pub desc: &'static str,
    pub action: Action,
    /// Why the binding does nothing right now (shown dimmed with this reason).
    pub disabled: Option<&'static str>,
    /// Shown in the hint bar (all bindings are in the help).
    pub hint: bool,
}

impl Binding {
    pub fn new(
        keys: &'static [Key],
        label: &'static str,
        desc: &'static str,
        action: Action,
    ) -> Self {
        Binding {
            keys,
            label,
            desc,
            action,
            disabled: None,
            hint: true,
        }
    }

    pub fn quiet(mut self) -> Self {
        self.hint = false;
        self
    }

    pub fn disabled_if(mut self, cond: bool, reason: &'static str) -> Self {
        if cond {
            self.disabled = Some(reason);
        }
        self
    }

    pub fn matches(&self, ev: &KeyEvent) -> bool {
        self.keys.iter().any(|k| k.matches(ev))
    }

    /// The action a key press produces: the binding's, or why it is disabled.
    pub fn fire(&self) -> Action {
        match self.disabled {
            Some(reason) => Action::Disabled(reason),
            None => self.action.clone(),
        }
    }
}

/// The first binding matching `ev`.
pub fn lookup(bindings: &[Binding], ev: &KeyEvent) -> Option<Action> {
    bindings.iter().find(|b| b.matches(ev)).map(Binding::fire)
}

/// List movement, the same in every list.
pub fn nav() -> Vec<Binding> {
    use KeyCode::*;
    vec![
        Binding::new(
            &[Key::Char('j'), Key::Code(Down)],
            "j/↓",
            "down",
            Action::Nav(Nav::Down),
        )
        .quiet(),
        Binding::new(
            &[Key::Char('k'), Key::Code(Up)],
            "k/↑",
            "up",
            Action::Nav(Nav::Up),
        )
        .quiet(),
        Binding::new(
            &[Key::Ctrl('d'), Key::Code(PageDown)],
            "^d/PgDn",
            "page down",
            Action::Nav(Nav::PageDown),
        )
        .quiet(),
        Binding::new(
            &[Key::Ctrl('u'), Key::Code(PageUp)],
            "^u/PgUp",
            "page up",
            Action::Nav(Nav::PageUp),
        )
        .quiet(),
        Binding::new(
            &[Key::Char('g'), Key::Code(Home)],
            "g/Home",
            "first",
            Action::Nav(Nav::Top),
        )
        .quiet(),
        Binding::new(
            &[Key::Char('G'), Key::Code(End)],
            "G/End",
            "last",
            Action::Nav(Nav::Bottom),
        )
        .quiet(),
    ]
}

/// Keys that work on every pane.
pub fn global() -> Vec<Binding> {
    use KeyCode::*;
    vec![
        Binding::new(&[Key::Char('?')], "?", "help", Action::ShowHelp),
        Binding::new(&[Key::Char(':')], ":", "command", Action::OpenCommandLine),
        Binding::new(&[Key::Char('q')], "q", "quit", Action::Quit),
        Binding::new(
            &[Key::Char('A')],
            "A",
            "approvals waiting (two-person start)",
            Action::OpenApprovals,
        )
        .quiet(),
        Binding::new(&[Key::Ctrl('c')], "^c", "quit", Action::Quit).quiet(),
        Binding::new(&[Key::Code(Tab)], "Tab", "next pane", Action::NextPane).quiet(),
        Binding::new(
            &[Key::Code(BackTab)],
            "S-Tab",
            "previous pane",
            Action::PrevPane,
        )
        .quiet(),
        Binding::new(
            &[Key::Char('1')],
            "1",
            "contacts",
            Action::Focus(PaneId::Contacts),
        )
        .quiet(),
        Binding::new(
            &[Key::Char('2')],
            "2",
            "callouts",
            Action::Focus(PaneId::Callouts),
        )
        .quiet(),
        Binding::new(
            &[Key::Char('3')],
            "3",
            "batch previews",
            Action::Focus(PaneId::Previews),
        )
        .quiet(),
        Binding::new(
            &[Key::Char('4')],
            "4",
            "live calls",
            Action::Focus(PaneId::Calls),
        )
        .quiet(),
        Binding::new(
            &[Key::Code(Esc)],
            "Esc",
            "back / clear filter",
            Action::Back,
        )
        .quiet(),
    ]
}
