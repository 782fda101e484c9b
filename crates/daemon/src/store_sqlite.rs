//! The SQLite queue store: queued pushes survive a restart.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite};

use crate::key::DeviceKey;
use crate::queue::{Appended, NewPush, Pending, QueueStore, StoreError, StoredPush};

mod commit;
#[cfg(test)]
mod group_commit_tests;
mod page;
mod write;

use commit::{Committer, Done, Write};

/// How long a query waits for the database lock or a pooled connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections in the pool. SQLite has one writer at a time; a few readers help `pending`.
const POOL_SIZE: u32 = 4;

/// Version 1: queues and token generations keyed by (user, device). Version 0 keyed queues by
/// the device id alone, so its rows cannot be told apart between users: they are moved aside to
/// `daemon_queue_unkeyed_v0`, kept for the operator and never delivered.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS daemon_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    device TEXT NOT NULL,
    id TEXT NOT NULL,
    frame TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS daemon_queue_user_device_seq ON daemon_queue (user, device, seq);
CREATE TABLE IF NOT EXISTS daemon_token_generation (
    user TEXT NOT NULL,
    device TEXT NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (user, device)
);
PRAGMA user_version = 1;";

/// Moves a version-0 queue table (no `user` column) aside.
const MIGRATE_V0: &str = "ALTER TABLE daemon_queue RENAME TO daemon_queue_unkeyed_v0;
DROP INDEX IF EXISTS daemon_queue_device_seq;";

/// Queues in a SQLite database file (WAL mode, `synchronous = FULL`): a push that was
/// reported `Queued` survives a crash or restart of the server process.
///
/// Writes (append, remove, clear) are group-committed: the writes of concurrent callers go into
/// one transaction, one fsync, and each call returns once its own write is durable.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Every queue write goes through it: group commit, see [`commit`].
    committer: Committer,
    /// Every page read goes through it: batched, see [`page`].
    pager: page::Pager,
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
        migrate(&pool).await.map_err(StoreError::new)?;
        let committer = Committer::spawn(pool.clone());
        let pager = page::Pager::spawn(pool.clone());
        Ok(SqliteStore {
            pool,
            committer,
            pager,
        })
    }

    /// Closes the pool, waiting for queries in progress.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let version: i64 = sqlx::query("PRAGMA user_version")
        .fetch_one(pool)
        .await?
        .try_get(0)?;
    if version >= SCHEMA_VERSION {
        // Nothing to write: a database that is read-only for now still opens (its appends
        // fail with `Retry` until it is writable again).
        return Ok(());
    }
    let unkeyed: i64 = sqlx::query(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'daemon_queue'",
    )
    .fetch_one(pool)
    .await?
    .try_get(0)?;
    if unkeyed > 0 {
        tracing::warn!(
            "daemon queue store: the queue table of schema version 0 is keyed by device id \
             alone; it is kept as daemon_queue_unkeyed_v0 and its pushes are not delivered"
        );
        sqlx::raw_sql(MIGRATE_V0).execute(pool).await?;
    }
    sqlx::raw_sql(SCHEMA).execute(pool).await?;
    Ok(())
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A pooled connection that goes back to the pool only after work that succeeded
/// ([`Checkout::finish`] with `Ok`). Any other way out (an error, or the future dropped part way)
/// closes it instead: after an error such as `SQLITE_FULL` at `COMMIT`, SQLite may leave the
/// transaction open, or the connection may have fallen back to read-only, and a connection
/// reused in that state reports later appends as stored although they never commit (and holds
/// the write lock, so every other connection waits for `database is locked`). Closing it rolls
/// back whatever it held; the pool opens a fresh one when needed.
struct Checkout(Option<PoolConnection<Sqlite>>);

impl Checkout {
    async fn acquire(pool: &SqlitePool) -> Result<Checkout, StoreError> {
        Ok(Checkout(Some(
            pool.acquire().await.map_err(StoreError::new)?,
        )))
    }

    fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        match self.0.as_mut() {
            Some(conn) => Ok(&mut **conn),
            None => Err(StoreError::new("the connection was already given back")),
        }
    }

    /// Gives the connection back to the pool when `result` is `Ok`, closes it otherwise.
    fn finish<T>(mut self, result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
        match result {
            Ok(value) => {
                drop(self.0.take());
                Ok(value)
            }
            Err(error) => {
                tracing::warn!(%error, "daemon queue store: closing the connection after an error");
                Err(StoreError::new(error))
            }
        }
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some(mut conn) = self.0.take() {
            conn.close_on_drop();
        }
    }
}

impl SqliteStore {
    /// Whether any of the device's pushes expired at `now_ms`, and up to `limit` pushes after
    /// `after`, oldest first.
    async fn page(
        &self,
        device: &DeviceKey,
        after: u64,
        now_ms: u64,
        limit: usize,
    ) -> Result<(bool, Vec<StoredPush>), StoreError> {
        self.pager.page(device, after, now_ms, limit).await
    }
}

/// Runs `work` inside `BEGIN IMMEDIATE … COMMIT` (the write lock taken up front, so two writers
/// never deadlock upgrading a read lock), rolling back when any step fails.
async fn in_transaction<T>(
    conn: &mut SqliteConnection,
    work: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    let result = match work(&mut *conn).await {
        Ok(value) => sqlx::raw_sql("COMMIT")
            .execute(&mut *conn)
            .await
            .map(|_| value),
        Err(error) => Err(error),
    };
    if result.is_err() {
        // Best effort: the caller closes the connection anyway, which also rolls back.
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
    }
    result
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn append(
        &self,
        device: &DeviceKey,
        push: NewPush<'_>,
        max_len: usize,
    ) -> Result<Appended, StoreError> {
        let write = Write::Append {
            device: device.clone(),
            id: push.id.to_owned(),
            frame: push.frame.clone(),
            expires_at_ms: push.expires_at_ms,
            max_len,
        };
        match self.committer.write(write).await? {
            Done::Appended(appended) => Ok(appended),
            _ => Err(unexpected()),
        }
    }

    async fn pending(
        &self,
        device: &DeviceKey,
        after: u64,
        now_ms: u64,
        limit: usize,
    ) -> Result<Pending, StoreError> {
        // Expired pushes are looked for with a read, and removed by the writer only when there
        // are some: a reader that wrote would wait for the write lock behind the writer's
        // transactions. The look and the page are one statement (its first row says whether
        // any push expired): one round trip to the connection's thread, not two.
        let (any_expired, pushes) = self.page(device, after, now_ms, limit).await?;
        if !any_expired {
            return Ok(Pending { pushes, expired: 0 });
        }
        let write = Write::Expire {
            device: device.clone(),
            now_ms,
        };
        let expired = match self.committer.write(write).await? {
            Done::Removed(expired) => expired,
            _ => return Err(unexpected()),
        };
        let (_, pushes) = self.page(device, after, now_ms, limit).await?;
        Ok(Pending { pushes, expired })
    }

    async fn remove(&self, device: &DeviceKey, id: &str) -> Result<u64, StoreError> {
        let write = Write::Remove {
            device: device.clone(),
            id: id.to_owned(),
        };
        match self.committer.write(write).await? {
            Done::Removed(removed) => Ok(removed),
            _ => Err(unexpected()),
        }
    }

    async fn clear(&self, device: &DeviceKey) -> Result<Vec<String>, StoreError> {
        match self
            .committer
            .write(Write::Clear {
                device: device.clone(),
            })
            .await?
        {
            Done::Cleared(ids) => Ok(ids),
            _ => Err(unexpected()),
        }
    }

    async fn len(&self, device: &DeviceKey) -> Result<usize, StoreError> {
        let mut checkout = Checkout::acquire(&self.pool).await?;
        let result = sqlx::query("SELECT COUNT(*) FROM daemon_queue WHERE user = ? AND device = ?")
            .bind(device.user())
            .bind(device.device())
            .fetch_one(checkout.conn()?)
            .await
            .and_then(|row| row.try_get::<i64, _>(0));
        checkout
            .finish(result)
            .map(|count| usize::try_from(count).unwrap_or(0))
    }

    async fn token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError> {
        let mut checkout = Checkout::acquire(&self.pool).await?;
        let result = sqlx::query(
            "SELECT generation FROM daemon_token_generation WHERE user = ? AND device = ?",
        )
        .bind(device.user())
        .bind(device.device())
        .fetch_optional(checkout.conn()?)
        .await
        .and_then(|row| row.map_or(Ok(0), |row| row.try_get::<i64, _>(0)));
        checkout.finish(result).map(to_u64)
    }

    async fn bump_token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError> {
        let mut checkout = Checkout::acquire(&self.pool).await?;
        let result = sqlx::query(
            "INSERT INTO daemon_token_generation (user, device, generation) VALUES (?, ?, 1)
             ON CONFLICT (user, device) DO UPDATE SET generation = generation + 1
             RETURNING generation",
        )
        .bind(device.user())
        .bind(device.device())
        .fetch_one(checkout.conn()?)
        .await
        .and_then(|row| row.try_get::<i64, _>(0));
        checkout.finish(result).map(to_u64)
    }
}

/// The writer answered a write with another kind's answer (a bug, reported rather than a panic).
fn unexpected() -> StoreError {
    StoreError::new("the queue writer answered with another write's result")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-0 database (queues keyed by device id alone) opens: its rows are moved aside,
    /// never delivered to whichever user now has that device id.
    #[tokio::test]
    async fn a_version_0_queue_is_moved_aside_not_delivered() {
        let path = std::env::temp_dir().join(format!(
            "pushway-daemon-v0-{}-{:?}.db",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        {
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let pool = SqlitePool::connect_with(options).await.unwrap();
            sqlx::raw_sql(
                "CREATE TABLE daemon_queue (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    device TEXT NOT NULL, id TEXT NOT NULL, frame TEXT NOT NULL,
                    expires_at_ms INTEGER NOT NULL);
                 CREATE INDEX daemon_queue_device_seq ON daemon_queue (device, seq);
                 INSERT INTO daemon_queue (device, id, frame, expires_at_ms)
                    VALUES ('phone-1', 'm1', '{}', 9999999999999);",
            )
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let key = DeviceKey::new("alice", "phone-1").unwrap();
        assert_eq!(store.len(&key).await.unwrap(), 0);
        let kept: i64 = sqlx::query("SELECT COUNT(*) FROM daemon_queue_unkeyed_v0")
            .fetch_one(&store.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(kept, 1);
        store.close().await;
        // Opening again (version 1 now) changes nothing.
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.len(&key).await.unwrap(), 0);
        store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}
