//! The limit side: pgbench running the statements `PgStore::claim` and `PgStore::record` issue
//! (crates/gateway/src/store/postgres/outbox.rs, taken from there), one claim and one record
//! per transaction.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use pushway::gateway::store::postgres::{CLAIM_SQL, OUTCOMES_SQL};
use serde_json::json;

use super::{Args, Res, claim::LEASE_MS, cpu, now_ms, round};

/// The script, made from the very statements `PgStore::claim` and `PgStore::record` run
/// (`pushway::gateway::store::postgres::{CLAIM_SQL, OUTCOMES_SQL}`), their parameters replaced
/// by pgbench variables and expressions. The claim's $1 `:now`, $2 `:lease`, $3 `:batch`; where
/// the gateway reads the leased rows, its final SELECT hands their ids (in id order, as
/// `record_outcomes` sorts them) and their count to the next statement (`\gset` takes one row).
/// The record is `record_impl`'s transaction for a batch of delivered outcomes with no
/// webhooks: BEGIN, the outcomes' statement (the rows moved to `outbox_finished`), COMMIT; its
/// arrays, bound by the gateway, are built here from the ids. `-M prepared`: every statement is
/// prepared once per connection, as sqlx's statement cache does.
pub fn script() -> Res<String> {
    let claim = CLAIM_SQL
        .strip_suffix(CLAIM_TAIL)
        .ok_or("CLAIM_SQL no longer ends with the SELECT this script replaces")?;
    let claim = with_params(claim, &[":now", ":lease", ":batch"]);
    let filled = |value: &str| format!("array_fill({value}, ARRAY[:n::int])");
    let outcomes = with_params(
        OUTCOMES_SQL,
        &[
            ":now",
            ":ids",
            &filled("'delivered'::text"),
            &filled(":now::bigint"),
            &filled("'delivered'::text"),
            &filled("NULL::text"),
            &filled("0::bigint"),
        ],
    );
    let mut script = String::from(
        "-- pushway's outbox claim-and-complete (examples/cluster_bench/pgbench.rs)\n\
         \\set lease :now + :lease_ms\n",
    );
    script.push_str(&claim);
    script.push_str(
        "SELECT count(*) AS n, coalesce(array_agg(id ORDER BY id), '{}') AS ids FROM leased\n\
         \\gset\nBEGIN;\n",
    );
    script.push_str(&outcomes);
    script.push_str(";\nCOMMIT;\n");
    Ok(script)
}

/// The claim's final SELECT, which the script replaces.
const CLAIM_TAIL: &str = "SELECT * FROM leased ORDER BY due_at, notification_id, id";

/// `sql` with `$1`, `$2`… replaced by `values[0]`, `values[1]`… (highest first, so `$1` does
/// not eat the start of `$10`).
fn with_params(sql: &str, values: &[&str]) -> String {
    let mut out = sql.to_owned();
    for (i, value) in values.iter().enumerate().rev() {
        out = out.replace(&format!("${}", i + 1), &format!("({value})"));
    }
    out
}

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
    std::fs::write(&path, script()?)?;
    Ok(path)
}

/// One pgbench run of `seconds` with `--workers` clients; its row.
pub async fn run(target: &Target, args: &Args, seconds: u64) -> Res<serde_json::Value> {
    let threads = args.workers.clamp(1, 2);
    let mut command = tokio::process::Command::new(&target.bin);
    command
        .args(["-n", "-M", "prepared", "-h", "127.0.0.1", "-U"])
        .arg(pushway_mock::postgres::USER)
        .arg("-p")
        .arg(target.port.to_string())
        .arg(format!("-c{}", args.workers))
        .arg(format!("-j{threads}"))
        .arg(format!("-T{seconds}"))
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
