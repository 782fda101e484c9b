//! Server memory per idle, authenticated device connection.
//!
//! Method: the bench re-runs itself as a child process that serves a [`Hub`] (2 worker threads,
//! default settings) on 127.0.0.1; the parent opens authenticated device connections to it in
//! steps (1,000 → 5,000 → 10,000), waits for the server to settle, and reads the child's RSS
//! (`VmRSS` of `/proc/<pid>/status`). Per connection = (RSS now − RSS before any connection) ÷
//! connections. Both processes raise their open-file limit to the hard limit. The child exits
//! when its stdin closes (the parent exits or is killed) and after at most 5 minutes.
//!
//! ```sh
//! cargo bench -p pushway-daemon --bench idle_rss            # 10,000 connections
//! cargo bench -p pushway-daemon --bench idle_rss -- 20000   # another count (fd limits permitting)
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pushway_daemon::client::{ConnectOptions, Connection};
use pushway_daemon::{DeviceAuth, Hub};

const SECRET: &[u8] = b"benchmark-only secret, 32 bytes!";
const CONCURRENT_CONNECTS: usize = 200;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--serve") {
        serve();
        return;
    }
    // `cargo test --benches` runs bench targets without `--bench`: do not start a 10k-socket
    // run there.
    if !args.iter().any(|a| a == "--bench") {
        println!("idle_rss: run it with `cargo bench -p pushway-daemon --bench idle_rss`");
        return;
    }
    let total: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(
        limit as usize > total + 100,
        "the open-file limit ({limit}) is too low for {total} connections"
    );
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = lines.next().unwrap().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(measure(pid, &addr, total));
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    result.unwrap();
}

async fn measure(pid: u32, addr: &str, total: usize) -> Result<(), String> {
    let auth = DeviceAuth::hs256(SECRET).unwrap();
    let url = format!("ws://{addr}/");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = rss_kib(pid);
    println!("server RSS with no connection: {base} KiB");
    let mut connections = Vec::with_capacity(total);
    let steps: Vec<usize> = [1_000, 5_000, total]
        .into_iter()
        .filter(|&n| n <= total)
        .collect();
    let started = Instant::now();
    for step in steps {
        let from = connections.len();
        let opened: Vec<Connection> = futures_util::stream::iter(from..step)
            .map(|i| {
                let token = auth
                    .issue(
                        "bench",
                        &format!("device-{i}"),
                        0,
                        Duration::from_secs(3600),
                    )
                    .unwrap();
                let url = url.clone();
                async move {
                    Connection::connect(&url, &token, &ConnectOptions::default())
                        .await
                        .map_err(|e| e.to_string())
                }
            })
            .buffer_unordered(CONCURRENT_CONNECTS)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        connections.extend(opened);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss = rss_kib(pid);
        let per = (rss.saturating_sub(base)) as f64 * 1024.0 / connections.len() as f64;
        println!(
            "{:>6} authenticated idle connections: server RSS {rss} KiB, {:.0} bytes ({:.2} KiB) per connection  [{:.1} s]",
            connections.len(),
            per,
            per / 1024.0,
            started.elapsed().as_secs_f64()
        );
    }
    for connection in connections {
        drop(connection);
    }
    Ok(())
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The child: a hub on 127.0.0.1:0; prints its address; exits when stdin closes.
fn serve() {
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let hub = Hub::builder(DeviceAuth::hs256(SECRET).unwrap()).build();
        let server = hub.bind("127.0.0.1:0").await.unwrap();
        println!("{}", server.local_addr());
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        });
        let _ = tokio::time::timeout(Duration::from_secs(300), stdin_closed).await;
        eprintln!("server stats at exit: {:?}", hub.stats());
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}
