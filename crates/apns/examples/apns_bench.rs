//! Benchmark client for bench/apns.sh: sends N notifications through [`ApnsProvider`] over one
//! connection with W in flight, to a simulator started on its own, and prints one JSON line with
//! the rate and the process's CPU per notification during the timed phase.
//!
//! ```text
//! apns_bench --base-url https://127.0.0.1:PORT --ca-cert cert.pem --key-path AuthKey.p8 \
//!   --key-id TEST123456 --team-id TEAM123456 --topic com.example.app [--n 20000] [--inflight 1000] [--threads 1]
//! apns_bench --memory [--inflight 1000]   # bytes per in-flight send, against a server that never answers
//! ```
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pushway_apns::{ApnsProvider, build_payload};
use pushway_core::{
    AppData, ConversationType, DeviceToken, IosSound, Notification, NotifyMode, PushProvider,
    TokenKind,
};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// CPU time of every thread of this process, in nanoseconds (per-thread schedstat: ns
/// precision, unlike the 10 ms ticks of /proc/self/stat).
fn cpu_ns() -> u64 {
    let mut total = 0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for task in dir.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
                total += text
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    total
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// A notification whose APNs payload is exactly `size` bytes.
fn notification(size: usize) -> Notification {
    let mut n = Notification {
        message_id: "bench-message-0001".into(),
        ttl: Some(Duration::from_secs(3600)),
        title: "Benchmark title".into(),
        android_title: None,
        ios_alert: None,
        body: String::new(),
        android_sound: None,
        ios_sound: IosSound::Default,
        warnings: Vec::new(),
        badge: Some(1),
        notify_mode: NotifyMode::Normal,
        app_data: AppData {
            conversation_id: "conv-42".into(),
            conversation_type: ConversationType::C2c,
            sender_id: "u-17".into(),
            sender_nickname: None,
            group_name: None,
            ext: None,
        },
    };
    let base = build_payload(&n).unwrap().json.len();
    n.body = "x".repeat(size.saturating_sub(base));
    n
}

fn main() {
    let threads: usize = arg("--threads").map_or(1, |t| t.parse().unwrap());
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
    .unwrap();
    if flag("--print-payload") {
        let json = build_payload(&notification(300)).unwrap().json;
        println!("{}", String::from_utf8(json).unwrap());
        return;
    }
    if flag("--build-only") {
        // CPU of the pure part alone: build_request for the bench notification.
        let note = notification(300);
        let target = pushway_apns::RequestTarget {
            scheme: http::uri::Scheme::HTTPS,
            authority: http::uri::Authority::from_static("api.push.apple.com"),
            topic: http::HeaderValue::from_static("com.example.app"),
            collapse_id: pushway_apns::CollapseId::None,
        };
        let token = "4a1f8c3e9b0d27e65c4f18a2d3b7e90c5f6a1b2c3d4e5f60718293a4b5c6d7e8";
        let rounds = 200_000u32;
        let t0 = Instant::now();
        let mut bytes = 0;
        for _ in 0..rounds {
            let r =
                pushway_apns::build_request(&note, token, &target, std::time::SystemTime::now())
                    .unwrap();
            bytes += r.body.len();
        }
        let ns = t0.elapsed().as_nanos() as f64 / f64::from(rounds);
        let t1 = Instant::now();
        for _ in 0..rounds {
            bytes += build_payload(&note).unwrap().json.len();
        }
        let payload_ns = t1.elapsed().as_nanos() as f64 / f64::from(rounds);
        let t2 = Instant::now();
        for _ in 0..rounds {
            bytes += pushway_apns::request::apns_id(&note.message_id, token).as_bytes()[0] as usize;
        }
        let id_ns = t2.elapsed().as_nanos() as f64 / f64::from(rounds);
        println!(
            "{}",
            serde_json::json!({"build_request_ns": ns.round(), "payload_ns": payload_ns.round(), "apns_id_ns": id_ns.round(), "bytes": bytes % 7})
        );
        return;
    }
    if flag("--blackhole") {
        runtime.block_on(blackhole());
    } else if flag("--memory") {
        runtime.block_on(memory());
    } else {
        runtime.block_on(throughput(threads));
    }
}

fn provider(base_url: &str, key_pem: Vec<u8>, ca: Option<Vec<u8>>) -> ApnsProvider {
    let mut b = ApnsProvider::builder()
        .key_pem(key_pem)
        .key_id(arg("--key-id").unwrap_or_else(|| "TEST123456".into()))
        .team_id(arg("--team-id").unwrap_or_else(|| "TEAM123456".into()))
        .topic(arg("--topic").unwrap_or_else(|| "com.example.app".into()))
        .base_url(base_url)
        .insecure_h2c(base_url.starts_with("http://"))
        .request_timeout(Duration::from_secs(60))
        .connections(1);
    if let Some(pem) = ca {
        b = b.add_root_certificate_pem(pem);
    }
    b.build().unwrap()
}

async fn throughput(threads: usize) {
    let base_url = arg("--base-url").expect("--base-url");
    let key = std::fs::read(arg("--key-path").expect("--key-path")).unwrap();
    let ca = arg("--ca-cert").map(|p| std::fs::read(p).unwrap());
    let n: usize = arg("--n").map_or(20_000, |v| v.parse().unwrap());
    let inflight: usize = arg("--inflight").map_or(1000, |v| v.parse().unwrap());
    let provider = Arc::new(provider(&base_url, key, ca));
    let note = Arc::new(notification(300));
    let tokens: Arc<Vec<DeviceToken>> = Arc::new(
        (0..n)
            .map(|i| DeviceToken::new(TokenKind::ApnsProduction, "bench", format!("{i:064x}")))
            .collect(),
    );
    // Warm-up (not timed): connect, TLS, first SETTINGS.
    let warm = DeviceToken::new(TokenKind::ApnsProduction, "bench", "f".repeat(64));
    assert!(provider.send(&note, &[warm]).await[0].is_delivered());

    let next = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicUsize::new(0));
    let cpu0 = cpu_ns();
    let t0 = Instant::now();
    let workers: Vec<_> = (0..inflight.min(n))
        .map(|_| {
            let (provider, note, tokens, next, delivered) = (
                provider.clone(),
                note.clone(),
                tokens.clone(),
                next.clone(),
                delivered.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else { break };
                    let out = provider.send_one(&note, token).await;
                    if out.is_delivered() {
                        delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_ns() - cpu0;
    println!(
        "{}",
        serde_json::json!({
            "client": "pushway-apns",
            "threads": threads,
            "inflight": inflight,
            "n": n,
            "ok": delivered.load(Ordering::Relaxed),
            "payload_bytes": build_payload(&note).unwrap().json.len(),
            "seconds": (secs * 1000.0).round() / 1000.0,
            "per_s": (n as f64 / secs).round(),
            "cpu_us_per_notification": ((cpu as f64 / 1000.0 / n as f64) * 100.0).round() / 100.0,
        })
    );
}

/// An h2c server that accepts every stream and never answers, so sends stay in flight.
async fn blackhole() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap().port());
    let (socket, _) = listener.accept().await.unwrap();
    let mut conn = h2::server::Builder::new()
        .max_concurrent_streams(1000)
        .handshake::<_, bytes::Bytes>(socket)
        .await
        .unwrap();
    let mut held = Vec::new();
    while let Some(Ok(stream)) = conn.accept().await {
        held.push(stream);
    }
}

/// Bytes of RSS per in-flight send: start the black hole in a child process, put K sends in
/// flight, compare RSS with all of them pending against RSS after one warm-up send.
async fn memory() {
    use tokio::io::AsyncBufReadExt;
    let k: usize = arg("--inflight").map_or(1000, |v| v.parse().unwrap());
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .arg("--blackhole")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let port = lines.next_line().await.unwrap().unwrap();
    let key = pushway_mock::apns::TestKey::generate();
    let provider = Arc::new(provider(
        &format!("http://127.0.0.1:{port}"),
        key.private_key_pem().as_bytes().to_vec(),
        None,
    ));
    let note = Arc::new(notification(300));
    // Warm-up: opens the connection (the send itself stays pending: nothing answers).
    let warm = {
        let (p, n) = (provider.clone(), note.clone());
        tokio::spawn(async move {
            let t = DeviceToken::new(TokenKind::ApnsProduction, "bench", "f".repeat(64));
            p.send_one(&n, &t).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let future_bytes = {
        let t = DeviceToken::new(TokenKind::ApnsProduction, "bench", "f".repeat(64));
        let fut = provider.send_one(&note, &t);
        std::mem::size_of_val(&fut)
    };
    let before = rss_bytes();
    let tasks: Vec<_> = (0..k)
        .map(|i| {
            let (p, n) = (provider.clone(), note.clone());
            tokio::spawn(async move {
                let t = DeviceToken::new(TokenKind::ApnsProduction, "bench", format!("{i:064x}"));
                p.send_one(&n, &t).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let during = rss_bytes();
    println!(
        "{}",
        serde_json::json!({
            "client": "pushway-apns",
            "inflight": k,
            "rss_before": before,
            "rss_during": during,
            "bytes_per_inflight_send": (during.saturating_sub(before)) as f64 / k as f64,
            "send_future_bytes": future_bytes,
        })
    );
    for t in tasks {
        t.abort();
    }
    warm.abort();
    let _ = child.kill().await;
}
