//! Delivering one push to one device: queue first, then wait for the ack if it is connected.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use pushway_core::{Outcome, Reason};

use crate::hub::Inner;
use crate::queue::NewPush;

/// The reason code of a `Retry` when the queue store failed.
pub const REASON_STORE: &str = "queue_store";

impl Inner {
    /// Appends the push to the device's queue (the single source of truth), wakes its
    /// connection if there is one, and waits up to the ack timeout for the ack.
    ///
    /// `Delivered` when acked in time; `Queued` when the device is offline, the ack did not come
    /// in time, or the connection ended first (the push is still queued and replayed on the next
    /// connection); `Retry` when the store failed, so nothing was kept.
    pub(crate) async fn deliver(
        &self,
        device: &str,
        id: &str,
        frame: &Arc<str>,
        expires_at_ms: u64,
    ) -> Outcome {
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
                return Outcome::Retry {
                    after: None,
                    reason: Reason::new(REASON_STORE).with_detail(error.to_string()),
                };
            }
        }
        let (Some(conn), Some(ack)) = (conn, ack) else {
            return self.queued();
        };
        conn.wake.notify_one();
        match tokio::time::timeout(self.config.ack_timeout, ack).await {
            Ok(Ok(())) => {
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                Outcome::DELIVERED
            }
            // Timed out, or the connection ended (its waiters were dropped): still queued.
            Ok(Err(_)) | Err(_) => {
                conn.forget_waiter(id);
                self.queued()
            }
        }
    }

    fn queued(&self) -> Outcome {
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        Outcome::Queued
    }
}
