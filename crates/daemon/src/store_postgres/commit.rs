//! Group commit: appends and removes (acks) go to one writer task per kind and store, which
//! commits the writes that arrived while its previous transaction was committing in one
//! transaction, as one statement (a function of schema.rs): one WAL flush and one round trip for
//! the batch instead of one per push. At 1,000 pushes/s a push costs two commits (its
//! append on one node, its ack's remove on another); flushed one by one they queued behind the
//! disk (about 4.5 ms per flush here), and pushes waited seconds.
//!
//! Writes are applied in the order they were handed over, so a device's pushes get increasing
//! sequence numbers in append order.
//!
//! A store runs two writers: appends commit durably, removes (acks) with `synchronous_commit =
//! off` (set by `daemon_remove_v1` for its own transaction). An ack's removal then returns without waiting for its WAL
//! flush, which was half of a cross-node push's latency (two flushes in a row: B's append, A's
//! removal). A removal lost in a crash (Postgres loses at most the last few hundred ms of
//! relaxed commits, never a durable one) only puts an acked push back: it is sent again and the
//! device drops it as a duplicate, as after any ack the store missed. A remove cannot overtake
//! the append of its push on the other writer: a device acks only what it was sent, and a push is
//! sent only once its append committed.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::Row;
use sqlx::postgres::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::schema::{CHANNEL, LOCK_CLASS};
use super::{len_i64, to_i64, to_u64};
use crate::key::DeviceKey;
use crate::queue::{Appended, StoreError};

/// Writes committed in one statement at most.
const MAX_BATCH: usize = 512;
/// Writes waiting for the writer at most; callers beyond wait for room.
const QUEUE: usize = 4096;

/// A push to append to its device's queue.
pub(super) struct Append {
    pub(super) device: DeviceKey,
    pub(super) id: String,
    pub(super) frame: Arc<str>,
    pub(super) expires_at_ms: u64,
    pub(super) max_len: usize,
}

/// A (device, push id) pair to remove (an ack).
pub(super) struct Remove {
    pub(super) device: DeviceKey,
    pub(super) id: String,
}

/// A kind of write a writer commits, a batch of them as one statement (see `append_many` and
/// `remove_many`).
pub(super) trait Batched: Sized + Send + 'static {
    /// What each write's caller learns.
    type Done: Send + 'static;

    /// Commits `run` as one statement and its own transaction; one answer per write, in order.
    fn commit<'a>(
        pool: &'a PgPool,
        scope: &'a str,
        run: &'a [Self],
    ) -> impl Future<Output = Result<Vec<Self::Done>, sqlx::Error>> + Send + 'a;
}

impl Batched for Append {
    type Done = Appended;

    fn commit<'a>(
        pool: &'a PgPool,
        scope: &'a str,
        run: &'a [Self],
    ) -> impl Future<Output = Result<Vec<Appended>, sqlx::Error>> + Send + 'a {
        append_many(pool, scope, run)
    }
}

impl Batched for Remove {
    type Done = u64;

    fn commit<'a>(
        pool: &'a PgPool,
        scope: &'a str,
        run: &'a [Self],
    ) -> impl Future<Output = Result<Vec<u64>, sqlx::Error>> + Send + 'a {
        remove_many(pool, scope, run)
    }
}

type Reply<W> = oneshot::Sender<Result<<W as Batched>::Done, StoreError>>;

/// Hands writes of one kind to their writer task.
pub(super) struct Committer<W: Batched> {
    tx: mpsc::Sender<(W, Reply<W>)>,
}

impl<W: Batched> Clone for Committer<W> {
    fn clone(&self) -> Self {
        Committer {
            tx: self.tx.clone(),
        }
    }
}

impl<W: Batched> std::fmt::Debug for Committer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer").finish_non_exhaustive()
    }
}

impl<W: Batched> Committer<W> {
    /// Starts the writer over `pool`; it ends when the last `Committer` is dropped.
    pub(super) fn spawn(pool: PgPool, scope: Arc<str>) -> Committer<W> {
        let (tx, mut rx) = mpsc::channel::<(W, Reply<W>)>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (writes, replies): (Vec<W>, Vec<Reply<W>>) = batch.drain(..).unzip();
                match W::commit(&pool, &scope, &writes).await {
                    Ok(done) => {
                        for (reply, done) in replies.into_iter().zip(done) {
                            // The caller may have given up waiting; the write stands anyway.
                            let _ = reply.send(Ok(done));
                        }
                    }
                    Err(error) => {
                        // Nothing of the batch committed: each of its callers is told so.
                        let message = error.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(StoreError::new(message.clone())));
                        }
                    }
                }
            }
        });
        Committer { tx }
    }

    /// Writes `write` (with others arriving meanwhile); answers once it is committed.
    pub(super) async fn write(&self, write: W) -> Result<W::Done, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((write, reply))
            .await
            .map_err(|_| StoreError::new("the queue writer stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::new("the queue writer stopped"))?
    }
}

/// Appends a run with `daemon_append_v1` (schema.rs): each device's lock, the rows in order,
/// each device trimmed to the bound of its last push, and one wake-up per push kept, sent at
/// commit and carrying the push (see `event.rs`).
///
/// The locks are held to the end of the transaction, so past its commit: the pushes of one
/// device commit in the order of their sequence numbers even when several nodes append to it at
/// once, and a connection reading after its cursor never sees seq 11 committed and seq 10 not
/// yet (and then skips 10 for good).
async fn append_many(
    pool: &PgPool,
    scope: &str,
    run: &[Append],
) -> Result<Vec<Appended>, sqlx::Error> {
    let mut users = Vec::with_capacity(run.len());
    let mut devices = Vec::with_capacity(run.len());
    let mut ids = Vec::with_capacity(run.len());
    let mut frames = Vec::with_capacity(run.len());
    let mut expiries = Vec::with_capacity(run.len());
    // Each device's index of its last push in the run.
    let mut last: HashMap<&DeviceKey, usize> = HashMap::new();
    for (i, push) in run.iter().enumerate() {
        users.push(push.device.user());
        devices.push(push.device.device());
        ids.push(push.id.as_str());
        frames.push(&*push.frame);
        expiries.push(to_i64(push.expires_at_ms));
        last.insert(&push.device, i);
    }
    let (mut trim_users, mut trim_devices, mut bounds) = (Vec::new(), Vec::new(), Vec::new());
    for (device, &i) in &last {
        trim_users.push(device.user());
        trim_devices.push(device.device());
        bounds.push(len_i64(run[i].max_len));
    }
    let rows = sqlx::query(
        "SELECT out_seq, out_user, out_device
         FROM daemon_append_v1($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(scope)
    .bind(LOCK_CLASS)
    .bind(CHANNEL)
    .bind(&users)
    .bind(&devices)
    .bind(&ids)
    .bind(&frames)
    .bind(&expiries)
    .bind(&trim_users)
    .bind(&trim_devices)
    .bind(&bounds)
    .fetch_all(pool)
    .await?;
    let mut seqs = Vec::with_capacity(run.len());
    let mut dropped: HashMap<usize, u64> = HashMap::new();
    for row in rows {
        if let Some(seq) = row.try_get::<Option<i64>, _>(0)? {
            seqs.push(seq);
            continue;
        }
        let (user, device): (String, String) = (row.try_get(1)?, row.try_get(2)?);
        if let Some(i) = DeviceKey::new(&user, &device).and_then(|key| last.get(&key).copied()) {
            *dropped.entry(i).or_default() += 1;
        }
    }
    if seqs.len() != run.len() {
        return Err(sqlx::Error::Protocol(format!(
            "daemon queue: {} pushes inserted, {} sequence numbers returned",
            run.len(),
            seqs.len()
        )));
    }
    // `RETURNING` promises no order; the numbers were drawn in insertion order.
    seqs.sort_unstable();
    Ok(seqs
        .into_iter()
        .enumerate()
        .map(|(i, seq)| Appended {
            seq: to_u64(seq),
            dropped: dropped.get(&i).copied().unwrap_or(0),
            // Told to the other nodes with the wake-up (`daemon_append_v1`), not returned.
            prev: None,
        })
        .collect())
}

/// Removes a run of (device, id) pushes with `daemon_remove_v1` (schema.rs), which commits
/// without waiting for the WAL flush; each answer as removing them one after the other would
/// give (a repeated pair removes nothing the second time).
async fn remove_many(pool: &PgPool, scope: &str, run: &[Remove]) -> Result<Vec<u64>, sqlx::Error> {
    let (mut users, mut devices, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for Remove { device, id } in run {
        users.push(device.user());
        devices.push(device.device());
        ids.push(id.as_str());
    }
    let removed =
        sqlx::query("SELECT out_user, out_device, out_id FROM daemon_remove_v1($1, $2, $3, $4)")
            .bind(scope)
            .bind(&users)
            .bind(&devices)
            .bind(&ids)
            .fetch_all(pool)
            .await?;
    let mut counts: HashMap<(String, String, String), u64> = HashMap::new();
    for row in removed {
        *counts
            .entry((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
            .or_default() += 1;
    }
    Ok(run
        .iter()
        .map(|Remove { device, id }| {
            counts
                .remove(&(
                    device.user().to_owned(),
                    device.device().to_owned(),
                    id.clone(),
                ))
                .unwrap_or(0)
        })
        .collect())
}
