//! Delivering one push to one device: queue first, then wait for the ack if it is connected.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use pushway_core::{Outcome, Reason};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::conn::Conn;
use crate::hub::Inner;
use crate::key::DeviceKey;
use crate::queue::NewPush;

/// The reason code of a `Retry` when the queue store failed.
pub const REASON_STORE: &str = "queue_store";

/// A push after its append: settled already, or waiting for its device's ack.
pub(crate) enum Enqueued {
    /// The outcome is known (offline, or the store failed).
    Done(Outcome),
    /// Queued and its connection woken: the ack is awaited on `ack`.
    Waiting {
        conn: Arc<Conn>,
        ack: oneshot::Receiver<()>,
    },
}

impl Inner {
    /// Appends the push to the device's queue (the single source of truth) and wakes its
    /// connection if there is one; the caller then waits for the ack with
    /// [`Inner::wait_for_acks`], under one deadline for the whole batch (one timer per send,
    /// not one per push).
    ///
    /// `Queued` when the device is offline; `Retry` when the store failed, so nothing was kept.
    pub(crate) async fn enqueue(
        &self,
        device: &DeviceKey,
        id: &str,
        frame: &Arc<str>,
        expires_at_ms: u64,
    ) -> Enqueued {
        let conn = self.connection(device);
        // Wait for the ack before the push is visible to the connection, so a fast ack cannot
        // be missed.
        let ack = conn.as_ref().map(|c| c.wait_for_ack(id));
        let push = NewPush {
            id,
            frame,
            expires_at_ms,
        };
        match self
            .store
            .append(device, push, self.config.queue_max_len)
            .await
        {
            Ok(appended) if appended.dropped > 0 => {
                self.counters
                    .dropped_overflow
                    .fetch_add(appended.dropped, Ordering::Relaxed);
                tracing::debug!(
                    dropped = appended.dropped,
                    "daemon queue full: dropped oldest"
                );
            }
            Ok(_) => {}
            Err(error) => {
                if let Some(conn) = &conn {
                    drop(ack);
                    conn.forget_waiter(id);
                }
                tracing::warn!(%error, "daemon queue store failed");
                return Enqueued::Done(Outcome::Retry {
                    after: None,
                    reason: Reason::new(REASON_STORE).with_detail(error.to_string()),
                });
            }
        }
        let (Some(conn), Some(ack)) = (conn, ack) else {
            return Enqueued::Done(self.queued());
        };
        conn.wake_to_read();
        Enqueued::Waiting { conn, ack }
    }

    /// Waits for the acks of the `Waiting` pushes (all of push id `id`) up to the ack timeout,
    /// counted from now, and returns every outcome in order.
    ///
    /// `Delivered` when acked in time; `Queued` when the ack did not come in time or the
    /// connection ended first (the push is still queued and replayed on the next connection).
    pub(crate) async fn wait_for_acks(&self, id: &str, enqueued: Vec<Enqueued>) -> Vec<Outcome> {
        let now = Instant::now();
        // As `tokio::time::timeout` does for a timeout too long to represent.
        let deadline = now
            .checked_add(self.config.ack_timeout)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30));
        let mut outcomes = Vec::with_capacity(enqueued.len());
        let mut conns = Vec::new();
        let mut waiting = FuturesUnordered::new();
        for (index, push) in enqueued.into_iter().enumerate() {
            match push {
                Enqueued::Done(outcome) => outcomes.push(Some(outcome)),
                Enqueued::Waiting { conn, ack } => {
                    outcomes.push(None);
                    conns.push((index, conn));
                    waiting.push(async move { (index, ack.await) });
                }
            }
        }
        if !waiting.is_empty() {
            let sleep = tokio::time::sleep_until(deadline);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    biased;
                    next = waiting.next() => match next {
                        Some((index, Ok(()))) => {
                            self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                            outcomes[index] = Some(Outcome::DELIVERED);
                        }
                        // The connection ended (its waiters were dropped): still queued.
                        Some((index, Err(_))) => outcomes[index] = Some(self.queued()),
                        None => break,
                    },
                    () = &mut sleep => break,
                }
            }
        }
        // The receivers of the pushes still waiting are dropped before their waiters are
        // forgotten, so `forget_waiter` sees them closed.
        drop(waiting);
        for (index, conn) in conns {
            if outcomes[index].is_none() {
                // Timed out: still queued.
                outcomes[index] = Some(self.queued());
            }
            if let Some(Outcome::Queued) = outcomes[index] {
                conn.forget_waiter(id);
            }
        }
        outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or(Outcome::Queued))
            .collect()
    }

    fn queued(&self) -> Outcome {
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        Outcome::Queued
    }
}
