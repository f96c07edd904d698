//! Who does something: a named operator, the shared API credential of SCFM, the voice provider
//! or scfm's own workers. The service records it in the journal and, for named operators, on
//! the records they make (`created_by`, `started_by`, `approved_by`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A named operator (`scfm operators add NAME`, or the TUI's `--operator NAME`).
    Operator(String),
    /// SCFM's single credential (`SCFM_API_TOKEN` or HTTP basic): someone, not named.
    SharedApi,
    /// The voice provider (webhooks, poll answers).
    Provider,
    /// scfm itself: workers, the campaign runner, the command line's own tools.
    System,
}

impl Actor {
    /// The name written in the journal.
    pub fn name(&self) -> &str {
        match self {
            Actor::Operator(n) => n,
            Actor::SharedApi => "api",
            Actor::Provider => "provider",
            Actor::System => "scfm",
        }
    }

    /// The operator's name, for `created_by` and the like (`None` for anyone else).
    pub fn operator(&self) -> Option<&str> {
        match self {
            Actor::Operator(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names scfm writes for actors that are not operators; no operator may take one.
pub const RESERVED_NAMES: [&str; 3] = ["api", "provider", "scfm"];

/// Why an operator name is refused, if it is: 1 to 64 characters of letters, digits, `.`, `_`
/// or `-`, starting with a letter or digit, and not one of [`RESERVED_NAMES`].
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 64 {
        return Some("must be 1 to 64 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        || !name.as_bytes()[0].is_ascii_alphanumeric()
    {
        return Some(
            "may hold only letters, digits, '.', '_' and '-', starting with a letter or digit",
        );
    }
    if RESERVED_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        return Some("is reserved for scfm's own entries");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name_problem("ana"), None);
        assert_eq!(name_problem("duty.officer-2"), None);
        assert!(name_problem("").is_some());
        assert!(name_problem("-x").is_some());
        assert!(name_problem("a b").is_some());
        assert!(name_problem("API").is_some());
        assert!(name_problem(&"a".repeat(65)).is_some());
        assert_eq!(Actor::SharedApi.operator(), None);
        assert_eq!(Actor::Operator("ana".into()).name(), "ana");
    }
}
