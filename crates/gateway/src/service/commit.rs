//! The accept path's group commit: concurrent accepts are committed together, one transaction
//! (one fsync) for all that arrived while the previous one was being written, and each caller
//! answered only after its message is durable. Rows it may write leased to this process's
//! worker go to the worker's hand-off once committed (`worker::Handoff`).

use std::sync::Arc;

use tokio::sync::{Notify, mpsc, oneshot};

use super::Clock;
use crate::store::{Accepted, NewMessage, Store, StoreError};
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
                let lease = handoff.reserve(clock.now_ms(), deliveries);
                match store.accept_leasing(messages, lease).await {
                    Ok((accepted, leased)) => {
                        if leased.rows.len() < deliveries {
                            wake.notify_waiters();
                        }
                        if let Some(lease) = &lease
                            && let Err(back) = handoff.deliver(lease, leased)
                        {
                            // The worker stopped meanwhile: due again at once, not only when
                            // the lease expires.
                            let ids = crate::worker::handoff_ids(&back.rows);
                            if let Err(e) = store.release(&ids, clock.now_ms()).await {
                                tracing::error!(error = %e, "releasing rows leased at accept failed; they expire");
                            }
                        }
                        for (reply, accepted) in replies.into_iter().zip(accepted) {
                            let _ = reply.send(Ok(accepted));
                        }
                    }
                    Err(e) => {
                        if let Some(lease) = &lease {
                            let _ = handoff.deliver(lease, Default::default());
                        }
                        let message = e.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(StoreError::new(&message)));
                        }
                    }
                }
            }
        });
        Committer { tx }
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
}

fn rows_of(message: &NewMessage) -> usize {
    message
        .recipients
        .iter()
        .map(|r| r.deliveries.len() + 1)
        .sum::<usize>()
        .max(1)
}
