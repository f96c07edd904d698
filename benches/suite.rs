//! The benchmark suite of issue 7: one markdown table, every figure next to a baseline measured in
//! the same run, the ratio as the result (these machines are noisy; see LIMITS.md).
//!
//! `cargo bench --bench suite` runs it at 1,000,000 contacts (`SCFM_BENCH_ROWS` changes that);
//! `SCFM_BENCH_ROWS=10000 cargo bench --bench suite` (or `SCFM_BENCH_QUICK=1`) is the quick mode CI
//! runs so the suite cannot rot. Each row checks its own counts and the process exits non-zero
//! on a mismatch; times are printed, never asserted. docs/BENCHMARKS.md has the results.
//! `SCFM_BENCH_ONLY=1,2,3` runs only those rows (rows 2, 3, 4 and 7 need row 1's database, so
//! row 1 also runs when one of them is selected; it is reported only when asked for).
//!
//! Rows, all through the real code paths:
//! 1. CSV import (`Service::import_contacts`) vs a prepared sqlx INSERT loop in one transaction.
//! 2. Callout population (`CalloutPopulation` batch operation) vs a hand-written INSERT … SELECT.
//! 3. Preview count with a metadata filter (`Service::count_contacts`, answered by the
//!    `contact_metadata` side table) vs the hand-written scan.
//! 4. Contacts pane: keyset page (`Service::contacts_page`) + draw into TestBackend vs draw only.
//! 5. Signed webhooks at 64 connections against `scfm::startup::start` vs a bare axum handler.
//! 6. Dispatch to the fake provider, pacing off, vs a bare client; pacing accuracy at 20 cps.
//! 7. RSS of `scfm serve` with N contacts and a running simulated campaign vs the bare binary.
//! 8. Idle CPU and terminal bytes of the TUI in tmux.
//! 9. The never-reached export by area (issue 15) vs a hand-written streamed SELECT; its peak RSS.

#[path = "../tests/support/fake_provider/mod.rs"]
mod fake_provider;
#[path = "suite/postgres.rs"]
mod postgres;
#[path = "suite/postgres_procs.rs"]
mod postgres_procs;
#[path = "suite/unreached.rs"]
mod unreached;

use anyhow::{Context, Result, bail};
use fake_provider::{FakeConfig, FakeProvider};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use scfm::call_flow::Registry;
use scfm::config::Config;
use scfm::domain::Contact;
use scfm::domain::filter::{Family, Filter};
use scfm::domain::time::Clock;
use scfm::provider::signature;
use scfm::service::{
    BatchOperationInput, CalloutInput, ImportOptions, Service, WebhookOutcome, WebhookRequest,
};
use scfm::store::Store;
use scfm::tui::action::Anchor;
use scfm::tui::panes::Component;
use scfm::tui::panes::contacts::ContactsPane;
use scfm::tui::theme::Theme;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PROVINCES: [&str; 10] = [
    "Kandal",
    "Phnom Penh",
    "Takeo",
    "Kampong Cham",
    "Battambang",
    "Siem Reap",
    "Prey Veng",
    "Kampot",
    "Svay Rieng",
    "Kampong Speu",
];
/// Two-digit mobile prefixes; each is followed by six digits (8-digit national numbers).
const PREFIXES: [&str; 10] = ["10", "11", "12", "15", "16", "17", "92", "95", "97", "99"];
const TS: &str = "2026-11-28T00:00:00.000Z";
const SID: &str = "AC00000000000000000000000000000001";
const TOKEN: &str = "scfm-test-auth-token";
const FROM: &str = "+85510999999";
/// Rows of a contacts-pane page (the TUI's `panes::contacts::CONTACTS_PAGE`).
const PAGE: i64 = 100;

/// splitmix64: small, deterministic, good enough to shuffle and pick provinces.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One table row.
struct Row {
    num: &'static str,
    workload: String,
    figure: String,
    baseline: String,
    ratio: String,
    goal: String,
}

/// Rows, notes printed under the table, and the correctness failures seen so far.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    fn row(&mut self, num: &'static str, workload: String, figure: String, baseline: String) {
        self.rows.push(Row {
            num,
            workload,
            figure,
            baseline,
            ratio: String::new(),
            goal: String::new(),
        });
    }

    fn finish(&mut self, ratio: String, goal: &str) {
        if let Some(r) = self.rows.last_mut() {
            r.ratio = ratio;
            r.goal = goal.to_string();
        }
    }

    fn check(&mut self, ok: bool, what: impl Into<String>) {
        let what = what.into();
        if !ok {
            eprintln!("MISMATCH: {what}");
            self.failures.push(what);
        }
    }

    fn note(&mut self, s: impl Into<String>) {
        let s = s.into();
        eprintln!("  {s}");
        self.notes.push(s);
    }
}

struct Setup {
    n: usize,
    quick: bool,
    dir: tempfile::TempDir,
}

/// `SCFM_BENCH_ONLY=3,6`: run only these rows (row 1 still builds the database rows 2, 3, 4
/// and 7 need, and is reported only when asked for); `P` stands for the whole PostgreSQL column
/// (`SCFM_BENCH_ONLY=P` runs only that, with `SCFM_BENCH_DATABASE` set), `P1` … `P6` for one of
/// its rows (`SCFM_BENCH_ONLY=P2`: the contacts are still imported, P1 reported only if asked).
fn only_from_env() -> Result<Option<std::collections::BTreeSet<u8>>> {
    let Ok(v) = std::env::var("SCFM_BENCH_ONLY") else {
        return Ok(None);
    };
    let mut rows = std::collections::BTreeSet::new();
    for r in v.split(',') {
        let r = r.trim();
        let bad = || format!("SCFM_BENCH_ONLY={v:?}: {r:?} is not a row 1..=9, P or P1..=P6");
        if r.eq_ignore_ascii_case("p") {
            rows.extend(PG_ROWS.iter().map(|(_, n)| *n));
        } else if let Some(n) = PG_ROWS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(r))
        {
            rows.insert(n.1);
        } else if r.starts_with(['p', 'P']) {
            bail!(bad());
        } else {
            let n = r.parse::<u8>().ok().filter(|r| (1..=9).contains(r));
            rows.insert(n.with_context(bad)?);
        }
    }
    Ok(Some(rows))
}

/// `SCFM_BENCH_ONLY`'s stand-ins for the PostgreSQL column's rows.
pub const PG_ROWS: [(&str, u8); 5] = [
    ("P1", 101),
    ("P2", 102),
    ("P3", 103),
    ("P5", 105),
    ("P6", 106),
];

/// Whether `SCFM_BENCH_ONLY` (parsed) selects the PostgreSQL row `name`.
pub fn want_pg(only: Option<&std::collections::BTreeSet<u8>>, name: &str) -> bool {
    PG_ROWS
        .iter()
        .find(|(n, _)| *n == name)
        .is_some_and(|(_, k)| only.is_none_or(|o| o.contains(k)))
}

fn rows_from_env() -> Result<usize> {
    match std::env::var("SCFM_BENCH_ROWS") {
        Ok(v) => {
            let n: usize = v
                .replace('_', "")
                .parse()
                .with_context(|| format!("SCFM_BENCH_ROWS={v:?} is not a row count"))?;
            if n < 1000 || n > PREFIXES.len() * 1_000_000 {
                bail!(
                    "SCFM_BENCH_ROWS must be 1000..={}",
                    PREFIXES.len() * 1_000_000
                );
            }
            Ok(n)
        }
        Err(_) => Ok(1_000_000),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn median(xs: &[Duration]) -> Duration {
    let mut v = xs.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn msisdn(i: usize) -> String {
    format!("+855{}{:06}", PREFIXES[i % 10], i / 10)
}

/// Generated contacts: the CSV a user would import (numbers in shuffled order and in four input
/// formats) and, for the baseline, the same rows already normalised with their metadata JSON.
struct Contacts {
    csv: Vec<u8>,
    rows: Vec<(String, String)>,
    kandal: i64,
}

fn generate(n: usize, seed: u64) -> Contacts {
    let mut rng = SplitMix64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.below(i + 1);
        order.swap(i, j);
    }
    let mut csv = String::with_capacity(n * 48);
    csv.push_str("msisdn,province,gender,name\n");
    let mut rows = Vec::with_capacity(n);
    let mut kandal = 0;
    for (k, &i) in order.iter().enumerate() {
        let p = PREFIXES[i % 10];
        let sub = i / 10;
        let raw = match k % 4 {
            0 => format!("+855{p}{sub:06}"),
            1 => format!("855{p}{sub:06}"),
            2 => format!("+855 {p} {:03} {:03}", sub / 1000, sub % 1000),
            _ => format!("00855 (0){p}-{sub:06}"),
        };
        let prov = rng.below(PROVINCES.len());
        if prov == 0 {
            kandal += 1;
        }
        let gender = if rng.next() & 1 == 0 { "f" } else { "m" };
        let name = format!("Person {i}");
        csv.push_str(&format!("{raw},{},{gender},{name}\n", PROVINCES[prov]));
        let meta = json!({"province": PROVINCES[prov], "gender": gender, "name": name});
        rows.push((msisdn(i), meta.to_string()));
    }
    Contacts {
        csv: csv.into_bytes(),
        rows,
        kandal,
    }
}

async fn open(dir: &Path, name: &str) -> Result<Service> {
    let store = Store::open(&dir.join(name)).await?;
    Ok(Service::new(store, Clock::System, Registry::default()))
}

/// `n` contacts numbered as `msisdn(i)`, without metadata, in one transaction.
async fn insert_contacts(pool: &sqlx::SqlitePool, n: usize) -> Result<()> {
    let mut tx = pool.begin().await?;
    for i in 0..n {
        sqlx::query("INSERT INTO contacts (msisdn, metadata, created_at, updated_at) VALUES (?, '{}', ?, ?)")
            .bind(msisdn(i))
            .bind(TS)
            .bind(TS)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn scalar(svc: &Service, sql: &'static str) -> Result<i64> {
    Ok(sqlx::query_scalar(sql)
        .fetch_one(svc.store().sqlite_pool().expect("a SQLite store"))
        .await?)
}

/// Creates a batch operation (in preview, not queued); its id. Either engine.
async fn new_op(svc: &Service, kind: &str, callout_id: Option<i64>, params: Value) -> Result<i64> {
    let op = svc
        .create_batch_operation(
            BatchOperationInput {
                kind: Some(format!("BatchOperation::{kind}")),
                callout_id,
                parameters: params.as_object().cloned(),
                ..Default::default()
            },
            true,
        )
        .await?;
    Ok(op.id)
}

/// Creates a batch operation, queues it and waits until it finished (running it here, or letting
/// a running server's batch worker run it). Either engine.
async fn run_op(svc: &Service, kind: &str, callout_id: Option<i64>, params: Value) -> Result<()> {
    let id = new_op(svc, kind, callout_id, params).await?;
    svc.fire_batch_operation_event(id, Some("queue")).await?;
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        svc.run_next_batch_operation().await?;
        let status = svc.batch_operation(id, &[]).await?.status;
        if status == "finished" {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("batch operation {kind} still {status:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn participations(svc: &Service, callout: i64) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM callout_participations WHERE callout_id = ?")
            .bind(callout)
            .fetch_one(svc.store().sqlite_pool().expect("a SQLite store"))
            .await?,
    )
}

// ---------------------------------------------------------------------------------------------
// Row 1: CSV import.

/// Makes inserts into `contacts` bare: no trigger filling the metadata side table.
async fn bare_contacts(svc: &Service) -> Result<()> {
    sqlx::query("DROP TRIGGER contact_metadata_ai")
        .execute(svc.store().sqlite_pool().expect("a SQLite store"))
        .await?;
    Ok(())
}

async fn row1(s: &Setup, rep: &mut Report, data: &Contacts) -> Result<Service> {
    let n = s.n;
    // Baseline first, in its own database: one prepared INSERT per row, one transaction. The
    // baselines are bare inserts: the side-table trigger is dropped from their databases.
    let base = open(s.dir.path(), "baseline.sqlite3").await?;
    bare_contacts(&base).await?;
    let t = Instant::now();
    let mut tx = base
        .store()
        .sqlite_pool()
        .expect("a SQLite store")
        .begin()
        .await?;
    for (m, meta) in &data.rows {
        sqlx::query(
            "INSERT INTO contacts (msisdn, metadata, created_at, updated_at) VALUES (?, ?, ?, ?)",
        )
        .bind(m)
        .bind(meta)
        .bind(TS)
        .bind(TS)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let tb = t.elapsed();
    let got = scalar(&base, "SELECT count(*) FROM contacts").await?;
    rep.check(
        got == n as i64,
        format!("row 1 baseline: {got} contacts, expected {n}"),
    );
    base.store().close().await;
    let _ = std::fs::remove_file(s.dir.path().join("baseline.sqlite3"));

    // Second baseline: the fastest sqlx form, 1000-row multi-VALUES INSERTs in one transaction.
    let base = open(s.dir.path(), "baseline2.sqlite3").await?;
    bare_contacts(&base).await?;
    let t = Instant::now();
    let mut tx = base
        .store()
        .sqlite_pool()
        .expect("a SQLite store")
        .begin()
        .await?;
    for chunk in data.rows.chunks(1000) {
        let mut sql =
            String::from("INSERT INTO contacts (msisdn, metadata, created_at, updated_at) VALUES ");
        for k in 0..chunk.len() {
            sql.push_str(if k == 0 {
                "(?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?)"
            });
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (m, meta) in chunk {
            q = q.bind(m).bind(meta).bind(TS).bind(TS);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    let tm = t.elapsed();
    let got = scalar(&base, "SELECT count(*) FROM contacts").await?;
    rep.check(
        got == n as i64,
        format!("row 1 multi-row baseline: {got} contacts, expected {n}"),
    );
    base.store().close().await;
    let _ = std::fs::remove_file(s.dir.path().join("baseline2.sqlite3"));

    let svc = open(s.dir.path(), "contacts.sqlite3").await?;
    let t = Instant::now();
    let report = svc
        .import_contacts(
            std::io::Cursor::new(data.csv.clone()),
            ImportOptions::default(),
            |_| {},
        )
        .await?;
    let ti = t.elapsed();
    let got = scalar(&svc, "SELECT count(*) FROM contacts").await?;
    rep.check(
        report.inserted == n as u64 && report.invalid_count == 0 && got == n as i64,
        format!(
            "row 1 import: {} inserted, {} invalid, {got} in the table; expected {n}",
            report.inserted, report.invalid_count
        ),
    );
    let (ri, rb, rm) = (
        n as f64 / ti.as_secs_f64(),
        n as f64 / tb.as_secs_f64(),
        n as f64 / tm.as_secs_f64(),
    );
    rep.row(
        "1",
        format!("CSV import of {n} contacts (msisdn in 4 formats + 3 metadata columns, random order), `Service::import_contacts`"),
        format!("{:.0} rows/s ({:.1} s)", ri, ti.as_secs_f64()),
        format!(
            "{:.0} rows/s ({:.1} s): prepared sqlx INSERT per row, one transaction; \
             {:.0} rows/s ({:.1} s): 1000-row multi-VALUES INSERTs, one transaction",
            rb,
            tb.as_secs_f64(),
            rm,
            tm.as_secs_f64()
        ),
    );
    rep.finish(
        format!("{:.2}× of per-row, {:.2}× of multi-row", ri / rb, ri / rm),
        "≥ 0.5× and 1M rows in ≤ 20 s",
    );
    Ok(svc)
}

// ---------------------------------------------------------------------------------------------
// Row 2: callout population.

// The baseline writes the rows scfm writes, callout_population_id included (a batch operation
// of the same callout, created before the clock starts and never run); see postgres.rs.
const POP_BASE_ALL: &str = "INSERT INTO callout_participations (callout_id, contact_id, \
    callout_population_id, msisdn, metadata, created_at, updated_at) \
    SELECT ?1, id, ?3, msisdn, '{}', ?2, ?2 FROM contacts ORDER BY id";
const POP_BASE_KANDAL: &str = "INSERT INTO callout_participations (callout_id, contact_id, \
    callout_population_id, msisdn, metadata, created_at, updated_at) \
    SELECT ?1, id, ?3, msisdn, '{}', ?2, ?2 FROM contacts \
    WHERE json_extract(metadata, '$.province') = 'Kandal' ORDER BY id";

async fn row2(s: &Setup, rep: &mut Report, svc: &Service, kandal: i64) -> Result<()> {
    let mut parts = Vec::new();
    for (k, (name, params, sql, expected)) in [
        ("all", json!({}), POP_BASE_ALL, s.n as i64),
        (
            "Kandal",
            json!({"contact_filter_params": {"metadata": {"province": "Kandal"}}}),
            POP_BASE_KANDAL,
            kandal,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut t_scfm = Vec::new();
        let mut t_base = Vec::new();
        // Runs alternate scfm / baseline; medians of 3 each at full size, one each in quick mode.
        let runs = if s.quick { 2 } else { 6 };
        for j in 0..runs {
            let callout = svc.create_callout(CalloutInput::default()).await?;
            if (j + k) % 2 == 0 {
                let t = Instant::now();
                run_op(svc, "CalloutPopulation", Some(callout.id), params.clone()).await?;
                t_scfm.push(t.elapsed());
            } else {
                let op = new_op(svc, "CalloutPopulation", Some(callout.id), params.clone()).await?;
                let t = Instant::now();
                sqlx::query(sql)
                    .bind(callout.id)
                    .bind(TS)
                    .bind(op)
                    .execute(svc.store().sqlite_pool().expect("a SQLite store"))
                    .await?;
                t_base.push(t.elapsed());
            }
            let got = participations(svc, callout.id).await?;
            rep.check(
                got == expected,
                format!("row 2 {name}: {got} participations, expected {expected}"),
            );
            // Every run starts from the same table (see postgres.rs, P2).
            sqlx::query("DELETE FROM callout_participations WHERE callout_id = ?")
                .bind(callout.id)
                .execute(svc.store().sqlite_pool().expect("a SQLite store"))
                .await?;
        }
        parts.push((name, expected, median(&t_scfm), median(&t_base)));
    }
    let fig = parts
        .iter()
        .map(|(n, e, t, _)| format!("{n} ({e}): {:.3} s", t.as_secs_f64()))
        .collect::<Vec<_>>()
        .join("; ");
    let base = parts
        .iter()
        .map(|(n, _, _, b)| format!("{n}: {:.3} s", b.as_secs_f64()))
        .collect::<Vec<_>>()
        .join("; ");
    let ratio = parts
        .iter()
        .map(|(n, _, t, b)| format!("{n} {:.2}×", t.as_secs_f64() / b.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ");
    rep.row(
        "2",
        format!("Populate a callout from {} contacts: all, and province = Kandal (10%), `CalloutPopulation` batch operation", s.n),
        fig,
        format!("{base} (INSERT … SELECT … ORDER BY id, the same rows incl. callout_population_id)"),
    );
    rep.finish(ratio, "≤ 1.2×");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Row 3: preview count with a metadata filter.

const COUNT_BASE: &str =
    "SELECT count(*) FROM contacts WHERE json_extract(metadata, '$.province') = 'Kandal'";
async fn row3(s: &Setup, rep: &mut Report, svc: &Service, kandal: i64) -> Result<()> {
    let filter = Filter::parse(
        Family::Contact,
        Some(&json!({"metadata": {"province": "Kandal"}})),
    );
    let mut t_scfm = Vec::new();
    let mut t_base = Vec::new();
    for r in 0..3 {
        for k in 0..2 {
            let t = Instant::now();
            let got = if (r + k) % 2 == 0 {
                let c = svc.count_contacts(&filter).await?;
                t_scfm.push(t.elapsed());
                c
            } else {
                let c = scalar(svc, COUNT_BASE).await?;
                t_base.push(t.elapsed());
                c
            };
            rep.check(
                got == kandal,
                format!("row 3: count {got}, expected {kandal}"),
            );
        }
    }
    let (ts, tb) = (median(&t_scfm), median(&t_base));
    rep.row(
        "3",
        format!("Preview count, metadata province = Kandal over {} contacts (key not indexed in advance), `Service::count_contacts`", s.n),
        format!("{:.1} ms", ms(ts)),
        format!("{:.1} ms: SELECT count(*) … json_extract by hand (full scan)", ms(tb)),
    );
    rep.finish(
        format!(
            "{:.2}× of the scan; {:.2}× the goal",
            ms(ts) / ms(tb),
            ms(ts) / 150.0
        ),
        "≤ 150 ms",
    );

    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Row 4: contacts pane.

fn draw(pane: &ContactsPane, theme: &Theme) -> Result<String> {
    let mut t = Terminal::new(TestBackend::new(80, 24))?;
    t.draw(|f| {
        let area = f.area();
        pane.render(area, f.buffer_mut(), theme)
    })?;
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..24 {
        for x in 0..80 {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    Ok(out)
}

async fn row4(s: &Setup, rep: &mut Report, svc: &Service) -> Result<()> {
    let filter = Filter::parse(Family::Contact, None);
    let theme = Theme::plain();
    let n = s.n as i64;
    let (min_id, max_id): (i64, i64) = sqlx::query_as("SELECT min(id), max(id) FROM contacts")
        .fetch_one(svc.store().sqlite_pool().expect("a SQLite store"))
        .await?;
    let mid = min_id + n / 2;
    let mut fig = Vec::new();
    let mut base = Vec::new();
    let mut worst = 0.0f64;
    let mut worst_ratio = 0.0f64;
    for (name, anchor) in [
        ("first", Anchor::After(0)),
        ("middle", Anchor::After(mid)),
        ("last", Anchor::Before(i64::MAX)),
    ] {
        let (after, backwards) = match anchor {
            Anchor::After(id) => (id, false),
            Anchor::Before(id) => (id, true),
        };
        let mut t_full = Vec::new();
        let mut t_draw = Vec::new();
        let mut rows: Vec<Contact> = Vec::new();
        for _ in 0..7 {
            let t = Instant::now();
            rows = svc.contacts_page(&filter, after, backwards, PAGE).await?;
            let mut pane = ContactsPane::default();
            pane.loaded(0, anchor, rows.clone());
            let screen = draw(&pane, &theme)?;
            t_full.push(t.elapsed());
            let t = Instant::now();
            let screen2 = draw(&pane, &theme)?;
            t_draw.push(t.elapsed());
            let first = rows.first().map(|c| c.msisdn.clone()).unwrap_or_default();
            rep.check(
                screen == screen2 && screen.contains(&first),
                format!("row 4 {name}: the drawn page does not show {first}"),
            );
        }
        let expect_first = match name {
            "first" => min_id,
            "middle" => mid + 1,
            _ => max_id - PAGE + 1,
        };
        rep.check(
            rows.len() as i64 == PAGE && rows.first().map(|c| c.id) == Some(expect_first),
            format!(
                "row 4 {name}: {} rows from id {:?}, expected {PAGE} from {expect_first}",
                rows.len(),
                rows.first().map(|c| c.id)
            ),
        );
        let (f, d) = (ms(median(&t_full)), ms(median(&t_draw)));
        worst = worst.max(f);
        worst_ratio = worst_ratio.max(f / d);
        fig.push(format!("{name} {f:.2}"));
        base.push(format!("{name} {d:.2}"));
    }
    rep.row(
        "4",
        format!("Contacts pane at {n} rows: keyset page of {PAGE} (`Service::contacts_page`) + draw into TestBackend 80x24"),
        format!("{} ms", fig.join(", ")),
        format!("{} ms: draw of the same rows already in memory", base.join(", ")),
    );
    rep.finish(
        format!("worst {worst_ratio:.1}× the draw; worst page {worst:.2} ms"),
        "≤ 10 ms per page",
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Row 5: signed webhooks.

fn status_params(i: u64, seeds: u64) -> Vec<(String, String)> {
    let call = i % seeds;
    let p = |k: &str, v: String| (k.to_string(), v);
    vec![
        p("AccountSid", SID.into()),
        p("ApiVersion", "2010-04-01".into()),
        p("CallSid", format!("CAbench{call:08}")),
        p("CallStatus", "in-progress".into()),
        p("CallbackSource", "call-progress-events".into()),
        p("Called", "+85512345678".into()),
        p("Caller", seed_from(call)),
        p("Direction", "inbound".into()),
        p("From", seed_from(call)),
        p("To", "+85512345678".into()),
        p("SequenceNumber", (i + 1).to_string()),
        p("Timestamp", "Sat, 28 Nov 2026 00:00:00 +0000".into()),
        p("CallDuration", (i % 600).to_string()),
    ]
}

fn seed_from(call: u64) -> String {
    format!("+8551{}{:06}", 1 + call % 2, call / 2)
}

/// 10,000 calls with remote_call_ids, created by inbound webhooks through the service, so
/// status callbacks have calls to update.
async fn seed_calls(svc: &Service, url: &str, seeds: u64) -> Result<()> {
    for call in 0..seeds {
        let sid = format!("CAbench{call:08}");
        let from = seed_from(call);
        let params = [
            ("AccountSid", SID),
            ("CallSid", &sid),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
            ("From", &from),
            ("To", "+85512345678"),
            ("ApiVersion", "2010-04-01"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let out = svc
            .handle_webhook(WebhookRequest {
                params,
                url: url.to_string(),
            })
            .await?;
        if !matches!(out, WebhookOutcome::Twiml(_)) {
            bail!("seeding call {call}: webhook refused");
        }
    }
    Ok(())
}

struct Load {
    ok: u64,
    bad: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

/// Signed status callbacks from 64 concurrent connections until `dur` has passed.
async fn load(url: &str, dur: Duration, seeds: u64) -> Result<Load> {
    load_spread(&[url.to_string()], url, dur, seeds, 0).await
}

/// Signed status callbacks from 64 concurrent connections until `dur` has passed, sent
/// round-robin to `targets` (processes behind one public URL), each signed for `signed_url`.
/// Callbacks are numbered from `from` (a repeated number is a duplicate delivery, stored once).
async fn load_spread(
    targets: &[String],
    signed_url: &str,
    dur: Duration,
    seeds: u64,
    from: u64,
) -> Result<Load> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let start = Instant::now();
    let deadline = start + dur;
    let results: Vec<(bool, Duration)> = futures::stream::iter(from..)
        .take_while(|_| futures::future::ready(Instant::now() < deadline))
        .map(|i| {
            let client = client.clone();
            let url = targets[i as usize % targets.len()].as_str();
            async move {
                let pairs = status_params(i, seeds);
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&pairs)
                    .finish();
                let sig = signature::compute(TOKEN, signed_url, &pairs);
                let t = Instant::now();
                let r = client
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-twilio-signature", sig)
                    .body(body)
                    .send()
                    .await;
                let ok = match r {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                (ok, t.elapsed())
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let elapsed = start.elapsed();
    let ok = results.iter().filter(|r| r.0).count() as u64;
    let mut lat: Vec<Duration> = results.iter().map(|r| r.1).collect();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Ok(Load {
        ok,
        bad: results.len() as u64 - ok,
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    })
}

async fn row5(s: &Setup, rep: &mut Report) -> Result<()> {
    let seeds: u64 = 10_000;
    let dur = Duration::from_secs(if s.quick { 3 } else { 10 });
    let db = s.dir.path().join("webhooks.sqlite3");
    let mut config = Config::for_tests(&db);
    config.provider.account_sid = Some(SID.into());
    config.provider.auth_token = Some(TOKEN.into());
    config.provider.poll_interval = Duration::from_secs(600);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = scfm::startup::start(config, listener).await?;
    let url = format!("http://{}/api/remote_phone_call_events", running.addr);
    let svc = running.service.clone();
    seed_calls(&svc, &url, seeds).await?;
    let calls = scalar(
        &svc,
        "SELECT count(*) FROM phone_calls WHERE remote_call_id IS NOT NULL",
    )
    .await?;
    rep.check(
        calls == seeds as i64,
        format!("row 5: {calls} seeded calls, expected {seeds}"),
    );
    // The TwiML scfm answers a status callback with, for the bare handler to return.
    let pairs = status_params(u64::MAX - 1, seeds);
    let twiml = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-twilio-signature",
            signature::compute(TOKEN, &url, &pairs),
        )
        .body(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish(),
        )
        .send()
        .await?
        .text()
        .await?;
    let before = scalar(&svc, "SELECT count(*) FROM remote_phone_call_events").await?;

    // Baseline: a bare axum handler on the same runtime and the same kind of socket.
    let hits = Arc::new(AtomicU64::new(0));
    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_url = format!(
        "http://{}/api/remote_phone_call_events",
        bare_listener.local_addr()?
    );
    let body: &'static str = Box::leak(twiml.clone().into_boxed_str());
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/api/remote_phone_call_events",
        axum::routing::post(move |_form: axum::body::Bytes| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                (
                    axum::http::StatusCode::CREATED,
                    [("content-type", "application/xml; charset=utf-8")],
                    body,
                )
            }
        }),
    );
    let bare = tokio::spawn(async move {
        let _ = axum::serve(bare_listener, app).await;
    });
    let b = load(&bare_url, dur, seeds).await?;
    bare.abort();
    rep.check(
        b.bad == 0 && hits.load(Ordering::Relaxed) == b.ok,
        format!(
            "row 5 baseline: {} failed, {} handled of {}",
            b.bad,
            hits.load(Ordering::Relaxed),
            b.ok
        ),
    );
    let l = load(&url, dur, seeds).await?;
    let after = scalar(&svc, "SELECT count(*) FROM remote_phone_call_events").await?;
    rep.check(
        l.bad == 0 && (after - before) as u64 == l.ok,
        format!(
            "row 5: {} non-2xx, {} events stored for {} answered requests",
            l.bad,
            after - before,
            l.ok
        ),
    );
    running.shutdown().await;
    let (rs, rb) = (
        l.ok as f64 / l.elapsed.as_secs_f64(),
        b.ok as f64 / b.elapsed.as_secs_f64(),
    );
    rep.row(
        "5",
        format!("Signed webhooks (event stored + call updated), 64 connections for {} s, {seeds} seeded calls, `scfm::startup::start`", dur.as_secs()),
        format!("{rs:.0} req/s, p50 {:.1} ms, p99 {:.1} ms", ms(l.p50), ms(l.p99)),
        format!("{rb:.0} req/s, p99 {:.1} ms: bare axum handler, same TwiML", ms(b.p99)),
    );
    rep.finish(
        format!("{:.2}× of the bare handler", rs / rb),
        "≥ 5,000 req/s, p99 ≤ 50 ms",
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Row 6: dispatch.

fn fake_config() -> FakeConfig {
    let mut c = FakeConfig::twilio();
    c.run_twiml = false;
    c
}

/// Create timestamps (ms since the first) of the create requests the fake saw.
/// The most of `ts` (sorted milliseconds) in any sliding one-second window `[t, t + 1000)`.
fn max_in_one_second(ts: &[f64]) -> usize {
    let mut best = 0;
    let mut j = 0;
    for i in 0..ts.len() {
        j = j.max(i);
        while j < ts.len() && ts[j] < ts[i] + 1000.0 {
            j += 1;
        }
        best = best.max(j - i);
    }
    best
}

fn creates(fake: &FakeProvider) -> Vec<f64> {
    let reqs = fake.requests();
    let ts: Vec<_> = reqs
        .iter()
        .filter(|r| {
            r.method == "POST" && r.path.ends_with("/Calls.json") && r.response_status == 201
        })
        .map(|r| r.at)
        .collect();
    let Some(first) = ts.iter().min().copied() else {
        return Vec::new();
    };
    let mut v: Vec<f64> = ts
        .iter()
        .map(|t| (*t - first).num_microseconds().unwrap_or(0) as f64 / 1000.0)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Dials `d` calls through the real dialer at `cps`; returns (seconds from queue to the last
/// acceptance, create timestamps at the fake).
async fn dispatch(
    s: &Setup,
    rep: &mut Report,
    name: &str,
    d: usize,
    cps: f64,
) -> Result<(Duration, Vec<f64>)> {
    let fake = FakeProvider::start(fake_config()).await;
    let db = s.dir.path().join(format!("{name}.sqlite3"));
    let mut config = Config::for_tests(&db);
    config.provider.account_sid = Some(fake.account_sid());
    config.provider.auth_token = Some(fake.auth_token());
    config.provider.base_url = Some(fake.base_url());
    config.provider.poll_interval = Duration::from_secs(600);
    config.provider.calls_per_second = cps;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = scfm::startup::start(config, listener).await?;
    let svc = running.service.clone();
    insert_contacts(svc.store().sqlite_pool().expect("a SQLite store"), d).await?;
    let callout = svc.create_callout(CalloutInput::default()).await?;
    run_op(&svc, "CalloutPopulation", Some(callout.id), json!({})).await?;
    run_op(
        &svc,
        "PhoneCallCreate",
        None,
        json!({"remote_request_params": {"from": FROM, "url": "https://e.org/twiml"}}),
    )
    .await?;
    let created = scalar(&svc, "SELECT count(*) FROM phone_calls").await?;
    rep.check(
        created == d as i64,
        format!("row 6 {name}: {created} calls created, expected {d}"),
    );
    let t = Instant::now();
    run_op(
        &svc,
        "PhoneCallQueue",
        None,
        json!({"phone_call_filter_params": {"status": "created"}}),
    )
    .await?;
    let deadline = t + Duration::from_secs(300);
    loop {
        let (accepted, errored): (i64, i64) = sqlx::query_as(
            "SELECT count(remote_call_id), count(*) FILTER (WHERE status = 'errored') FROM phone_calls",
        )
        .fetch_one(svc.store().sqlite_pool().expect("a SQLite store"))
        .await?;
        if accepted == d as i64 || errored > 0 || Instant::now() > deadline {
            rep.check(
                accepted == d as i64 && errored == 0,
                format!("row 6 {name}: {accepted} accepted, {errored} errored of {d}"),
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let el = t.elapsed();
    let ts = creates(&fake);
    rep.check(
        ts.len() == d,
        format!(
            "row 6 {name}: the fake saw {} creates, expected {d}",
            ts.len()
        ),
    );
    running.shutdown().await;
    Ok((el, ts))
}

/// The fake's own ceiling: `d` creates from a bare reqwest client, 8 in flight like the
/// dialler. Returns (accepted, creates the fake saw, elapsed).
async fn bare_creates(d: usize) -> Result<(usize, usize, Duration)> {
    let fake = FakeProvider::start(fake_config()).await;
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Calls.json",
        fake.base_url(),
        fake.account_sid()
    );
    let client = reqwest::Client::new();
    let t = Instant::now();
    let ok: usize = futures::stream::iter(0..d)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            let token = fake.auth_token();
            async move {
                let r = client
                    .post(&url)
                    .basic_auth(SID, Some(token))
                    .form(&[
                        ("To", msisdn(i)),
                        ("From", FROM.to_string()),
                        ("Url", "https://e.org/twiml".to_string()),
                    ])
                    .send()
                    .await;
                usize::from(matches!(r, Ok(r) if r.status() == 201))
            }
        })
        .buffer_unordered(8)
        .fold(0, |a, b| async move { a + b })
        .await;
    let elapsed = t.elapsed();
    Ok((ok, creates(&fake).len(), elapsed))
}

async fn row6(s: &Setup, rep: &mut Report) -> Result<()> {
    let d = (s.n / 100).clamp(1000, 10_000);
    let (el, ts) = dispatch(s, rep, "dispatch", d, 1_000_000.0).await?;
    let span = ts.last().copied().unwrap_or(0.0) / 1000.0;
    let rate = d as f64 / el.as_secs_f64();
    let rate_fake = (d as f64 - 1.0) / span.max(1e-9);

    // Baseline: the fake's own ceiling with a bare client, 8 creates in flight like the dialler.
    let (ok, seen, tb) = bare_creates(d).await?;
    rep.check(
        ok == d && seen == d,
        format!("row 6 baseline: {ok} creates accepted, expected {d}"),
    );
    let rb = d as f64 / tb.as_secs_f64();

    // Pacing at 20 calls per second, measured on the fake's request log.
    let cps = 20.0;
    let p = if s.quick { 41 } else { 101 };
    let (_, ts) = dispatch(s, rep, "pacing", p, cps).await?;
    let span = ts.last().copied().unwrap_or(0.0) / 1000.0;
    let measured = (p as f64 - 1.0) / span.max(1e-9);
    let max_1s = max_in_one_second(&ts);
    rep.check(
        max_1s <= cps as usize,
        format!("row 6 pacing: {max_1s} creates in one second at a cap of {cps}"),
    );
    rep.row(
        "6",
        format!("Dispatch of {d} queued calls to the local fake provider, pacing off (dialler, `PhoneCallQueue`); pacing at {cps} cps over {p} calls"),
        format!("{rate:.0} calls/s queue→accepted ({rate_fake:.0}/s at the fake); pacing {measured:.2} cps mean, max {max_1s} in any one second"),
        format!("{rb:.0} creates/s: bare reqwest client, 8 in flight; pacing configured {cps} cps"),
    );
    rep.finish(
        format!(
            "{:.2}× of the bare client; pacing {:+.1}%",
            rate / rb,
            (measured / cps - 1.0) * 100.0
        ),
        "≥ 1,000 calls/s; pacing within 2%",
    );
    Ok(())
}

/// Not a row of the table, reported with row 6: one pass of the campaign runner over a
/// running callout of N/10 participations (at least 10,000), 60% already called and a third
/// of those busy and due for a retry. The runner holds SQLite's write lock while it queues, so
/// this time is added to every webhook and dial waiting behind it, once a second. Baseline in
/// the same run: the whole-callout aggregate the runner used to run (by hand, read only).
async fn runner_tick(s: &Setup, rep: &mut Report) -> Result<()> {
    let p = (s.n / 10).max(10_000);
    let called = p * 6 / 10;
    let db = s.dir.path().join("runner.sqlite3");
    let store = Store::open(&db).await?;
    let svc = Service::new(store, Clock::System, Registry::default());
    let mut dialing = serde_json::Map::new();
    dialing.insert("from".into(), json!(FROM));
    dialing.insert("twiml_url".into(), json!("https://e.org/twiml"));
    dialing.insert("retry_statuses".into(), json!(["busy"]));
    dialing.insert("max_concurrent_calls".into(), json!(1000));
    let callout = svc
        .create_callout(CalloutInput {
            dialing: Some(Some(dialing)),
            ..CalloutInput::default()
        })
        .await?;
    let pool = svc.store().sqlite_pool().expect("a SQLite store");
    insert_contacts(pool, p).await?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO callout_participations (callout_id, contact_id, msisdn, metadata, created_at, updated_at) \
         SELECT ?, id, msisdn, '{}', ?, ? FROM contacts ORDER BY id",
    )
    .bind(callout.id)
    .bind(TS)
    .bind(TS)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO phone_calls (callout_participation_id, contact_id, status, msisdn, runner_attempt, created_at, updated_at) \
         SELECT id, contact_id, CASE WHEN id % 3 = 0 THEN 'busy' ELSE 'completed' END, msisdn, 1, ?, ? \
         FROM callout_participations WHERE id <= ?",
    )
    .bind(TS)
    .bind(TS)
    .bind(called as i64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    svc.fire_callout_event(callout.id, Some("start")).await?;
    let reps = if s.quick { 5 } else { 15 };
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    let mut queued = 0;
    for _ in 0..reps {
        let t = Instant::now();
        queued += svc.run_campaigns_once().await?;
        ours.push(t.elapsed());
        let t = Instant::now();
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT cp.id FROM callout_participations cp \
             LEFT JOIN (SELECT callout_participation_id AS pid, count(*) AS n, max(id) AS last_id FROM phone_calls \
                        WHERE callout_participation_id IN (SELECT id FROM callout_participations WHERE callout_id = ?1) \
                        GROUP BY callout_participation_id) s ON s.pid = cp.id \
             LEFT JOIN phone_calls l ON l.id = s.last_id WHERE cp.callout_id = ?1 \
               AND (s.n IS NULL OR (s.n < 3 AND l.status IN ('busy') AND l.updated_at <= ?2)) \
             ORDER BY cp.id LIMIT 1)",
        )
        .bind(callout.id)
        .bind("2099-01-01T00:00:00.000Z")
        .fetch_one(pool)
        .await?;
        base.push(t.elapsed());
        rep.check(n == 1, format!("runner tick baseline found {n} candidates"));
    }
    rep.check(
        queued == reps as u64,
        format!("runner tick: {queued} calls queued over {reps} passes, expected {reps}"),
    );
    let (o, b) = (median(&ours), median(&base));
    rep.note(format!(
        "Campaign runner, one pass over a running callout of {p} participations ({called} called, a third busy and due): \
         {:.2} ms (median of {reps}, queues 1 call each: the default 1 call/s), against {:.1} ms for the \
         whole-callout aggregate it ran before (same run, read only): {:.3}×. The runner holds the write lock for that long once a second.",
        o.as_secs_f64() * 1e3,
        b.as_secs_f64() * 1e3,
        o.as_secs_f64() / b.as_secs_f64()
    ));
    svc.store().close().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Row 7: memory.

fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn spawn_serve(dir: &Path, db: &Path) -> Result<std::process::Child> {
    Ok(std::process::Command::new(env!("CARGO_BIN_EXE_scfm"))
        .arg("serve")
        .env("DATABASE_URL", db)
        .env("SCFM_DATA_DIR", dir)
        .env("SCFM_LISTEN", "127.0.0.1:0")
        .env("SCFM_API_TOKEN", "bench")
        .env("PLATFORM_PROVIDER", "simulator")
        .env("SCFM_CALLS_PER_SECOND", "1000")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?)
}

fn stop(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

async fn row7(s: &Setup, rep: &mut Report, svc: Service, kandal: i64) -> Result<()> {
    // Baseline: the bare binary on an empty database, 1.5 s after start.
    let bare_dir = s.dir.path().join("bare");
    std::fs::create_dir_all(&bare_dir)?;
    let mut child = spawn_serve(&bare_dir, &bare_dir.join("scfm.sqlite3"))?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let bare = status_kb(child.id(), "VmRSS:").unwrap_or(0);
    stop(&mut child);

    // A campaign over the Kandal contacts (about N/10), simulated provider, started here.
    let callout = svc
        .create_callout(CalloutInput {
            dialing: Some(Some(
                json!({"from": FROM, "twiml_url": "https://e.org/twiml",
                       "max_calls_per_second": 1000, "max_concurrent_calls": 100000})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            )),
            ..Default::default()
        })
        .await?;
    run_op(
        &svc,
        "CalloutPopulation",
        Some(callout.id),
        json!({"contact_filter_params": {"metadata": {"province": "Kandal"}}}),
    )
    .await?;
    let parts = participations(&svc, callout.id).await?;
    rep.check(
        parts == kandal,
        format!("row 7: {parts} participations, expected {kandal}"),
    );
    svc.fire_callout_event(callout.id, Some("start")).await?;
    let contacts = scalar(&svc, "SELECT count(*) FROM contacts").await?;
    let db = s.dir.path().join("contacts.sqlite3");
    svc.store().close().await;

    let window = Duration::from_secs(if s.quick { 3 } else { 15 });
    let mut child = spawn_serve(s.dir.path(), &db)?;
    let pid = child.id();
    let start = Instant::now();
    let mut peak = 0;
    let mut last = 0;
    while start.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Some(kb) = status_kb(pid, "VmRSS:") {
            last = kb;
            peak = peak.max(kb);
        }
    }
    let hwm = status_kb(pid, "VmHWM:").unwrap_or(0);
    stop(&mut child);

    let check = open(s.dir.path(), "contacts.sqlite3").await?;
    let calls: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM phone_calls p JOIN callout_participations c \
         ON c.id = p.callout_participation_id WHERE c.callout_id = ?",
    )
    .bind(callout.id)
    .fetch_one(check.store().sqlite_pool().expect("a SQLite store"))
    .await?;
    check.store().close().await;
    rep.check(
        calls > 0 && bare > 0 && last > 0,
        format!("row 7: the campaign made {calls} calls; RSS bare {bare} kB, running {last} kB"),
    );
    let mb = |kb: u64| kb as f64 / 1024.0;
    rep.row(
        "7",
        format!("Memory: `scfm serve` on {contacts} contacts with a running simulated campaign of {parts} participations ({calls} calls made in {} s)", window.as_secs()),
        format!("{:.1} MB RSS at the end, {:.1} MB peak (VmHWM)", mb(last), mb(hwm.max(peak))),
        format!("{:.1} MB: the bare binary at start, empty database", mb(bare)),
    );
    rep.finish(
        format!(
            "{:.2}× of the bare binary",
            hwm.max(peak) as f64 / bare.max(1) as f64
        ),
        "≤ 150 MB",
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Row 8: idle.

fn tmux(args: &[&str]) -> Result<String> {
    let out = std::process::Command::new("tmux").args(args).output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit_once(") ")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

async fn row8(s: &Setup, rep: &mut Report) -> Result<()> {
    let window = Duration::from_secs(if s.quick { 5 } else { 60 });
    let workload = format!(
        "Idle: the TUI (`scfm`, server and workers on) in tmux 80x24 for {} s, nothing happening",
        window.as_secs()
    );
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        rep.row(
            "8",
            workload,
            "not measured: tmux is not installed".into(),
            "—".into(),
        );
        rep.finish(String::new(), "≈ 0% CPU, 0 bytes");
        return Ok(());
    }
    let dir = s.dir.path().join("idle");
    std::fs::create_dir_all(&dir)?;
    let d = dir.display().to_string();
    let session = format!("scfm-bench-idle-{}", std::process::id());
    let cmd = format!(
        "exec env -u NO_COLOR SCFM_DATA_DIR={d} DATABASE_URL={d}/scfm.sqlite3 SCFM_LISTEN=127.0.0.1:0 \
         SCFM_API_TOKEN=bench PLATFORM_PROVIDER=simulator TERM=xterm-256color {}",
        env!("CARGO_BIN_EXE_scfm")
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "80",
        "-y",
        "24",
        &cmd,
    ])?;
    let result = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut screen = String::new();
        while Instant::now() < deadline {
            screen = tmux(&["capture-pane", "-p", "-t", &session])?;
            if screen.contains("No contacts yet") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let pid: u32 = tmux(&["display-message", "-p", "-t", &session, "#{pane_pid}"])?
            .trim()
            .parse()
            .context("pane pid")?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let out = dir.join("pane-output");
        tmux(&[
            "pipe-pane",
            "-t",
            &session,
            &format!("cat > {}", out.display()),
        ])?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t0 = cpu_ticks(pid);
        let start = Instant::now();
        tokio::time::sleep(window).await;
        let t1 = cpu_ticks(pid);
        let secs = start.elapsed().as_secs_f64();
        tmux(&["pipe-pane", "-t", &session])?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        anyhow::Ok((screen, t0, t1, secs, bytes))
    }
    .await;
    let _ = tmux(&["kill-session", "-t", &session]);
    let (screen, t0, t1, secs, bytes) = result?;
    let hz: f64 = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    rep.check(
        screen.contains("No contacts yet") && t0.is_some() && t1.is_some(),
        "row 8: the TUI did not come up in tmux (or its process vanished)",
    );
    let (t0, t1) = (t0.unwrap_or(0), t1.unwrap_or(0));
    let cpu = (t1 - t0) as f64 / hz / secs * 100.0;
    rep.row(
        "8",
        workload,
        format!(
            "{cpu:.2}% CPU ({} ticks of 1/{hz:.0} s), {bytes} bytes to the terminal",
            t1 - t0
        ),
        "none (tests/tui_idle.rs: 0 frames drawn over 2 s)".into(),
    );
    rep.finish(String::new(), "≈ 0% CPU, 0 bytes");
    Ok(())
}

// ---------------------------------------------------------------------------------------------

async fn bench() -> Result<bool> {
    let n = rows_from_env()?;
    let quick = std::env::var("SCFM_BENCH_QUICK").is_ok_and(|v| v == "1") || n <= 10_000;
    let s = Setup {
        n,
        quick,
        dir: tempfile::tempdir()?,
    };
    let only = only_from_env()?;
    let want = |row: u8| only.as_ref().is_none_or(|o| o.contains(&row));
    let mut rep = Report::default();
    let started = Instant::now();

    // Rows 2, 3, 4 and 7 work on the database row 1 imports; the PostgreSQL column imports the
    // same contacts.
    let pg = postgres::server().filter(|_| PG_ROWS.iter().any(|(_, k)| want(*k)));
    let sqlite_rows = [1, 2, 3, 4, 7].into_iter().any(want);
    let data = (sqlite_rows || pg.is_some()).then(|| {
        eprintln!("generating {n} contacts …");
        generate(n, 0x5CF3_2026_1128)
    });
    let imported = if let Some(data) = data.as_ref().filter(|_| sqlite_rows) {
        let kandal = data.kandal;
        eprintln!("row 1: CSV import …");
        let svc = row1(&s, &mut rep, data).await?;
        if !want(1) {
            rep.rows.retain(|r| r.num != "1");
        }
        Some((svc, kandal))
    } else {
        None
    };
    let sqlite_version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(
            &mut <sqlx::SqliteConnection as sqlx::Connection>::connect("sqlite::memory:").await?,
        )
        .await?;
    if let Some((svc, kandal)) = &imported {
        if want(3) {
            eprintln!("row 3: preview count …");
            row3(&s, &mut rep, svc, *kandal).await?;
        }
        if want(4) {
            eprintln!("row 4: contacts pane …");
            row4(&s, &mut rep, svc).await?;
        }
        if want(2) {
            eprintln!("row 2: population …");
            row2(&s, &mut rep, svc, *kandal).await?;
        }
    }
    if want(5) {
        eprintln!("row 5: webhooks …");
        row5(&s, &mut rep).await?;
    }
    if want(6) {
        eprintln!("row 6: dispatch …");
        row6(&s, &mut rep).await?;
        eprintln!("row 6: campaign runner pass …");
        runner_tick(&s, &mut rep).await?;
    }
    if let Some((svc, kandal)) = imported {
        if want(7) {
            eprintln!("row 7: memory …");
            row7(&s, &mut rep, svc, kandal).await?;
        }
    }
    if want(8) {
        eprintln!("row 8: idle …");
        row8(&s, &mut rep).await?;
    }
    if want(9) {
        eprintln!("row 9: never-reached export …");
        unreached::row9(&s, &mut rep).await?;
    }

    let mut pg_rep = Report::default();
    let pg_version = match (&pg, &data) {
        (Some(server), Some(data)) => {
            eprintln!("PostgreSQL column …");
            Some(postgres::rows(&s, &mut pg_rep, data, server, only.as_ref()).await?)
        }
        _ => None,
    };

    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    rep.rows.sort_by_key(|r| r.num);
    println!();
    println!(
        "Machine: nproc={nproc}, CPU {:?}, SQLite {sqlite_version}; {n} contacts{}; suite took {:.0} s.",
        cpu_model(),
        if quick { " (quick mode)" } else { "" },
        started.elapsed().as_secs_f64()
    );
    println!();
    print_table(&rep);
    println!();
    for note in &rep.notes {
        println!("{note}");
    }
    if let Some(version) = pg_version {
        println!();
        println!("PostgreSQL {version} (SCFM_BENCH_DATABASE), the same {n} contacts:");
        println!();
        print_table(&pg_rep);
        for note in &pg_rep.notes {
            println!("{note}");
        }
        rep.failures.append(&mut pg_rep.failures);
    }
    if rep.failures.is_empty() {
        println!("verified: every row's counts matched");
    }
    Ok(rep.failures.is_empty())
}

fn print_table(rep: &Report) {
    println!("| # | workload | figure | baseline in the same run | ratio | goal |");
    println!("|---|---|---|---|---|---|");
    for r in &rep.rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.num, r.workload, r.figure, r.baseline, r.ratio, r.goal
        );
    }
}

fn main() {
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")
        .and_then(|rt| rt.block_on(bench()));
    match result {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("suite: counts did not match (see MISMATCH lines)");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("suite failed: {e:#}");
            std::process::exit(1);
        }
    }
}
