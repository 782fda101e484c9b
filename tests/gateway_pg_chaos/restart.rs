//! Postgres crashes mid-load (`pg_ctl stop -m immediate`: no checkpoint, recovery from the WAL
//! at the next start) under one `pushway serve` node and comes back: the node answers `503` +
//! `Retry-After` meanwhile (its readiness too), never another 5xx and never no answer,
//! reconnects by itself, and every (message, device) it acknowledged reaches its simulator.
//!
//! Duplicates can only come from deliveries whose outcome was never committed (the writer drops
//! a batch after five attempts; the rows' leases expire and they are sent again). Each attempt
//! waits up to the pool's acquire timeout, so the attempts outlast this outage and runs so far
//! counted none; they are printed, not bounded, since the rows leased at the crash cannot be
//! read while the server is down.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::children::{GatewayProcess, SimulatorProcess};
use crate::simulators::Control;
use crate::support::{self, Poster, SIMULATORS, WAIT};
use crate::traffic::{DELIVERIES, MESSAGES};

/// Concurrent senders of messages.
const SENDERS: usize = 2;
/// Postgres crashes once this many messages (of [`MESSAGES`]) are acknowledged.
const CRASH_AFTER: usize = 50;
/// How long Postgres stays down: longer than the pool's acquire timeout (10 s), so a request
/// that starts during the outage gets its `503` before Postgres is back.
const OUTAGE: Duration = Duration::from_secs(11);
/// The simulators' added latency, so deliveries are in flight when Postgres crashes.
const LATENCY_MS: u64 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_load_loses_no_acknowledged_delivery() {
    let started = Instant::now();
    let (postgres, url, dir, files) = support::ground().await;
    let sims = SimulatorProcess::start(dir.path()).await;
    let config = support::node_config(&sims.urls, &files, &url, dir.path(), "node", 5);
    std::fs::write(&files.config, config).expect("write the config");
    let control = Control::new(&sims.urls.control);

    let gateway = GatewayProcess::start(&files.config).await;
    crate::traffic::register_everyone(&crate::traffic::Api::new(&gateway.base)).await;
    for simulator in SIMULATORS {
        control
            .set_faults(simulator, &[&format!("latency={LATENCY_MS}")])
            .await;
    }

    let poster = Arc::new(Poster::new(
        vec![gateway.base.clone()],
        Duration::from_secs(40),
    ));
    let acked: Arc<std::sync::Mutex<BTreeMap<usize, String>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (poster, acked, next) = (poster.clone(), acked.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let m = next.fetch_add(1, Ordering::SeqCst);
                    if m >= MESSAGES {
                        return;
                    }
                    let id = poster.post(m, 0).await;
                    acked.lock().expect("lock").insert(m, id);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + WAIT;
    while acked.lock().expect("lock").len() < CRASH_AFTER {
        assert!(
            Instant::now() < deadline,
            "{CRASH_AFTER} messages never acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The crash; readiness asked while it lasts.
    let crashed_at = started.elapsed();
    let acked_at_crash = acked.lock().expect("lock").len();
    let pg = Arc::new(postgres);
    let stopper = pg.clone();
    tokio::task::spawn_blocking(move || stopper.stop(true))
        .await
        .expect("join")
        .expect("pg_ctl stop -m immediate");
    let apns_at_crash = control.requests("apns").await;
    let readyz = reqwest::Client::new()
        .get(format!("{}/readyz", gateway.base))
        .timeout(Duration::from_secs(40))
        .send()
        .await
        .expect("/readyz answers while Postgres is down");
    assert_eq!(readyz.status().as_u16(), 503);
    assert_eq!(readyz.headers()["retry-after"], "1");
    let elapsed = started.elapsed() - crashed_at;
    tokio::time::sleep(OUTAGE.saturating_sub(elapsed)).await;
    let during = poster.answers.lock().expect("lock").clone();
    let acked_during = acked.lock().expect("lock").len();
    let starter = pg.clone();
    tokio::task::spawn_blocking(move || starter.start_again())
        .await
        .expect("join")
        .expect("Postgres starts again");

    for sender in senders {
        sender.await.expect("a sender");
    }
    let acked = std::mem::take(&mut *acked.lock().expect("lock"));
    assert_eq!(acked.len(), MESSAGES);
    let pool = PgPool::connect(&url).await.expect("connect to the store");
    support::wait_all_delivered(&pool, DELIVERIES).await;

    let (counts, totals) = support::received(&control).await;
    let expected = support::expected(MESSAGES);
    assert_eq!(expected.len(), DELIVERIES);
    support::assert_exactly(&counts, &expected);
    let received: usize = counts.values().sum();
    let duplicates = received - counts.len();
    let answers = poster.answers.lock().expect("lock").clone();

    println!("Postgres restart test: {MESSAGES} messages, {DELIVERIES} deliveries, one node");
    println!(
        "  Postgres crashed after {:.1} s with {acked_at_crash}/{MESSAGES} acknowledged; down {:.1} s",
        crashed_at.as_secs_f64(),
        OUTAGE.as_secs_f64()
    );
    println!(
        "  APNs requests at the crash {apns_at_crash} (of {}); answers while down: {during:?}; acknowledged then {acked_during}",
        DELIVERIES * 2 / 5
    );
    println!("  answers in all: {answers:?}");
    println!(
        "  received {received} ({totals:?} by {SIMULATORS:?}), distinct {} = acknowledged {DELIVERIES}, duplicates {duplicates}",
        counts.len()
    );
    println!("  took {:.1} s", started.elapsed().as_secs_f64());
    // The outage met requests (so it landed mid-load), every one of them answered 503.
    assert!(
        during.unavailable > 0,
        "no request met the outage: {during:?}"
    );
    assert_eq!(
        answers.no_answer, 0,
        "a request went unanswered: {answers:?}"
    );
    assert_eq!(answers.accepted, MESSAGES);
    pool.close().await;
    drop(gateway);
    drop(sims);
}
