//! The hub: (user, device) → live connection, the queue, and the settings every connection
//! shares.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use pushway_core::{DeviceToken, Presence, TokenKind};
use rustc_hash::FxHashMap;
use tokio::sync::{Notify, oneshot};

use crate::auth::{DeviceAuth, KeyError};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::key::DeviceKey;
use crate::pending::Pending;
use crate::protocol::CloseReason;
use crate::queue::{QueueStore, StoreError};
use crate::store_memory::MemoryStore;

/// The server side of the daemon channel: which devices are connected, their store-and-forward
/// queues, and the settings. Cheap to clone (an `Arc`); serve it with [`Hub::serve`] and send
/// through it with a [`DaemonProvider`](crate::DaemonProvider).
#[derive(Clone)]
pub struct Hub {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) auth: DeviceAuth,
    pub(crate) store: Arc<dyn QueueStore>,
    pub(crate) clock: Arc<dyn Clock>,
    registry: Mutex<Registry>,
    next_conn_id: AtomicU64,
    pub(crate) counters: Counters,
    /// Connections that have not said `hello` yet.
    pub(crate) pending: Pending,
}

/// The live connections and the revocations made by this process, under one lock so a
/// revocation and a connection's registration cannot cross.
#[derive(Default)]
struct Registry {
    /// FxHash: keys come from tokens this hub signed and verified, not free input.
    conns: FxHashMap<DeviceKey, Arc<Conn>>,
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
}

/// One live connection, as the hub and the provider see it.
pub(crate) struct Conn {
    pub(crate) id: u64,
    /// How new its token is ([`DeviceClaims::rank`](crate::DeviceClaims)): a connection with an
    /// older token may not replace this one.
    rank: (u64, u64),
    /// New pushes are in the queue.
    pub(crate) wake: Notify,
    /// The hub wants this connection closed with `kick_reason`.
    pub(crate) kick: Notify,
    kick_reason: AtomicU16,
    /// Senders waiting for the ack of a push id; `None` once the connection has ended.
    waiters: Mutex<Option<FxHashMap<String, Waiters>>>,
}

/// The senders waiting for one push id: almost always one, kept without a `Vec` allocation.
enum Waiters {
    One(oneshot::Sender<()>),
    Many(Vec<oneshot::Sender<()>>),
}

impl Waiters {
    fn push(&mut self, tx: oneshot::Sender<()>) {
        match self {
            Waiters::Many(list) => list.push(tx),
            Waiters::One(_) => {
                let Waiters::One(first) = std::mem::replace(self, Waiters::Many(Vec::new())) else {
                    return;
                };
                *self = Waiters::Many(vec![first, tx]);
            }
        }
    }

    /// Drops the senders whose receiver is gone; whether any is left.
    fn retain_open(&mut self) -> bool {
        match self {
            Waiters::One(tx) => !tx.is_closed(),
            Waiters::Many(list) => {
                list.retain(|tx| !tx.is_closed());
                !list.is_empty()
            }
        }
    }

    fn send(self) {
        match self {
            Waiters::One(tx) => {
                let _ = tx.send(());
            }
            Waiters::Many(list) => {
                for tx in list {
                    let _ = tx.send(());
                }
            }
        }
    }
}

impl Conn {
    pub(crate) fn kick(&self, reason: CloseReason) {
        self.kick_reason.store(reason.code(), Ordering::SeqCst);
        self.kick.notify_one();
    }

    pub(crate) fn kick_reason(&self) -> CloseReason {
        CloseReason::from_code(self.kick_reason.load(Ordering::SeqCst))
            .unwrap_or(CloseReason::GoingAway)
    }

    /// A receiver that completes when `id` is acked on this connection, or fails when the
    /// connection ends first (at once if it already has).
    pub(crate) fn wait_for_ack(&self, id: &str) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if let Some(waiters) = lock(&self.waiters).as_mut() {
            if let Some(list) = waiters.get_mut(id) {
                list.push(tx);
            } else {
                waiters.insert(id.to_owned(), Waiters::One(tx));
            }
        }
        rx
    }

    /// Forgets waiters that gave up (their receiver was dropped after a timeout).
    pub(crate) fn forget_waiter(&self, id: &str) {
        let mut guard = lock(&self.waiters);
        let Some(waiters) = guard.as_mut() else {
            return;
        };
        if let Some(list) = waiters.get_mut(id)
            && !list.retain_open()
        {
            waiters.remove(id);
        }
    }

    /// The connection ended: every waiter, present and future, fails at once.
    pub(crate) fn abandon_waiters(&self) {
        let waiters = lock(&self.waiters).take();
        drop(waiters);
    }

    pub(crate) fn acked(&self, id: &str) {
        let list = lock(&self.waiters).as_mut().and_then(|w| w.remove(id));
        if let Some(list) = list {
            list.send();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a map insert or remove: a panic inside one leaves the map
    // consistent, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
}

impl Hub {
    /// A builder; `auth` signs and checks the devices' tokens.
    pub fn builder(auth: DeviceAuth) -> HubBuilder {
        HubBuilder {
            auth,
            config: Config::default(),
            store: None,
            clock: None,
        }
    }

    /// Whether `device` of `user` has a live, authenticated connection now.
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
        let mut registry = lock(&self.inner.registry);
        let known = registry.generations.entry(key.clone()).or_insert(0);
        *known = (*known).max(generation);
        if let Some(conn) = registry.conns.get(&key)
            && conn.rank.0 < generation
        {
            conn.kick(CloseReason::AuthRevoked);
        }
        Ok(generation)
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
        let conn = Arc::new(Conn {
            id: self.next_conn_id.fetch_add(1, Ordering::Relaxed),
            rank,
            wake: Notify::new(),
            kick: Notify::new(),
            kick_reason: AtomicU16::new(0),
            waiters: Mutex::new(Some(FxHashMap::default())),
        });
        let previous = registry.conns.insert(key.clone(), conn.clone());
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
        }
    }
}

impl Presence for Hub {
    fn is_connected(&self, device: &DeviceToken) -> bool {
        device.kind == TokenKind::Daemon
            && DeviceKey::parse(&device.token)
                .is_some_and(|key| self.inner.connection(&key).is_some())
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

/// Builds a [`Hub`]. Every setting has a default (the `DEFAULT_*` constants).
#[must_use]
pub struct HubBuilder {
    auth: DeviceAuth,
    config: Config,
    store: Option<Arc<dyn QueueStore>>,
    clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for HubBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `auth` prints without its secret.
        f.debug_struct("HubBuilder")
            .field("auth", &self.auth)
            .field("config", &self.config)
            .field("custom_store", &self.store.is_some())
            .field("custom_clock", &self.clock.is_some())
            .finish()
    }
}

impl HubBuilder {
    /// How long a connected device has to ack a push before the push counts as `Queued`.
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.config.ack_timeout = timeout;
        self
    }

    /// How often the server pings each device.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.ping_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long without any frame from a device before its connection is closed as dead
    /// ([`CloseReason::IdleTimeout`]); checked at each ping.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// How long a new connection has for the WebSocket handshake and its `hello`.
    pub fn auth_timeout(mut self, timeout: Duration) -> Self {
        self.config.auth_timeout = timeout;
        self
    }

    /// How long one batch of writes to a device may take, and how long a device with pushes in
    /// flight may go without acking any, before the connection is closed as stalled
    /// ([`CloseReason::TooSlow`]); its pushes stay queued.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout;
        self
    }

    /// The most pushes sent on one connection and not yet acked (at least 1).
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.config.max_in_flight = max.max(1);
        self
    }

    /// The most bytes of pushes sent on one connection and not yet acked (one push is always
    /// allowed, however large); further pushes wait in the queue.
    pub fn max_in_flight_bytes(mut self, max: usize) -> Self {
        self.config.max_in_flight_bytes = max;
        self
    }

    /// The most connections waiting to say `hello`, their TCP, TLS and WebSocket handshakes
    /// included (at least 1). A new connection beyond it sheds the oldest waiting one, closed
    /// with [`CloseReason::TryAgainLater`] (or dropped if still in a handshake): idle sockets
    /// cannot hold the process's file descriptors away from real devices.
    pub fn max_unauthenticated(mut self, max: usize) -> Self {
        self.config.max_unauthenticated = max.max(1);
        self
    }

    /// The most pushes queued per device; beyond it the oldest are dropped and counted.
    pub fn queue_max_len(mut self, max: usize) -> Self {
        self.config.queue_max_len = max.max(1);
        self
    }

    /// The longest a push stays queued; a notification's own TTL, when shorter, wins.
    pub fn queue_ttl(mut self, ttl: Duration) -> Self {
        self.config.queue_ttl = ttl;
        self
    }

    /// Where queues live (default: a [`MemoryStore`]).
    pub fn store(mut self, store: impl QueueStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Where queues live, shared with the caller.
    pub fn shared_store(mut self, store: Arc<dyn QueueStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock for queue TTLs (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The hub.
    pub fn build(self) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                config: self.config,
                auth: self.auth,
                store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                registry: Mutex::new(Registry::default()),
                next_conn_id: AtomicU64::new(1),
                counters: Counters::default(),
                pending: Pending::default(),
            }),
        }
    }
}
