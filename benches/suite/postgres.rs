//! The suite's PostgreSQL column (issue 12), run when `SCFM_BENCH_DATABASE=postgres://…` names
//! a server: each figure beside a PostgreSQL baseline from the same run, on a fresh database of
//! the run's own there (`scfm_bench_<pid>`, dropped at the end).
//!
//! - P1. CSV import (`Service::import_contacts`) vs raw `COPY … FROM STDIN` of the same rows into
//!   a copy of the contacts table with the same indexes (`LIKE contacts INCLUDING ALL`).
//! - P2. Population (`CalloutPopulation`) vs a hand `INSERT … SELECT` (Kandal through `@>`, the
//!   GIN index).
//! - P3. Preview count on a metadata key (`Service::count_contacts`, GIN) vs the hand scan
//!   `(metadata::jsonb)->>'province' = …`.
//! - P5. Signed webhooks at 64 connections spread over 1, 2 and 3 `scfm serve` processes.
//! - P6. Dispatch of queued calls to the fake provider, pacing off, by 1, 2 and 3 processes.

use super::fake_provider::FakeProvider;
use super::{Contacts, Report, Setup, median, ms, run_op};
use anyhow::{Context, Result};
use scfm::call_flow::Registry;
use scfm::domain::filter::{Family, Filter};
use scfm::domain::time::Clock;
use scfm::service::{CalloutInput, ImportOptions, Service};
use scfm::store::{Db, Location, Store};
use serde_json::json;
use std::time::{Duration, Instant};

/// The PostgreSQL server the column runs on, if `SCFM_BENCH_DATABASE` names one.
pub fn server() -> Option<String> {
    std::env::var("SCFM_BENCH_DATABASE")
        .ok()
        .filter(|v| v.starts_with("postgres://") || v.starts_with("postgresql://"))
}

pub fn pool(svc: &Service) -> &sqlx::PgPool {
    match svc.store().db() {
        Db::Postgres(p) => p,
        Db::Sqlite(_) => unreachable!("the PostgreSQL column runs on PostgreSQL"),
    }
}

async fn scalar(svc: &Service, sql: &'static str) -> Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(pool(svc)).await?)
}

/// The run's database on the server, and a service on it.
pub async fn open(server: &str, name: &str) -> Result<(String, Service)> {
    let url = scfm::store::location::with_database(server, name);
    let store = Store::open(Location::Postgres(url.clone())).await?;
    Ok((url, Service::new(store, Clock::System, Registry::default())))
}

pub async fn drop_database(server: &str, name: &str) {
    if let Ok(pool) = sqlx::PgPool::connect(server).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
        pool.close().await;
    }
}

pub async fn rows(
    s: &Setup,
    rep: &mut Report,
    data: &Contacts,
    server: &str,
    only: Option<&std::collections::BTreeSet<u8>>,
) -> Result<String> {
    let want = |row: &str| super::want_pg(only, row);
    let name = format!("scfm_bench_{}", std::process::id());
    drop_database(server, &name).await;
    let (_, svc) = open(server, &name).await?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(pool(&svc))
        .await?;
    if want("P1") {
        eprintln!("P1: import vs COPY …");
        p1(s, rep, &svc, data).await?;
    } else if want("P2") || want("P3") {
        eprintln!("P2/P3: importing the contacts (P1 not reported) …");
        import(s, &svc, data).await?;
    }
    if want("P3") {
        eprintln!("P3: preview count …");
        p3(rep, &svc, data.kandal).await?;
    }
    if want("P2") {
        eprintln!("P2: population …");
        p2(s, rep, &svc, data.kandal).await?;
    }
    svc.store().close().await;
    drop_database(server, &name).await;
    if want("P5") {
        eprintln!("P5: webhooks over 1, 2, 3 processes …");
        super::postgres_procs::p5(s, rep, server, &name).await?;
    }
    if want("P6") {
        eprintln!("P6: dispatch by 1, 2, 3 processes …");
        super::postgres_procs::p6(s, rep, server, &name).await?;
    }
    Ok(version)
}

/// The contacts through `Service::import_contacts`, as P1 imports them, without its baseline.
async fn import(s: &Setup, svc: &Service, data: &Contacts) -> Result<()> {
    let report = svc
        .import_contacts(
            std::io::Cursor::new(data.csv.clone()),
            ImportOptions::default(),
            |_| {},
        )
        .await?;
    anyhow::ensure!(
        report.inserted == s.n as u64 && report.invalid_count == 0,
        "import: {} inserted, {} invalid; expected {}",
        report.inserted,
        report.invalid_count,
        s.n
    );
    Ok(())
}

async fn p1(s: &Setup, rep: &mut Report, svc: &Service, data: &Contacts) -> Result<()> {
    let n = s.n;
    // Baseline: raw COPY (text format) into a table shaped and indexed like contacts.
    sqlx::query("CREATE TABLE copy_contacts (LIKE contacts INCLUDING ALL)")
        .execute(pool(svc))
        .await?;
    let mut tsv = String::with_capacity(n * 80);
    for (m, meta) in &data.rows {
        tsv.push_str(&format!("{m}\t{meta}\t{TS}\t{TS}\n", TS = super::TS));
    }
    let t = Instant::now();
    let mut conn = pool(svc).acquire().await?;
    let mut copy = conn
        .copy_in_raw("COPY copy_contacts (msisdn, metadata, created_at, updated_at) FROM STDIN")
        .await?;
    copy.send(tsv.as_bytes()).await?;
    let copied = copy.finish().await?;
    drop(conn);
    let tb = t.elapsed();
    rep.check(
        copied == n as u64,
        format!("P1 baseline: COPY wrote {copied} rows, expected {n}"),
    );
    sqlx::query("DROP TABLE copy_contacts")
        .execute(pool(svc))
        .await?;

    let t = Instant::now();
    let report = svc
        .import_contacts(
            std::io::Cursor::new(data.csv.clone()),
            ImportOptions::default(),
            |_| {},
        )
        .await?;
    let ti = t.elapsed();
    let got = scalar(svc, "SELECT count(*) FROM contacts").await?;
    rep.check(
        report.inserted == n as u64 && report.invalid_count == 0 && got == n as i64,
        format!(
            "P1 import: {} inserted, {} invalid, {got} in the table; expected {n}",
            report.inserted, report.invalid_count
        ),
    );
    let (ri, rb) = (n as f64 / ti.as_secs_f64(), n as f64 / tb.as_secs_f64());
    rep.row(
        "P1",
        format!("CSV import of {n} contacts, `Service::import_contacts` (each batch COPY'd into a stage, one upsert)"),
        format!("{ri:.0} rows/s ({:.1} s)", ti.as_secs_f64()),
        format!(
            "{rb:.0} rows/s ({:.1} s): raw COPY FROM STDIN, same rows, same indexes",
            tb.as_secs_f64()
        ),
    );
    rep.finish(format!("{:.2}× of COPY", ri / rb), "≥ 0.5×");
    Ok(())
}

// The baseline writes the rows scfm writes, column for column: the callout, the contact, the
// population (a batch operation of the same callout, created the same way and never run), the
// number, '{}' metadata and the same timestamp twice; into the same table, with the same
// indexes and triggers. One statement, autocommit: no batch operation run around it, no lock,
// no emptiness check, no ON CONFLICT.
const POP_BASE_ALL: &str = "INSERT INTO callout_participations (callout_id, contact_id, \
    callout_population_id, msisdn, metadata, created_at, updated_at) \
    SELECT $1, id, $3, msisdn, '{}', $2, $2 FROM contacts ORDER BY id";
const POP_BASE_KANDAL: &str = "INSERT INTO callout_participations (callout_id, contact_id, \
    callout_population_id, msisdn, metadata, created_at, updated_at) \
    SELECT $1, id, $3, msisdn, '{}', $2, $2 FROM contacts \
    WHERE metadata::jsonb @> '{\"province\": \"Kandal\"}' ORDER BY id";

async fn p2(s: &Setup, rep: &mut Report, svc: &Service, kandal: i64) -> Result<()> {
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
        let (mut t_scfm, mut t_base) = (Vec::new(), Vec::new());
        let runs = if s.quick { 2 } else { 6 };
        for j in 0..runs {
            let callout = svc.create_callout(CalloutInput::default()).await?;
            let scfm = (j + k) % 2 == 0;
            // The baseline's population: made before its clock starts (scfm's run_op times
            // its own creation and queueing as well).
            let population = if scfm {
                None
            } else {
                Some(
                    super::new_op(svc, "CalloutPopulation", Some(callout.id), params.clone())
                        .await?,
                )
            };
            let t = Instant::now();
            match population {
                None => {
                    run_op(svc, "CalloutPopulation", Some(callout.id), params.clone()).await?;
                    t_scfm.push(t.elapsed());
                }
                Some(op) => {
                    sqlx::query(sql)
                        .bind(callout.id)
                        .bind(super::TS)
                        .bind(op)
                        .execute(pool(svc))
                        .await?;
                    t_base.push(t.elapsed());
                }
            }
            // Both wrote the same rows: every one carries the callout's population.
            let (got, with_population): (i64, i64) = sqlx::query_as(
                "SELECT count(*), count(*) FILTER (WHERE callout_population_id IN \
                 (SELECT id FROM batch_operations WHERE callout_id = $1)) \
                 FROM callout_participations WHERE callout_id = $1",
            )
            .bind(callout.id)
            .fetch_one(pool(svc))
            .await?;
            rep.check(
                got == expected && with_population == expected,
                format!(
                    "P2 {name}: {got} participations ({with_population} with the population), expected {expected}"
                ),
            );
            // Every run starts from the same tables: kept rows would make each run insert into
            // bigger indexes than the one before, so the second of each pair (scfm's or the
            // baseline's, alternately) would pay for the first's rows.
            sqlx::query("DELETE FROM callout_participations WHERE callout_id = $1")
                .bind(callout.id)
                .execute(pool(svc))
                .await?;
            sqlx::query("VACUUM callout_participations, contacts")
                .execute(pool(svc))
                .await?;
        }
        parts.push((name, expected, median(&t_scfm), median(&t_base)));
    }
    let join = |f: &dyn Fn(&Part) -> String| parts.iter().map(f).collect::<Vec<_>>().join("; ");
    rep.row(
        "P2",
        format!(
            "Populate a callout from {} contacts: all, and province = Kandal (10%), `CalloutPopulation`",
            s.n
        ),
        join(&|(n, e, t, _)| format!("{n} ({e}): {:.3} s", t.as_secs_f64())),
        join(&|(n, _, _, b)| format!("{n}: {:.3} s", b.as_secs_f64()))
            + " (INSERT … SELECT by hand, the same rows incl. callout_population_id)",
    );
    rep.finish(
        join(&|(n, _, t, b)| format!("{n} {:.2}×", t.as_secs_f64() / b.as_secs_f64())),
        "≤ 1.2×",
    );
    Ok(())
}

/// One population workload: name, expected rows, scfm's median, the baseline's median.
type Part<'a> = (&'a str, i64, Duration, Duration);

const COUNT_BASE: &str =
    "SELECT count(*) FROM contacts WHERE (metadata::jsonb)->>'province' = 'Kandal'";

async fn p3(rep: &mut Report, svc: &Service, kandal: i64) -> Result<()> {
    sqlx::query("ANALYZE contacts").execute(pool(svc)).await?;
    let (mut t_scfm, mut t_base) = (Vec::new(), Vec::new());
    // Any key: the GIN index covers every key, none is prepared in advance.
    for (key, value) in [
        ("province", "Kandal"),
        ("gender", "f"),
        ("name", "Person 7"),
    ] {
        let filter = Filter::parse(Family::Contact, Some(&json!({"metadata": {key: value}})));
        for _ in 0..3 {
            let t = Instant::now();
            let got = svc.count_contacts(&filter).await?;
            t_scfm.push(t.elapsed());
            if key == "province" {
                rep.check(got == kandal, format!("P3: count {got}, expected {kandal}"));
            }
        }
    }
    for _ in 0..3 {
        let t = Instant::now();
        let got = scalar(svc, COUNT_BASE).await?;
        t_base.push(t.elapsed());
        rep.check(
            got == kandal,
            format!("P3 baseline: {got}, expected {kandal}"),
        );
    }
    let worst = t_scfm.iter().max().copied().unwrap_or_default();
    let (ts, tb) = (median(&t_scfm), median(&t_base));
    rep.row(
        "P3",
        "Preview count on metadata province / gender / name (any key), `Service::count_contacts` (summed deltas)".into(),
        format!("median {:.1} ms, worst {:.1} ms", ms(ts), ms(worst)),
        format!("{:.1} ms: count(*) … (metadata::jsonb)->>'province' by hand (scan)", ms(tb)),
    );
    rep.finish(format!("{:.3}× of the scan", ms(ts) / ms(tb)), "≤ 20 ms");
    Ok(())
}

/// `scfm serve` on `db` at `port` with the account `sid`/`token` at `fake`'s URL, every
/// process signing webhooks against one public URL (as behind a load balancer), pacing off.
pub fn serve(
    db: &str,
    dir: &std::path::Path,
    port: u16,
    fake: &FakeProvider,
    sid: &str,
    token: &str,
) -> Result<std::process::Child> {
    std::process::Command::new(env!("CARGO_BIN_EXE_scfm"))
        .arg("serve")
        .env("DATABASE_URL", db)
        .env("SCFM_DATA_DIR", dir)
        .env("SCFM_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCFM_PUBLIC_URL", PUBLIC)
        .env("SCFM_API_TOKEN", "bench")
        .env("PLATFORM_PROVIDER", "twilio")
        .env("TWILIO_ACCOUNT_SID", sid)
        .env("TWILIO_AUTH_TOKEN", token)
        .env("SOMLENG_CLIENT_REST_API_BASE_URL", fake.base_url())
        .env("SCFM_CALLS_PER_SECOND", "1000000")
        .env("SCFM_POLL_INTERVAL", "600")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("spawning scfm serve")
}

/// The public URL every process of P5/P6 is told it is reached at.
pub const PUBLIC: &str = "http://scfm.bench";
