//! The gateway benchmark (`bench/gateway.sh`, the `gateway` section of `bench/run.sh`): three
//! figures of `pushway serve` (the release binary, SQLite in a temporary directory, one app whose
//! APNs/Xiaomi/Huawei credentials point at `pushway-mock all --recording off` running as another
//! process, as `router_e2e` does). Each subcommand prints one JSON line per run.
//!
//! ```text
//! cargo build --release -p pushway --bins --examples
//! target/release/examples/gateway_bench accept --seconds 5
//! target/release/examples/gateway_bench e2e --recipients 10000
//! target/release/examples/gateway_bench e2e --recipients 10000 --store postgres --nodes 3
//! target/release/examples/gateway_bench memory --pending 1000000
//! ```
//!
//! Method:
//! - `accept` (durable accept rate): one recipient with two devices (APNs, Xiaomi), registered
//!   through the API, and one warm-up message that must reach both. Then wrk (`-t1 -c64`,
//!   `bench/wrk_post.lua` giving every request its own `Idempotency-Key`) POSTs the same ~300-byte
//!   C2C message to `/v1/apps/bench/messages` for a fixed time; each 202 means the message and
//!   its two delivery rows are committed (SQLite WAL, `synchronous=FULL`, group commit), and the
//!   deliveries run meanwhile, as in production. Then the same wrk against the limit server
//!   (`examples/accept_limit.rs`: axum, one route that reads the body and answers 202, storing
//!   nothing). Per server: requests/s and server CPU per request (utime+stime from
//!   `/proc/<pid>/stat` before and after ÷ requests). wrk's output goes into the JSON line;
//!   `bench/parse_runs.py` reads it, and a run with any non-2xx answer or socket error is invalid.
//! - `e2e` (end to end): `--recipients` users, user `i` with `1 + i % 4` devices, device `j` on
//!   channel `(i + j) % 4` (APNs, Xiaomi, Huawei, daemon), all registered through the API. Every
//!   daemon device is a real WebSocket client (pushway-daemon's `DeviceClient`) of the gateway's
//!   daemon endpoint, connected before the message and acking each push: its outcome is
//!   `delivered`. A warm-up message (one device per channel, other users) must be delivered
//!   first. Then one group message to every user (unread `1 + i % 99`, so 99 renderings): the
//!   time runs from just before the POST to the last outcome recorded, which is the largest
//!   `updated_at_ms` among the message's deliveries in the status API (`GET
//!   /v1/apps/bench/messages/{id}`, read once every delivery is final, which the summary `GET
//!   .../{id}/summary`, polled every 250 ms, says: the poll interval does not round the time,
//!   and the polls' CPU counts in the server's). Every delivery must end `delivered` or `queued` and every
//!   daemon client must have received its push, or the run fails (`"ok": false`).
//!   `--store postgres` (the `cluster_e2e` section, issue 16): the same workload on a Postgres
//!   database, a private server started from the machine's binaries with default durability
//!   (or `--pg-url`), with `--nodes` `pushway serve` processes on it (`cluster.rs`): the
//!   registrations and the POST go to node 0, every node's workers claim and deliver, daemon
//!   client `k` connects to node `k % nodes`; the nodes' CPU is summed, and the server's CPU
//!   (postmaster and children, from `/proc`) is reported beside it.
//! - `memory`: idle RSS of `pushway serve` after startup, one device registration and one
//!   message delivered (then 2 s idle). Then, twice, a store filled with `--small` and with
//!   `--pending` pending deliveries (APNs, Xiaomi, Huawei rows to the simulators, written with the
//!   gateway's own `Store::accept`, the accept path's write) and a gateway started on it: VmRSS
//!   sampled every 100 ms for `--sample-secs` while the workers sweep the rows; the largest
//!   sample of each and their difference.

mod accept;
mod api;
mod cluster;
mod e2e;
mod memory;
#[path = "../support/mock_all.rs"]
mod mock_all;
// The Postgres server's CPU, as the cluster bench reads it.
#[allow(dead_code)]
#[path = "../cluster_bench/cpu.rs"]
mod pgcpu;
mod procs;

use std::error::Error;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// The gateway benchmark.
#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    figure: Figure,
    /// The `pushway` binary.
    #[arg(long, global = true, default_value = "target/release/pushway")]
    pushway_bin: PathBuf,
    /// The `pushway-mock` binary.
    #[arg(long, global = true, default_value = "target/release/pushway-mock")]
    mock_bin: PathBuf,
    /// Where the stores and configuration go (a temporary directory is made inside).
    #[arg(long, global = true, default_value = "bench-out")]
    scratch: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Figure {
    /// Durable accept rate: wrk against the gateway and against the limit server.
    Accept(accept::Args),
    /// One group message to many recipients on every channel, POST to last outcome.
    E2e(e2e::Args),
    /// Idle RSS, and RSS with few and with many pending deliveries in the store.
    Memory(memory::Args),
}

#[tokio::main]
async fn main() -> Res<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.scratch)?;
    let dir = tempfile::Builder::new()
        .prefix("gateway-bench-")
        .tempdir_in(&args.scratch)?;
    let ctx = Ctx {
        pushway_bin: args.pushway_bin,
        mock_bin: args.mock_bin,
        dir: dir.path().to_path_buf(),
    };
    match args.figure {
        Figure::Accept(a) => accept::run(&ctx, &a).await,
        Figure::E2e(a) => e2e::run(&ctx, &a).await,
        Figure::Memory(a) => memory::run(&ctx, &a).await,
    }
}

/// What every figure needs.
pub struct Ctx {
    /// The `pushway` binary.
    pub pushway_bin: PathBuf,
    /// The `pushway-mock` binary.
    pub mock_bin: PathBuf,
    /// A temporary directory, removed at exit.
    pub dir: PathBuf,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Unix time in milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
