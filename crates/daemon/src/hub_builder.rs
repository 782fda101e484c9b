//! [`HubBuilder`]: a hub's settings, each with its default.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::DeviceAuth;
use crate::clock::{Clock, SystemClock};
use crate::cluster::{Cluster, LocalHub};
use crate::config::Config;
use crate::hub::{AckListener, Hub, Inner};
use crate::key::DeviceKey;
use crate::queue::QueueStore;
use crate::store_memory::MemoryStore;

/// Builds a [`Hub`]. Every setting has a default (the `DEFAULT_*` constants).
#[must_use]
pub struct HubBuilder {
    auth: DeviceAuth,
    config: Config,
    store: Option<Arc<dyn QueueStore>>,
    clock: Option<Arc<dyn Clock>>,
    on_acked: Option<AckListener>,
    cluster: Option<Arc<dyn Cluster>>,
}

impl std::fmt::Debug for HubBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `auth` prints without its secret.
        f.debug_struct("HubBuilder")
            .field("auth", &self.auth)
            .field("config", &self.config)
            .field("custom_store", &self.store.is_some())
            .field("custom_clock", &self.clock.is_some())
            .field("on_acked", &self.on_acked.is_some())
            .field("cluster", &self.cluster.is_some())
            .finish()
    }
}

impl HubBuilder {
    pub(crate) fn new(auth: DeviceAuth) -> HubBuilder {
        HubBuilder {
            auth,
            config: Config::default(),
            store: None,
            clock: None,
            on_acked: None,
            cluster: None,
        }
    }

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
    /// ([`CloseReason::IdleTimeout`](crate::CloseReason::IdleTimeout)); checked at each ping.
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
    /// ([`CloseReason::TooSlow`](crate::CloseReason::TooSlow)); its pushes stay queued.
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
    /// with [`CloseReason::TryAgainLater`](crate::CloseReason::TryAgainLater) (or dropped if still in a handshake): idle sockets
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

    /// Calls `listener` with the device and the push id each time a device's ack removes a
    /// push from its queue that no send is waiting for: the push reached the device after the
    /// send that queued it reported `Queued` (it gave up waiting, or the device was offline and
    /// acked on a later connection). A send that sees the ack reports `Delivered` itself and
    /// the listener is not called for it, so each ack is told exactly once, to one of them. A
    /// duplicate ack of a push already removed does not call it. It runs on the connection's
    /// task, between reading that ack and the next frame: keep it short (hand the event to a
    /// channel).
    pub fn on_acked(mut self, listener: impl Fn(&DeviceKey, &str) + Send + Sync + 'static) -> Self {
        self.on_acked = Some(Arc::new(listener));
        self
    }

    /// Runs the hub as one node of a cluster whose nodes share its store (a
    /// [`PgCluster`](crate::PgCluster) over the same [`PgStore`](crate::PgStore)): pushes
    /// another node appends wake this node's connections, [`Presence`](pushway_core::Presence)
    /// answers for the whole cluster, and revocations close connections on any node.
    pub fn cluster(mut self, cluster: impl Cluster) -> Self {
        self.cluster = Some(Arc::new(cluster));
        self
    }

    /// The hub.
    pub fn build(self) -> Hub {
        let inner = Arc::new(Inner::new(
            self.config,
            self.auth,
            self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
            self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            self.on_acked,
            self.cluster,
        ));
        if let Some(cluster) = &inner.cluster {
            cluster.attach(LocalHub {
                inner: Arc::downgrade(&inner),
            });
        }
        Hub { inner }
    }
}
