//! Benchmark-only: sends N tokens through `XiaomiProvider` in batches, W requests in flight,
//! and prints one JSON line with the rate and the process's CPU time per token (user+sys from
//! `/proc/self/stat`, measured over the sending phase only). Used by `bench/xiaomi.sh`.
//!
//! ```text
//! bench_client --base-url http://127.0.0.1:PORT [--n 1000000] [--batch 1000] [--window 16]
//!              [--threads 1] [--dump-body FILE]
//! ```
//! `--dump-body FILE` writes the form body of one batch (what a limit tool should post) and exits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pushway_core::{DeviceToken, Notification, PushProvider, TokenKind};
use pushway_xiaomi::XiaomiProvider;
use tokio::task::JoinSet;

/// A regid shaped like a real one: 43 base64 characters (with `+` and `/`) and `=`.
fn regid(i: u64) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut out = String::with_capacity(44);
    for _ in 0..43 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push(char::from(B64[(state >> 58) as usize]));
    }
    out.push('=');
    out
}

fn notification() -> Notification {
    let mut n = pushway_core::testing::sample_notification();
    n.title = "Benchmark title".into();
    n.body = "x".repeat(120);
    n.ttl = Some(Duration::from_secs(86_400));
    n
}

/// User+sys CPU seconds of this process (all threads), from `/proc/self/stat` (clock ticks of
/// 1/100 s, Linux's fixed USER_HZ).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command name: state is field 3, utime 14, stime 15.
    (tick(14 - 3) + tick(15 - 3)) as f64 / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let num =
        |name: &str, default: usize| arg(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let base_url = arg("--base-url").ok_or("--base-url is required")?;
    let n = num("--n", 1_000_000);
    let batch = num("--batch", 1000).clamp(1, pushway_xiaomi::MAX_BATCH_SIZE);
    let window = num("--window", 16).max(1);
    let threads = num("--threads", 1).max(1);

    let provider = Arc::new(
        XiaomiProvider::builder()
            .app_secret("secret")
            .package("com.example.app")
            .channel_id("108790")
            .base_url(base_url)
            .allow_plain_http(true)
            .timeout(Duration::from_secs(30))
            .build()?,
    );
    let notification = Arc::new(notification());
    let tokens: Arc<Vec<DeviceToken>> = Arc::new(
        (0..n as u64)
            .map(|i| DeviceToken::new(TokenKind::Xiaomi, "bench", regid(i)))
            .collect(),
    );

    if let Some(path) = arg("--dump-body") {
        let regids: Vec<&str> = tokens[..batch.min(n)]
            .iter()
            .map(|t| t.token.as_str())
            .collect();
        let request = provider
            .build_request(&notification, &regids)
            .map_err(|o| format!("cannot build: {o}"))?;
        std::fs::write(path, request.body())?;
        return Ok(());
    }

    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async move {
        // Warm-up: opens the connection.
        let warm = [DeviceToken::new(TokenKind::Xiaomi, "bench", regid(u64::MAX))];
        let _ = provider.send(&notification, &warm).await;

        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        let mut delivered = 0usize;
        let mut other = 0usize;
        let mut in_flight = JoinSet::new();
        let mut start = 0;
        while start < n || !in_flight.is_empty() {
            while start < n && in_flight.len() < window {
                let end = (start + batch).min(n);
                let (p, no, t) = (provider.clone(), notification.clone(), tokens.clone());
                in_flight.spawn(async move { p.send(&no, &t[start..end]).await });
                start = end;
            }
            if let Some(Ok(outcomes)) = in_flight.join_next().await {
                for o in &outcomes {
                    if o.is_delivered() {
                        delivered += 1;
                    } else {
                        other += 1;
                    }
                }
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        println!(
            "{{\"tool\":\"pushway-xiaomi\",\"n\":{n},\"batch\":{batch},\"window\":{window},\"threads\":{threads},\
             \"delivered\":{delivered},\"failed\":{other},\"seconds\":{seconds:.3},\"per_s\":{:.0},\
             \"cpu_s\":{cpu:.2},\"cpu_us_per_token\":{:.3},\"process_cpu_s\":{:.2}}}",
            n as f64 / seconds,
            cpu * 1e6 / n as f64,
            cpu_seconds()
        );
        // Skip freeing a million tokens: it is not sending, and it pollutes profiles.
        std::process::exit(0);
    });
    Ok(())
}
