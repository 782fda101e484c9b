//! [`Cluster`]: how a hub works beside other hubs (nodes) that share its queue store — pushes
//! appended on one node wake the connection on another, presence is answered cluster-wide, and
//! a revocation closes the device's connection wherever it is. [`PgCluster`](crate::PgCluster)
//! is the Postgres one.

use std::sync::Weak;

use crate::conn::{Carried, lock};
use crate::hub::Inner;
use crate::key::DeviceKey;
use crate::queue::StoredPush;

/// A hub's link to the other nodes of its cluster. Set with
/// [`HubBuilder::cluster`](crate::HubBuilder::cluster); the hub calls it on every connect and
/// disconnect, and asks it for presence.
pub trait Cluster: Send + Sync + 'static {
    /// Called once, by the hub built with this cluster: what other nodes do reaches that hub
    /// through `hub`.
    fn attach(&self, hub: LocalHub);

    /// A device's connection registered on this node.
    fn connected(&self, device: &DeviceKey);

    /// A device's connection on this node ended (another connection of the same device on this
    /// node, if any, replaced it: then [`connected`](Cluster::connected) was called first).
    fn disconnected(&self, device: &DeviceKey);

    /// Whether `device` is connected to another node that is alive. Must be cheap and must not
    /// block: the router asks it for every `DaemonFirst` dispatch.
    fn connected_elsewhere(&self, device: &DeviceKey) -> bool;
}

/// What the cluster may do to the local hub: wake a connection to re-read its queue, close a
/// revoked one. Holds the hub weakly: once the hub is dropped, every call does nothing.
#[derive(Clone)]
pub struct LocalHub {
    pub(crate) inner: Weak<Inner>,
}

impl LocalHub {
    /// `device`'s queue has new pushes: its connection here, if any, sends them.
    pub fn wake(&self, device: &DeviceKey) {
        if let Some(conn) = self
            .inner
            .upgrade()
            .and_then(|inner| inner.connection(device))
        {
            conn.wake_to_read();
        }
    }

    /// A push was appended to `device`'s queue on another node, and its wake-up carried it
    /// (`prev`: the seq before it in that queue, `None` when none): its connection here, if
    /// any, sends it without reading the queue when nothing before it is unsent, and reads the
    /// queue otherwise.
    pub fn carry(&self, device: &DeviceKey, push: StoredPush, prev: Option<u64>) {
        if let Some(conn) = self
            .inner
            .upgrade()
            .and_then(|inner| inner.connection(device))
        {
            conn.carry(Carried { push, prev });
        }
    }

    /// Every connection here re-reads its queue (after events may have been missed).
    pub fn wake_all(&self) {
        if let Some(inner) = self.inner.upgrade() {
            for conn in lock(&inner.registry).conns.values() {
                conn.wake_to_read();
            }
        }
    }

    /// `device`'s tokens below `generation` were revoked (on another node): its connection here,
    /// if authenticated with one, is closed, and no such token registers any more.
    pub fn revoked(&self, device: &DeviceKey, generation: u64) {
        if let Some(inner) = self.inner.upgrade() {
            inner.revoked(device, generation);
        }
    }

    /// The devices connected here now.
    pub fn connected(&self) -> Vec<DeviceKey> {
        self.inner.upgrade().map_or_else(Vec::new, |inner| {
            lock(&inner.registry).conns.keys().cloned().collect()
        })
    }
}

impl std::fmt::Debug for LocalHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalHub")
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}
