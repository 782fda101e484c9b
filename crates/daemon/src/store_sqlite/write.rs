//! The queue's writing statements, run by the writer inside its transaction (each kept
//! prepared on the writer's connection).

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::{to_i64, to_u64};
use crate::key::DeviceKey;
use crate::queue::{Appended, unique};

/// One push of a run of appends in the writer's batch.
pub(super) struct Append<'a> {
    pub(super) device: &'a DeviceKey,
    pub(super) id: &'a str,
    pub(super) frame: &'a str,
    pub(super) expires_at_ms: u64,
    pub(super) max_len: usize,
}

/// Appends a run of pushes, then trims each of their devices' queues once. The same as
/// appending them one after the other: the pushes get increasing sequence numbers in order, and
/// each device keeps its newest `max_len`; the pushes a device lost are counted on its last
/// append of the run.
pub(super) fn append_run(
    conn: &Connection,
    pushes: &[Append<'_>],
) -> Result<Vec<Appended>, rusqlite::Error> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO daemon_queue (user, device, id, frame, expires_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut last_seq =
        conn.prepare_cached("SELECT max(seq) FROM daemon_queue WHERE user = ?1 AND device = ?2")?;
    let mut appended = Vec::with_capacity(pushes.len());
    for p in pushes {
        let prev: Option<i64> = last_seq
            .query_row(params![p.device.user(), p.device.device()], |row| {
                row.get(0)
            })?;
        insert.execute(params![
            p.device.user(),
            p.device.device(),
            p.id,
            p.frame,
            to_i64(p.expires_at_ms)
        ])?;
        appended.push(Appended {
            // `seq` is the table's rowid.
            seq: to_u64(conn.last_insert_rowid()),
            dropped: 0,
            prev: Some(prev.map_or(0, to_u64)),
        });
    }
    // Each device's bound as of its last push in the run.
    let mut last: HashMap<&DeviceKey, usize> = HashMap::with_capacity(pushes.len());
    for (i, p) in pushes.iter().enumerate() {
        last.insert(p.device, i);
    }
    // Everything at or below the device's `max_len + 1`-th newest push goes (nothing when it
    // holds `max_len` or fewer).
    let mut trim = conn.prepare_cached(
        "DELETE FROM daemon_queue WHERE user = ?1 AND device = ?2 AND seq <= (
            SELECT seq FROM daemon_queue WHERE user = ?1 AND device = ?2
            ORDER BY seq DESC LIMIT 1 OFFSET ?3)",
    )?;
    for (device, i) in last {
        let max_len = i64::try_from(pushes[i].max_len).unwrap_or(i64::MAX);
        let dropped = trim.execute(params![device.user(), device.device(), max_len])?;
        appended[i].dropped = dropped as u64;
    }
    Ok(appended)
}

/// Removes the device's pushes with this id; how many.
pub(super) fn remove(
    conn: &Connection,
    device: &DeviceKey,
    id: &str,
) -> Result<u64, rusqlite::Error> {
    let mut remove = conn
        .prepare_cached("DELETE FROM daemon_queue WHERE user = ?1 AND device = ?2 AND id = ?3")?;
    Ok(remove.execute(params![device.user(), device.device(), id])? as u64)
}

/// Removes every push of the device; the ids, each once, oldest first.
pub(super) fn clear(conn: &Connection, device: &DeviceKey) -> Result<Vec<String>, rusqlite::Error> {
    let mut clear = conn.prepare_cached(
        "DELETE FROM daemon_queue WHERE user = ?1 AND device = ?2 RETURNING seq, id",
    )?;
    let mut rows = clear
        .query_map(params![device.user(), device.device()], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // `RETURNING` gives no order: oldest first, as the trait says.
    rows.sort_unstable_by_key(|(seq, _)| *seq);
    Ok(unique(rows.into_iter().map(|(_, id)| id)))
}

/// Removes the device's pushes that expired at or before `now_ms`.
pub(super) fn expire(
    conn: &Connection,
    device: &DeviceKey,
    now_ms: u64,
) -> Result<u64, rusqlite::Error> {
    let mut expire = conn.prepare_cached(
        "DELETE FROM daemon_queue WHERE user = ?1 AND device = ?2 AND expires_at_ms <= ?3",
    )?;
    Ok(expire.execute(params![device.user(), device.device(), to_i64(now_ms)])? as u64)
}

/// Bumps the device's token generation; the new one.
pub(super) fn bump_generation(
    conn: &Connection,
    device: &DeviceKey,
) -> Result<u64, rusqlite::Error> {
    let mut bump = conn.prepare_cached(
        "INSERT INTO daemon_token_generation (user, device, generation) VALUES (?1, ?2, 1)
         ON CONFLICT (user, device) DO UPDATE SET generation = generation + 1
         RETURNING generation",
    )?;
    let generation: i64 =
        bump.query_row(params![device.user(), device.device()], |row| row.get(0))?;
    Ok(to_u64(generation))
}
