//! This node's picture of who is connected to the other nodes: the presence table mirrored in
//! memory (the router asks for every `DaemonFirst` dispatch and may not wait for a query), kept
//! current by the presence events and reloaded whole after the listener reconnects; and the
//! nodes whose heartbeat is fresh (a dead node's entries are ignored).

use std::sync::{Mutex, MutexGuard, PoisonError};

use rustc_hash::{FxHashMap, FxHashSet};

use super::event::Event;
use crate::key::DeviceKey;

#[derive(Debug)]
pub(super) struct Mirror {
    me: String,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Devices connected to other nodes: the node and since when (milliseconds).
    remote: FxHashMap<DeviceKey, (String, u64)>,
    /// Nodes with a fresh heartbeat.
    live: FxHashSet<String>,
}

impl Mirror {
    pub(super) fn new(me: &str) -> Mirror {
        Mirror {
            me: me.to_owned(),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Inserts and removes only: a poisoned map is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn connected_elsewhere(&self, device: &DeviceKey) -> bool {
        let state = self.lock();
        state
            .remote
            .get(device)
            .is_some_and(|(node, _)| state.live.contains(node))
    }

    /// A presence event (others are ignored).
    pub(super) fn apply(&self, event: &Event) {
        let mut state = self.lock();
        match event {
            Event::Connected {
                device,
                node,
                since_ms,
            } => {
                if *node == self.me {
                    // Connected here now: whatever another node said before is over.
                    state.remote.remove(device);
                    return;
                }
                // It just wrote: it is alive.
                state.live.insert(node.clone());
                let newer = state
                    .remote
                    .get(device)
                    .is_none_or(|(_, since)| since <= since_ms);
                if newer {
                    state
                        .remote
                        .insert(device.clone(), (node.clone(), *since_ms));
                }
            }
            Event::Disconnected { device, node } => {
                if state.remote.get(device).is_some_and(|(n, _)| n == node) {
                    state.remote.remove(device);
                }
            }
            Event::Queued { .. } | Event::Pushed(_) | Event::WakeAll | Event::Revoked(..) => {}
        }
    }

    /// The presence table's rows of this scope, whole.
    pub(super) fn reload(&self, rows: Vec<(DeviceKey, String, u64)>) {
        let remote = rows
            .into_iter()
            .filter(|(_, node, _)| *node != self.me)
            .map(|(device, node, since)| (device, (node, since)))
            .collect();
        self.lock().remote = remote;
    }

    /// The nodes whose heartbeat is fresh.
    pub(super) fn set_live(&self, nodes: impl IntoIterator<Item = String>) {
        self.lock().live = nodes.into_iter().collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected(device: &DeviceKey, node: &str, since_ms: u64) -> Event {
        Event::Connected {
            device: device.clone(),
            node: node.to_owned(),
            since_ms,
        }
    }

    #[test]
    fn the_latest_connection_wins_and_dead_nodes_do_not_count() {
        let mirror = Mirror::new("me");
        let key = DeviceKey::new("u", "d").unwrap();
        mirror.apply(&connected(&key, "b", 10));
        assert!(mirror.connected_elsewhere(&key));
        // An older connect reported late does not win; the disconnect of a node the device
        // already left changes nothing.
        mirror.apply(&connected(&key, "c", 5));
        mirror.apply(&Event::Disconnected {
            device: key.clone(),
            node: "c".to_owned(),
        });
        assert!(mirror.connected_elsewhere(&key));
        // Node b's heartbeat is stale: its entries are ignored.
        mirror.set_live(["c".to_owned()]);
        assert!(!mirror.connected_elsewhere(&key));
        mirror.set_live(["b".to_owned()]);
        assert!(mirror.connected_elsewhere(&key));
        mirror.apply(&Event::Disconnected {
            device: key.clone(),
            node: "b".to_owned(),
        });
        assert!(!mirror.connected_elsewhere(&key));
        // Connected here: not elsewhere.
        mirror.apply(&connected(&key, "b", 20));
        mirror.apply(&connected(&key, "me", 30));
        assert!(!mirror.connected_elsewhere(&key));
        // A reload replaces everything, leaving this node's rows out.
        mirror.reload(vec![(key.clone(), "me".to_owned(), 40)]);
        assert!(!mirror.connected_elsewhere(&key));
        mirror.reload(vec![(key.clone(), "b".to_owned(), 40)]);
        assert!(mirror.connected_elsewhere(&key));
    }
}
