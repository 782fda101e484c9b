//! The limit side: pgbench running the statements `PgStore::claim` and `PgStore::record` issue
//! (crates/gateway/src/store/postgres/outbox.rs), one claim and one record per transaction.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use serde_json::json;

use super::{Args, Res, claim::LEASE_MS, cpu, now_ms, round};

/// The script. The claim is `claim_impl`'s statement with its parameters as pgbench variables
/// ($1 `:now`, $2 `:lease`, $3 `:batch`); where the gateway reads the leased rows, the final
/// SELECT hands their ids (in id order, as `record_outcomes` sorts them) and their count to the
/// next statement (`\gset` takes one row). The record is `record_impl`'s transaction for a batch
/// of delivered outcomes with no webhooks: BEGIN, `record_outcomes`' UPDATE, COMMIT; its arrays,
/// bound by the gateway, are built here from the ids. `-M prepared`: every statement is prepared
/// once per connection, as sqlx's statement cache does.
const SCRIPT: &str = r"-- pushway's outbox claim-and-complete (examples/cluster_bench/pgbench.rs)
\set lease :now + :lease_ms
WITH due AS (
  SELECT d.id, d.run_at, d.notification_id FROM deliveries d
  WHERE d.state IN ('pending', 'retrying', 'in_flight') AND d.run_at <= :now
    AND NOT EXISTS (SELECT 1 FROM paused_routes p
                    WHERE p.app_id = d.app_id AND p.kind = d.kind
                      AND p.credential = d.credential AND p.until > :now)
  ORDER BY d.run_at, d.notification_id
  LIMIT :batch
  FOR UPDATE OF d SKIP LOCKED),
leased AS (
  UPDATE deliveries d SET state = 'in_flight', attempts = d.attempts + 1,
         lease_until = :lease, run_at = :lease, updated_at = :now
  FROM due WHERE d.id = due.id
  RETURNING d.id, d.app_id, d.notification_id, d.kind, d.credential, d.token,
            d.attempts, d.retries, d.expires_at, d.last_reason, d.message_id,
            d.created_at, due.run_at AS due_at)
SELECT count(*) AS n, coalesce(array_agg(id ORDER BY id), '{}') AS ids FROM leased
\gset
BEGIN;
UPDATE deliveries SET state = o.state, run_at = o.run_at, lease_until = NULL,
       last_outcome = o.outcome, last_reason = o.reason, updated_at = :now,
       retries = deliveries.retries + o.retried
FROM UNNEST(:ids::bigint[], array_fill('delivered'::text, ARRAY[:n::int]),
            array_fill(:now::bigint, ARRAY[:n::int]),
            array_fill('delivered'::text, ARRAY[:n::int]),
            array_fill(NULL::text, ARRAY[:n::int]),
            array_fill(0::bigint, ARRAY[:n::int]))
     AS o(id, state, run_at, outcome, reason, retried)
WHERE deliveries.id = o.id AND deliveries.state = 'in_flight';
COMMIT;
";

/// Where pgbench runs and against what.
pub struct Target {
    pub bin: PathBuf,
    pub script: PathBuf,
    pub port: u16,
    pub database: String,
}

/// Debian's pgbench: in `PUSHWAY_PG_BIN` (as the test server's binaries), else the newest
/// `/usr/lib/postgresql/<version>/bin`.
pub fn find() -> Res<PathBuf> {
    if let Some(dir) = std::env::var_os("PUSHWAY_PG_BIN") {
        return Ok(PathBuf::from(dir).join("pgbench"));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin/pgbench");
            bin.exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    Ok(found
        .pop()
        .ok_or("no /usr/lib/postgresql/<version>/bin/pgbench: apt-get install postgresql")?
        .1)
}

pub fn write_script(dir: &Path) -> Res<PathBuf> {
    let path = dir.join("claim_record.sql");
    std::fs::write(&path, SCRIPT)?;
    Ok(path)
}

/// One pgbench run of `--seconds` with `--workers` clients; its row.
pub async fn run(target: &Target, args: &Args) -> Res<serde_json::Value> {
    let threads = args.workers.clamp(1, 2);
    let mut command = tokio::process::Command::new(&target.bin);
    command
        .args(["-n", "-M", "prepared", "-h", "127.0.0.1", "-U"])
        .arg(pushway_mock::postgres::USER)
        .arg("-p")
        .arg(target.port.to_string())
        .arg(format!("-c{}", args.workers))
        .arg(format!("-j{threads}"))
        .arg(format!("-T{}", args.seconds))
        .arg(format!("-Dnow={}", now_ms()))
        .arg(format!("-Dlease_ms={LEASE_MS}"))
        .arg(format!("-Dbatch={}", args.batch))
        .arg("-f")
        .arg(&target.script)
        .arg(&target.database)
        .stdin(Stdio::null());
    let (_, children0) = cpu::self_cpu()?;
    let started = Instant::now();
    let output = command.output().await?;
    let wall = started.elapsed().as_secs_f64();
    let (_, children1) = cpu::self_cpu()?;
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    let number = |prefix: &str| -> Option<f64> {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    let connect_ms = number("initial connection time =").unwrap_or(0.0);
    let mut row = json!({
        "label": "pgbench",
        "seconds": round(wall - connect_ms / 1000.0, 3),
        "transactions": number("number of transactions actually processed:").map(|n| n as u64),
        "failed": number("number of failed transactions:").map_or(0, |n| n as u64),
        "connect_ms": connect_ms,
        "client_cpu_s": round(children1 - children0, 2),
    });
    if !output.status.success() {
        // pgbench exits 2 when a client aborted (an SQL error): the run is invalid.
        row["pgbench_exit"] = json!(output.status.code().unwrap_or(-1));
        let tail: String = format!("{out}{err}").chars().rev().take(600).collect();
        row["pgbench_output"] = json!(tail.chars().rev().collect::<String>());
    }
    Ok(row)
}
