//! The accept path's group commit: concurrent accepts are committed together, one transaction
//! (one fsync) for all that arrived while the previous one was being written, and each caller
//! answered only after its message is durable. Rows it may write leased to this process's
//! worker go to the worker's hand-off once committed (`worker::Handoff`).

use std::sync::Arc;

use tokio::sync::{Notify, mpsc, oneshot};

use super::Clock;
use crate::store::{
    AcceptLease, Accepted, LeasedAtAccept, MoreRecipients, NewMessage, Store, StoreError,
};
use crate::worker::Handoff;

/// Messages committed in one transaction at most.
const MAX_MESSAGES: usize = 256;
/// Delivery rows committed in one transaction at most (bounds one transaction's length).
const MAX_ROWS: usize = 20_000;
/// Accepts waiting for the committer at most; more wait for room (backpressure).
const QUEUE: usize = 1024;

type Reply = oneshot::Sender<Result<Accepted, StoreError>>;

/// What the committer is handed.
enum Item {
    /// A message with all its recipients: committed with others arriving meanwhile.
    Whole(NewMessage, Reply),
    /// A message whose later recipients come in parts: committed alone, so that its parts
    /// failing to come (a request abandoned) fails no other message.
    Streamed(NewMessage, MoreRecipients, Reply),
}

/// Hands messages to the committer task.
#[derive(Debug, Clone)]
pub(crate) struct Committer {
    tx: mpsc::Sender<Item>,
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
        let (tx, mut rx) = mpsc::channel::<Item>(QUEUE);
        let task = Task {
            store,
            clock,
            handoff,
            wake,
        };
        tokio::spawn(async move {
            // A streamed message met while a batch was being gathered: the next to commit.
            let mut next: Option<Item> = None;
            loop {
                let first = match next.take() {
                    Some(item) => item,
                    None => match rx.recv().await {
                        Some(item) => item,
                        None => break,
                    },
                };
                let (first, first_reply) = match first {
                    Item::Streamed(message, more, reply) => {
                        task.streamed(message, more, reply).await;
                        continue;
                    }
                    Item::Whole(message, reply) => (message, reply),
                };
                let mut rows = rows_of(&first);
                let mut batch = vec![(first, first_reply)];
                while batch.len() < MAX_MESSAGES && rows < MAX_ROWS {
                    match rx.try_recv() {
                        Ok(Item::Whole(message, reply)) => {
                            rows += rows_of(&message);
                            batch.push((message, reply));
                        }
                        Ok(streamed) => {
                            next = Some(streamed);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                task.whole(batch).await;
            }
        });
        Committer { tx }
    }

    /// Commits `message` (with others arriving meanwhile); answers once it is durable.
    pub(crate) async fn commit(&self, message: NewMessage) -> Result<Accepted, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Item::Whole(message, reply)).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Commits `message` with the recipients `more` brings (alone); answers once it is
    /// durable, or with the error that left nothing stored.
    pub(crate) async fn commit_streamed(
        &self,
        message: NewMessage,
        more: MoreRecipients,
    ) -> Result<Accepted, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Item::Streamed(message, more, reply)).await?;
        answer.await.map_err(|_| stopped())?
    }

    async fn send(&self, item: Item) -> Result<(), StoreError> {
        self.tx.send(item).await.map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::new("the accept committer stopped")
}

/// The committer task's parts.
struct Task {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    handoff: Arc<Handoff>,
    wake: Arc<Notify>,
}

impl Task {
    /// Commits a batch of whole messages in one transaction and answers each.
    async fn whole(&self, batch: Vec<(NewMessage, Reply)>) {
        let (messages, replies): (Vec<NewMessage>, Vec<Reply>) = batch.into_iter().unzip();
        let deliveries: usize = messages
            .iter()
            .flat_map(|m| &m.recipients)
            .map(|r| r.deliveries.len())
            .sum();
        let lease = self.handoff.reserve(self.clock.now_ms(), deliveries);
        match self.store.accept_leasing(messages, lease).await {
            Ok((accepted, leased)) => {
                self.settle(lease, leased, deliveries).await;
                for (reply, accepted) in replies.into_iter().zip(accepted) {
                    let _ = reply.send(Ok(accepted));
                }
            }
            Err(e) => {
                self.give_back(lease);
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::new(&message)));
                }
            }
        }
    }

    /// Commits a message written in parts, alone.
    async fn streamed(&self, message: NewMessage, more: MoreRecipients, reply: Reply) {
        // How many rows it will have is unknown until its last part: the worker's whole room
        // is offered (what it does not take is given back by `deliver`).
        let lease = self.handoff.reserve(self.clock.now_ms(), usize::MAX);
        let answer = match self.store.accept_streamed(message, more, lease).await {
            Ok((accepted, leased)) => {
                self.settle(lease, leased, usize::MAX).await;
                Ok(accepted)
            }
            Err(e) => {
                self.give_back(lease);
                Err(e)
            }
        };
        let _ = reply.send(answer);
    }

    /// After a commit of `deliveries` rows: wakes the workers' claims when some were left due,
    /// and hands the leased ones to the worker (or releases them when it stopped meanwhile).
    async fn settle(&self, lease: Option<AcceptLease>, leased: LeasedAtAccept, deliveries: usize) {
        if leased.rows.len() < deliveries {
            self.wake.notify_waiters();
        }
        if let Some(lease) = &lease
            && let Err(back) = self.handoff.deliver(lease, leased)
        {
            // The worker stopped meanwhile: due again at once, not only when the lease
            // expires.
            let ids = crate::worker::handoff_ids(&back.rows);
            if let Err(e) = self.store.release(&ids, self.clock.now_ms()).await {
                tracing::error!(error = %e, "releasing rows leased at accept failed; they expire");
            }
        }
    }

    /// After a failed commit: the reservation back.
    fn give_back(&self, lease: Option<AcceptLease>) {
        if let Some(lease) = &lease {
            let _ = self.handoff.deliver(lease, Default::default());
        }
    }
}

fn rows_of(message: &NewMessage) -> usize {
    message
        .recipients
        .iter()
        .map(|r| r.deliveries.len() + 1)
        .sum::<usize>()
        .max(1)
}
