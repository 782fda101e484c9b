//! Group commit: every queue write (append, remove, clear, expiry) goes to one writer task,
//! which commits all the writes that arrived while the previous transaction was being written in
//! one transaction (one fsync), and answers each caller only after that transaction committed.
//!
//! One writer per store, rather than one transaction per call, because SQLite has one writer at
//! a time anyway: callers queued behind the write lock each paid their own fsync, so a dispatch
//! to thousands of daemon devices waited for thousands of fsyncs in a row. Writes are applied in
//! the order they were handed over (the channel is FIFO, and so are its senders waiting for
//! room), so a remove never overtakes the append of the same push.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::sqlite::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{Checkout, in_transaction, write};
use crate::key::DeviceKey;
use crate::queue::{Appended, StoreError};

/// Writes committed in one transaction at most (bounds one transaction's length, and so the wait
/// of the writes behind it).
pub(super) const MAX_BATCH: usize = 512;
/// Writes waiting for the writer at most; callers beyond wait for room (backpressure, not
/// unbounded memory).
const QUEUE: usize = 2048;

/// One queue write.
pub(super) enum Write {
    Append {
        device: DeviceKey,
        id: String,
        frame: Arc<str>,
        expires_at_ms: u64,
        max_len: usize,
    },
    Remove {
        device: DeviceKey,
        id: String,
    },
    Clear {
        device: DeviceKey,
    },
    Expire {
        device: DeviceKey,
        now_ms: u64,
    },
}

/// What a write did, once committed.
pub(super) enum Done {
    Appended(Appended),
    /// Rows removed (by a remove or an expiry).
    Removed(u64),
    /// The ids cleared, each once, oldest first.
    Cleared(Vec<String>),
}

type Reply = oneshot::Sender<Result<Done, StoreError>>;

/// Hands writes to the writer task.
#[derive(Debug, Clone)]
#[cfg_attr(not(test), allow(dead_code))] // the counters are read by tests only
pub(super) struct Committer {
    tx: mpsc::Sender<(Write, Reply)>,
    /// Transactions committed: what tests check group commit with.
    transactions: Arc<AtomicU64>,
    /// Writes taken off the channel by the writer (for tests).
    received: Arc<AtomicU64>,
}

impl Committer {
    /// Starts the writer task over `pool`; it ends when the last `Committer` is dropped.
    pub(super) fn spawn(pool: SqlitePool) -> Committer {
        let (tx, mut rx) = mpsc::channel::<(Write, Reply)>(QUEUE);
        let transactions = Arc::new(AtomicU64::new(0));
        let received = Arc::new(AtomicU64::new(0));
        let (counted, taken) = (transactions.clone(), received.clone());
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                taken.fetch_add(batch.len() as u64, Ordering::Relaxed);
                let (writes, replies): (Vec<Write>, Vec<Reply>) = batch.drain(..).unzip();
                match commit(&pool, &writes).await {
                    Ok(done) => {
                        counted.fetch_add(1, Ordering::Relaxed);
                        for (reply, done) in replies.into_iter().zip(done) {
                            // The caller may have given up waiting; the write stands anyway.
                            let _ = reply.send(Ok(done));
                        }
                    }
                    Err(error) => {
                        // Nothing of the batch committed: every caller is told so.
                        let message = error.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(StoreError::new(message.clone())));
                        }
                    }
                }
            }
        });
        Committer {
            tx,
            transactions,
            received,
        }
    }

    /// Writes `write` (with others arriving meanwhile); answers once it is durable.
    pub(super) async fn write(&self, write: Write) -> Result<Done, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((write, reply))
            .await
            .map_err(|_| StoreError::new("the queue writer stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::new("the queue writer stopped"))?
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

/// A run of writes as one transaction applies them: consecutive appends, and consecutive
/// removes, each go in one statement (a burst of pushes and of acks is the common batch); a
/// clear or an expiry alone.
enum Run<'a> {
    Appends(Vec<write::Append<'a>>),
    Removes(Vec<(&'a DeviceKey, &'a str)>),
    Clear(&'a DeviceKey),
    Expire(&'a DeviceKey, u64),
}

/// `writes` grouped into runs, in order.
fn runs(writes: &[Write]) -> Vec<Run<'_>> {
    let mut runs: Vec<Run<'_>> = Vec::new();
    for w in writes {
        match w {
            Write::Append {
                device,
                id,
                frame,
                expires_at_ms,
                max_len,
            } => {
                let push = write::Append {
                    device,
                    id,
                    frame,
                    expires_at_ms: *expires_at_ms,
                    max_len: *max_len,
                };
                match runs.last_mut() {
                    Some(Run::Appends(pushes)) => pushes.push(push),
                    _ => runs.push(Run::Appends(vec![push])),
                }
            }
            Write::Remove { device, id } => match runs.last_mut() {
                Some(Run::Removes(removes)) => removes.push((device, id)),
                _ => runs.push(Run::Removes(vec![(device, id)])),
            },
            Write::Clear { device } => runs.push(Run::Clear(device)),
            Write::Expire { device, now_ms } => runs.push(Run::Expire(device, *now_ms)),
        }
    }
    runs
}

/// Applies `writes` in order in one transaction on a connection of `pool` (closed, not pooled,
/// after an error: see [`Checkout`]); one answer a write.
async fn commit(pool: &SqlitePool, writes: &[Write]) -> Result<Vec<Done>, StoreError> {
    let mut checkout = Checkout::acquire(pool).await?;
    let result = in_transaction(checkout.conn()?, async |conn: &mut SqliteConnection| {
        let mut done = Vec::with_capacity(writes.len());
        for run in runs(writes) {
            match run {
                Run::Appends(pushes) => {
                    let appended = write::append_many(conn, &pushes).await?;
                    done.extend(appended.into_iter().map(Done::Appended));
                }
                Run::Removes(removes) => {
                    let removed = write::remove_many(conn, &removes).await?;
                    done.extend(removed.into_iter().map(Done::Removed));
                }
                Run::Clear(device) => done.push(Done::Cleared(write::clear(conn, device).await?)),
                Run::Expire(device, now_ms) => {
                    done.push(Done::Removed(write::expire(conn, device, now_ms).await?));
                }
            }
        }
        Ok(done)
    })
    .await;
    checkout.finish(result)
}
