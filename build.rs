//! Rebuilds when a migration changes: `sqlx::migrate!` embeds `migrations/sqlite/` and
//! `migrations/postgres/` at compile time, and stable Rust cannot tell cargo it read them.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
