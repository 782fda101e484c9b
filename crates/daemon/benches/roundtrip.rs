//! Push→ack round trips through the whole stack: `DaemonProvider::send` → queue → WebSocket →
//! device client (parses the push, acks it) → WebSocket → queue removal → `Delivered`.
//!
//! Method: one process, a [`Hub`] on 127.0.0.1 with the memory store and 1,000 devices. The
//! server (hub, provider and the sending code) runs on one tokio runtime with 2 worker threads
//! named `srv`; the devices run on a second runtime with 2 worker threads named `dev`, so the
//! CPU of each side is read per thread from `/proc/self/task/*/stat` and the server's cost per
//! round trip is reported apart from the simulated devices'. Both share the machine's cores.
//! Each device is a bench-only WebSocket client that reads the push id from the frame's
//! canonical prefix (no full parse of the notification) and acks it, batching the acks it has
//! at hand into one flush; `BENCH_FULL_CLIENT=1` uses the real [`Connection`] client instead.
//!
//! 1. Throughput: `ROUNDS` notifications, each sent to all 1,000 devices in one `send` (one
//!    batch of 1,000 tokens), with up to `CONCURRENT_BATCHES` sends in flight; every outcome must
//!    be `Delivered`. Rate = round trips ÷ wall time; CPU = user+sys ÷ round trips, for the
//!    whole process and for the server's threads alone.
//! 2. Latency: a steady 10,000 pushes/s (10 single-token sends every millisecond, round-robin
//!    over the devices) for 5 s; each send's time to `Delivered` is recorded; p50/p99/p99.9/max.
//!    The first line times each `send` from its call; the second from the tick it was scheduled
//!    for, so a late pacer (a busy machine) shows up instead of hiding (coordinated omission).
//!
//! ```sh
//! cargo bench -p pushway-daemon --bench roundtrip
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use pushway_core::testing::sample_notification;
use pushway_core::{DeviceToken, Outcome, PushProvider, TokenKind};
use pushway_daemon::client::{ConnectOptions, Connection};
use pushway_daemon::{DaemonProvider, DeviceAuth, Hub};
use tokio::runtime::Handle;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &[u8] = b"benchmark-only secret, 32 bytes!";
const DEVICES: usize = 1_000;
/// `BENCH_ROUNDS` overrides it (a short run under callgrind).
const ROUNDS: usize = 200;
const CONCURRENT_BATCHES: usize = 8;
const STEADY_RATE_PER_MS: usize = 10;
/// `BENCH_STEADY_SECONDS` overrides it; 0 skips the latency phase.
const STEADY_SECONDS: u64 = 5;
const SERVER_THREAD: &str = "srv";
const DEVICE_THREAD: &str = "dev";

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("roundtrip: run it with `cargo bench -p pushway-daemon --bench roundtrip`");
        return;
    }
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let threads = |var: &str| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1)
    };
    let runtime = |name: &str, workers: usize| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name(name)
            .enable_all()
            .build()
            .unwrap()
    };
    let server = runtime(SERVER_THREAD, threads("BENCH_SERVER_THREADS"));
    let devices = runtime(DEVICE_THREAD, threads("BENCH_DEVICE_THREADS"));
    let device_handle = devices.handle().clone();
    // The main thread only waits: all the server-side work runs on the `srv` threads.
    server.block_on(server.spawn(run(device_handle))).unwrap();
    devices.shutdown_timeout(Duration::from_secs(2));
    server.shutdown_timeout(Duration::from_secs(2));
}

/// CPU seconds (user + sys) of the whole process, of the server's threads, of the devices'.
#[derive(Clone, Copy)]
struct Cpu {
    process: f64,
    server: f64,
    devices: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, rhs: Cpu) -> Cpu {
        Cpu {
            process: self.process - rhs.process,
            server: self.server - rhs.server,
            devices: self.devices - rhs.devices,
        }
    }
}

fn env_or<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(devices_rt: Handle) {
    let rounds: usize = env_or("BENCH_ROUNDS", ROUNDS);
    let steady_seconds: u64 = env_or("BENCH_STEADY_SECONDS", STEADY_SECONDS);
    // Long auth and ack timeouts: under valgrind everything is slow. On the happy path they cost
    // the same as short ones.
    let hub = Hub::builder(DeviceAuth::hs256(SECRET).unwrap())
        .auth_timeout(Duration::from_secs(300))
        .ack_timeout(Duration::from_secs(300))
        .build();
    let server = hub.bind("127.0.0.1:0").await.unwrap();
    let url = server.url();
    let full_client = std::env::var_os("BENCH_FULL_CLIENT").is_some_and(|v| v == "1");
    let devices = connect_devices(&hub, &url, &devices_rt, full_client).await;
    let provider = Arc::new(hub.provider());
    let tokens: Arc<Vec<DeviceToken>> = Arc::new(
        (0..DEVICES)
            .map(|i| DeviceToken::new(TokenKind::Daemon, "daemon", format!("bench/device-{i}")))
            .collect(),
    );

    // Warm-up.
    batch(&provider, &tokens, "warm").await;

    // 1. Throughput.
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    futures_util::stream::iter(0..rounds)
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
    let total = (rounds * DEVICES) as f64;
    println!(
        "throughput: {} round trips to {DEVICES} devices in {:.2} s = {:.0}/s; process CPU {:.2} s = {:.1} µs per round trip (server + devices)",
        rounds * DEVICES,
        elapsed.as_secs_f64(),
        total / elapsed.as_secs_f64(),
        cpu.process,
        cpu.process * 1e6 / total,
    );
    println!(
        "cpu per round trip: server {:.2} µs ({:.2} s on the {SERVER_THREAD} threads), devices {:.2} µs ({:.2} s on the {DEVICE_THREAD} threads, {} client), other {:.2} µs; load average {}",
        cpu.server * 1e6 / total,
        cpu.server,
        cpu.devices * 1e6 / total,
        cpu.devices,
        if full_client { "full" } else { "id-only" },
        (cpu.process - cpu.server - cpu.devices) * 1e6 / total,
        load_average(),
    );

    if steady_seconds == 0 {
        for device in devices {
            device.abort();
        }
        server.shutdown().await;
        return;
    }

    // 2. Latency at a steady rate.
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::new();
    let cpu0 = cpu_seconds();
    let end = Instant::now() + Duration::from_secs(steady_seconds);
    let mut n = 0usize;
    while Instant::now() < end {
        let scheduled = tick.tick().await.into_std();
        for _ in 0..STEADY_RATE_PER_MS {
            let provider = provider.clone();
            let token = tokens[n % DEVICES].clone();
            let mut notification = sample_notification();
            notification.message_id = format!("s{n}");
            n += 1;
            sends.push(tokio::spawn(async move {
                let start = Instant::now();
                let outcomes = provider.send(&notification, &[token]).await;
                let done = Instant::now();
                (
                    done - start,
                    done.saturating_duration_since(scheduled),
                    outcomes[0] == Outcome::DELIVERED,
                )
            }));
        }
    }
    let mut latencies = Vec::with_capacity(sends.len());
    let mut from_schedule = Vec::with_capacity(sends.len());
    let mut not_delivered = 0;
    for send in sends {
        let (latency, scheduled, delivered) = send.await.unwrap();
        latencies.push(latency);
        from_schedule.push(scheduled);
        not_delivered += usize::from(!delivered);
    }
    let cpu = cpu_seconds() - cpu0;
    latencies.sort();
    from_schedule.sort();
    let q = |l: &[Duration], p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)];
    println!(
        "latency at {}/s for {steady_seconds} s: {} pushes, p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}; not delivered: {not_delivered}",
        STEADY_RATE_PER_MS * 1000,
        latencies.len(),
        q(&latencies, 0.50),
        q(&latencies, 0.99),
        q(&latencies, 0.999),
        latencies[latencies.len() - 1],
    );
    println!(
        "latency from the scheduled tick: p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}; steady-phase CPU {:.0}% server, {:.0}% devices; load average {}",
        q(&from_schedule, 0.50),
        q(&from_schedule, 0.99),
        q(&from_schedule, 0.999),
        from_schedule[from_schedule.len() - 1],
        cpu.server * 100.0 / steady_seconds as f64,
        cpu.devices * 100.0 / steady_seconds as f64,
        load_average(),
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

async fn connect_devices(
    hub: &Hub,
    url: &str,
    rt: &Handle,
    full_client: bool,
) -> Vec<tokio::task::JoinHandle<()>> {
    let tokens: Vec<String> = (0..DEVICES)
        .map(|i| {
            hub.auth()
                .issue(
                    "bench",
                    &format!("device-{i}"),
                    0,
                    Duration::from_secs(3600),
                )
                .unwrap()
        })
        .collect();
    let url = url.to_owned();
    // Connected on the device runtime, so their sockets are driven by its threads.
    let devices = rt.spawn(async move {
        let connected: Vec<Device> = futures_util::stream::iter(tokens)
            .map(|token| {
                let url = url.clone();
                async move {
                    if full_client {
                        Device::Full(
                            Connection::connect(&url, &token, &ConnectOptions::default())
                                .await
                                .unwrap(),
                        )
                    } else {
                        Device::IdOnly(connect_raw(&url, &token).await)
                    }
                }
            })
            .buffer_unordered(100)
            .collect()
            .await;
        connected
            .into_iter()
            .map(|device| match device {
                Device::Full(connection) => tokio::spawn(full_device(connection)),
                Device::IdOnly(ws) => tokio::spawn(id_only_device(ws)),
            })
            .collect::<Vec<_>>()
    });
    devices.await.unwrap()
}

enum Device {
    Full(Connection),
    IdOnly(RawWs),
}

/// The real client: parses every push in full, one ack per write.
async fn full_device(mut connection: Connection) {
    while let Ok(push) = connection.next().await {
        if connection.ack(&push.id).await.is_err() {
            break;
        }
    }
}

type RawWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Connects, retrying a few times (a slow run, e.g. under valgrind, can miss the handshake).
async fn connect_raw(url: &str, token: &str) -> RawWs {
    for _ in 0..4 {
        if let Ok(ws) = try_connect_raw(url, token).await {
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    try_connect_raw(url, token).await.unwrap()
}

async fn try_connect_raw(
    url: &str,
    token: &str,
) -> Result<RawWs, tokio_tungstenite::tungstenite::Error> {
    let addr = url.trim_start_matches("ws://");
    let addr = &addr[..addr.find('/').unwrap_or(addr.len())];
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (mut ws, _) = tokio_tungstenite::client_async(url, tcp).await?;
    let hello = format!(r#"{{"type":"hello","v":1,"token":"{token}"}}"#);
    ws.send(Message::text(hello)).await?;
    match ws.next().await {
        Some(Ok(Message::Text(text))) if text.starts_with(r#"{"type":"welcome""#) => Ok(ws),
        other => panic!("expected welcome, got {other:?}"),
    }
}

/// A bench-only device: takes the id from the push frame's canonical prefix (the server encodes
/// `{"type":"push","id":"…",…}` with ids that need no escapes here), acks every push it has at
/// hand, then flushes once; answers pings.
async fn id_only_device(mut ws: RawWs) {
    const PUSH: &str = r#"{"type":"push","id":""#;
    while let Some(Ok(mut message)) = ws.next().await {
        loop {
            if let Message::Text(text) = &message {
                let reply = if let Some(rest) = text.strip_prefix(PUSH) {
                    let id = &rest[..rest.find('"').unwrap()];
                    format!(r#"{{"type":"ack","id":"{id}"}}"#)
                } else if text.as_str() == r#"{"type":"ping"}"# {
                    r#"{"type":"pong"}"#.to_owned()
                } else {
                    String::new()
                };
                if !reply.is_empty() && ws.feed(Message::text(reply)).await.is_err() {
                    return;
                }
            }
            match ws.next().now_or_never() {
                Some(Some(Ok(next))) => message = next,
                Some(_) => return,
                None => break,
            }
        }
        if ws.flush().await.is_err() {
            return;
        }
    }
}

/// CPU (user + sys) of the process and of its threads by name, from `/proc/self/task/*/stat`.
fn cpu_seconds() -> Cpu {
    let mut cpu = Cpu {
        process: stat_seconds("/proc/self/stat").map_or(0.0, |(_, s)| s),
        server: 0.0,
        devices: 0.0,
    };
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Some((name, seconds)) = stat_seconds(&task.path().join("stat").to_string_lossy())
        else {
            continue;
        };
        if name == SERVER_THREAD {
            cpu.server += seconds;
        } else if name == DEVICE_THREAD {
            cpu.devices += seconds;
        }
    }
    cpu
}

/// A stat file's command name and its utime + stime in seconds (100 clock ticks per second).
fn stat_seconds(path: &str) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    let name = stat[stat.find('(')? + 1..stat.rfind(')')?].to_owned();
    let after_comm = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().ok()? + fields[12].parse::<u64>().ok()?;
    Some((name, ticks as f64 / 100.0))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
