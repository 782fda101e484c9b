//! Group commit: every queue write (append, remove, clear, expiry, token generation) goes to
//! one writer thread, which commits all the writes that arrived while the previous transaction
//! was being written in one transaction (one fsync), and answers each caller only after that
//! transaction committed.
//!
//! One writer per store, rather than one transaction per call, because SQLite has one writer at
//! a time anyway: callers queued behind the write lock each paid their own fsync, so a dispatch
//! to thousands of daemon devices waited for thousands of fsyncs in a row. Writes are applied in
//! the order they were handed over (the channel is FIFO, and so are its senders waiting for
//! room), so a remove never overtakes the append of the same push.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::{connect, migrate, stopped, write};
use crate::key::DeviceKey;
use crate::queue::{Appended, StoreError};

/// Writes committed in one transaction at most (bounds one transaction's length, and so the wait
/// of the writes behind it).
pub(super) const MAX_BATCH: usize = 512;
/// Writes waiting for the writer at most; callers beyond wait for room (backpressure, not
/// unbounded memory).
const QUEUE: usize = 2048;

/// One queue write: an append, or a change that removes pushes or bumps a generation.
pub(super) enum Write {
    Append {
        device: DeviceKey,
        id: String,
        frame: Arc<str>,
        expires_at_ms: u64,
        max_len: usize,
    },
    Change(Change),
}

/// A write other than an append.
pub(super) enum Change {
    Remove { device: DeviceKey, id: String },
    Clear { device: DeviceKey },
    Expire { device: DeviceKey, now_ms: u64 },
    BumpGeneration { device: DeviceKey },
}

/// What a write did, once committed.
pub(super) enum Done {
    Appended(Appended),
    /// Rows removed (by a remove or an expiry).
    Removed(u64),
    /// The ids cleared, each once, oldest first.
    Cleared(Vec<String>),
    /// The device's new token generation.
    Generation(u64),
}

type Reply = oneshot::Sender<Result<Done, StoreError>>;

enum Job {
    Write(Write, Reply),
    /// Ends the thread (closing its connection), then answers.
    Close(oneshot::Sender<()>),
}

/// Hands writes to the writer thread.
#[derive(Debug, Clone)]
#[cfg_attr(not(test), allow(dead_code))] // the counters are read by tests only
pub(super) struct Committer {
    tx: mpsc::Sender<Job>,
    /// Transactions committed: what tests check group commit with.
    transactions: Arc<AtomicU64>,
    /// Writes taken off the channel by the writer (for tests).
    received: Arc<AtomicU64>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Write(..) => "Write",
            Job::Close(_) => "Close",
        })
    }
}

impl Committer {
    /// Opens (creating and migrating) the database at `path` on a new writer thread; the thread
    /// ends when the store is closed or the last `Committer` is dropped.
    pub(super) async fn spawn(path: PathBuf) -> Result<Committer, StoreError> {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let transactions = Arc::new(AtomicU64::new(0));
        let received = Arc::new(AtomicU64::new(0));
        let (counted, taken) = (transactions.clone(), received.clone());
        let (opened, open) = oneshot::channel();
        std::thread::Builder::new()
            .name("pushway-daemon-queue-writer".to_owned())
            .spawn(move || {
                let conn = match connect(&path, true).and_then(|conn| {
                    migrate(&conn)?;
                    Ok(conn)
                }) {
                    Ok(conn) => conn,
                    Err(e) => {
                        let _ = opened.send(Err(StoreError::new(e)));
                        return;
                    }
                };
                let _ = opened.send(Ok(()));
                Writer {
                    conn: Some(conn),
                    path,
                    transactions: counted,
                    received: taken,
                }
                .serve(rx);
            })
            .map_err(StoreError::new)?;
        open.await.map_err(|_| stopped())??;
        Ok(Committer {
            tx,
            transactions,
            received,
        })
    }

    /// Writes `write` (with others arriving meanwhile); answers once it is durable.
    pub(super) async fn write(&self, write: Write) -> Result<Done, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Write(write, reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Ends the writer after the writes handed over before; waits for it.
    pub(super) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.tx.send(Job::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }

    /// Transactions committed so far.
    #[cfg(test)]
    pub(super) fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// Writes handed over so far: taken by the writer, or waiting in the channel.
    #[cfg(test)]
    pub(super) fn handed_over(&self) -> u64 {
        let waiting = self.tx.max_capacity() - self.tx.capacity();
        self.received.load(Ordering::Relaxed) + waiting as u64
    }
}

/// The writer thread's state.
struct Writer {
    /// `None` after a failed transaction, until the next batch opens a new one.
    conn: Option<Connection>,
    path: PathBuf,
    transactions: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
}

impl Writer {
    fn serve(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut writes = Vec::with_capacity(MAX_BATCH);
        let mut replies: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            let mut next = Some(first);
            let mut close = None;
            while let Some(job) = next.take() {
                match job {
                    Job::Write(write, reply) => {
                        writes.push(write);
                        replies.push(reply);
                    }
                    Job::Close(done) => {
                        close = Some(done);
                        break;
                    }
                }
                if writes.len() < MAX_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if !writes.is_empty() {
                self.received
                    .fetch_add(writes.len() as u64, Ordering::Relaxed);
                self.commit(&writes, &mut replies);
                writes.clear();
            }
            if let Some(done) = close {
                // The connection closes before the caller is answered.
                drop(self);
                let _ = done.send(());
                return;
            }
        }
    }

    /// Applies `writes` in order in one transaction and answers each (all with the error when
    /// anything failed: then nothing of the batch was committed).
    fn commit(&mut self, writes: &[Write], replies: &mut Vec<Reply>) {
        let result = match self.connection() {
            Ok(conn) => apply(conn, writes),
            Err(error) => Err(error),
        };
        match result {
            Ok(done) => {
                self.transactions.fetch_add(1, Ordering::Relaxed);
                for (reply, done) in replies.drain(..).zip(done) {
                    // The caller may have given up waiting; the write stands anyway.
                    let _ = reply.send(Ok(done));
                }
            }
            Err(error) => {
                tracing::warn!(%error, "daemon queue store: a write transaction failed");
                let message = error.to_string();
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(StoreError::new(message.clone())));
                }
                // After an error such as `SQLITE_FULL` at `COMMIT`, SQLite may leave the
                // transaction open, and a connection that opened a file it could not write
                // stays read-only: it is closed (which rolls back whatever it held), and the
                // next batch opens a new one, so the store recovers once the disk does.
                self.conn = None;
            }
        }
    }

    /// The connection, opened again if the last one was closed after an error.
    fn connection(&mut self) -> Result<&Connection, rusqlite::Error> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => connect(&self.path, false)?,
        };
        Ok(self.conn.insert(conn))
    }
}

/// Runs `writes` inside `BEGIN IMMEDIATE … COMMIT` (the write lock taken up front), one answer
/// a write; rolled back when any step fails.
fn apply(conn: &Connection, writes: &[Write]) -> Result<Vec<Done>, rusqlite::Error> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = apply_runs(conn, writes).and_then(|done| {
        conn.execute_batch("COMMIT")?;
        Ok(done)
    });
    if result.is_err() && !conn.is_autocommit() {
        // Best effort: the connection is closed anyway, which also rolls back.
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

fn apply_runs(conn: &Connection, writes: &[Write]) -> Result<Vec<Done>, rusqlite::Error> {
    let mut done = Vec::with_capacity(writes.len());
    // The current run of appends: its devices are trimmed once each when it ends.
    let mut appends: Vec<write::Append<'_>> = Vec::new();
    for w in writes {
        let change = match w {
            Write::Append {
                device,
                id,
                frame,
                expires_at_ms,
                max_len,
            } => {
                appends.push(write::Append {
                    device,
                    id,
                    frame,
                    expires_at_ms: *expires_at_ms,
                    max_len: *max_len,
                });
                continue;
            }
            Write::Change(change) => change,
        };
        flush(conn, &mut appends, &mut done)?;
        done.push(match change {
            Change::Remove { device, id } => Done::Removed(write::remove(conn, device, id)?),
            Change::Clear { device } => Done::Cleared(write::clear(conn, device)?),
            Change::Expire { device, now_ms } => {
                Done::Removed(write::expire(conn, device, *now_ms)?)
            }
            Change::BumpGeneration { device } => {
                Done::Generation(write::bump_generation(conn, device)?)
            }
        });
    }
    flush(conn, &mut appends, &mut done)?;
    Ok(done)
}

/// Writes the run of appends gathered so far, if any.
fn flush(
    conn: &Connection,
    appends: &mut Vec<write::Append<'_>>,
    done: &mut Vec<Done>,
) -> Result<(), rusqlite::Error> {
    if !appends.is_empty() {
        let appended = write::append_run(conn, appends)?;
        done.extend(appended.into_iter().map(Done::Appended));
        appends.clear();
    }
    Ok(())
}
