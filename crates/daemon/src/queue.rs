//! The per-device store-and-forward queue: the storage trait and what it stores.
//!
//! The queue is the single source of truth for what a device still has to receive: every push
//! is appended to its device's queue first, a connection sends from the queue in order, and an
//! `ack` removes the push. So a push is never lost between "sent" and "acked": an unacked push
//! stays queued and is replayed on the next connection.
//!
//! | store | survives a restart | use |
//! |---|---|---|
//! | [`MemoryStore`](crate::MemoryStore) | no | tests, benchmarks, single-process deployments that accept loss on restart |
//! | [`SqliteStore`](crate::SqliteStore) | yes | a single server that must not lose queued pushes |
//! | [`PgStore`](crate::PgStore) | yes | several servers (nodes) sharing the queues, with [`PgCluster`](crate::PgCluster) |

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::key::DeviceKey;

/// The default most pushes kept per device; older ones are dropped (and counted) first.
pub const DEFAULT_QUEUE_MAX_LEN: usize = 1000;

/// The default longest time a push stays queued (a notification's own TTL may be shorter).
pub const DEFAULT_QUEUE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// One queued push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPush {
    /// The store's sequence number: increasing in the order pushes were appended.
    pub seq: u64,
    /// The push id (the message id) the device acks.
    pub id: String,
    /// The encoded `push` frame, sent as is.
    pub frame: Arc<str>,
    /// When it expires, in milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}

/// A push to append.
#[derive(Debug, Clone, Copy)]
pub struct NewPush<'a> {
    /// The push id.
    pub id: &'a str,
    /// The encoded `push` frame (shared by every device of a batch).
    pub frame: &'a Arc<str>,
    /// When it expires, in milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The new push's sequence number.
    pub seq: u64,
    /// How many of the device's oldest pushes were dropped to stay within the bound.
    pub dropped: u64,
    /// The sequence number of the push before it in the device's queue when it was appended
    /// (`Some(0)`: none; sequence numbers start at 1), if the store tells: the hub then hands
    /// the push to the device's connection with its wake-up, which sends it without reading
    /// the queue when everything before it was sent. `None`: the connection reads its queue.
    pub prev: Option<u64>,
}

/// The pushes a connection should send next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pending {
    /// Unexpired pushes after the cursor, oldest first.
    pub pushes: Vec<StoredPush>,
    /// How many expired pushes of the device were removed while looking.
    pub expired: u64,
}

/// Where queued pushes live, and the devices' token generations. Implementations must keep
/// each device's pushes in append order and must be safe to call from many connections at once.
/// Everything is keyed by [`DeviceKey`] (user and device): two users' "phone-1" are two queues.
#[async_trait]
pub trait QueueStore: Send + Sync + 'static {
    /// Appends a push to `device`'s queue, then drops the device's oldest pushes until at most
    /// `max_len` remain.
    async fn append(
        &self,
        device: &DeviceKey,
        push: NewPush<'_>,
        max_len: usize,
    ) -> Result<Appended, StoreError>;

    /// Removes `device`'s pushes that expired at or before `now_ms`, then returns up to `limit`
    /// of its pushes with a sequence number above `after`, oldest first.
    async fn pending(
        &self,
        device: &DeviceKey,
        after: u64,
        now_ms: u64,
        limit: usize,
    ) -> Result<Pending, StoreError>;

    /// Removes `device`'s pushes with this id; returns how many were removed.
    async fn remove(&self, device: &DeviceKey, id: &str) -> Result<u64, StoreError>;

    /// How many pushes `device` has queued (expired ones included until the next `pending`).
    async fn len(&self, device: &DeviceKey) -> Result<usize, StoreError>;

    /// Removes every push of `device`'s queue (a device that logged out must not get them when
    /// it next connects); returns the ids removed, each once, oldest first.
    ///
    /// The default reads the queue with [`pending`](QueueStore::pending) and removes each id;
    /// the bundled stores do it in one step.
    async fn clear(&self, device: &DeviceKey) -> Result<Vec<String>, StoreError> {
        /// Pushes read per round.
        const PAGE: usize = 256;
        let mut ids = Vec::new();
        let mut after = 0;
        loop {
            // `now_ms` 0: nothing counts as expired, so every push is seen.
            let page = self.pending(device, after, 0, PAGE).await?;
            let Some(last) = page.pushes.last() else {
                break;
            };
            after = last.seq;
            let full = page.pushes.len() >= PAGE;
            ids.extend(page.pushes.into_iter().map(|p| p.id));
            if !full {
                break;
            }
        }
        let mut removed = Vec::with_capacity(ids.len());
        for id in ids {
            // An id queued twice is removed whole the first time: 0 the second.
            if self.remove(device, &id).await? > 0 {
                removed.push(id);
            }
        }
        Ok(removed)
    }

    /// The device's current token generation (0 until first revoked): tokens of an older
    /// generation are refused.
    async fn token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError>;

    /// Bumps the device's token generation (revoking every token issued before) and returns
    /// the new one. A store that survives a restart keeps it too.
    async fn bump_token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError>;
}

/// `ids` with repeats left out, in their first order.
pub(crate) fn unique(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect()
}

/// A queue store failed (I/O, database).
pub struct StoreError {
    inner: Box<dyn StdError + Send + Sync>,
}

impl StoreError {
    /// Wraps the underlying error.
    pub fn new(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        StoreError {
            inner: source.into(),
        }
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreError({})", self.inner)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "queue store: {}", self.inner)
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::QueueStore;

    fn _dyn_compatible(_: Box<dyn QueueStore>) {}
}
