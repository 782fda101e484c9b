//! Throughput and client CPU of `HuaweiProvider` against a Huawei simulator in another process.
//!
//! Driven by `bench/huawei.sh`, which starts `pushway-mock huawei`, runs a limit tool (wrk) on the
//! body this binary writes, this binary, and PyPI `hpa`, three rounds, and prints medians.
//!
//! ```text
//! throughput body --tokens 1000 --out body.json       # the exact body the provider posts
//! throughput send --base-url http://127.0.0.1:18081 --n 1000000 --batch 1000 --concurrency 4
//! throughput                                          # (cargo bench) a short in-process smoke run
//! ```
//!
//! `send` prints one JSON line. CPU is the process's user+sys time (`/proc/self/stat`, what
//! getrusage reports) over the timed section only: token list, warm-up (OAuth fetch, first
//! connection) excluded.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pushway_core::testing::sample_notification;
use pushway_core::{DeviceToken, Notification, PushProvider, TokenKind};
use pushway_huawei::HuaweiProvider;

const APP_ID: &str = "12345";
const SECRET: &str = "app-secret";

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

/// A Huawei-like 130-character token, as the hpa driver builds them.
fn token(i: usize) -> String {
    format!("IQAAAACy0kYkAABwsc{i:0112x}")
}

fn notification() -> Notification {
    let mut n = sample_notification();
    n.title = "Benchmark title".to_owned();
    n.body = "x".repeat(120);
    n.badge = None;
    n
}

fn provider(base_url: &str) -> HuaweiProvider {
    HuaweiProvider::builder()
        .app_id(APP_ID)
        .client_secret(SECRET)
        .base_url(base_url)
        .allow_plain_http(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// User+sys CPU seconds of this process so far (fields 14 and 15 of /proc/self/stat).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let hz: f64 = std::env::var("CLK_TCK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100.0);
    ticks / hz
}

async fn send_all(provider: HuaweiProvider, n: usize, batch: usize, concurrency: usize) -> String {
    let devices: Arc<Vec<DeviceToken>> = Arc::new(
        (0..n)
            .map(|i| DeviceToken::new(TokenKind::Huawei, "app", token(i)))
            .collect(),
    );
    let notification = Arc::new(notification());
    // Warm-up: the OAuth token and the connections.
    let warm = provider.send(&notification, &devices[..batch.min(n)]).await;
    assert!(
        warm.iter().all(|o| o.is_delivered()),
        "warm-up: {:?}",
        warm[0]
    );

    let batches = n.div_ceil(batch);
    let next = Arc::new(AtomicUsize::new(0));
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (provider, devices, notification, next) = (
                provider.clone(),
                Arc::clone(&devices),
                Arc::clone(&notification),
                Arc::clone(&next),
            );
            tokio::spawn(async move {
                let mut ok = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= batches {
                        return ok;
                    }
                    let chunk = &devices[i * batch..((i + 1) * batch).min(devices.len())];
                    let outcomes = provider.send(&notification, chunk).await;
                    ok += outcomes.iter().filter(|o| o.is_delivered()).count();
                }
            })
        })
        .collect();
    let mut ok = 0;
    for worker in workers {
        ok += worker.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    format!(
        r#"{{"lib":"pushway-huawei","n":{n},"batch":{batch},"concurrency":{concurrency},"ok":{ok},"failed":{},"seconds":{secs:.3},"per_s":{:.0},"cpu_s":{cpu:.3},"cpu_us_per_token":{:.4}}}"#,
        n - ok,
        n as f64 / secs,
        cpu * 1e6 / n as f64
    )
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("body") => {
            let n: usize = arg(&args, "--tokens", "1000").parse().unwrap();
            let out = arg(&args, "--out", "huawei_body.json");
            let tokens: Vec<String> = (0..n).map(token).collect();
            let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
            let body = provider("http://127.0.0.1:1")
                .build_request(&notification(), &refs)
                .unwrap();
            std::fs::write(&out, &body).unwrap();
            println!("{out}: {} bytes, {n} tokens", body.len());
        }
        Some("send") => {
            let base = arg(&args, "--base-url", "http://127.0.0.1:18081");
            let n: usize = arg(&args, "--n", "1000000").parse().unwrap();
            let batch: usize = arg(&args, "--batch", "1000").parse().unwrap();
            let concurrency: usize = arg(&args, "--concurrency", "4").parse().unwrap();
            let threads: usize = arg(&args, "--threads", "1").parse().unwrap();
            let line = runtime(threads).block_on(send_all(provider(&base), n, batch, concurrency));
            println!("{line}");
        }
        _ => {
            // `cargo bench`: a short in-process run, only to show the binary works. The real
            // figures come from bench/huawei.sh (simulator in its own process).
            let line = runtime(2).block_on(async {
                let sim = pushway_mock::huawei::HuaweiSimulator::builder()
                    .recording(pushway_mock::Recording::Off)
                    .start()
                    .await
                    .unwrap();
                send_all(provider(&sim.base_url()), 100_000, 1000, 4).await
            });
            println!("in-process smoke run (simulator shares this process): {line}");
        }
    }
}
