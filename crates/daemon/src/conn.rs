//! One live connection as the hub and the provider see it: its wake-up and kick signals, and
//! the senders waiting for its acks.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustc_hash::FxHashMap;
use tokio::sync::{Notify, oneshot};

use crate::protocol::CloseReason;

/// One live connection, as the hub and the provider see it.
pub(crate) struct Conn {
    pub(crate) id: u64,
    /// How new its token is ([`DeviceClaims::rank`](crate::DeviceClaims)): a connection with an
    /// older token may not replace this one.
    pub(crate) rank: (u64, u64),
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
    pub(crate) fn new(id: u64, rank: (u64, u64)) -> Conn {
        Conn {
            id,
            rank,
            wake: Notify::new(),
            kick: Notify::new(),
            kick_reason: AtomicU16::new(0),
            waiters: Mutex::new(Some(FxHashMap::default())),
        }
    }

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

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a map insert or remove: a panic inside one leaves the map
    // consistent, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
