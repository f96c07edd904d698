//! The PostgreSQL column's scale-out rows: the same work spread over 1, 2 and 3 `scfm serve`
//! processes on one database (the release binary, real sockets), each figure beside a baseline
//! measured in the same run.
//!
//! - P5. Signed status callbacks from 64 connections, round-robin over the processes (as a load
//!   balancer would), every process signing against one public URL. Baseline: a bare axum
//!   handler in this process writing one row per request to the same server (64 pooled
//!   connections), the database's own ceiling for one small write per request.
//! - P6. Dispatch of queued calls to the local fake provider, pacing off. Baseline: a bare
//!   reqwest client creating the same number of calls at the fake, 8 in flight.

use super::postgres::{PUBLIC, drop_database, open, pool, serve};
use super::{
    FROM, Report, SID, Setup, TOKEN, creates, fake_config, load_spread, ms, msisdn, run_op,
    seed_calls,
};
use super::{fake_provider::FakeProvider, stop};
use anyhow::Result;
use serde_json::json;
use std::time::{Duration, Instant};

/// Free loopback ports.
fn ports(n: usize) -> Vec<u16> {
    (0..n)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap_or(0)
        })
        .collect()
}

/// Waits until every process answers.
async fn wait_up(ports: &[u16]) -> Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    for port in ports {
        while client
            .get(format!("http://127.0.0.1:{port}/api/contacts"))
            .bearer_auth("bench")
            .send()
            .await
            .is_err()
        {
            anyhow::ensure!(
                Instant::now() < deadline,
                "scfm on port {port} did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

pub async fn p5(s: &Setup, rep: &mut Report, server: &str, name: &str) -> Result<()> {
    let seeds: u64 = 10_000;
    let dur = Duration::from_secs(if s.quick { 3 } else { 10 });
    drop_database(server, name).await;
    let (url, svc) = open(server, name).await?;
    let signed = format!("{PUBLIC}/api/remote_phone_call_events");
    seed_calls(&svc, &signed, seeds).await?;

    // Baseline: a bare handler, one INSERT per request on a pool as large as the load.
    sqlx::query("CREATE TABLE bench_events (body text NOT NULL)")
        .execute(pool(&svc))
        .await?;
    let bare_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(64)
        .connect(&url)
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_url = format!(
        "http://{}/api/remote_phone_call_events",
        listener.local_addr()?
    );
    let db = bare_pool.clone();
    let app = axum::Router::new().route(
        "/api/remote_phone_call_events",
        axum::routing::post(move |body: String| {
            let db = db.clone();
            async move {
                match sqlx::query("INSERT INTO bench_events (body) VALUES ($1)")
                    .bind(body)
                    .execute(&db)
                    .await
                {
                    Ok(_) => axum::http::StatusCode::CREATED,
                    Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE,
                }
            }
        }),
    );
    let bare = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let b = load_spread(std::slice::from_ref(&bare_url), &bare_url, dur, seeds, 0).await?;
    bare.abort();
    bare_pool.close().await;
    let rb = b.ok as f64 / b.elapsed.as_secs_f64();
    rep.check(
        b.bad == 0,
        format!("P5 baseline: {} failed requests", b.bad),
    );

    let fake = FakeProvider::start(fake_config()).await;
    let mut figures = Vec::new();
    for n in 1..=3usize {
        let ps = ports(n);
        let mut children = Vec::new();
        for (i, port) in ps.iter().enumerate() {
            let dir = s.dir.path().join(format!("p5-{n}-{i}"));
            std::fs::create_dir_all(&dir)?;
            children.push(serve(&url, &dir, *port, &fake, SID, TOKEN)?);
        }
        wait_up(&ps).await?;
        let targets: Vec<String> = ps
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}/api/remote_phone_call_events"))
            .collect();
        let before: i64 = sqlx::query_scalar("SELECT count(*) FROM remote_phone_call_events")
            .fetch_one(pool(&svc))
            .await?;
        // Each run's callbacks are new ones (numbers after the previous runs').
        let l = load_spread(&targets, &signed, dur, seeds, n as u64 * 10_000_000).await?;
        for c in &mut children {
            stop(c);
        }
        let after: i64 = sqlx::query_scalar("SELECT count(*) FROM remote_phone_call_events")
            .fetch_one(pool(&svc))
            .await?;
        rep.check(
            l.bad == 0 && (after - before) as u64 == l.ok,
            format!(
                "P5 {n} process(es): {} non-2xx, {} events stored for {} answered",
                l.bad,
                after - before,
                l.ok
            ),
        );
        figures.push((n, l.ok as f64 / l.elapsed.as_secs_f64(), l.p99));
    }
    svc.store().close().await;
    drop_database(server, name).await;
    let one = figures[0].1;
    rep.row(
        "P5",
        format!(
            "Signed webhooks (event stored + call updated), 64 connections for {} s, round-robin over 1 / 2 / 3 `scfm serve`",
            dur.as_secs()
        ),
        figures
            .iter()
            .map(|(n, r, p99)| format!("{n}: {r:.0} req/s (p99 {:.1} ms)", ms(*p99)))
            .collect::<Vec<_>>()
            .join("; "),
        format!("{rb:.0} req/s, p99 {:.1} ms: bare axum handler, one INSERT per request", ms(b.p99)),
    );
    rep.finish(
        figures
            .iter()
            .map(|(n, r, _)| format!("{n}: {:.2}× of bare, {:.2}× of 1 process", r / rb, r / one))
            .collect::<Vec<_>>()
            .join("; "),
        "scaling reported",
    );
    Ok(())
}

pub async fn p6(s: &Setup, rep: &mut Report, server: &str, name: &str) -> Result<()> {
    let d = (s.n / 100).clamp(1000, 10_000);
    let mut figures = Vec::new();
    for n in 1..=3usize {
        drop_database(server, name).await;
        let (url, svc) = open(server, name).await?;
        let fake = FakeProvider::start(fake_config()).await;
        let mut tx = pool(&svc).begin().await?;
        for chunk in (0..d).collect::<Vec<_>>().chunks(1000) {
            let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(
                "INSERT INTO contacts (msisdn, metadata, created_at, updated_at) ",
            );
            qb.push_values(chunk, |mut b, i| {
                b.push_bind(msisdn(*i))
                    .push_bind("{}")
                    .push_bind(super::TS)
                    .push_bind(super::TS);
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let callout = svc
            .create_callout(scfm::service::CalloutInput::default())
            .await?;
        run_op(&svc, "CalloutPopulation", Some(callout.id), json!({})).await?;
        run_op(
            &svc,
            "PhoneCallCreate",
            None,
            json!({"remote_request_params": {"from": FROM, "url": "https://e.org/twiml"}}),
        )
        .await?;
        let ps = ports(n);
        let mut children = Vec::new();
        for (i, port) in ps.iter().enumerate() {
            let dir = s.dir.path().join(format!("p6-{n}-{i}"));
            std::fs::create_dir_all(&dir)?;
            children.push(serve(
                &url,
                &dir,
                *port,
                &fake,
                &fake.account_sid(),
                &fake.auth_token(),
            )?);
        }
        wait_up(&ps).await?;
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
            .fetch_one(pool(&svc))
            .await?;
            if accepted == d as i64 || errored > 0 || Instant::now() > deadline {
                rep.check(
                    accepted == d as i64 && errored == 0,
                    format!("P6 {n} process(es): {accepted} accepted, {errored} errored of {d}"),
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let el = t.elapsed();
        for c in &mut children {
            stop(c);
        }
        let ts = creates(&fake);
        rep.check(
            ts.len() == d,
            format!(
                "P6 {n} process(es): the fake saw {} creates, expected {d}",
                ts.len()
            ),
        );
        figures.push((n, d as f64 / el.as_secs_f64()));
        svc.store().close().await;
    }
    drop_database(server, name).await;

    // Baseline: the fake's own ceiling with a bare client, 8 creates in flight like a dialler.
    let (ok, _, tb) = super::bare_creates(d).await?;
    let rb = d as f64 / tb.as_secs_f64();
    rep.check(
        ok == d,
        format!("P6 baseline: {ok} creates accepted of {d}"),
    );
    let one = figures[0].1;
    rep.row(
        "P6",
        format!("Dispatch of {d} queued calls to the local fake provider, pacing off, by 1 / 2 / 3 `scfm serve`"),
        figures
            .iter()
            .map(|(n, r)| format!("{n}: {r:.0} calls/s"))
            .collect::<Vec<_>>()
            .join("; "),
        format!("{rb:.0} creates/s: bare reqwest client, 8 in flight"),
    );
    rep.finish(
        figures
            .iter()
            .map(|(n, r)| format!("{n}: {:.2}× of bare, {:.2}× of 1 process", r / rb, r / one))
            .collect::<Vec<_>>()
            .join("; "),
        "scaling reported",
    );
    Ok(())
}
