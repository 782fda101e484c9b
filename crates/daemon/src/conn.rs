//! One live connection as the hub and the provider see it: its wake-up and kick signals, the
//! pushes its wake-ups carried, and the senders waiting for its acks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustc_hash::FxHashMap;
use tokio::sync::{Notify, oneshot};

use crate::protocol::CloseReason;
use crate::queue::StoredPush;

/// Carried pushes kept for a connection at most; beyond, its session reads its queue instead.
const MAX_CARRIED: usize = 256;

/// One live connection, as the hub and the provider see it.
pub(crate) struct Conn {
    pub(crate) id: u64,
    /// How new its token is ([`DeviceClaims::rank`](crate::DeviceClaims)): a connection with an
    /// older token may not replace this one.
    pub(crate) rank: (u64, u64),
    /// New pushes are in the queue: [`Conn::take_wake`] says whether to read it.
    pub(crate) wake: Notify,
    /// What the wake-ups since the session last looked asked for.
    woken: Mutex<Woken>,
    /// The hub wants this connection closed with `kick_reason`.
    pub(crate) kick: Notify,
    kick_reason: AtomicU16,
    /// Senders waiting for the ack of a push id; `None` once the connection has ended.
    waiters: Mutex<Option<FxHashMap<String, Waiters>>>,
}

/// A push as its wake-up carried it (appended by this hub to a store that tells the push before
/// it, or on another node of a Postgres cluster): the session sends it without reading its
/// queue when nothing before it in the queue is unsent, that is when `prev` (the seq before it
/// in the device's queue, `None` when it was the only one) is at or below the session's cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Carried {
    pub(crate) push: StoredPush,
    pub(crate) prev: Option<u64>,
}

/// What a session does on a wake-up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Read the queue after the cursor.
    Read,
    /// Send these, in order, where they follow on (see [`Carried`]); read the queue otherwise.
    Carried(Vec<Carried>),
}

#[derive(Debug, Default)]
struct Woken {
    /// A wake-up without a push (a local append, a missed event): the queue must be read.
    read: bool,
    carried: VecDeque<Carried>,
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

    /// Tells every waiter; whether any was still listening (a waiter that is told counts the
    /// ack: see `Inner::wait_for_acks`).
    fn send(self) -> bool {
        match self {
            Waiters::One(tx) => tx.send(()).is_ok(),
            Waiters::Many(list) => {
                // Every one is told: no short circuit.
                let mut told = false;
                for tx in list {
                    told |= tx.send(()).is_ok();
                }
                told
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
            woken: Mutex::new(Woken::default()),
            kick: Notify::new(),
            kick_reason: AtomicU16::new(0),
            waiters: Mutex::new(Some(FxHashMap::default())),
        }
    }

    /// New pushes are in the queue: the session reads it.
    pub(crate) fn wake_to_read(&self) {
        {
            let mut woken = lock(&self.woken);
            woken.read = true;
            woken.carried.clear();
        }
        self.wake.notify_one();
    }

    /// A push appended (here or on another node), carried by its wake-up.
    pub(crate) fn carry(&self, carried: Carried) {
        {
            let mut woken = lock(&self.woken);
            if !woken.read {
                if woken.carried.len() < MAX_CARRIED {
                    woken.carried.push_back(carried);
                } else {
                    woken.read = true;
                    woken.carried.clear();
                }
            }
        }
        self.wake.notify_one();
    }

    /// What the wake-ups since the last call (or [`Conn::reading`]) asked for.
    pub(crate) fn take_wake(&self) -> Wake {
        let mut woken = lock(&self.woken);
        if std::mem::take(&mut woken.read) {
            woken.carried.clear();
            Wake::Read
        } else {
            Wake::Carried(woken.carried.drain(..).collect())
        }
    }

    /// The session starts reading its queue: the read covers every push woken about so far
    /// (each was committed before its wake-up was sent).
    pub(crate) fn reading(&self) {
        let mut woken = lock(&self.woken);
        woken.read = false;
        woken.carried.clear();
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

    /// `id` was acked: its waiters are told. Whether any was still listening, so that its
    /// send reports the push `Delivered`.
    pub(crate) fn acked(&self, id: &str) -> bool {
        let list = lock(&self.waiters).as_mut().and_then(|w| w.remove(id));
        list.is_some_and(Waiters::send)
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a map insert or remove: a panic inside one leaves the map
    // consistent, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
