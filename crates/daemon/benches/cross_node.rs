//! Cross-node push→ack latency on Postgres: a push sent through node B's provider reaches a
//! device connected to node A (B appends to the queue and notifies at commit, A's listener wakes
//! the device's connection, the device acks, A removes the push).
//!
//! Method: one process, a private PostgreSQL server started for the run (pushway-mock's
//! `PgServer`, default durability settings: `fsync` and `synchronous_commit` on), two hubs
//! (nodes A and B) each with its own pool and listener, as two `pushway serve` processes would
//! have. `DEVICES` devices (the real [`Connection`] client, each acking every push) connect to
//! A. A pacer sends `RATE` single-token pushes per second through B's provider for `SECONDS`
//! seconds, round-robin over the devices, each send in its own task (B answers `Queued`: the
//! device is not on B). Latency = the time A's `on_acked` sees the push's ack minus the tick
//! the push was scheduled for (so a late pacer shows up instead of hiding); p50/p99/p99.9/max.
//! Every push must be acked, and the queues must be empty at the end.
//!
//! ```sh
//! cargo bench -p pushway-daemon --bench cross_node
//! ```
//!
//! Measured 2026-12-06 on the shared 2-core machine (load average 4-6 from other work; a
//! synchronous 8 KiB write + fsync takes ~4.5 ms on its disk, and a push costs two durable
//! commits, B's append and A's ack removal, each group-committed): p50 12.2-17.6 ms, p99
//! 33-207 ms, max 60-294 ms over three runs, every push acked, nothing left queued. With
//! `BENCH_PG_ASYNC_COMMIT=1`: p50 12.4 ms, p99 94 ms. Before group commit (one transaction per
//! append and per removal): p50 1.05 s, p99 7.8 s (the flushes queued behind the disk).
//!
//! Removals with `synchronous_commit = off` (acks no longer wait for a WAL flush), measured the
//! same day against the build before, alternating runs, load average 5.7-10 on 2 cores (four
//! other sessions building and testing): before p50 11.3 / 15.0 / 25.1 ms, p99 115 / 122 /
//! 105 ms; after p50 19.1 / 15.2 / 25.0 ms, p99 104 / 185 / 141 ms; every commit relaxed
//! (`BENCH_PG_ASYNC_COMMIT=1`, load 11.6): p50 31 ms, p99 316 ms. At that load the run-to-run
//! spread is larger than either flush: the tail is CPU scheduling (the device clients, both
//! hubs, both listeners and Postgres's backends share 2 cores with the other work), not the disk.
//!
//! One statement per append and per ack batch, and the push carried in its notification (node A
//! sends it without reading the queue), measured 2026-12-06/07: alternating with the build
//! before, a helper's build running (load 4.3-5.1), before p99 48.5 / 42.4 ms, p50 14.4 / 11.9
//! ms, Postgres CPU 7.58 / 6.55 s; after p99 23.1 / 17.4 ms, p50 7.0 / 6.7 ms, Postgres CPU 6.02
//! / 5.21 s. In `bench/run.sh cluster` at 00:18 UTC (load 2.0): p99 12.2 / 9.7 / 14.0 ms, p50
//! 2.7 ms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pushway_core::testing::sample_notification;
use pushway_core::{DeviceToken, PushProvider, TokenKind};
use pushway_daemon::client::{ConnectOptions, Connection};
use pushway_daemon::{ClusterOptions, DeviceAuth, Hub, PgStore};
use pushway_mock::postgres::{PgOptions, PgServer};
use sqlx::postgres::PgPoolOptions;

const SECRET: &[u8] = b"benchmark-only secret, 32 bytes!";
const DEVICES: usize = 100;
const RATE: u64 = 1_000;
/// Connections in each node's pool.
const POOL: u32 = 32;
/// `BENCH_SECONDS` overrides it.
const SECONDS: u64 = 10;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("cross_node: run it with `cargo bench -p pushway-daemon --bench cross_node`");
        return;
    }
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SECONDS);
    // `BENCH_PG_ASYNC_COMMIT=1`: `synchronous_commit = off` (a commit does not wait for its
    // WAL flush), to tell the flushes' share of the latency.
    let mut options = PgOptions::default();
    if std::env::var("BENCH_PG_ASYNC_COMMIT").is_ok_and(|v| v == "1") {
        options
            .settings
            .push(("synchronous_commit".into(), "off".into()));
    }
    let server = PgServer::start(&options).expect("a private PostgreSQL server");
    let url = server.create_database().unwrap();
    let pg0 = server.cpu_seconds().unwrap();
    let report = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(&url, seconds));
    // The server runs detached (pg_ctl), so bench/run.sh's accounting of this process leaves
    // its CPU out: reported here, to be told apart from other work on the machine.
    let pg_cpu = server.cpu_seconds().unwrap() - pg0;
    println!(
        "{}",
        serde_json::json!({
            "bench": "cross_node",
            "devices": DEVICES,
            "rate": RATE,
            "seconds": seconds,
            "pushes": report.pushes,
            "acked": report.acked,
            "left_queued": report.left,
            "p50_ms": report.ms(0.50),
            "p99_ms": report.ms(0.99),
            "p999_ms": report.ms(0.999),
            "max_ms": report.ms(1.0),
            "postgres_run_cpu_s": (pg_cpu * 100.0).round() / 100.0,
        })
    );
    drop(server);
}

/// What a run measured.
struct Report {
    pushes: usize,
    acked: usize,
    left: usize,
    /// Push→ack latencies, sorted.
    latencies: Vec<Duration>,
}

impl Report {
    /// The `q` quantile in milliseconds (1.0: the largest), to the microsecond.
    fn ms(&self, q: f64) -> f64 {
        let i = ((self.latencies.len() as f64 * q) as usize).min(self.latencies.len() - 1);
        (self.latencies[i].as_secs_f64() * 1e6).round() / 1e3
    }
}

async fn node(
    url: &str,
    name: &str,
    on_acked: impl Fn(&str) + Send + Sync + 'static,
) -> (Hub, PgStore) {
    let pool = PgPoolOptions::new()
        .max_connections(POOL)
        .connect(url)
        .await
        .unwrap();
    let store = PgStore::with_pool(pool, "bench").await.unwrap();
    let cluster = store
        .start_cluster(ClusterOptions::new(name))
        .await
        .unwrap();
    let hub = Hub::builder(DeviceAuth::hs256(SECRET).unwrap())
        .store(store.clone())
        .cluster(cluster)
        .on_acked(move |_, id| on_acked(id))
        .build();
    (hub, store)
}

async fn run(url: &str, seconds: u64) -> Report {
    let acked: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let record = acked.clone();
    let (a, _) = node(url, "a", move |id| {
        let now = Instant::now();
        if let Some(n) = id.strip_prefix('m').and_then(|n| n.parse().ok()) {
            record.lock().unwrap().insert(n, now);
        }
    })
    .await;
    let (b, store_b) = node(url, "b", |_| {}).await;
    let server = a.bind("127.0.0.1:0").await.unwrap();
    let mut devices = Vec::new();
    for i in 0..DEVICES {
        let token = a
            .issue_token("user", &format!("d{i}"), Duration::from_secs(3600))
            .await
            .unwrap();
        let mut connection = Connection::connect(&server.url(), &token, &ConnectOptions::default())
            .await
            .unwrap();
        devices.push(tokio::spawn(async move {
            while let Ok(push) = connection.next().await {
                if connection.ack(&push.id).await.is_err() {
                    break;
                }
            }
        }));
    }
    let provider = b.provider();
    let tokens: Vec<DeviceToken> = (0..DEVICES)
        .map(|i| DeviceToken::new(TokenKind::Daemon, "daemon", format!("user/d{i}")))
        .collect();
    let total = RATE * seconds;
    let period = Duration::from_secs(1) / u32::try_from(RATE).unwrap();
    let start = tokio::time::Instant::now();
    let mut scheduled = Vec::with_capacity(usize::try_from(total).unwrap());
    let mut sends = Vec::new();
    for n in 0..total {
        let at = start + period * u32::try_from(n).unwrap();
        tokio::time::sleep_until(at).await;
        scheduled.push(at.into_std());
        let provider = provider.clone();
        let token = tokens[usize::try_from(n).unwrap() % DEVICES].clone();
        sends.push(tokio::spawn(async move {
            let mut notification = sample_notification();
            notification.message_id = format!("m{n}");
            provider.send(&notification, &[token]).await
        }));
    }
    let paced = start.elapsed();
    for send in sends {
        let outcomes = send.await.unwrap();
        assert!(
            matches!(outcomes[..], [pushway_core::Outcome::Queued]),
            "{outcomes:?}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < scheduled.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), scheduled.len(), "every push acked");
    let mut latencies: Vec<Duration> = scheduled
        .iter()
        .enumerate()
        .map(|(n, at)| acked[&(n as u64)].saturating_duration_since(*at))
        .collect();
    latencies.sort_unstable();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let mut left = 0;
    for i in 0..DEVICES {
        left += b.queue_len("user", &format!("d{i}")).await.unwrap();
    }
    println!(
        "cross-node push->ack, {DEVICES} devices on node A, {total} pushes sent through node B at \
         {RATE}/s (paced in {paced:.2?}):"
    );
    println!(
        "  from the scheduled tick: p50 {:.2?}  p99 {:.2?}  p99.9 {:.2?}  max {:.2?}",
        pick(0.50),
        pick(0.99),
        pick(0.999),
        latencies[latencies.len() - 1]
    );
    println!("  pushes left queued at the end: {left}");
    server.shutdown().await;
    for device in devices {
        device.abort();
    }
    store_b.close().await;
    Report {
        pushes: scheduled.len(),
        acked: acked.len(),
        left,
        latencies,
    }
}
