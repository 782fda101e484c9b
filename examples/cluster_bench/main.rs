//! The cluster benchmark's claim-and-complete figure (`bench/run.sh` section `cluster`, issue
//! 16): how fast the gateway's own outbox claim and outcome write run on Postgres, against
//! pgbench running the identical SQL on the same server in the same run.
//!
//! ```text
//! cargo build --release -p pushway --example cluster_bench
//! target/release/examples/cluster_bench --rows 100000 --seconds 10 --workers 4
//! ```
//!
//! Method:
//! - One private Postgres (`pushway_mock::postgres::PgServer::start` with the default options:
//!   fsync, `synchronous_commit` and `full_page_writes` on, shared_buffers 128MB) from the
//!   machine's own binaries, one database migrated by `PgStore::open`.
//! - Before every run the outbox is refilled the same way (`fill.rs`): `TRUNCATE messages,
//!   outbox_finished CASCADE`, `--rows` pending deliveries written by the gateway's own
//!   `Store::accept` (10,000 recipients per message, one device each), `VACUUM ANALYZE`,
//!   `CHECKPOINT`. Every run starts from the same database state.
//! - `pushway` run (`claim.rs`): `--workers` tasks on one `PgStore` (pool of `--workers`
//!   connections, opened before the clock starts), each looping `claim(now, now + 60 s,
//!   --batch)` then `record` of a `WriteBatch` with every claimed row `delivered` (the writer's
//!   commit of those outcomes), until `--seconds` are up.
//! - `pgbench` run (`pgbench.rs`): Debian's pgbench, `-n -M prepared -c W -j min(W, 2) -T
//!   seconds`, a script made from the store's own statement texts (`postgres::CLAIM_SQL` and
//!   `OUTCOMES_SQL`, parameters replaced by pgbench variables) doing per transaction the claim
//!   (only its final SELECT differs: it aggregates the claimed ids into one row for `\gset`,
//!   where the gateway reads the rows) and the record transaction (BEGIN; the outcomes'
//!   statement, which moves the delivered rows from `outbox` to `outbox_finished`; COMMIT; its
//!   arrays built in SQL from the claimed ids). The claim's start key is chosen as `PgStore`
//!   chooses it (`store/postgres/claim_start.rs`): the lower of the cursor (the first row of the
//!   latest claim, per client where the store shares one) and `now - WINDOW_MS`, with a sweep
//!   from the index's start every `SWEEP_MS` (client 0 only: the store sweeps once for all its
//!   workers). pgbench is the limit: it does no decoding of rows.
//! - Rows/s = rows `delivered` after the run ÷ the run's time (pgbench: its process's wall time
//!   less its reported initial connection time). A run that left fewer than workers × batch
//!   pending rows may have run short of due rows: it is marked `ran_out` and is invalid (raise
//!   `--rows`).
//! - Server CPU (`cpu.rs`): utime+stime of the postmaster, of its reaped children
//!   (cutime+cstime) and of its live children (backends, checkpointer, WAL writer, autovacuum)
//!   from `/proc`, after minus before, ÷ rows. Client CPU: this process's own (pushway) or
//!   pgbench's (a reaped child) ÷ rows. Others: the machine's busy time minus both, as a share
//!   of one core. The load average is recorded with each run.
//! - Then both again with a transaction held open in another session (`BEGIN; SELECT
//!   txid_current()`) from just before the run to its end, the run lasting `--hold-secs` (60)
//!   on `--open-rows` filled rows: the cluster's oldest xmin stays put for the whole minute, so
//!   the row versions the run makes dead (each claim leaves one in `outbox` and its index, each
//!   completion another) can be neither pruned nor vacuumed, and every claim walks past them
//!   (the SKIP LOCKED bloat case).
//! - Order: pgbench (the limit), then pushway; plain, then with the open transaction. One JSON
//!   line per run (`"bench": "cluster"`), printed as each run ends.

mod claim;
mod cpu;
mod fill;
mod pgbench;

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use pushway::gateway::store::postgres::PgStore;
use pushway_mock::postgres::{PgOptions, PgServer};
use serde_json::json;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// The cluster benchmark: outbox claim-and-complete on Postgres against pgbench.
#[derive(Debug, Parser)]
struct Args {
    /// Pending deliveries written before each run.
    #[arg(long, default_value_t = 100_000)]
    rows: usize,
    /// Length of each run without the open transaction, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent workers (pushway tasks, pgbench clients).
    #[arg(long, default_value_t = 4)]
    workers: u32,
    /// Rows per claim.
    #[arg(long, default_value_t = 100)]
    batch: u32,
    /// How long the other session's transaction stays open, in seconds: the length of each run
    /// with it open (the run starts just after it opens and ends as it commits).
    #[arg(long, default_value_t = 60)]
    hold_secs: u64,
    /// Pending deliveries written before each run with the open transaction (default:
    /// `--rows`). Enough for `--hold-secs` at the rate the run reaches, or it runs out.
    #[arg(long)]
    open_rows: Option<usize>,
    /// The pgbench binary (default: PUSHWAY_PG_BIN's, else the newest
    /// /usr/lib/postgresql/<version>/bin/pgbench).
    #[arg(long)]
    pgbench: Option<PathBuf>,
}

/// A run's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Pgbench,
    Pushway,
}

#[tokio::main]
async fn main() -> Res<()> {
    let args = Args::parse();
    let pgbench_bin = match &args.pgbench {
        Some(path) => path.clone(),
        None => pgbench::find()?,
    };
    let server = PgServer::start(&PgOptions::default())?;
    let url = server.create_database()?;
    let store = PgStore::open(&url, args.workers.max(1)).await?;
    let postmaster = cpu::postmaster(&store).await?;
    let dir = tempfile::tempdir()?;
    let script = pgbench::write_script(dir.path())?;
    let target = pgbench::Target {
        bin: pgbench_bin,
        script,
        port: server.port(),
        database: url.rsplit('/').next().unwrap_or_default().to_owned(),
    };
    let open_rows = args.open_rows.unwrap_or(args.rows);
    for open_tx in [false, true] {
        let (rows, seconds) = if open_tx {
            (open_rows, args.hold_secs)
        } else {
            (args.rows, args.seconds)
        };
        for side in [Side::Pgbench, Side::Pushway] {
            fill::refill(&store, rows).await?;
            let held = if open_tx {
                Some(fill::OpenTx::begin(&url, Duration::from_secs(args.hold_secs + 30)).await?)
            } else {
                None
            };
            let before = cpu::Snapshot::take(postmaster)?;
            let mut row = match side {
                Side::Pgbench => pgbench::run(&target, &args, seconds).await?,
                Side::Pushway => claim::run(&store, &args, seconds).await?,
            };
            let after = cpu::Snapshot::take(postmaster)?;
            let held_s = match held {
                Some(tx) => Some(tx.end().await?),
                None => None,
            };
            let left = fill::count(&store).await?;
            finish(
                &mut row, &args, rows, open_tx, held_s, &before, &after, &left,
            );
            println!("{row}");
        }
    }
    store.close().await;
    drop(server);
    Ok(())
}

/// Completes a run's row with what every run reports: rows, rates, CPU per row, what is left.
#[allow(clippy::too_many_arguments)]
fn finish(
    row: &mut serde_json::Value,
    args: &Args,
    rows_filled: usize,
    open_tx: bool,
    held_s: Option<f64>,
    before: &cpu::Snapshot,
    after: &cpu::Snapshot,
    left: &fill::Count,
) {
    let seconds = row["seconds"].as_f64().unwrap_or(0.0);
    let client_cpu_s = row["client_cpu_s"].as_f64().unwrap_or(0.0);
    let server_cpu_s = after.server_s - before.server_s;
    let wall = (after.at - before.at).max(1e-3);
    let others = (after.busy_s - before.busy_s - server_cpu_s - client_cpu_s).max(0.0) / wall;
    let rows = left.delivered as f64;
    let per_row = |cpu: f64| (left.delivered > 0).then(|| round(cpu * 1e6 / rows, 1));
    let extra = json!({
        "bench": "cluster",
        "open_tx": open_tx,
        "open_tx_held_s": held_s.map(|s| round(s, 2)),
        "workers": args.workers,
        "batch": args.batch,
        "rows_filled": rows_filled,
        "rows": left.delivered,
        "per_s": if seconds > 0.0 { (rows / seconds).round() } else { 0.0 },
        "server_cpu_s": round(server_cpu_s, 2),
        "server_cpu_us_per_row": per_row(server_cpu_s),
        "client_cpu_us_per_row": per_row(client_cpu_s),
        "others_share": round(others, 3),
        "loadavg": after.loadavg,
        "pending_left": left.pending,
        "in_flight_left": left.in_flight,
        "ran_out": left.pending < u64::from(args.workers) * u64::from(args.batch),
    });
    if let (Some(row), serde_json::Value::Object(extra)) = (row.as_object_mut(), extra) {
        row.extend(extra);
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// Unix time in milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
