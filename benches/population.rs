//! Callout population benchmark: the real `CalloutPopulation` path (queue, claim, INSERT … SELECT,
//! finish, through `Service`) next to a hand-written INSERT … SELECT on the same database in the
//! same run, reported as a ratio (STYLE.md: speed is a ratio to a baseline from the same run).
//!
//! Rows come from `SCFM_BENCH_ROWS` (default 1,000,000; CI uses 10,000). Rerun with
//! `cargo bench --bench population` (or `SCFM_BENCH_ROWS=10000 cargo bench --bench population`).
//! The data follow `LIMITS.md` rows 2a/2b: distinct +855 mobile numbers inserted in shuffled order,
//! metadata over 10 provinces (~10% Kandal). Exits non-zero if a participation count is wrong.
//!
//! The baseline statement ends in `ORDER BY id`. Without it SQLite answers `SELECT id, msisdn FROM
//! contacts` from the covering index `contacts_msisdn`, so rows arrive in msisdn order and the
//! participations' two contact_id indexes are filled in random order: about twice as slow on 1M
//! rows. That unordered form is still measured and printed ("literal") so the plan stays visible.

use anyhow::{Context, Result, bail};
use scfm::call_flow::Registry;
use scfm::domain::time::Clock;
use scfm::service::{BatchOperationInput, Service};
use scfm::store::Store;
use serde_json::{Map, Value, json};
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
/// Contacts per multi-row INSERT (2 bound values each).
const CHUNK: usize = 1000;
const REPS: usize = 3;

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
        // n is far below 2^32, so the modulo bias is negligible for a benchmark.
        (self.next() % n as u64) as usize
    }
}

fn rows_from_env() -> Result<usize> {
    match std::env::var("SCFM_BENCH_ROWS") {
        Ok(v) => {
            let n: usize = v
                .replace('_', "")
                .parse()
                .with_context(|| format!("SCFM_BENCH_ROWS={v:?} is not a row count"))?;
            if n == 0 || n > PREFIXES.len() * 1_000_000 {
                bail!("SCFM_BENCH_ROWS must be 1..={}", PREFIXES.len() * 1_000_000);
            }
            Ok(n)
        }
        Err(_) => Ok(1_000_000),
    }
}

/// Inserts `n` contacts in one transaction of multi-row INSERTs; returns the Kandal count.
async fn build_contacts(store: &Store, n: usize) -> Result<i64> {
    let mut rng = SplitMix64(0x5CF3_2026_1128);
    // Index i names a distinct number: prefix i % 10, six-digit suffix i / 10. Shuffle the order.
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.below(i + 1);
        order.swap(i, j);
    }
    let full_sql = insert_sql(CHUNK);
    let mut kandal = 0i64;
    let mut tx = store.sqlite_pool().expect("a SQLite store").begin().await?;
    for chunk in order.chunks(CHUNK) {
        let sql = if chunk.len() == CHUNK {
            full_sql.clone()
        } else {
            insert_sql(chunk.len())
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &i in chunk {
            let msisdn = format!("+855{}{:06}", PREFIXES[i % 10], i / 10);
            let p = rng.below(PROVINCES.len());
            if p == 0 {
                kandal += 1;
            }
            let gender = if rng.next() & 1 == 0 { "f" } else { "m" };
            let metadata = json!({"province": PROVINCES[p], "gender": gender}).to_string();
            q = q.bind(msisdn).bind(metadata);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(kandal)
}

fn insert_sql(rows: usize) -> String {
    let mut sql =
        String::from("INSERT INTO contacts (msisdn, metadata, created_at, updated_at) VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, '");
        sql.push_str(TS);
        sql.push_str("', '");
        sql.push_str(TS);
        sql.push_str("')");
    }
    sql
}

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    All,
    Kandal,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::All => "all contacts",
            Workload::Kandal => "province = Kandal",
        }
    }

    fn parameters(self) -> Map<String, Value> {
        let mut m = Map::new();
        if self == Workload::Kandal {
            m.insert(
                "contact_filter_params".into(),
                json!({"metadata": {"province": "Kandal"}}),
            );
        }
        m
    }

    /// The hand-written INSERT … SELECT; `ordered` adds `ORDER BY id` (see the module doc).
    fn baseline_sql(self, ordered: bool) -> &'static str {
        match (self, ordered) {
            (Workload::All, true) => {
                "INSERT INTO callout_participations (callout_id, contact_id, callout_population_id, \
                 msisdn, metadata, created_at, updated_at) \
                 SELECT ?, id, NULL, msisdn, '{}', ?, ? FROM contacts ORDER BY id"
            }
            (Workload::All, false) => {
                "INSERT INTO callout_participations (callout_id, contact_id, callout_population_id, \
                 msisdn, metadata, created_at, updated_at) \
                 SELECT ?, id, NULL, msisdn, '{}', ?, ? FROM contacts"
            }
            (Workload::Kandal, true) => {
                "INSERT INTO callout_participations (callout_id, contact_id, callout_population_id, \
                 msisdn, metadata, created_at, updated_at) \
                 SELECT ?, id, NULL, msisdn, '{}', ?, ? FROM contacts \
                 WHERE json_extract(metadata, '$.province') = 'Kandal' ORDER BY id"
            }
            (Workload::Kandal, false) => {
                "INSERT INTO callout_participations (callout_id, contact_id, callout_population_id, \
                 msisdn, metadata, created_at, updated_at) \
                 SELECT ?, id, NULL, msisdn, '{}', ?, ? FROM contacts \
                 WHERE json_extract(metadata, '$.province') = 'Kandal'"
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Runner {
    Scfm,
    Baseline,
    Literal,
}

/// The real path: callout + CalloutPopulation set up untimed; timed from `queue` to finished.
async fn run_scfm(svc: &Service, w: Workload) -> Result<(i64, Duration)> {
    let callout = svc.create_callout(Default::default()).await?;
    let op = svc
        .create_batch_operation(
            BatchOperationInput {
                kind: Some("BatchOperation::CalloutPopulation".into()),
                callout_id: Some(callout.id),
                parameters: Some(w.parameters()),
                ..Default::default()
            },
            true,
        )
        .await?;
    let start = Instant::now();
    svc.fire_batch_operation_event(op.id, Some("queue")).await?;
    let ran = svc.run_next_batch_operation().await?;
    let elapsed = start.elapsed();
    if !ran {
        bail!("run_next_batch_operation found no queued operation");
    }
    let status: String = sqlx::query_scalar("SELECT status FROM batch_operations WHERE id = ?")
        .bind(op.id)
        .fetch_one(svc.store().sqlite_pool().expect("a SQLite store"))
        .await?;
    if status != "finished" {
        bail!("batch operation {} ended {status:?}, not finished", op.id);
    }
    Ok((callout.id, elapsed))
}

/// The baseline: one hand-written INSERT … SELECT into a fresh callout (autocommit).
async fn run_baseline(svc: &Service, w: Workload, ordered: bool) -> Result<(i64, Duration)> {
    let callout = svc.create_callout(Default::default()).await?;
    let mut conn = svc
        .store()
        .sqlite_pool()
        .expect("a SQLite store")
        .acquire()
        .await?;
    let start = Instant::now();
    sqlx::query(w.baseline_sql(ordered))
        .bind(callout.id)
        .bind(TS)
        .bind(TS)
        .execute(&mut *conn)
        .await?;
    Ok((callout.id, start.elapsed()))
}

/// The plan's top-level scan, e.g. `SCAN contacts USING COVERING INDEX contacts_msisdn`.
async fn plan(svc: &Service, sql: &'static str) -> Result<String> {
    let rows: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .bind(0)
            .bind(TS)
            .bind(TS)
            .fetch_all(svc.store().sqlite_pool().expect("a SQLite store"))
            .await?;
    Ok(rows
        .into_iter()
        .map(|r| r.3)
        .find(|d| d.contains("contacts"))
        .unwrap_or_default())
}

fn median(xs: &[Duration]) -> Duration {
    let mut v = xs.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn secs(xs: &[Duration]) -> String {
    xs.iter()
        .map(|d| format!("{:.3}", d.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ")
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

async fn bench() -> Result<()> {
    let n = rows_from_env()?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("bench.sqlite3")).await?;
    let sqlite_version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(store.sqlite_pool().expect("a SQLite store"))
        .await?;
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: nproc={nproc}, cpu={:?}, sqlite {sqlite_version}",
        cpu_model()
    );

    let start = Instant::now();
    let kandal = build_contacts(&store, n).await?;
    let build = start.elapsed();
    println!(
        "built {n} contacts ({kandal} Kandal) in {:.2} s ({:.0} rows/s, untimed setup)",
        build.as_secs_f64(),
        n as f64 / build.as_secs_f64()
    );

    let svc = Service::new(store, Clock::System, Registry::default());
    let mut checks: Vec<(i64, i64, &str)> = Vec::new();
    let mut rows = Vec::new();
    for (w, expected) in [(Workload::All, n as i64), (Workload::Kandal, kandal)] {
        let mut times: [Vec<Duration>; 3] = Default::default();
        let runners = [Runner::Scfm, Runner::Baseline, Runner::Literal];
        for rep in 0..REPS {
            // Rotate the order each repetition so no runner always meets the largest table.
            for k in 0..runners.len() {
                let runner = runners[(rep + k) % runners.len()];
                let (callout, t) = match runner {
                    Runner::Scfm => run_scfm(&svc, w).await?,
                    Runner::Baseline => run_baseline(&svc, w, true).await?,
                    Runner::Literal => run_baseline(&svc, w, false).await?,
                };
                times[runner as usize].push(t);
                checks.push((callout, expected, w.name()));
            }
        }
        println!(
            "{}: scfm [{}] s, baseline [{}] s, literal [{}] s",
            w.name(),
            secs(&times[0]),
            secs(&times[1]),
            secs(&times[2])
        );
        println!(
            "  plans: baseline {:?}, literal {:?}",
            plan(&svc, w.baseline_sql(true)).await?,
            plan(&svc, w.baseline_sql(false)).await?
        );
        let [s, b, l] = times.map(|t| median(&t));
        rows.push((w, expected, s, b, l));
    }

    println!();
    println!(
        "| workload | rows | scfm (s) | baseline (s) | ratio scfm/baseline | rows/s (scfm) | literal (s) | ratio scfm/literal |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (w, expected, s, b, l) in &rows {
        let (s, b, l) = (s.as_secs_f64(), b.as_secs_f64(), l.as_secs_f64());
        println!(
            "| {} | {} | {s:.3} | {b:.3} | {:.2} | {:.0} | {l:.3} | {:.2} |",
            w.name(),
            expected,
            s / b,
            *expected as f64 / s,
            s / l
        );
    }
    println!(
        "(medians of {REPS} rotated runs, each into a new callout; baseline = hand-written \
         INSERT … SELECT … ORDER BY id; literal = the same without ORDER BY)"
    );

    let mut failed = false;
    for (callout, expected, name) in checks {
        let got: i64 =
            sqlx::query_scalar("SELECT count(*) FROM callout_participations WHERE callout_id = ?")
                .bind(callout)
                .fetch_one(svc.store().sqlite_pool().expect("a SQLite store"))
                .await?;
        if got != expected {
            eprintln!(
                "MISMATCH: callout {callout} ({name}): {got} participations, expected {expected}"
            );
            failed = true;
        }
    }
    let sql_kandal: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM contacts WHERE json_extract(metadata, '$.province') = 'Kandal'",
    )
    .fetch_one(svc.store().sqlite_pool().expect("a SQLite store"))
    .await?;
    if sql_kandal != kandal {
        eprintln!("MISMATCH: {sql_kandal} Kandal contacts in SQL, {kandal} generated");
        failed = true;
    }
    svc.store().close().await;
    if failed {
        bail!("participation counts do not match");
    }
    println!("verified: every callout has the expected participation count");
    Ok(())
}

fn main() {
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")
        .and_then(|rt| rt.block_on(bench()));
    if let Err(e) = result {
        eprintln!("population bench failed: {e:#}");
        std::process::exit(1);
    }
}
