//! The accept path's group commit: concurrent accepts are committed together, one transaction
//! (one fsync) for all that arrived while the previous one was being written, and each caller
//! answered only after its message is durable. Rows it may write leased to this process's
//! worker go to the worker's hand-off once committed (`worker::Handoff`).

use std::sync::Arc;

use tokio::sync::{Notify, mpsc, oneshot};

use super::Clock;
use crate::store::{
    AcceptLease, Accepted, LeasedAtAccept, MessagePart, NewMessage, Store, StoreError,
};
use crate::worker::Handoff;

/// Messages committed in one transaction at most.
const MAX_MESSAGES: usize = 256;
/// Delivery rows committed in one transaction at most (bounds one transaction's length).
const MAX_ROWS: usize = 20_000;
/// Accepts waiting for the committer at most; more wait for room (backpressure).
const QUEUE: usize = 1024;

type Reply = oneshot::Sender<Result<Accepted, StoreError>>;

/// Hands messages to the committer task.
#[derive(Debug, Clone)]
pub(crate) struct Committer {
    tx: mpsc::Sender<(NewMessage, Reply)>,
    after: Arc<After>,
}

/// What a commit is followed by: its leased rows handed to the worker, and the workers'
/// claims woken for rows left due.
struct After {
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
        let (tx, mut rx) = mpsc::channel::<(NewMessage, Reply)>(QUEUE);
        let after = Arc::new(After {
            store,
            clock,
            handoff,
            wake,
        });
        let task = after.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut rows = rows_of(&first.0);
                let mut batch = vec![first];
                while batch.len() < MAX_MESSAGES && rows < MAX_ROWS {
                    match rx.try_recv() {
                        Ok(next) => {
                            rows += rows_of(&next.0);
                            batch.push(next);
                        }
                        Err(_) => break,
                    }
                }
                let (messages, replies): (Vec<NewMessage>, Vec<Reply>) = batch.into_iter().unzip();
                let deliveries: usize = messages
                    .iter()
                    .flat_map(|m| &m.recipients)
                    .map(|r| r.deliveries.len())
                    .sum();
                let lease = task.reserve(deliveries);
                let committed = task.store.accept_leasing(messages, lease).await;
                match task.committed(lease, committed, deliveries).await {
                    Ok(accepted) => {
                        for (reply, accepted) in replies.into_iter().zip(accepted) {
                            let _ = reply.send(Ok(accepted));
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(StoreError::new(&message)));
                        }
                    }
                }
            }
        });
        Committer { tx, after }
    }

    /// Commits `message` (with others arriving meanwhile); answers once it is durable.
    pub(crate) async fn commit(&self, message: NewMessage) -> Result<Accepted, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((message, reply))
            .await
            .map_err(|_| StoreError::new("the accept committer stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::new("the accept committer stopped"))?
    }

    /// Commits `head` with the recipients of `parts` (`Store::accept_in_parts`), on its own:
    /// a message large enough to be written while it is still being rendered. Answers once
    /// it is durable, or the store's error (the parts abandoned included).
    pub(crate) async fn commit_in_parts(
        &self,
        head: NewMessage,
        parts: mpsc::Receiver<MessagePart>,
    ) -> Result<Accepted, StoreError> {
        let after = &self.after;
        // How many rows it will have is known only at the end: as many as there is room for.
        let lease = after.reserve(usize::MAX);
        let committed = after
            .store
            .accept_in_parts(head, parts, lease)
            .await
            .map(|(accepted, leased)| (vec![accepted], leased));
        // Its rows are not counted here: a new message wakes the claims in case some were
        // left due (at worst one claim that finds nothing).
        let deliveries = match &committed {
            Ok((accepted, _)) if accepted.iter().any(|a| a.created) => usize::MAX,
            _ => 0,
        };
        let accepted = after.committed(lease, committed, deliveries).await?;
        accepted
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::new("an accept answered no message"))
    }
}

impl std::fmt::Debug for After {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("After").finish_non_exhaustive()
    }
}

impl After {
    fn reserve(&self, deliveries: usize) -> Option<AcceptLease> {
        self.handoff.reserve(self.clock.now_ms(), deliveries)
    }

    /// After a commit of `deliveries` rows under `lease`: the leased rows to the worker, the
    /// claims woken when some were left due.
    async fn committed(
        &self,
        lease: Option<AcceptLease>,
        committed: Result<(Vec<Accepted>, LeasedAtAccept), StoreError>,
        deliveries: usize,
    ) -> Result<Vec<Accepted>, StoreError> {
        let (accepted, leased) = match committed {
            Ok(committed) => committed,
            Err(e) => {
                if let Some(lease) = &lease {
                    let _ = self.handoff.deliver(lease, LeasedAtAccept::default());
                }
                return Err(e);
            }
        };
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
        Ok(accepted)
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
