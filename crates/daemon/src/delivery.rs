//! Delivering one push to one device: queue first, then wait for the ack if it is connected.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use pushway_core::{Outcome, Reason};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::conn::{Carried, Conn};
use crate::hub::Inner;
use crate::key::DeviceKey;
use crate::queue::{NewPush, StoredPush};

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
        let appended = match self
            .store
            .append(device, push, self.config.queue_max_len)
            .await
        {
            Ok(appended) => appended,
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
        };
        if appended.dropped > 0 {
            self.counters
                .dropped_overflow
                .fetch_add(appended.dropped, Ordering::Relaxed);
            tracing::debug!(
                dropped = appended.dropped,
                "daemon queue full: dropped oldest"
            );
        }
        let (Some(conn), Some(ack)) = (conn, ack) else {
            return Enqueued::Done(self.queued());
        };
        match appended.prev {
            // The wake-up carries the push: sent without a read of the queue when everything
            // before it was sent.
            Some(prev) => conn.carry(Carried {
                push: StoredPush {
                    seq: appended.seq,
                    id: id.to_owned(),
                    frame: frame.clone(),
                    expires_at_ms,
                },
                prev: (prev > 0).then_some(prev),
            }),
            None => conn.wake_to_read(),
        }
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
        let mut acks = Vec::new();
        for (index, push) in enqueued.into_iter().enumerate() {
            match push {
                Enqueued::Done(outcome) => outcomes.push(Some(outcome)),
                Enqueued::Waiting { conn, ack } => {
                    outcomes.push(None);
                    acks.push((index, conn, ack));
                }
            }
        }
        if !acks.is_empty() {
            let mut waiting: FuturesUnordered<_> = acks
                .iter_mut()
                .map(|(index, _, ack)| async move { (*index, ack.await) })
                .collect();
            let sleep = tokio::time::sleep_until(deadline);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    biased;
                    next = waiting.next() => match next {
                        Some((index, Ok(()))) => outcomes[index] = Some(self.delivered()),
                        // The connection ended (its waiters were dropped): still queued.
                        Some((index, Err(_))) => outcomes[index] = Some(self.queued()),
                        None => break,
                    },
                    () = &mut sleep => break,
                }
            }
        }
        for (index, conn, mut ack) in acks {
            if outcomes[index].is_some() {
                continue;
            }
            // Timed out. Closed first, so an ack from now on finds no one listening (and is
            // reported to the hub's ack listener instead); one that came before still counts.
            ack.close();
            outcomes[index] = Some(match ack.try_recv() {
                Ok(()) => self.delivered(),
                Err(_) => self.queued(),
            });
            if let Some(Outcome::Queued) = outcomes[index] {
                // The receiver is dropped before its waiter is forgotten, so `forget_waiter`
                // sees it closed.
                drop(ack);
                conn.forget_waiter(id);
            }
        }
        outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or(Outcome::Queued))
            .collect()
    }

    fn delivered(&self) -> Outcome {
        self.counters.delivered.fetch_add(1, Ordering::Relaxed);
        Outcome::DELIVERED
    }

    fn queued(&self) -> Outcome {
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        Outcome::Queued
    }
}
