//! Benchmark-only: runs the Xiaomi simulator of pushway-mock in its own process (request
//! recording off, any AppSecret, any package) so a client's CPU can be measured apart from the
//! server's. Prints `listening <base-url>` and serves until killed. Used by `bench/xiaomi.sh`.
//!
//! ```text
//! bench_simulator [--port N] [--threads N]
//! ```

use std::net::SocketAddr;

use pushway_mock::Recording;
use pushway_mock::xiaomi::XiaomiSimulator;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str, default: u16| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let port = value("--port", 0);
    let threads = usize::from(value("--threads", 1).max(1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let sim = XiaomiSimulator::builder()
            .bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .recording(Recording::Off)
            .start()
            .await?;
        println!("listening {}", sim.base_url());
        std::future::pending::<()>().await;
        Ok(())
    })
}
