//! The pushway side: the gateway's claim-and-complete loop on `PgStore`, as its workers and
//! writer run it, without the vendor sends in between.

use std::time::{Duration, Instant};

use pushway::gateway::store::postgres::PgStore;
use pushway::gateway::store::{DeliveryState, OutcomeRecord, Store, WriteBatch};
use serde_json::json;
use tokio::task::JoinSet;

use super::{Args, Res, cpu, now_ms, round};

/// The workers' lease, as the gateway's default `lease_secs`.
pub const LEASE_MS: i64 = 60_000;

/// One run of `--workers` tasks for `seconds`; its row (rows and rates are added by the caller
/// from the tables).
pub async fn run(store: &PgStore, args: &Args, seconds: u64) -> Res<serde_json::Value> {
    // Every worker's connection is opened before the clock starts, as pgbench's are.
    let mut warm = Vec::new();
    for _ in 0..args.workers {
        warm.push(store.pool().acquire().await?);
    }
    drop(warm);
    let (cpu0, _) = cpu::self_cpu()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = JoinSet::new();
    for _ in 0..args.workers {
        let store = store.clone();
        let batch = args.batch;
        tasks.spawn(async move { worker(&store, batch, deadline).await });
    }
    let mut claims = 0;
    while let Some(done) = tasks.join_next().await {
        claims += done??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (cpu1, _) = cpu::self_cpu()?;
    Ok(json!({
        "label": "pushway",
        "seconds": round(seconds, 3),
        "transactions": claims,
        "client_cpu_s": round(cpu1 - cpu0, 2),
    }))
}

/// Claims `batch` rows and records them delivered, until the deadline or an empty claim (the
/// outbox is empty: the run's `ran_out` says so). Returns its claims.
async fn worker(store: &PgStore, batch: u32, deadline: Instant) -> Res<u64> {
    let mut claims = 0;
    while Instant::now() < deadline {
        let now = now_ms();
        let claimed = store.claim(now, now + LEASE_MS, batch).await?;
        claims += 1;
        if claimed.is_empty() {
            break;
        }
        let now = now_ms();
        let outcomes = claimed
            .iter()
            .map(|row| OutcomeRecord {
                delivery_id: row.id,
                state: DeliveryState::Delivered,
                run_at: now,
                outcome: "delivered".to_owned(),
                reason: None,
                retried: false,
            })
            .collect();
        let write = WriteBatch {
            outcomes,
            ..WriteBatch::default()
        };
        store.record(&write, now).await?;
    }
    Ok(claims)
}
