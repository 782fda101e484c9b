//! Push→ack round trips through the whole stack: `DaemonProvider::send` → queue → WebSocket →
//! device client (parses the push, acks it) → WebSocket → queue removal → `Delivered`.
//!
//! Method: one process, a [`Hub`] on 127.0.0.1 with the memory store and 1,000 devices connected
//! with [`Connection`] (each a task that acks every push), all on one tokio runtime with 2
//! worker threads, so server and devices share the machine's 2 cores.
//!
//! 1. Throughput: `ROUNDS` notifications, each sent to all 1,000 devices in one `send` (one
//!    batch of 1,000 tokens), with up to `CONCURRENT_BATCHES` sends in flight; every outcome must
//!    be `Delivered`. Rate = round trips ÷ wall time; CPU = process user+sys ÷ round trips.
//! 2. Latency: a steady 10,000 pushes/s (10 single-token sends every millisecond, round-robin
//!    over the devices) for 5 s; each send's time to `Delivered` is recorded; p50/p99/p99.9/max.
//!
//! ```sh
//! cargo bench -p pushway-daemon --bench roundtrip
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pushway_core::testing::sample_notification;
use pushway_core::{DeviceToken, Outcome, PushProvider, TokenKind};
use pushway_daemon::client::{ConnectOptions, Connection};
use pushway_daemon::{DaemonProvider, DeviceAuth, Hub};

const SECRET: &[u8] = b"benchmark-only secret, 32 bytes!";
const DEVICES: usize = 1_000;
const ROUNDS: usize = 200;
const CONCURRENT_BATCHES: usize = 8;
const STEADY_RATE_PER_MS: usize = 10;
const STEADY_SECONDS: u64 = 5;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("roundtrip: run it with `cargo bench -p pushway-daemon --bench roundtrip`");
        return;
    }
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
    runtime.shutdown_timeout(Duration::from_secs(2));
}

async fn run() {
    let hub = Hub::builder(DeviceAuth::hs256(SECRET).unwrap()).build();
    let server = hub.bind("127.0.0.1:0").await.unwrap();
    let url = server.url();
    let devices = connect_devices(&hub, &url).await;
    let provider = Arc::new(hub.provider());
    let tokens: Arc<Vec<DeviceToken>> = Arc::new(
        (0..DEVICES)
            .map(|i| DeviceToken::new(TokenKind::Daemon, "daemon", format!("device-{i}")))
            .collect(),
    );

    // Warm-up.
    batch(&provider, &tokens, "warm").await;

    // 1. Throughput.
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    futures_util::stream::iter(0..ROUNDS)
        .map(|round| {
            let provider = provider.clone();
            let tokens = tokens.clone();
            async move { batch(&provider, &tokens, &format!("t{round}")).await }
        })
        .buffer_unordered(CONCURRENT_BATCHES)
        .collect::<Vec<()>>()
        .await;
    let elapsed = start.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let total = (ROUNDS * DEVICES) as f64;
    println!(
        "throughput: {} round trips to {DEVICES} devices in {:.2} s = {:.0}/s; process CPU {:.2} s = {:.1} µs per round trip (server + devices)",
        ROUNDS * DEVICES,
        elapsed.as_secs_f64(),
        total / elapsed.as_secs_f64(),
        cpu,
        cpu * 1e6 / total,
    );

    // 2. Latency at a steady rate.
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::new();
    let end = Instant::now() + Duration::from_secs(STEADY_SECONDS);
    let mut n = 0usize;
    while Instant::now() < end {
        tick.tick().await;
        for _ in 0..STEADY_RATE_PER_MS {
            let provider = provider.clone();
            let token = tokens[n % DEVICES].clone();
            let mut notification = sample_notification();
            notification.message_id = format!("s{n}");
            n += 1;
            sends.push(tokio::spawn(async move {
                let start = Instant::now();
                let outcomes = provider.send(&notification, &[token]).await;
                (start.elapsed(), outcomes[0] == Outcome::DELIVERED)
            }));
        }
    }
    let mut latencies = Vec::with_capacity(sends.len());
    let mut not_delivered = 0;
    for send in sends {
        let (latency, delivered) = send.await.unwrap();
        latencies.push(latency);
        not_delivered += usize::from(!delivered);
    }
    latencies.sort();
    let q = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "latency at {}/s for {STEADY_SECONDS} s: {} pushes, p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}; not delivered: {not_delivered}",
        STEADY_RATE_PER_MS * 1000,
        latencies.len(),
        q(0.50),
        q(0.99),
        q(0.999),
        latencies[latencies.len() - 1],
    );
    println!("hub stats: {:?}", hub.stats());
    for device in devices {
        device.abort();
    }
    server.shutdown().await;
}

async fn batch(provider: &DaemonProvider, tokens: &[DeviceToken], id: &str) {
    let mut notification = sample_notification();
    notification.message_id = id.to_owned();
    let outcomes = provider.send(&notification, tokens).await;
    let delivered = outcomes
        .iter()
        .filter(|o| **o == Outcome::DELIVERED)
        .count();
    assert_eq!(delivered, tokens.len(), "every push must be acked in time");
}

async fn connect_devices(hub: &Hub, url: &str) -> Vec<tokio::task::JoinHandle<()>> {
    let connections: Vec<Connection> = futures_util::stream::iter(0..DEVICES)
        .map(|i| {
            let token = hub
                .auth()
                .issue("bench", &format!("device-{i}"), Duration::from_secs(3600))
                .unwrap();
            let url = url.to_owned();
            async move {
                Connection::connect(&url, &token, &ConnectOptions::default())
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(100)
        .collect()
        .await;
    connections
        .into_iter()
        .map(|mut connection| {
            tokio::spawn(async move {
                while let Ok(push) = connection.next().await {
                    if connection.ack(&push.id).await.is_err() {
                        break;
                    }
                }
            })
        })
        .collect()
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}
