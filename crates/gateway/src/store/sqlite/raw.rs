//! The hot paths' SQLite connection: a rusqlite connection of its own on a dedicated thread,
//! which runs a whole transaction per call.
//!
//! Why: sqlx runs every SQLite statement on the connection's own thread and hands each result
//! row back through a channel, so a statement costs two thread hand-offs and a row one more;
//! on a small machine those wake-ups cost more than SQLite's work (profiled: over half of the
//! server's CPU in the end-to-end benchmark was in those threads, most of it in futex calls).
//! Here a transaction costs one hand-off each way, and rows are bound and read in place, with
//! statements prepared once per transaction instead of the JSON arrays the sqlx paths use to
//! batch rows into one statement.
//!
//! The accept path's commits, claims, outcomes and lease releases run here; the migrations and
//! the cold paths (registrations, settings, the console) stay on sqlx's writer connection.
//! Every write transaction starts with `BEGIN IMMEDIATE`, which takes SQLite's one write lock
//! before it reads anything, so the two writers never see each other half-way; one waits for
//! the other (the busy timeout), as statements queued on one connection would.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The hot paths' connection and its thread (which ends when the last clone is dropped).
#[derive(Clone)]
pub(super) struct HotConn {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for HotConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotConn").finish_non_exhaustive()
    }
}

impl HotConn {
    /// Opens a connection to the (existing, migrated) database at `path`, read-only or
    /// read-write.
    pub(super) fn open(
        path: &Path,
        busy_timeout: Duration,
        read_only: bool,
    ) -> Result<HotConn, StoreError> {
        let mode = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        };
        let conn = Connection::open_with_flags(path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(raw_err)?;
        conn.busy_timeout(busy_timeout).map_err(raw_err)?;
        // As sqlx's connections are set up (`SqliteStore::open`); `synchronous` is set by each
        // transaction.
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA temp_store = memory;")
            .map_err(raw_err)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("pushway-sqlite".to_owned())
            .spawn(move || {
                let mut conn = conn;
                for job in queue {
                    job(&mut conn);
                }
            })
            .map_err(StoreError::new)?;
        Ok(HotConn { jobs })
    }

    /// Runs `f` on the connection's thread and answers its result.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = reply.send(f(conn));
            }))
            .map_err(|_| StoreError::new("the SQLite connection's thread stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::new("the SQLite connection's thread stopped"))?
    }

    /// Runs `f` in a write transaction (`BEGIN IMMEDIATE`): committed when `f` succeeds,
    /// rolled back otherwise. `durable`: `synchronous = FULL` (the WAL is synced before the
    /// commit returns: for what the API acknowledges) rather than `NORMAL` (the workers' own
    /// bookkeeping, see `SqliteStore::relaxed_tx`).
    pub(super) async fn transaction<T, F>(&self, durable: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(move |conn| {
            conn.execute_batch(if durable {
                "PRAGMA synchronous = FULL; BEGIN IMMEDIATE"
            } else {
                "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE"
            })
            .map_err(raw_err)?;
            match f(conn) {
                Ok(value) => match conn.execute_batch("COMMIT") {
                    Ok(()) => Ok(value),
                    Err(e) => {
                        let _ = conn.execute_batch("ROLLBACK");
                        Err(raw_err(e))
                    }
                },
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        })
        .await
    }
}

pub(super) fn raw_err(e: rusqlite::Error) -> StoreError {
    StoreError::new(e)
}
