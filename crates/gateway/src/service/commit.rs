//! The accept path's group commit: concurrent accepts are committed together, one transaction
//! (one fsync) for all that arrived while the previous one was being written, and each caller
//! answered only after its message is durable. Rows it may write leased to this process's
//! worker go to the worker's hand-off once committed (`worker::Handoff`).
//!
//! A big message (more than [`PART_ROWS`] delivery rows), on a store that can, is committed in
//! parts instead, alone: each part's rows go to the worker as soon as the part is committed, so
//! sending starts while the rest is written, and the caller is answered after the last part.

use std::sync::Arc;

use tokio::sync::{Notify, mpsc, oneshot};

use super::Clock;
use crate::store::{
    AcceptLease, AcceptPart, Accepted, LeasedAtAccept, NewMessage, Store, StoreError,
};
use crate::worker::Handoff;

/// Messages committed in one transaction at most.
const MAX_MESSAGES: usize = 256;
/// Delivery rows committed in one transaction at most (bounds one transaction's length).
const MAX_ROWS: usize = 20_000;
/// Accepts waiting for the committer at most; more wait for room (backpressure).
const QUEUE: usize = 1024;
/// Delivery rows of one part of a big message at least (a part ends with a whole recipient):
/// the 25,000 rows of the 10,000-recipient benchmark message go in ten parts, the first sent
/// after a tenth of the write; each part's commit costs one fsync more. Not tuned beyond the
/// brief's 2,000-5,000 range: the runs so far were on a loaded machine.
pub(crate) const PART_ROWS: usize = 2_500;

type Reply = oneshot::Sender<Result<Accepted, StoreError>>;

/// A message to commit; `resume`: a message an earlier accept wrote in part, to complete
/// (under its id).
struct Job {
    message: NewMessage,
    resume: bool,
    reply: Reply,
}

/// Hands messages to the committer task.
#[derive(Debug, Clone)]
pub(crate) struct Committer {
    tx: mpsc::Sender<Job>,
}

/// What commits: the store and the worker's hand-off.
struct Task {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    handoff: Arc<Handoff>,
    wake: Arc<Notify>,
}

impl Committer {
    /// Starts the committer task over `store`, handing rows to `handoff` and waking the
    /// workers' claims (`wake`) when rows were left due.
    pub(crate) fn spawn(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        handoff: Arc<Handoff>,
        wake: Arc<Notify>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let task = Task {
            store,
            clock,
            handoff,
            wake,
        };
        tokio::spawn(async move {
            // A big message met while gathering a batch: committed next, on its own.
            let mut carried: Option<Job> = None;
            loop {
                let first = match carried.take() {
                    Some(job) => job,
                    None => match rx.recv().await {
                        Some(job) => job,
                        None => break,
                    },
                };
                if task.in_parts(&first) {
                    let answer = task.commit_in_parts(first.message).await;
                    let _ = first.reply.send(answer);
                    continue;
                }
                let mut rows = rows_of(&first.message);
                let mut batch = vec![first];
                while batch.len() < MAX_MESSAGES && rows < MAX_ROWS {
                    match rx.try_recv() {
                        Ok(next) if task.in_parts(&next) => {
                            carried = Some(next);
                            break;
                        }
                        Ok(next) => {
                            rows += rows_of(&next.message);
                            batch.push(next);
                        }
                        Err(_) => break,
                    }
                }
                task.commit_batch(batch).await;
            }
        });
        Committer { tx }
    }

    /// Commits `message` (with others arriving meanwhile); answers once it is durable.
    pub(crate) async fn commit(&self, message: NewMessage) -> Result<Accepted, StoreError> {
        self.send(message, false).await
    }

    /// Completes `message`, which an earlier accept wrote in part under the same id (see
    /// [`Store::accept_part`]); answers once it is durable and complete.
    pub(crate) async fn resume(&self, message: NewMessage) -> Result<Accepted, StoreError> {
        self.send(message, true).await
    }

    async fn send(&self, message: NewMessage, resume: bool) -> Result<Accepted, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job {
                message,
                resume,
                reply,
            })
            .await
            .map_err(|_| StoreError::new("the accept committer stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::new("the accept committer stopped"))?
    }
}

impl Task {
    /// Whether `job` is committed in parts: a big message, or one to complete, on a store that
    /// writes messages in parts.
    fn in_parts(&self, job: &Job) -> bool {
        self.store.accepts_in_parts() && (job.resume || deliveries_of(&job.message) > PART_ROWS)
    }

    /// Commits messages in one transaction and answers each.
    async fn commit_batch(&self, batch: Vec<Job>) {
        let (messages, replies): (Vec<NewMessage>, Vec<Reply>) =
            batch.into_iter().map(|j| (j.message, j.reply)).unzip();
        let deliveries: usize = messages.iter().map(deliveries_of).sum();
        let lease = self.handoff.reserve(self.clock.now_ms(), deliveries);
        match self.store.accept_leasing(messages, lease).await {
            Ok((accepted, leased)) => {
                self.hand(lease, leased, deliveries).await;
                for (reply, accepted) in replies.into_iter().zip(accepted) {
                    let _ = reply.send(Ok(accepted));
                }
            }
            Err(e) => {
                self.hand(lease, Default::default(), 0).await;
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::new(&message)));
                }
            }
        }
    }

    /// Commits one message in parts of about [`PART_ROWS`] rows, each handed to the worker
    /// once committed; answers after the last. A failed part leaves the message incomplete:
    /// the caller's retry completes it.
    async fn commit_in_parts(&self, message: NewMessage) -> Result<Accepted, StoreError> {
        let parts = split(message);
        let count = parts.len();
        let mut answer = None;
        for (i, (offset, part)) in parts.into_iter().enumerate() {
            let which = AcceptPart {
                first: i == 0,
                last: i + 1 == count,
                offset,
            };
            let id = part.id.clone();
            let deliveries = deliveries_of(&part);
            let lease = self.handoff.reserve(self.clock.now_ms(), deliveries);
            match self.store.accept_part(part, which, lease).await {
                Ok((accepted, leased)) => {
                    self.hand(lease, leased, deliveries).await;
                    if accepted.message_id != id {
                        // The key names another message: it answers; nothing was written.
                        return Ok(accepted);
                    }
                    answer.get_or_insert(accepted);
                }
                Err(e) => {
                    self.hand(lease, Default::default(), 0).await;
                    return Err(e);
                }
            }
        }
        answer.ok_or_else(|| StoreError::new("a message with no part"))
    }

    /// Hands the rows a commit leased to the worker (releasing the rest of `lease`'s
    /// reservation), and wakes the claims when some of its `deliveries` rows were left due.
    async fn hand(&self, lease: Option<AcceptLease>, leased: LeasedAtAccept, deliveries: usize) {
        if leased.rows.len() < deliveries {
            self.wake.notify_waiters();
        }
        let Some(lease) = &lease else {
            return;
        };
        if let Err(back) = self.handoff.deliver(lease, leased) {
            // The worker stopped meanwhile: due again at once, not only when the lease
            // expires.
            let ids = crate::worker::handoff_ids(&back.rows);
            if let Err(e) = self.store.release(&ids, self.clock.now_ms()).await {
                tracing::error!(error = %e, "releasing rows leased at accept failed; they expire");
            }
        }
    }
}

/// `message` in parts of at least [`PART_ROWS`] delivery rows (the last may have fewer), each
/// with the position of its first recipient, every notification and its own recipients.
fn split(mut message: NewMessage) -> Vec<(usize, NewMessage)> {
    let recipients = std::mem::take(&mut message.recipients);
    let mut parts = Vec::new();
    let mut current = Vec::new();
    let mut rows = 0;
    let mut offset = 0;
    let total = recipients.len();
    for (index, r) in recipients.into_iter().enumerate() {
        rows += r.deliveries.len();
        current.push(r);
        if rows >= PART_ROWS || index + 1 == total {
            let part = NewMessage {
                recipients: std::mem::take(&mut current),
                ..message.clone()
            };
            parts.push((offset, part));
            offset = index + 1;
            rows = 0;
        }
    }
    if parts.is_empty() {
        parts.push((0, message));
    }
    parts
}

fn deliveries_of(message: &NewMessage) -> usize {
    message.recipients.iter().map(|r| r.deliveries.len()).sum()
}

fn rows_of(message: &NewMessage) -> usize {
    message
        .recipients
        .iter()
        .map(|r| r.deliveries.len() + 1)
        .sum::<usize>()
        .max(1)
}
