//! Row 9 (issue 15): the never-reached export at N participations (1,000,000 by default), by
//! province, through `Service::export_unreached` into a file, against a hand-written streamed
//! SELECT of the same rows in the same order written to a file, in the same run. Memory: the
//! process's peak RSS above what it held before the export, sampled every 5 ms, beside the
//! size of the file written (streamed: the peak does not follow the row count).
//!
//! The callout: every participation with a province and a name; 70% called, of those a third
//! busy (retried later: `not_yet`) and the rest completed, the other 30% never called. The
//! export holds the 30% and the busy ones.

use super::{FROM, PROVINCES, Report, Setup, TS, msisdn, status_kb};
use anyhow::Result;
use scfm::call_flow::Registry;
use scfm::domain::time::Clock;
use scfm::service::{CalloutInput, Service, UnreachedOut};
use scfm::store::Store;
use serde_json::json;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// Samples this process's RSS until stopped; the peak in kB.
struct PeakRss {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl PeakRss {
    fn start() -> PeakRss {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(kb) = status_kb(std::process::id(), "VmRSS:") {
                    p.fetch_max(kb, Ordering::Relaxed);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        PeakRss { stop, peak, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak.load(Ordering::Relaxed)
    }
}

async fn build(svc: &Service, n: usize) -> Result<(i64, usize)> {
    let mut dialing = serde_json::Map::new();
    dialing.insert("from".into(), json!(FROM));
    dialing.insert("twiml_url".into(), json!("https://e.org/twiml"));
    dialing.insert("retry_statuses".into(), json!(["busy"]));
    let callout = svc
        .create_callout(CalloutInput {
            dialing: Some(Some(dialing)),
            ..CalloutInput::default()
        })
        .await?;
    let pool = svc.store().sqlite_pool().expect("a SQLite store");
    let mut tx = pool.begin().await?;
    for i in 0..n {
        let meta = json!({"province": PROVINCES[i % PROVINCES.len()], "name": format!("Person {:07}", (i * 7919) % n)});
        sqlx::query(
            "INSERT INTO contacts (msisdn, metadata, created_at, updated_at) VALUES (?, ?, ?, ?)",
        )
        .bind(msisdn(i))
        .bind(meta.to_string())
        .bind(TS)
        .bind(TS)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO callout_participations (callout_id, contact_id, msisdn, metadata, created_at, updated_at) \
         SELECT ?, id, msisdn, '{}', ?, ? FROM contacts ORDER BY id",
    )
    .bind(callout.id)
    .bind(TS)
    .bind(TS)
    .execute(&mut *tx)
    .await?;
    let called = n * 7 / 10;
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
    let busy = (1..=called).filter(|i| i % 3 == 0).count();
    Ok((callout.id, n - called + busy))
}

pub async fn row9(s: &Setup, rep: &mut Report) -> Result<()> {
    let n = s.n;
    let db = s.dir.path().join("unreached.sqlite3");
    let svc = Service::new(Store::open(&db).await?, Clock::System, Registry::default());
    let t = Instant::now();
    let (id, want) = build(&svc, n).await?;
    eprintln!(
        "  built {n} participations in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let out = s.dir.path().join("unreached.csv");
    let before = status_kb(std::process::id(), "VmRSS:").unwrap_or(0);
    let sampler = PeakRss::start();
    let t = Instant::now();
    let file = std::io::BufWriter::with_capacity(256 * 1024, std::fs::File::create(&out)?);
    let report = svc
        .export_unreached(
            id,
            Some("province"),
            None,
            UnreachedOut::One(Box::new(file)),
        )
        .await?;
    let ours = t.elapsed();
    let peak = sampler.stop();
    let bytes = std::fs::metadata(&out)?.len();
    // Again, with SQLite's page caches warm: what the export itself holds.
    let again_before = status_kb(std::process::id(), "VmRSS:").unwrap_or(0);
    let sampler = PeakRss::start();
    let file = std::io::BufWriter::with_capacity(256 * 1024, std::fs::File::create(&out)?);
    let again = svc
        .export_unreached(
            id,
            Some("province"),
            None,
            UnreachedOut::One(Box::new(file)),
        )
        .await?;
    let again_peak = sampler.stop();
    rep.check(
        again.rows == report.rows,
        format!(
            "row 9: the second export wrote {} rows, the first {}",
            again.rows, report.rows
        ),
    );
    rep.check(
        report.rows as usize == want,
        format!("row 9: {} rows exported, expected {want}", report.rows),
    );
    rep.check(
        report.areas.len() == PROVINCES.len(),
        format!(
            "row 9: {} areas, expected {}",
            report.areas.len(),
            PROVINCES.len()
        ),
    );

    // Baseline: the same rows, same order, by hand, streamed into a file.
    let pool = svc.store().sqlite_pool().expect("a SQLite store");
    let bare_before = status_kb(std::process::id(), "VmRSS:").unwrap_or(0);
    let bare_sampler = PeakRss::start();
    let t = Instant::now();
    let mut w = std::io::BufWriter::with_capacity(
        256 * 1024,
        std::fs::File::create(s.dir.path().join("bare.csv"))?,
    );
    let mut rows = sqlx::query_as::<_, (Option<String>, Option<String>, String, i64, Option<String>)>(
        "SELECT json_extract(c.metadata, '$.province') AS area, json_extract(c.metadata, '$.name') AS name, \
                cp.msisdn, cp.call_count, cp.last_call_status \
         FROM callout_participations cp JOIN contacts c ON c.id = cp.contact_id \
         WHERE cp.callout_id = ? AND (cp.last_call_status IS NULL OR cp.last_call_status <> 'completed') \
         ORDER BY 1, 2, 3",
    )
    .bind(id)
    .fetch(pool);
    let mut bare_rows = 0usize;
    use futures::TryStreamExt;
    while let Some((a, name, m, c, st)) = rows.try_next().await? {
        writeln!(
            w,
            "{},{},{m},{c},{}",
            a.unwrap_or_default(),
            name.unwrap_or_default(),
            st.unwrap_or_default()
        )?;
        bare_rows += 1;
    }
    w.flush()?;
    let bare = t.elapsed();
    let bare_peak = bare_sampler.stop();
    rep.check(
        bare_rows == want,
        format!("row 9 baseline: {bare_rows} rows, expected {want}"),
    );
    let mb = |kb: u64| kb as f64 / 1024.0;
    rep.row(
        "9",
        format!("Never-reached export by province of a {n}-participation callout (`scfm export unreached`, `Service::export_unreached`)"),
        format!(
            "{:.2} s for {} rows ({:.0} rows/s, {:.1} MB of CSV); peak RSS +{:.1} MB over the {:.1} MB before (SQLite's caches filling), +{:.1} MB in a second export",
            ours.as_secs_f64(),
            report.rows,
            report.rows as f64 / ours.as_secs_f64(),
            bytes as f64 / 1e6,
            mb(peak.saturating_sub(before)),
            mb(before),
            mb(again_peak.saturating_sub(again_before))
        ),
        format!(
            "{:.2} s: the same rows and order by a hand-written streamed SELECT; its peak RSS +{:.1} MB (SQLite's page cache and sorter, up to cache_size = 64 MiB per connection)",
            bare.as_secs_f64(),
            mb(bare_peak.saturating_sub(bare_before))
        ),
    );
    rep.finish(
        format!(
            "{:.2}× the hand query",
            ours.as_secs_f64() / bare.as_secs_f64()
        ),
        "streamed: peak RSS bounded by SQLite's cache, not by the rows",
    );
    Ok(())
}
