//! Group commit: appends and removes (acks) go to one writer task per store, which commits the
//! writes that arrived while its previous transaction was committing in one transaction: one WAL
//! flush for the batch instead of one per push. At 1,000 pushes/s a push costs two commits (its
//! append on one node, its ack's remove on another); flushed one by one they queued behind the
//! disk (about 4.5 ms per flush here), and pushes waited seconds.
//!
//! Writes are applied in the order they were handed over, so a device's pushes get increasing
//! sequence numbers in append order.
//!
//! A store runs two writers: appends commit durably, removes (acks) with `synchronous_commit =
//! off` ([`Durability::Relaxed`]). An ack's removal then returns without waiting for its WAL
//! flush, which was half of a cross-node push's latency (two flushes in a row: B's append, A's
//! removal). A removal lost in a crash (Postgres loses at most the last few hundred ms of
//! relaxed commits, never a durable one) only puts an acked push back: it is sent again and the
//! device drops it as a duplicate, as after any ack the store missed. A remove cannot overtake
//! the append of its push on the other writer: a device acks only what it was sent, and a push is
//! sent only once its append committed.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::postgres::PgPool;
use sqlx::{PgConnection, Row};
use tokio::sync::{mpsc, oneshot};

use super::schema::{CHANNEL, LOCK_CLASS};
use super::{event, len_i64, to_i64, to_u64};
use crate::key::DeviceKey;
use crate::queue::{Appended, StoreError};

/// Writes committed in one transaction at most.
const MAX_BATCH: usize = 512;
/// Writes waiting for the writer at most; callers beyond wait for room.
const QUEUE: usize = 4096;

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
}

pub(super) enum Done {
    Appended(Appended),
    Removed(u64),
}

type Reply = oneshot::Sender<Result<Done, StoreError>>;

/// Whether a writer's commits wait for their WAL flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durability {
    /// As the server is configured (`synchronous_commit`, on by default): for appends.
    Durable,
    /// `synchronous_commit = off` for the writer's transactions: for removes (see the module).
    Relaxed,
}

/// Hands writes to the writer task.
#[derive(Debug, Clone)]
pub(super) struct Committer {
    tx: mpsc::Sender<(Write, Reply)>,
}

impl Committer {
    /// Starts the writer over `pool`; it ends when the last `Committer` is dropped.
    pub(super) fn spawn(pool: PgPool, scope: Arc<str>, durability: Durability) -> Committer {
        let (tx, mut rx) = mpsc::channel::<(Write, Reply)>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (writes, replies): (Vec<Write>, Vec<Reply>) = batch.drain(..).unzip();
                match commit(&pool, &scope, &writes, durability).await {
                    Ok(done) => {
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
        Committer { tx }
    }

    /// Writes `write` (with others arriving meanwhile); answers once it is committed.
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
}

async fn commit(
    pool: &PgPool,
    scope: &str,
    writes: &[Write],
    durability: Durability,
) -> Result<Vec<Done>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if durability == Durability::Relaxed {
        // For this transaction only: the pool's connections stay durable for everything else.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
    }
    let mut done = Vec::with_capacity(writes.len());
    let mut rest = writes;
    while let Some(first) = rest.first() {
        let run = rest
            .iter()
            .take_while(|w| std::mem::discriminant(*w) == std::mem::discriminant(first))
            .count();
        let (this, next) = rest.split_at(run);
        rest = next;
        if let Write::Append { .. } = first {
            let appended = append_many(&mut tx, scope, this).await?;
            done.extend(appended.into_iter().map(Done::Appended));
        } else {
            let removed = remove_many(&mut tx, scope, this).await?;
            done.extend(removed.into_iter().map(Done::Removed));
        }
    }
    tx.commit().await?;
    Ok(done)
}

/// Appends a run: each device's lock (in one order for every writer: no deadlock between two
/// nodes' batches), the rows in order, each device trimmed to the bound of its last push, and
/// one wake-up per device, sent at commit.
///
/// The locks are held to the end of the transaction, so past its commit: the pushes of one
/// device commit in the order of their sequence numbers even when several nodes append to it at
/// once, and a connection reading after its cursor never sees seq 11 committed and seq 10 not
/// yet (and then skips 10 for good).
async fn append_many(
    conn: &mut PgConnection,
    scope: &str,
    run: &[Write],
) -> Result<Vec<Appended>, sqlx::Error> {
    let mut users = Vec::with_capacity(run.len());
    let mut devices = Vec::with_capacity(run.len());
    let mut ids = Vec::with_capacity(run.len());
    let mut frames = Vec::with_capacity(run.len());
    let mut expiries = Vec::with_capacity(run.len());
    // Each device's index of its last push in the run.
    let mut last: HashMap<&DeviceKey, usize> = HashMap::new();
    for (i, write) in run.iter().enumerate() {
        if let Write::Append {
            device,
            id,
            frame,
            expires_at_ms,
            ..
        } = write
        {
            users.push(device.user());
            devices.push(device.device());
            ids.push(id.as_str());
            frames.push(&**frame);
            expiries.push(to_i64(*expires_at_ms));
            last.insert(device, i);
        }
    }
    sqlx::query(
        "SELECT pg_advisory_xact_lock($1, h) FROM (
             SELECT DISTINCT hashtext($2 || '/' || u || '/' || d) AS h
             FROM unnest($3::TEXT[], $4::TEXT[]) AS t(u, d)
             ORDER BY h) AS keys",
    )
    .bind(LOCK_CLASS)
    .bind(scope)
    .bind(&users)
    .bind(&devices)
    .execute(&mut *conn)
    .await?;
    let mut seqs = sqlx::query(
        "INSERT INTO daemon_queue (scope, user_id, device, id, frame, expires_at_ms)
         SELECT $1, u, d, i, f, e
         FROM unnest($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::INT8[])
              WITH ORDINALITY AS t(u, d, i, f, e, n)
         ORDER BY n
         RETURNING seq",
    )
    .bind(scope)
    .bind(&users)
    .bind(&devices)
    .bind(&ids)
    .bind(&frames)
    .bind(&expiries)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|row| row.try_get::<i64, _>(0))
    .collect::<Result<Vec<i64>, sqlx::Error>>()?;
    if seqs.len() != run.len() {
        return Err(sqlx::Error::Protocol(format!(
            "daemon queue: {} pushes inserted, {} sequence numbers returned",
            run.len(),
            seqs.len()
        )));
    }
    // `RETURNING` promises no order; the numbers were drawn in insertion order.
    seqs.sort_unstable();

    let (mut trim_users, mut trim_devices, mut bounds, mut payloads) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (device, &i) in &last {
        let Write::Append { max_len, .. } = &run[i] else {
            continue;
        };
        trim_users.push(device.user());
        trim_devices.push(device.device());
        bounds.push(len_i64(*max_len));
        payloads.push(event::pushed(scope, device));
    }
    let trimmed = sqlx::query(
        "DELETE FROM daemon_queue q
         USING unnest($2::TEXT[], $3::TEXT[], $4::INT8[]) AS t(u, d, m)
         WHERE q.scope = $1 AND q.user_id = t.u AND q.device = t.d
           AND q.seq IN (SELECT k.seq FROM daemon_queue k
                         WHERE k.scope = $1 AND k.user_id = t.u AND k.device = t.d
                         ORDER BY k.seq DESC OFFSET t.m)
         RETURNING q.user_id, q.device",
    )
    .bind(scope)
    .bind(&trim_users)
    .bind(&trim_devices)
    .bind(&bounds)
    .fetch_all(&mut *conn)
    .await?;
    let mut dropped: HashMap<usize, u64> = HashMap::new();
    for row in trimmed {
        let (user, device): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if let Some(i) = DeviceKey::new(&user, &device).and_then(|key| last.get(&key).copied()) {
            *dropped.entry(i).or_default() += 1;
        }
    }
    sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::TEXT[]) AS p")
        .bind(CHANNEL)
        .bind(&payloads)
        .execute(&mut *conn)
        .await?;
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
async fn remove_many(
    conn: &mut PgConnection,
    scope: &str,
    run: &[Write],
) -> Result<Vec<u64>, sqlx::Error> {
    let (mut users, mut devices, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for write in run {
        if let Write::Remove { device, id } = write {
            users.push(device.user());
            devices.push(device.device());
            ids.push(id.as_str());
        }
    }
    let removed = sqlx::query(
        "DELETE FROM daemon_queue q
         USING unnest($2::TEXT[], $3::TEXT[], $4::TEXT[]) AS t(u, d, i)
         WHERE q.scope = $1 AND q.user_id = t.u AND q.device = t.d AND q.id = t.i
         RETURNING q.user_id, q.device, q.id",
    )
    .bind(scope)
    .bind(&users)
    .bind(&devices)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut counts: HashMap<(String, String, String), u64> = HashMap::new();
    for row in removed {
        *counts
            .entry((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
            .or_default() += 1;
    }
    Ok(run
        .iter()
        .map(|write| match write {
            Write::Remove { device, id } => counts
                .remove(&(
                    device.user().to_owned(),
                    device.device().to_owned(),
                    id.clone(),
                ))
                .unwrap_or(0),
            Write::Append { .. } => 0,
        })
        .collect())
}
