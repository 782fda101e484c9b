//! The queue's writing statements, run by the writer inside its transaction.

use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use super::{to_i64, to_u64};
use crate::key::DeviceKey;
use crate::queue::{Appended, unique};

/// Appends a push, then drops the device's oldest pushes beyond `max_len`.
pub(super) async fn append(
    conn: &mut SqliteConnection,
    device: &DeviceKey,
    id: &str,
    frame: &str,
    expires_at_ms: u64,
    max_len: usize,
) -> Result<Appended, sqlx::Error> {
    let seq: i64 = sqlx::query(
        "INSERT INTO daemon_queue (user, device, id, frame, expires_at_ms) VALUES (?, ?, ?, ?, ?) RETURNING seq",
    )
    .bind(device.user())
    .bind(device.device())
    .bind(id)
    .bind(frame)
    .bind(to_i64(expires_at_ms))
    .fetch_one(&mut *conn)
    .await
    .and_then(|row| row.try_get(0))?;
    let dropped = sqlx::query(
        "DELETE FROM daemon_queue WHERE seq IN (
            SELECT seq FROM daemon_queue WHERE user = ?1 AND device = ?2
            ORDER BY seq DESC LIMIT -1 OFFSET ?3
        )",
    )
    .bind(device.user())
    .bind(device.device())
    .bind(i64::try_from(max_len).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(Appended {
        seq: to_u64(seq),
        dropped,
    })
}

/// Removes the device's pushes with this id.
pub(super) async fn remove(
    conn: &mut SqliteConnection,
    device: &DeviceKey,
    id: &str,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM daemon_queue WHERE user = ? AND device = ? AND id = ?")
            .bind(device.user())
            .bind(device.device())
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
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
