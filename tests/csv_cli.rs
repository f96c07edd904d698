//! `scfm import contacts` and `scfm export contacts|callout` through the real binary.

#![allow(clippy::unwrap_used)]

use tempfile::TempDir;

/// The binary: import with a summary on stdout and exit 0 despite a bad row, export to a file,
/// a missing file exits non-zero.
#[test]
fn cli_import_then_export() {
    use std::process::Command;
    let dir = TempDir::new().unwrap();
    let db = scfm::store::Location::for_tests(&dir.path().join("cli.sqlite3"));
    let input = dir.path().join("in.csv");
    std::fs::write(
        &input,
        "Phone,name\n+252662345678,Alice\nabc,Bob\n+85510202103,=1+1\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_scfm"))
            .args(args)
            .env("SCFM_DATA_DIR", dir.path())
            .env("DATABASE_URL", db.as_url())
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let out = run(&[
        "import",
        "contacts",
        input.to_str().unwrap(),
        "--msisdn-column",
        "phone",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 rows"), "{stdout}");
    assert!(stdout.contains("inserted:   2"), "{stdout}");
    assert!(stdout.contains("invalid:    1"), "{stdout}");
    assert!(
        stdout.contains("line 3: \"abc\": can't be blank"),
        "{stdout}"
    );

    let exported = dir.path().join("out.csv");
    let out = run(&["export", "contacts", "--output", exported.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&exported).unwrap(),
        "msisdn,name\n+252662345678,Alice\n+85510202103,'=1+1\n"
    );
    let out = run(&["export", "contacts"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "msisdn,name\n+252662345678,Alice\n+85510202103,'=1+1\n"
    );

    let out = run(&["import", "contacts", "/nonexistent/file.csv"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = run(&["export", "callout", "7"]);
    assert!(!out.status.success());
}
