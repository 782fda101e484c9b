//! The limit side: pgbench running the statements `PgStore::claim` and `PgStore::record` issue
//! (crates/gateway/src/store/postgres/outbox.rs, taken from there), one claim and one record
//! per transaction.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use pushway::gateway::store::postgres::{CLAIM_SQL, OUTCOMES_SQL, SWEEP_MS, WINDOW_MS};
use serde_json::json;

use super::{Args, Res, claim::LEASE_MS, cpu, now_ms, round};

/// The script, made from the very statements `PgStore::claim` and `PgStore::record` run
/// (`pushway::gateway::store::postgres::{CLAIM_SQL, OUTCOMES_SQL}`), their parameters replaced
/// by pgbench variables and expressions. The claim's $1 `:now`, $2 `:lease`, $3 `:batch`, its
/// start key ($4, $5, $6) `:b_run`, `:b_nid`, `:b_id`; where the gateway reads the leased rows,
/// its final SELECT hands their ids (in id order, as `record_outcomes` sorts them), their count,
/// the first row's key in claim order and the server's clock to the next statements (`\gset`
/// takes one row). The record is `record_impl`'s transaction for a batch of delivered outcomes
/// with no webhooks: BEGIN, the outcomes' statement (the rows moved to `outbox_finished`),
/// COMMIT; its arrays, bound by the gateway, are built here from the ids. `-M prepared`: every
/// statement is prepared once per connection, as sqlx's statement cache does.
///
/// The start key as `PgStore`'s `claim_start.rs` chooses it: client 0 sweeps (from the index's
/// start) every `SWEEP_MS` of the server's clock, as the store does once for all its workers;
/// otherwise the lower of the cursor and `now - WINDOW_MS`. The cursor is each client's own
/// (pgbench clients share no state): the first row of its latest claim, set by a sweep, else
/// moved forward only, as the store moves its shared one.
pub fn script() -> Res<String> {
    let claim = CLAIM_SQL
        .strip_suffix(CLAIM_TAIL)
        .ok_or("CLAIM_SQL no longer ends with the SELECT this script replaces")?;
    let claim = with_params(
        claim,
        &[":now", ":lease", ":batch", ":b_run", ":b_nid", ":b_id"],
    );
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
    script.push_str(START_KEY);
    script.push_str(&claim);
    script.push_str(CLAIM_SELECT);
    script.push_str(MOVE_CURSOR);
    script.push_str("BEGIN;\n");
    script.push_str(&outcomes);
    script.push_str(";\nCOMMIT;\n");
    Ok(script)
}

/// The claim's final SELECT, which the script replaces.
const CLAIM_TAIL: &str = "SELECT * FROM leased ORDER BY due_at, notification_id, id";

/// The start key (`:b_run`, `:b_nid`, `:b_id`); `:min` is i64::MIN, `:t` the clock the last
/// claim read (`:swept` starts `SWEEP_MS` before 0: client 0's first claim sweeps).
const START_KEY: &str = "\\set sweep 0
\\if :client_id = 0 and :t - :swept >= :sweep_ms
\\set sweep 1
\\set swept :t
\\set b_run :min
\\set b_nid :min
\\set b_id :min
\\elif :c_run < :now - :window_ms
\\set b_run :c_run
\\set b_nid :c_nid
\\set b_id :c_id
\\else
\\set b_run :now - :window_ms
\\set b_nid :min
\\set b_id :min
\\endif
";

/// What the gateway reads from the leased rows, in one row: the ids and their count for the
/// record, the first row's key in claim order (the cursor's when none) and the clock.
const CLAIM_SELECT: &str = "SELECT count(*) AS n, coalesce(array_agg(id ORDER BY id), '{}') AS ids,
  coalesce((array_agg(due_at ORDER BY due_at, notification_id, id))[1], :c_run) AS f_run,
  coalesce((array_agg(notification_id ORDER BY due_at, notification_id, id))[1], :c_nid) AS f_nid,
  coalesce((array_agg(id ORDER BY due_at, notification_id, id))[1], :c_id) AS f_id,
  (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS t
FROM leased
\\gset
";

/// The cursor after the claim: a sweep sets it, a windowed claim moves it forward.
const MOVE_CURSOR: &str = "\\if :sweep = 1 or :f_run > :c_run or (:f_run = :c_run and (:f_nid > :c_nid or (:f_nid = :c_nid and :f_id > :c_id)))
\\set c_run :f_run
\\set c_nid :f_nid
\\set c_id :f_id
\\endif
";

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
        .arg(format!("-Dwindow_ms={WINDOW_MS}"))
        .arg(format!("-Dsweep_ms={SWEEP_MS}"))
        .arg(format!("-Dmin={}", i64::MIN))
        .arg("-Dt=0")
        .arg(format!("-Dswept={}", -SWEEP_MS))
        .args(["-Dc_run", "-Dc_nid", "-Dc_id"].map(|v| format!("{v}={}", i64::MIN)))
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
