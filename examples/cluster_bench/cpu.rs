//! CPU from `/proc`: the Postgres server's (the postmaster and its children), this process's
//! own and its reaped children's, and the whole machine's busy time.

use std::time::{SystemTime, UNIX_EPOCH};

use pushway::gateway::store::postgres::PgStore;
use pushway_mock::postgres::{ProcStat, server_cpu_seconds};

use super::Res;

/// Clock ticks per second of `/proc`'s CPU fields (USER_HZ, 100 on Linux).
const HZ: f64 = 100.0;

/// The postmaster's pid: the parent of a backend serving the store's pool (the server runs
/// detached, started by `pg_ctl`, so it is no child of this process).
pub async fn postmaster(store: &PgStore) -> Res<u32> {
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(store.pool())
        .await?;
    let stat = ProcStat::read(u32::try_from(backend)?)?;
    Ok(stat.ppid)
}

/// One reading of the counters a run is measured by.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Unix time, seconds.
    pub at: f64,
    /// The server's CPU so far: the postmaster's own and reaped children's, plus its live
    /// children's. A child that exits between two readings moves from the second term to the
    /// first with all its CPU, so differences stay right.
    pub server_s: f64,
    /// The machine's busy CPU so far (user, nice, system, irq, softirq of `/proc/stat`).
    pub busy_s: f64,
    /// The 1, 5 and 15-minute load averages.
    pub loadavg: String,
}

impl Snapshot {
    pub fn take(postmaster: u32) -> Res<Snapshot> {
        let server_s = server_cpu_seconds(postmaster)?;
        let loadavg = std::fs::read_to_string("/proc/loadavg")?;
        Ok(Snapshot {
            at: SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64(),
            server_s,
            busy_s: busy_ticks()? as f64 / HZ,
            loadavg: loadavg
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        })
    }
}

/// This process's own CPU (utime + stime) and its reaped children's (cutime + cstime), seconds.
pub fn self_cpu() -> Res<(f64, f64)> {
    let stat = ProcStat::read_self()?;
    Ok((
        (stat.utime + stat.stime) as f64 / HZ,
        (stat.cutime + stat.cstime) as f64 / HZ,
    ))
}

/// Busy ticks of the whole machine: user + nice + system + irq + softirq (as bench/lib.sh).
fn busy_ticks() -> Res<u64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let cpu = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or("no cpu line in /proc/stat")?;
    let v: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    Ok(at(0) + at(1) + at(2) + at(5) + at(6))
}
