//! The SQLite queue store: queued pushes survive a restart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::queue::{Appended, NewPush, Pending, QueueStore, StoreError, StoredPush};

/// How long a query waits for the database lock or a pooled connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections in the pool. SQLite has one writer at a time; a few readers help `pending`.
const POOL_SIZE: u32 = 4;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS daemon_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    id TEXT NOT NULL,
    frame TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS daemon_queue_device_seq ON daemon_queue (device, seq);";

/// Queues in a SQLite database file (WAL mode, `synchronous = FULL`): a push that was
/// reported `Queued` survives a crash or restart of the server process.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and its table.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(StoreError::new)?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(StoreError::new)?;
        Ok(SqliteStore { pool })
    }

    /// Closes the pool, waiting for queries in progress.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn append(
        &self,
        device: &str,
        push: NewPush<'_>,
        max_len: usize,
    ) -> Result<Appended, StoreError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::new)?;
        let seq: i64 = sqlx::query(
            "INSERT INTO daemon_queue (device, id, frame, expires_at_ms) VALUES (?, ?, ?, ?) RETURNING seq",
        )
        .bind(device)
        .bind(push.id)
        .bind(&**push.frame)
        .bind(to_i64(push.expires_at_ms))
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(StoreError::new)?;
        let dropped = sqlx::query(
            "DELETE FROM daemon_queue WHERE seq IN (
                SELECT seq FROM daemon_queue WHERE device = ?1 ORDER BY seq DESC LIMIT -1 OFFSET ?2
            )",
        )
        .bind(device)
        .bind(i64::try_from(max_len).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::new)?
        .rows_affected();
        tx.commit().await.map_err(StoreError::new)?;
        Ok(Appended {
            seq: to_u64(seq),
            dropped,
        })
    }

    async fn pending(
        &self,
        device: &str,
        after: u64,
        now_ms: u64,
        limit: usize,
    ) -> Result<Pending, StoreError> {
        let expired =
            sqlx::query("DELETE FROM daemon_queue WHERE device = ? AND expires_at_ms <= ?")
                .bind(device)
                .bind(to_i64(now_ms))
                .execute(&self.pool)
                .await
                .map_err(StoreError::new)?
                .rows_affected();
        let rows = sqlx::query(
            "SELECT seq, id, frame, expires_at_ms FROM daemon_queue
             WHERE device = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(device)
        .bind(to_i64(after))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::new)?;
        let pushes = rows
            .into_iter()
            .map(|row| {
                Ok(StoredPush {
                    seq: to_u64(row.try_get("seq")?),
                    id: row.try_get("id")?,
                    frame: Arc::from(row.try_get::<String, _>("frame")?),
                    expires_at_ms: to_u64(row.try_get("expires_at_ms")?),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::new)?;
        Ok(Pending { pushes, expired })
    }

    async fn remove(&self, device: &str, id: &str) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM daemon_queue WHERE device = ? AND id = ?")
                .bind(device)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(StoreError::new)?
                .rows_affected(),
        )
    }

    async fn len(&self, device: &str) -> Result<usize, StoreError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM daemon_queue WHERE device = ?")
            .bind(device)
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(StoreError::new)?;
        Ok(usize::try_from(count).unwrap_or(0))
    }
}
