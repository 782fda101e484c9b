//! Durable accept rate: wrk against `POST /v1/apps/bench/messages` and against the limit server
//! (method: `main.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pushway_mock::apns::TestKey;
use serde_json::{Value, json};
use sqlx::Connection as _;

use super::api::Api;
use super::procs::{Mock, Proc, StoreAt, cpu_seconds, rss, ticks, write_config};
use super::{Ctx, Res, round3};

/// Arguments of `accept`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long each wrk run lasts, in seconds.
    #[arg(long, default_value_t = 5)]
    seconds: u32,
    /// wrk's connections (requests in flight).
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// The limit server (`examples/accept_limit.rs`).
    #[arg(long, default_value = "target/release/examples/accept_limit")]
    limit_bin: PathBuf,
    /// wrk's POST script.
    #[arg(long, default_value = "bench/wrk_post.lua")]
    wrk_script: PathBuf,
    /// Diagnosis only, not the figure: the recipient has no device, so each accept commits
    /// the message with no delivery row (the accept path's cost without deliveries).
    #[arg(long)]
    without_devices: bool,
}

/// The C2C message every request posts (~300 bytes).
fn body() -> Value {
    json!({
        "message": {
            "conversation": {"type": "c2c", "peer": "bob"},
            "sender": {"user_id": "alice", "nickname": "Alice"},
            "elements": [{"type": "text", "text": "Are we still on for the climb tomorrow? I can bring the rope and the second harness."}],
            "push": {"ios": {"sound": "default", "badge_enabled": true}}
        },
        "recipients": [{"user_id": "bob", "unread": 3}]
    })
}

pub async fn run(ctx: &Ctx, args: &Args) -> Res<()> {
    let body_path = ctx.dir.join("message.json");
    std::fs::write(&body_path, body().to_string())?;

    // The limit first, as in every section (shared/BENCHMARKING.md).
    let limit = Proc::limit(&args.limit_bin)?;
    let row = wrk(ctx, args, "limit", &limit, &body_path)?;
    println!("{row}");
    drop(limit);

    let key = TestKey::generate();
    let mock = Mock::start(&ctx.mock_bin, &key, &ctx.dir)?;
    let config = write_config(
        &ctx.dir,
        &mock,
        &key,
        &StoreAt::Sqlite(&ctx.dir.join("accept.sqlite3")),
    )?;
    let serve = Proc::serve(&ctx.pushway_bin, &config)?;
    let api = Api::new(&serve.url)?;
    let devices = if args.without_devices { 0 } else { 2 };
    if devices > 0 {
        api.register("bob", "iphone", "apns", 1).await?;
        api.register("bob", "mi", "xiaomi", 2).await?;
    }
    let warm = api.post_message("warm-up", &body(), Some("10s")).await?;
    let states = warm["recipients"][0]["devices"]
        .as_array()
        .ok_or("warm-up: no devices")?;
    if states.len() != devices || states.iter().any(|d| d["state"] != "delivered") {
        return Err(format!("warm-up not delivered to every device: {warm}").into());
    }
    let sim0 = ticks(mock.proc.pid())?;
    let mut row = wrk(ctx, args, "pushway", &serve, &body_path)?;
    row["simulators_cpu_s"] = json!(cpu_seconds(sim0, ticks(mock.proc.pid())?));
    row["deliveries_per_message"] = json!(devices);
    println!("{row}");
    drop(serve);

    let row = held(ctx, args, &mock, &key, &body_path, devices).await?;
    println!("{row}");
    Ok(())
}

/// The accept path alone: the same wrk against a gateway whose delivery workers are off
/// (`[worker] enabled = false`), so each 202 still means the message and its delivery rows are
/// committed, and nothing else runs on the cores meanwhile. Then the proof that those rows were
/// real work: the process is killed, a gateway with its workers on is started on the same file,
/// and every row must end `delivered` (the drain's rate and CPU are in the line).
async fn held(
    ctx: &Ctx,
    args: &Args,
    mock: &Mock,
    key: &TestKey,
    body_path: &Path,
    devices: usize,
) -> Res<Value> {
    let path = ctx.dir.join("held.sqlite3");
    let config = write_config(&ctx.dir, mock, key, &StoreAt::Sqlite(&path))?;
    let off = ctx.dir.join("pushway-bench-workers-off.toml");
    std::fs::write(
        &off,
        std::fs::read_to_string(&config)? + "\n[worker]\nenabled = false\n",
    )?;
    let serve = Proc::serve(&ctx.pushway_bin, &off)?;
    let api = Api::new(&serve.url)?;
    if devices > 0 {
        api.register("bob", "iphone", "apns", 1).await?;
        api.register("bob", "mi", "xiaomi", 2).await?;
    }
    api.post_message("warm-up", &body(), None).await?;
    let mut row = wrk(ctx, args, "pushway_held", &serve, body_path)?;
    row["deliveries_per_message"] = json!(devices);
    let mut db = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true),
    )
    .await?;
    // SIGKILL: what was answered 202 is committed. Counted after the kill, not after wrk: the
    // commits of requests wrk stopped waiting for may still land until then.
    drop(serve);
    let held = states(&mut db).await?;

    let started = Instant::now();
    let serve = Proc::serve(&ctx.pushway_bin, &config)?;
    let cpu0 = ticks(serve.pid())?;
    let rows: u64 = held.values().sum();
    let drained = loop {
        let now = states(&mut db).await?;
        let open: u64 = ["pending", "in_flight", "retrying"]
            .iter()
            .filter_map(|s| now.get(*s))
            .sum();
        if open == 0 {
            break now;
        }
        if started.elapsed() > DRAIN_TIMEOUT {
            return Err(format!("held rows not drained in {DRAIN_TIMEOUT:?}: {now:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(cpu0, ticks(serve.pid())?);
    drop(serve);
    db.close().await?;
    let delivered = drained.get("delivered").copied().unwrap_or(0);
    row["held_rows"] = json!(held);
    row["drain"] = json!({
        "rows": rows,
        "states": drained,
        "seconds": round3(seconds),
        "per_s": round3(rows as f64 / seconds),
        "server_cpu_s": cpu,
    });
    row["ok"] = json!(rows > 0 && delivered == rows);
    if delivered != rows {
        return Err(
            format!("held rows: {rows} written, {delivered} delivered: {drained:?}").into(),
        );
    }
    Ok(row)
}

/// How long the workers have to send the held rows.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Delivery rows by state, read from the gateway's file (WAL: beside the running gateway).
async fn states(db: &mut sqlx::SqliteConnection) -> Res<BTreeMap<String, u64>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM deliveries GROUP BY state")
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(state, n)| (state, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// One wrk run against `server`: wrk's output and the server's CPU and memory, as a JSON line.
fn wrk(ctx: &Ctx, args: &Args, label: &str, server: &Proc, body: &Path) -> Res<Value> {
    let url = format!("{}/v1/apps/bench/messages", server.url);
    let time_file = ctx.dir.join(format!("wrk-{label}.time"));
    let t0 = ticks(server.pid())?;
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%U %S", "-o"])
        .arg(&time_file)
        .arg("wrk")
        .args(["-t1", &format!("-c{}", args.connections)])
        .arg(format!("-d{}s", args.seconds))
        .arg("-s")
        .arg(&args.wrk_script)
        .arg(&url)
        .env("BODY", body)
        .env("CT", "application/json")
        .env("AUTH", format!("Bearer {}", super::procs::API_KEY))
        .env("EXPECT", "\"message_id\"")
        // A unique Idempotency-Key per request (bench/wrk_post.lua), for the limit too.
        .env("UNIQUE_KEY", format!("{label}-"))
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let t1 = ticks(server.pid())?;
    let memory = rss(server.pid())?;
    let wrk_cpu: f64 = std::fs::read_to_string(&time_file)
        .unwrap_or_default()
        .split_whitespace()
        .rev()
        .take(2)
        .filter_map(|x| x.parse::<f64>().ok())
        .sum();
    Ok(json!({
        "bench": "gateway_accept",
        "label": label,
        "connections": args.connections,
        "duration_s": args.seconds,
        "server_cpu_s": cpu_seconds(t0, t1),
        "server_rss_kib": memory.total,
        "wrk_cpu_s": round3(wrk_cpu),
        "wrk_out": String::from_utf8_lossy(&output.stdout),
        "wrk_err": String::from_utf8_lossy(&output.stderr),
    }))
}
