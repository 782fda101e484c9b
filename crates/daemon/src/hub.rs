//! The hub: (user, device) → live connection, the queue, and the settings every connection
//! shares.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pushway_core::{DeviceToken, Presence, TokenKind};
use rustc_hash::FxHashMap;

use crate::auth::{DeviceAuth, KeyError};
use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::conn::{Conn, lock};
use crate::hub_builder::HubBuilder;
use crate::key::DeviceKey;
use crate::pending::Pending;
use crate::protocol::CloseReason;
use crate::queue::{QueueStore, StoreError};

/// The server side of the daemon channel: which devices are connected, their store-and-forward
/// queues, and the settings. Cheap to clone (an `Arc`); serve it with [`Hub::serve`] and send
/// through it with a [`DaemonProvider`](crate::DaemonProvider).
#[derive(Clone)]
pub struct Hub {
    pub(crate) inner: Arc<Inner>,
}

/// Called after a device's ack removed a push from its queue.
pub(crate) type AckListener = Arc<dyn Fn(&DeviceKey, &str) + Send + Sync>;

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) auth: DeviceAuth,
    pub(crate) store: Arc<dyn QueueStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) registry: Mutex<Registry>,
    next_conn_id: AtomicU64,
    pub(crate) counters: Counters,
    /// Connections that have not said `hello` yet.
    pub(crate) pending: Pending,
    /// [`HubBuilder::on_acked`].
    pub(crate) on_acked: Option<AckListener>,
    /// [`HubBuilder::cluster`]: told of connects and disconnects, asked for presence.
    pub(crate) cluster: Option<Arc<dyn Cluster>>,
}

/// The live connections and the revocations made by this process, under one lock so a
/// revocation and a connection's registration cannot cross.
#[derive(Default)]
pub(crate) struct Registry {
    /// FxHash: keys come from tokens this hub signed and verified, not free input.
    pub(crate) conns: FxHashMap<DeviceKey, Arc<Conn>>,
    /// The current token generation of each device revoked since the hub started: checked
    /// again at registration, after the store's check at `hello`, so a connection that passed
    /// that check just before a revocation cannot register after it.
    generations: FxHashMap<DeviceKey, u64>,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) delivered: AtomicU64,
    pub(crate) queued: AtomicU64,
    pub(crate) dropped_overflow: AtomicU64,
    pub(crate) expired: AtomicU64,
    pub(crate) replaced: AtomicU64,
    pub(crate) superseded: AtomicU64,
    pub(crate) sent_carried: AtomicU64,
}

/// Counters since the hub was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HubStats {
    /// Devices connected now.
    pub connected: usize,
    /// Pushes acked within the ack timeout (`Outcome::Delivered`).
    pub delivered: u64,
    /// Pushes left in a queue (`Outcome::Queued`): device offline, or no ack in time.
    pub queued: u64,
    /// Queued pushes dropped because a device's queue was full (oldest first).
    pub dropped_overflow: u64,
    /// Queued pushes dropped because their TTL passed.
    pub expired: u64,
    /// Connections closed because the same device connected again (with a token at least as
    /// new).
    pub replaced: u64,
    /// Connections refused because the same device is connected with a newer token.
    pub superseded: u64,
    /// Connections waiting to say `hello` now (handshakes included).
    pub awaiting_hello: usize,
    /// Connections closed before `hello` because too many were waiting
    /// ([`HubBuilder::max_unauthenticated`]).
    pub shed: u64,
    /// Pushes sent as their wake-up carried them, without a read of the queue: appended by
    /// this hub (with a store that tells the push before each, as the memory and SQLite stores
    /// do) or on another node of a Postgres cluster.
    pub sent_carried: u64,
}

impl Hub {
    /// A builder; `auth` signs and checks the devices' tokens.
    pub fn builder(auth: DeviceAuth) -> HubBuilder {
        HubBuilder::new(auth)
    }

    /// Whether `device` of `user` has a live, authenticated connection to this hub now (the
    /// hub's [`Presence`] answers for the whole cluster).
    pub fn is_connected(&self, user: &str, device: &str) -> bool {
        DeviceKey::new(user, device).is_some_and(|key| self.inner.connection(&key).is_some())
    }

    /// How many pushes `device` of `user` has queued (sent-but-unacked ones included).
    pub async fn queue_len(&self, user: &str, device: &str) -> Result<usize, StoreError> {
        self.inner.store.len(&store_key(user, device)?).await
    }

    /// The current token generation of `device` of `user` (0 until it is first revoked): the
    /// one to issue its tokens with.
    pub async fn token_generation(&self, user: &str, device: &str) -> Result<u64, StoreError> {
        self.inner
            .store
            .token_generation(&store_key(user, device)?)
            .await
    }

    /// Revokes every token issued so far to `device` of `user`: bumps its token generation (in
    /// the store, so a persistent store keeps the revocation across restarts), and closes its
    /// live connection with [`CloseReason::AuthRevoked`]. Returns the new generation; tokens
    /// issued with it work.
    pub async fn revoke_device(&self, user: &str, device: &str) -> Result<u64, StoreError> {
        let key = store_key(user, device)?;
        let generation = self.inner.store.bump_token_generation(&key).await?;
        self.inner.revoked(&key, generation);
        Ok(generation)
    }

    /// Removes every push queued for `device` of `user` (with [`revoke_device`](Hub::revoke_device)
    /// when the device logs out: its next connection, after a new login, must not get what was
    /// queued before). Returns the ids removed, each once, oldest first. A push a live
    /// connection already sent stays unacked; revoke first to close that connection.
    pub async fn clear_queue(&self, user: &str, device: &str) -> Result<Vec<String>, StoreError> {
        self.inner.store.clear(&store_key(user, device)?).await
    }

    /// Issues a token for `device` of `user` with its current token generation, valid for
    /// `lifetime` (at most the auth's [`max_lifetime`](DeviceAuth::max_lifetime)).
    pub async fn issue_token(
        &self,
        user: &str,
        device: &str,
        lifetime: std::time::Duration,
    ) -> Result<String, KeyError> {
        let generation = self
            .token_generation(user, device)
            .await
            .map_err(|e| KeyError(format!("cannot read the device's token generation: {e}")))?;
        self.inner.auth.issue(user, device, generation, lifetime)
    }

    /// The counters.
    pub fn stats(&self) -> HubStats {
        let c = &self.inner.counters;
        HubStats {
            connected: lock(&self.inner.registry).conns.len(),
            delivered: c.delivered.load(Ordering::Relaxed),
            queued: c.queued.load(Ordering::Relaxed),
            dropped_overflow: c.dropped_overflow.load(Ordering::Relaxed),
            expired: c.expired.load(Ordering::Relaxed),
            replaced: c.replaced.load(Ordering::Relaxed),
            superseded: c.superseded.load(Ordering::Relaxed),
            awaiting_hello: self.inner.pending.len(),
            shed: self.inner.pending.shed.load(Ordering::Relaxed),
            sent_carried: c.sent_carried.load(Ordering::Relaxed),
        }
    }

    /// The token signer and verifier, to issue device tokens.
    pub fn auth(&self) -> &DeviceAuth {
        &self.inner.auth
    }

    /// Closes every connection with [`CloseReason::GoingAway`].
    pub fn disconnect_all(&self) {
        for conn in lock(&self.inner.registry).conns.values() {
            conn.kick(CloseReason::GoingAway);
        }
    }
}

/// A key from a caller's ids; the store's error type, as the calls that take them return it.
fn store_key(user: &str, device: &str) -> Result<DeviceKey, StoreError> {
    DeviceKey::new(user, device).ok_or_else(|| {
        StoreError::new("not a device: an empty user or device id, or a device id with '/'")
    })
}

impl Inner {
    pub(crate) fn new(
        config: Config,
        auth: DeviceAuth,
        store: Arc<dyn QueueStore>,
        clock: Arc<dyn Clock>,
        on_acked: Option<AckListener>,
        cluster: Option<Arc<dyn Cluster>>,
    ) -> Inner {
        Inner {
            config,
            auth,
            store,
            clock,
            registry: Mutex::new(Registry::default()),
            next_conn_id: AtomicU64::new(1),
            counters: Counters::default(),
            pending: Pending::default(),
            on_acked,
            cluster,
        }
    }

    /// `device`'s tokens below `generation` are revoked: its connection here, if authenticated
    /// with one, is closed, and no such token registers from now on.
    pub(crate) fn revoked(&self, key: &DeviceKey, generation: u64) {
        let mut registry = lock(&self.registry);
        let known = registry.generations.entry(key.clone()).or_insert(0);
        *known = (*known).max(generation);
        if let Some(conn) = registry.conns.get(key)
            && conn.rank.0 < generation
        {
            conn.kick(CloseReason::AuthRevoked);
        }
    }

    pub(crate) fn connection(&self, key: &DeviceKey) -> Option<Arc<Conn>> {
        lock(&self.registry).conns.get(key).cloned()
    }

    /// Makes a new connection, authenticated with a token of `rank`, the device's live one;
    /// the previous one is told to close. Refused when the live connection's token is newer
    /// ([`CloseReason::Superseded`]: an old token, or a copy of one, cannot take the device
    /// over from its owner), or the device was revoked since the token's generation.
    pub(crate) fn register(
        &self,
        key: &DeviceKey,
        rank: (u64, u64),
    ) -> Result<Arc<Conn>, CloseReason> {
        let mut registry = lock(&self.registry);
        if registry
            .generations
            .get(key)
            .is_some_and(|&current| rank.0 < current)
        {
            return Err(CloseReason::AuthRevoked);
        }
        if let Some(live) = registry.conns.get(key)
            && live.rank > rank
        {
            self.counters.superseded.fetch_add(1, Ordering::Relaxed);
            return Err(CloseReason::Superseded);
        }
        let id = self.next_conn_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new(id, rank));
        let previous = registry.conns.insert(key.clone(), conn.clone());
        // Under the lock: this connect and the unregister of this connection are told to the
        // cluster in the order they happened.
        if let Some(cluster) = &self.cluster {
            cluster.connected(key);
        }
        drop(registry);
        if let Some(previous) = previous {
            self.counters.replaced.fetch_add(1, Ordering::Relaxed);
            previous.kick(CloseReason::Replaced);
        }
        Ok(conn)
    }

    /// Removes the device's entry if it is still this connection.
    pub(crate) fn unregister(&self, key: &DeviceKey, conn: &Conn) {
        let mut registry = lock(&self.registry);
        if registry.conns.get(key).is_some_and(|c| c.id == conn.id) {
            registry.conns.remove(key);
            if let Some(cluster) = &self.cluster {
                cluster.disconnected(key);
            }
        }
    }
}

impl Presence for Hub {
    fn is_connected(&self, device: &DeviceToken) -> bool {
        device.kind == TokenKind::Daemon
            && DeviceKey::parse(&device.token).is_some_and(|key| {
                self.inner.connection(&key).is_some()
                    || self
                        .inner
                        .cluster
                        .as_ref()
                        .is_some_and(|cluster| cluster.connected_elsewhere(&key))
            })
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("config", &self.inner.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
