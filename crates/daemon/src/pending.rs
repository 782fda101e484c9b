//! Connections that have not said `hello` yet: counted, capped, and shed oldest first.
//!
//! Every accepted socket holds a file descriptor and memory before it proves anything. Idle
//! sockets that never authenticate would otherwise hold them until the auth timeout, and at the
//! process's file limit they starve real devices (1,100 idle sockets under a 1,024 limit
//! delayed a device's welcome by 7 s). So at most `max_unauthenticated` connections wait for
//! `hello`: a new one sheds the oldest, which is the closest to its auth timeout anyway.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// The connections awaiting `hello`, oldest first (ids increase).
#[derive(Default)]
pub(crate) struct Pending {
    waiting: Mutex<BTreeMap<u64, Arc<Notify>>>,
    next_id: AtomicU64,
    pub(crate) shed: AtomicU64,
}

/// One connection's place among those awaiting `hello`; leaving it (drop) frees the place.
pub(crate) struct PendingGuard<'a> {
    pending: &'a Pending,
    id: u64,
    /// Notified when this connection is shed.
    pub(crate) shed: Arc<Notify>,
}

impl Pending {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Notify>>> {
        // Inserts and removes only: a poisoned map is still consistent.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new connection; when more than `max` wait, the oldest is told to go.
    pub(crate) fn enter(&self, max: usize) -> PendingGuard<'_> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let shed = Arc::new(Notify::new());
        let mut waiting = self.lock();
        waiting.insert(id, shed.clone());
        while waiting.len() > max {
            self.shed_oldest_locked(&mut waiting);
        }
        PendingGuard {
            pending: self,
            id,
            shed,
        }
    }

    /// Sheds the oldest waiting connection, if any (to free a file descriptor when `accept`
    /// fails for want of one); whether there was one.
    pub(crate) fn shed_oldest(&self) -> bool {
        self.shed_oldest_locked(&mut self.lock())
    }

    fn shed_oldest_locked(&self, waiting: &mut BTreeMap<u64, Arc<Notify>>) -> bool {
        match waiting.pop_first() {
            Some((_, shed)) => {
                // A permit: the connection sees it even if it is not waiting at this instant.
                shed.notify_one();
                self.shed.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// How many connections await `hello` now.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.pending.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::Pending;

    #[test]
    fn the_oldest_are_shed_beyond_the_cap() {
        let pending = Pending::default();
        let first = pending.enter(2);
        let second = pending.enter(2);
        let third = pending.enter(2);
        assert_eq!(pending.len(), 2);
        assert_eq!(pending.shed.load(std::sync::atomic::Ordering::Relaxed), 1);
        // The first was shed (its permit is waiting), the others were not.
        assert!(first.shed.notified().now_or_never().is_some());
        assert!(second.shed.notified().now_or_never().is_none());
        drop(second);
        assert_eq!(pending.len(), 1);
        assert!(pending.shed_oldest());
        assert!(third.shed.notified().now_or_never().is_some());
        assert!(!pending.shed_oldest());
    }
}
