//! Benchmark client for bench/fcm.sh: sends N notifications through [`FcmProvider`] over one
//! HTTP/2 connection with W sends in flight, to an FCM simulator running on its own
//! (`pushway-mock fcm --recording off`), and prints one JSON line with the rate and the process's
//! CPU per notification during the timed phase.
//!
//! ```text
//! fcm_bench --base-url https://127.0.0.1:PORT --token-url https://127.0.0.1:PORT/token \
//!   --ca-cert sim.pem --key-file test-service-account.json [--n 20000] [--inflight 1000]
//! fcm_bench --print-body              # the exact body of one send, for h2load
//! fcm_bench --print-token --token-url … --ca-cert … --key-file …   # an access token, for h2load
//! ```
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pushway_core::testing::sample_notification;
use pushway_core::{DeviceToken, Notification, PushProvider, TokenKind};
use pushway_fcm::FcmProvider;

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

/// Device token `i`: every token has the same length, so every body has the same size.
fn token(i: usize) -> String {
    format!("bench{i:08}:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx-bench")
}

/// A chat notification of about 300 bytes of body JSON (as the APNs bench's payload).
fn notification() -> Notification {
    let mut n = sample_notification();
    n.body = "x".repeat(120);
    n
}

fn key_file() -> String {
    std::fs::read_to_string(arg("--key-file").expect("--key-file")).unwrap()
}

fn provider() -> FcmProvider {
    FcmProvider::builder()
        .service_account_json(key_file())
        .api_base_url(arg("--base-url").expect("--base-url"))
        .token_url(arg("--token-url").expect("--token-url"))
        .add_root_certificate_pem(std::fs::read(arg("--ca-cert").expect("--ca-cert")).unwrap())
        .channel_id("im_messages")
        .timeout(Duration::from_secs(60))
        .connections(1)
        .build()
        .unwrap()
}

/// An access token from the token endpoint, obtained as a service account does (RS256 JWT
/// bearer grant), so h2load can send with a valid `authorization` header.
async fn access_token() -> String {
    let key: serde_json::Value = serde_json::from_str(&key_file()).unwrap();
    let url = arg("--token-url").expect("--token-url");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": key["client_email"], "scope": pushway_fcm::SCOPE, "aud": url,
        "iat": now, "exp": now + 3600,
    });
    let pem = key["private_key"].as_str().unwrap();
    let assertion = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap();
    let ca = std::fs::read(arg("--ca-cert").expect("--ca-cert")).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();
    let answer: serde_json::Value = client
        .post(&url)
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn throughput() {
    let n: usize = arg("--n").map_or(20_000, |v| v.parse().unwrap());
    let inflight: usize = arg("--inflight").map_or(1000, |v| v.parse().unwrap());
    let provider = Arc::new(provider());
    let note = Arc::new(notification());
    let tokens: Arc<Vec<DeviceToken>> = Arc::new(
        (0..n)
            .map(|i| DeviceToken::new(TokenKind::Fcm, "bench", token(i)))
            .collect(),
    );
    // Warm-up (not timed): the access token, connect, TLS, first SETTINGS.
    let warm = DeviceToken::new(TokenKind::Fcm, "bench", token(n));
    let first = provider.send(&note, &[warm]).await;
    assert!(first[0].is_delivered(), "warm-up: {}", first[0]);

    let next = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let cpu0 = cpu_ns();
    let t0 = Instant::now();
    let workers: Vec<_> = (0..inflight.min(n))
        .map(|_| {
            let (provider, note, tokens, next, delivered, failed) = (
                provider.clone(),
                note.clone(),
                tokens.clone(),
                next.clone(),
                delivered.clone(),
                failed.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else { break };
                    let out = provider.send(&note, std::slice::from_ref(token)).await;
                    if out.iter().all(|o| o.is_delivered()) {
                        delivered.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
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
            "client": "pushway-fcm",
            "inflight": inflight,
            "n": n,
            "ok": delivered.load(Ordering::Relaxed),
            "failed": failed.load(Ordering::Relaxed),
            "body_bytes": provider.build_request(&note, &token(0)).unwrap().len(),
            "seconds": (secs * 1000.0).round() / 1000.0,
            "per_s": (n as f64 / secs).round(),
            "cpu_us_per_notification": ((cpu as f64 / 1000.0 / n as f64) * 100.0).round() / 100.0,
        })
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if flag("--print-body") {
        // Only the body is needed: any key builds it.
        let provider = FcmProvider::builder()
            .service_account_json(include_str!("../tests/fixtures/test-service-account.json"))
            .channel_id("im_messages")
            .build()
            .unwrap();
        let body = provider.build_request(&notification(), &token(0)).unwrap();
        println!("{}", String::from_utf8(body).unwrap());
    } else if flag("--print-token") {
        println!("{}", runtime.block_on(access_token()));
    } else {
        runtime.block_on(throughput());
    }
}
