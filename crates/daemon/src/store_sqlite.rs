//! The SQLite queue store: queued pushes survive a restart.
//!
//! The store runs on two rusqlite connections of its own, each on a dedicated thread: the
//! writer, which group-commits every write ([`commit`]), and the reader, which answers the
//! pages connections read and the other lookups ([`page`]). A call costs one thread hand-off
//! each way, and rows are bound and read in place by statements kept prepared.
//!
//! Why not sqlx's SQLite driver: it runs every statement on its connection's own thread and
//! hands each result row back through a channel, so a statement costs two hand-offs and a row
//! one more. A group message to thousands of daemon devices costs three queue operations a
//! push (append, page, remove on ack); run through sqlx (as JSON batches, to amortise those
//! hand-offs) they were about 30 % of the gateway's CPU in the end-to-end benchmark.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};

use crate::key::DeviceKey;
use crate::queue::{Appended, NewPush, Pending, QueueStore, StoreError};

mod commit;
#[cfg(test)]
mod group_commit_tests;
mod page;
mod write;

use commit::{Change, Committer, Done, Write};

/// How long a statement waits for the database lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Statements kept prepared per connection (each uses a handful).
const STATEMENT_CACHE: usize = 16;

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
    /// Every write goes through it: group commit, see [`commit`].
    committer: Committer,
    /// Every read goes through it, see [`page`].
    reader: page::Reader,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and its table.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_owned();
        // The writer creates and migrates the database before the reader opens it.
        let committer = Committer::spawn(path.clone()).await?;
        let reader = page::Reader::spawn(path).await?;
        Ok(SqliteStore { committer, reader })
    }

    /// Stops the store's connections, after the calls handed over before; later calls fail.
    pub async fn close(&self) {
        self.committer.close().await;
        self.reader.close().await;
    }
}

/// Opens a connection to `path` as the store sets them up: WAL, `synchronous = FULL`, the busy
/// timeout, statements kept prepared. `create`: the writer's, which may create the file.
///
/// A file SQLite cannot write is opened read-only (its writes then fail, and the writer opens
/// it again after each failure, so it recovers once the file is writable).
fn connect(path: &PathBuf, create: bool) -> Result<Connection, rusqlite::Error> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // `journal_mode` answers a row; on a file already in WAL mode (the reader's, a read-only
    // one) it changes nothing.
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.execute_batch("PRAGMA synchronous = FULL")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), rusqlite::Error> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version >= SCHEMA_VERSION {
        // Nothing to write: a database that is read-only for now still opens (its appends
        // fail with `Retry` until it is writable again).
        return Ok(());
    }
    let unkeyed: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'daemon_queue'",
        [],
        |row| row.get(0),
    )?;
    if unkeyed > 0 {
        tracing::warn!(
            "daemon queue store: the queue table of schema version 0 is keyed by device id \
             alone; it is kept as daemon_queue_unkeyed_v0 and its pushes are not delivered"
        );
        conn.execute_batch(MIGRATE_V0)?;
    }
    conn.execute_batch(SCHEMA)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The store's threads stopped (the store was closed).
fn stopped() -> StoreError {
    StoreError::new("the daemon queue store is closed")
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
        // are some: the reader never waits for the write lock.
        let (any_expired, pushes) = self.reader.page(device, after, now_ms, limit).await?;
        if !any_expired {
            return Ok(Pending { pushes, expired: 0 });
        }
        let write = Write::Change(Change::Expire {
            device: device.clone(),
            now_ms,
        });
        let expired = match self.committer.write(write).await? {
            Done::Removed(expired) => expired,
            _ => return Err(unexpected()),
        };
        let (_, pushes) = self.reader.page(device, after, now_ms, limit).await?;
        Ok(Pending { pushes, expired })
    }

    async fn remove(&self, device: &DeviceKey, id: &str) -> Result<u64, StoreError> {
        let write = Write::Change(Change::Remove {
            device: device.clone(),
            id: id.to_owned(),
        });
        match self.committer.write(write).await? {
            Done::Removed(removed) => Ok(removed),
            _ => Err(unexpected()),
        }
    }

    async fn clear(&self, device: &DeviceKey) -> Result<Vec<String>, StoreError> {
        match self
            .committer
            .write(Write::Change(Change::Clear {
                device: device.clone(),
            }))
            .await?
        {
            Done::Cleared(ids) => Ok(ids),
            _ => Err(unexpected()),
        }
    }

    async fn len(&self, device: &DeviceKey) -> Result<usize, StoreError> {
        self.reader.len(device).await
    }

    async fn token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError> {
        self.reader.token_generation(device).await
    }

    async fn bump_token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError> {
        match self
            .committer
            .write(Write::Change(Change::BumpGeneration {
                device: device.clone(),
            }))
            .await?
        {
            Done::Generation(generation) => Ok(generation),
            _ => Err(unexpected()),
        }
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
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE daemon_queue (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    device TEXT NOT NULL, id TEXT NOT NULL, frame TEXT NOT NULL,
                    expires_at_ms INTEGER NOT NULL);
                 CREATE INDEX daemon_queue_device_seq ON daemon_queue (device, seq);
                 INSERT INTO daemon_queue (device, id, frame, expires_at_ms)
                    VALUES ('phone-1', 'm1', '{}', 9999999999999);",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let key = DeviceKey::new("alice", "phone-1").unwrap();
        assert_eq!(store.len(&key).await.unwrap(), 0);
        let kept: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM daemon_queue_unkeyed_v0", [], |row| {
                row.get(0)
            })
            .unwrap();
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
