//! Where the database is: a SQLite file or a PostgreSQL server. `DATABASE_URL` / `--database`
//! take either: `postgres://…` or `postgresql://…` is PostgreSQL; a plain path, `sqlite://PATH`
//! or `sqlite:PATH` is a SQLite file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (it may carry a password: never print it, see
    /// [`Location::describe`]).
    Postgres(String),
}

/// Which server tests run on: unset, every test opens a temp SQLite file; set to a PostgreSQL
/// URL, every test gets a fresh database on that server ([`Location::for_tests`]).
pub const TEST_DATABASE_VAR: &str = "SCFM_TEST_DATABASE";

impl Location {
    pub fn parse(s: &str) -> Result<Location, String> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Location::Postgres(s.to_string()));
        }
        let path = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
            .unwrap_or(s);
        if path.is_empty() {
            return Err("empty database path".into());
        }
        Ok(Location::Sqlite(PathBuf::from(path)))
    }

    /// For people and logs: the SQLite path, or the PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(url) => without_password(url),
        }
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }

    /// The database a test uses: `path` (a file in the test's temp dir), unless
    /// `SCFM_TEST_DATABASE` names a PostgreSQL server: then a database of its own there,
    /// `scfm_t_<pid>_<n>`, created (and migrated) when the store first opens it. So a test is
    /// written once and runs on either engine.
    pub fn for_tests(path: &Path) -> Location {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        match std::env::var(TEST_DATABASE_VAR) {
            Ok(server) if !server.is_empty() => {
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                let name = format!("scfm_t_{}_{n}", std::process::id());
                Location::Postgres(with_database(&server, &name))
            }
            _ => Location::Sqlite(path.to_path_buf()),
        }
    }
}

impl Location {
    /// The location as `DATABASE_URL` takes it, password included: for starting a child
    /// process on the same database, never for printing.
    pub fn as_url(&self) -> String {
        match self {
            Location::Sqlite(p) => format!("sqlite://{}", p.display()),
            Location::Postgres(url) => url.clone(),
        }
    }
}

/// Whether tests run on PostgreSQL (`SCFM_TEST_DATABASE` is set).
pub fn testing_on_postgres() -> bool {
    std::env::var(TEST_DATABASE_VAR).is_ok_and(|v| !v.is_empty())
}

/// For a test about SQLite itself (WAL, `data_version`, the side table, the file on disk):
/// when tests run on PostgreSQL, says on stderr (uncaptured) that `test` is skipped and why, and returns
/// true; the test then returns at once. Never a silent skip.
pub fn skip_on_postgres(test: &str, why: &str) -> bool {
    if testing_on_postgres() {
        // The test harness captures a passing test's eprintln!, but not writes to the
        // process's stderr handle itself, so the skip shows in every `cargo test` run.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED on PostgreSQL: {test}: {why}");
        return true;
    }
    false
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Location {
        Location::Sqlite(p.to_path_buf())
    }
}

impl From<&PathBuf> for Location {
    fn from(p: &PathBuf) -> Location {
        Location::Sqlite(p.clone())
    }
}

impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Location {
        Location::Sqlite(p)
    }
}

impl From<&Location> for Location {
    fn from(l: &Location) -> Location {
        l.clone()
    }
}

/// `scheme://user:secret@host/db` -> `scheme://user@host/db` (also a `password=` query
/// parameter is dropped).
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{user}@{host}")
        }
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| !kv.to_ascii_lowercase().starts_with("password="))
                .collect();
            if kept.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// The server URL `url` with its database name replaced by `name` (query kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let host = rest.split_once('/').map_or(rest, |(h, _)| h);
    match query {
        Some(q) => format!("{scheme}://{host}/{name}?{q}"),
        None => format!("{scheme}://{host}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_engines() {
        assert_eq!(
            Location::parse("sqlite:///tmp/a.db").unwrap_or_else(|e| panic!("{e}")),
            Location::Sqlite("/tmp/a.db".into())
        );
        assert_eq!(
            Location::parse("a.db").unwrap_or_else(|e| panic!("{e}")),
            Location::Sqlite("a.db".into())
        );
        assert!(
            Location::parse("postgresql://u@h/d")
                .unwrap_or_else(|e| panic!("{e}"))
                .is_postgres()
        );
        assert!(Location::parse("sqlite://").is_err());
    }

    #[test]
    fn describe_hides_the_password() {
        let l = Location::Postgres("postgres://scfm:s3cret@db:5432/scfm?sslmode=require".into());
        assert_eq!(l.describe(), "postgres://scfm@db:5432/scfm?sslmode=require");
        assert!(!format!("{l:?}").contains("s3cret"));
        let l = Location::Postgres("postgres://db/scfm?password=s3cret&sslmode=disable".into());
        assert_eq!(l.describe(), "postgres://db/scfm?sslmode=disable");
    }

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://scfm@127.0.0.1:51825/scfm", "scfm_t_1_0"),
            "postgres://scfm@127.0.0.1:51825/scfm_t_1_0"
        );
        assert_eq!(
            with_database("postgres://h:1?sslmode=disable", "x"),
            "postgres://h:1/x?sslmode=disable"
        );
    }
}
