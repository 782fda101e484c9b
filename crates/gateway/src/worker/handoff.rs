//! Rows leased to this process's worker by the accept that wrote them, handed over in memory.
//!
//! Why: a row that a claim would find a moment after its accept costs the claim a read and a
//! rewrite of the row and of the due index (a third of the store's work per delivery in the
//! end-to-end benchmark). The accept's transaction can write it leased to this process in the
//! first place (`in_flight`, first attempt, under the same lease a claim takes) and hand it to
//! the worker with its rendered notification, which the worker then needs not read back.
//!
//! Nothing is lost by it: a handed row is in the store, leased, exactly as if claimed. If the
//! process dies before sending it, its lease expires and any worker claims it again (at least
//! once, as for claimed rows). So that a crash re-sends no more than before, the rows leased
//! this way and those of the worker's dispatches together stay within what claims alone could
//! hold (`claim_batch` × `max_in_flight`, plus the claim being dispatched), and never above
//! [`CAPACITY`] (memory stays bounded whatever the backlog); rows beyond are written due, for
//! the claims.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::send::Leased;
use crate::store::{AcceptLease, Claimed, LeasedAtAccept};

/// Rows waiting in memory at most (about 250 bytes each, so 10 MiB): the largest message's
/// worth, its most recipients (`MAX_RECIPIENTS`, 10,000) with four devices each.
pub(crate) const CAPACITY: usize = 40_000;

/// The worker's in-memory inbox of rows leased at accept.
#[derive(Debug, Default)]
pub struct Handoff {
    inner: Mutex<Inner>,
    /// Signalled when rows are queued (a permit is kept if the worker is busy).
    ready: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    /// `Some(lease in ms)` while a worker takes rows; `None` before it starts and after it
    /// stops (accepts then write every row due).
    lease_ms: Option<i64>,
    /// Rows leased at once at most: these, the dispatches' and the promised ones.
    capacity: usize,
    /// The rows of the worker's dispatches.
    dispatching: Option<Arc<Leased>>,
    /// Rows queued, and rows promised to accepts being committed.
    queued: usize,
    reserved: usize,
    batches: VecDeque<LeasedAtAccept>,
}

impl Handoff {
    /// Starts taking rows, leased for `lease_ms`, at most `capacity` (bounded by [`CAPACITY`])
    /// leased at once with those of the worker's dispatches, `dispatching`.
    pub(crate) fn open(&self, lease_ms: i64, capacity: usize, dispatching: Arc<Leased>) {
        let mut inner = self.lock();
        inner.lease_ms = Some(lease_ms);
        inner.capacity = capacity.min(CAPACITY);
        inner.dispatching = Some(dispatching);
    }

    /// Stops taking rows; answers the ids of those still queued (their leases to release).
    pub(crate) fn close(&self) -> Vec<i64> {
        let mut inner = self.lock();
        inner.lease_ms = None;
        inner.queued = 0;
        inner
            .batches
            .drain(..)
            .flat_map(|b| b.rows.into_iter().map(|r| r.id))
            .collect()
    }

    /// Reserves room for up to `wanted` rows of an accept at `now`: the lease its transaction
    /// should write, or `None` when no worker takes rows or there is no room. Pair it with
    /// [`deliver`](Self::deliver) (also after a failed commit, with no rows).
    pub(crate) fn reserve(&self, now: i64, wanted: usize) -> Option<AcceptLease> {
        let mut inner = self.lock();
        let lease_ms = inner.lease_ms?;
        let dispatching = inner.dispatching.as_ref().map_or(0, |d| d.len());
        let room = inner
            .capacity
            .saturating_sub(inner.queued + inner.reserved + dispatching);
        let rows = room.min(wanted);
        if rows == 0 {
            return None;
        }
        inner.reserved += rows;
        Some(AcceptLease {
            now,
            lease_until: now.saturating_add(lease_ms),
            rows,
        })
    }

    /// Queues the rows an accept leased under `lease` (releasing the rest of its reservation).
    /// `Err` gives them back when the worker stopped meanwhile: the caller releases them.
    pub(crate) fn deliver(
        &self,
        lease: &AcceptLease,
        leased: LeasedAtAccept,
    ) -> Result<(), LeasedAtAccept> {
        let mut inner = self.lock();
        inner.reserved = inner.reserved.saturating_sub(lease.rows);
        if leased.rows.is_empty() {
            return Ok(());
        }
        if inner.lease_ms.is_none() {
            return Err(leased);
        }
        inner.queued += leased.rows.len();
        inner.batches.push_back(leased);
        drop(inner);
        self.ready.notify_one();
        Ok(())
    }

    /// Signalled when rows are queued.
    pub(crate) fn ready(&self) -> &Notify {
        &self.ready
    }

    /// The oldest queued batch.
    pub(crate) fn take(&self) -> Option<LeasedAtAccept> {
        let mut inner = self.lock();
        let batch = inner.batches.pop_front()?;
        inner.queued = inner.queued.saturating_sub(batch.rows.len());
        Some(batch)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The ids of `rows`.
pub(crate) fn ids(rows: &[Claimed]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64) -> Claimed {
        Claimed {
            id,
            app: "app".into(),
            notification_id: 1,
            kind: pushway_core::TokenKind::Xiaomi,
            credential: "c".into(),
            token: "t".into(),
            attempts: 1,
            retries: 0,
            expires_at: 10,
            last_reason: None,
            message_id: "m".into(),
            accepted_at: 0,
        }
    }

    fn leased(ids: std::ops::Range<i64>) -> LeasedAtAccept {
        LeasedAtAccept {
            rows: ids.map(row).collect(),
            notifications: vec![(1, "{}".into())],
        }
    }

    #[test]
    fn nothing_is_reserved_before_a_worker_opens_it_or_after_it_closes() {
        let handoff = Handoff::default();
        assert_eq!(handoff.reserve(5, 10), None);
        handoff.open(1000, CAPACITY, Arc::default());
        assert_eq!(
            handoff.reserve(5, 10),
            Some(AcceptLease {
                now: 5,
                lease_until: 1005,
                rows: 10
            })
        );
        assert!(handoff.close().is_empty());
        assert_eq!(handoff.reserve(5, 10), None);
    }

    #[test]
    fn room_counts_queued_reserved_and_dispatched_rows_up_to_the_capacity() {
        let handoff = Handoff::default();
        let dispatching = Arc::new(Leased::default());
        handoff.open(1000, 100, dispatching.clone());
        dispatching.add(&[row(90), row(91)]);
        assert_eq!(handoff.reserve(0, 1000).map(|l| l.rows), Some(98));
        assert_eq!(handoff.reserve(0, 1), None);

        let handoff = Handoff::default();
        handoff.open(1000, usize::MAX, Arc::default());
        let first = handoff.reserve(0, CAPACITY - 3).expect("room");
        let second = handoff.reserve(0, 10).expect("room");
        assert_eq!(second.rows, 3);
        assert_eq!(handoff.reserve(0, 1), None);
        // The first commit leased only two rows: the rest of its reservation is free again.
        handoff.deliver(&first, leased(0..2)).expect("open");
        assert_eq!(
            handoff.reserve(0, usize::MAX).map(|l| l.rows),
            Some(CAPACITY - 5)
        );
        handoff.deliver(&second, leased(2..5)).expect("open");
        assert_eq!(handoff.take().map(|b| ids(&b.rows)), Some(vec![0, 1]));
        assert_eq!(handoff.take().map(|b| ids(&b.rows)), Some(vec![2, 3, 4]));
        assert!(handoff.take().is_none());
    }

    #[test]
    fn rows_delivered_after_the_worker_stopped_are_given_back_and_queued_ones_released() {
        let handoff = Handoff::default();
        handoff.open(1000, CAPACITY, Arc::default());
        let a = handoff.reserve(0, 2).expect("room");
        let b = handoff.reserve(0, 2).expect("room");
        handoff.deliver(&a, leased(0..2)).expect("open");
        assert_eq!(handoff.close(), vec![0, 1]);
        let back = handoff.deliver(&b, leased(2..4)).expect_err("closed");
        assert_eq!(ids(&back.rows), vec![2, 3]);
    }
}
