//! The queue's writing statements, run by the writer inside its transaction.

use std::collections::HashMap;

use serde_json::{Value, json};
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

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

/// Appends a run of pushes with one `INSERT` and trims their devices' queues with one `DELETE`
/// (two statements however many pushes: each statement is a round trip to the connection's
/// thread). The same as appending them one after the other: the pushes get increasing sequence
/// numbers in order, and each device keeps its newest `max_len`; the pushes a device lost are
/// counted on its last append of the run.
pub(super) async fn append_many(
    conn: &mut SqliteConnection,
    pushes: &[Append<'_>],
) -> Result<Vec<Appended>, sqlx::Error> {
    let rows: Vec<Value> = pushes
        .iter()
        .map(|p| {
            json!([
                p.device.user(),
                p.device.device(),
                p.id,
                p.frame,
                to_i64(p.expires_at_ms)
            ])
        })
        .collect();
    // Rows are inserted in the array's order, so sequence numbers grow with it.
    let mut seqs = sqlx::query(
        "INSERT INTO daemon_queue (user, device, id, frame, expires_at_ms)
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4
         FROM json_each(?) ORDER BY key
         RETURNING seq",
    )
    .bind(Value::Array(rows).to_string())
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|row| row.try_get::<i64, _>(0))
    .collect::<Result<Vec<i64>, sqlx::Error>>()?;
    if seqs.len() != pushes.len() {
        return Err(sqlx::Error::Protocol(format!(
            "daemon queue: {} pushes inserted, {} sequence numbers returned",
            pushes.len(),
            seqs.len()
        )));
    }
    // `RETURNING` gives no order; the numbers were assigned in insertion order.
    seqs.sort_unstable();

    // Each device's bound as of its last push in the run.
    let mut last: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, p) in pushes.iter().enumerate() {
        last.insert((p.device.user(), p.device.device()), i);
    }
    let devices: Vec<Value> = last
        .iter()
        .map(|((user, device), &i)| {
            json!([
                user,
                device,
                i64::try_from(pushes[i].max_len).unwrap_or(i64::MAX)
            ])
        })
        .collect();
    let trimmed = sqlx::query(
        "DELETE FROM daemon_queue WHERE seq IN (
            SELECT seq FROM (
                SELECT q.seq AS seq, d.value ->> 2 AS max_len,
                       row_number() OVER (PARTITION BY q.user, q.device ORDER BY q.seq DESC) AS n
                FROM json_each(?) AS d
                JOIN daemon_queue q ON q.user = d.value ->> 0 AND q.device = d.value ->> 1)
            WHERE n > max_len)
         RETURNING user, device",
    )
    .bind(Value::Array(devices).to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut dropped: HashMap<usize, u64> = HashMap::new();
    for row in trimmed {
        let user: String = row.try_get(0)?;
        let device: String = row.try_get(1)?;
        if let Some(&i) = last.get(&(user.as_str(), device.as_str())) {
            *dropped.entry(i).or_default() += 1;
        }
    }
    Ok(seqs
        .into_iter()
        .enumerate()
        .map(|(i, seq)| Appended {
            seq: to_u64(seq),
            dropped: dropped.get(&i).copied().unwrap_or(0),
        })
        .collect())
}

/// Removes a run of (device, id) pushes with one statement; each answer as removing them one
/// after the other would give (a repeated pair removes nothing the second time).
pub(super) async fn remove_many(
    conn: &mut SqliteConnection,
    removes: &[(&DeviceKey, &str)],
) -> Result<Vec<u64>, sqlx::Error> {
    let rows: Vec<Value> = removes
        .iter()
        .map(|(device, id)| json!([device.user(), device.device(), id]))
        .collect();
    let removed = sqlx::query(
        "DELETE FROM daemon_queue
         WHERE (user, device, id) IN (SELECT value ->> 0, value ->> 1, value ->> 2
                                      FROM json_each(?))
         RETURNING user, device, id",
    )
    .bind(Value::Array(rows).to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut counts: HashMap<(String, String, String), u64> = HashMap::new();
    for row in removed {
        *counts
            .entry((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
            .or_default() += 1;
    }
    Ok(removes
        .iter()
        .map(|(device, id)| {
            counts
                .remove(&(
                    device.user().to_owned(),
                    device.device().to_owned(),
                    (*id).to_owned(),
                ))
                .unwrap_or(0)
        })
        .collect())
}

/// Removes every push of the device; the ids, each once, oldest first.
pub(super) async fn clear(
    conn: &mut SqliteConnection,
    device: &DeviceKey,
) -> Result<Vec<String>, sqlx::Error> {
    let mut rows =
        sqlx::query("DELETE FROM daemon_queue WHERE user = ? AND device = ? RETURNING seq, id")
            .bind(device.user())
            .bind(device.device())
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|row| Ok((row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // `RETURNING` gives no order: oldest first, as the trait says.
    rows.sort_unstable_by_key(|(seq, _)| *seq);
    Ok(unique(rows.into_iter().map(|(_, id)| id)))
}

/// Removes the device's pushes that expired at or before `now_ms`.
pub(super) async fn expire(
    conn: &mut SqliteConnection,
    device: &DeviceKey,
    now_ms: u64,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query(
            "DELETE FROM daemon_queue WHERE user = ? AND device = ? AND expires_at_ms <= ?",
        )
        .bind(device.user())
        .bind(device.device())
        .bind(to_i64(now_ms))
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    )
}
