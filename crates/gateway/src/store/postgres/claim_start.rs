//! Where a claim starts its walk of `deliveries_due` (issue 16: a long transaction elsewhere
//! must not make claims crawl).
//!
//! Every claim leaves an index entry behind at the old `run_at` of each row it leases, and
//! every completion another at the lease's end. While any session holds a transaction open,
//! Postgres can neither remove those entries nor mark them dead, so a claim that walks the
//! index from its oldest entry visits the heap for each of them: its cost grows with
//! everything claimed since that transaction began. A claim started at the right key skips
//! them.
//!
//! A claim starts at the lower of two keys in the claim order (run_at, notification_id, id):
//! - the **cursor**: the first row the latest claims of this store returned. Below it, rows
//!   were claimed (by this claim or a concurrent one that held them locked), are held by a
//!   paused route, or were not yet visible;
//! - the **window**: `now - WINDOW_MS`, so a row that becomes visible a little late (an accept
//!   committed after its `run_at` stamp, a node whose clock is behind this one's) is taken by
//!   the next claim, in order, even when the cursor already passed it.
//!
//! What is below both (a row visible more than `WINDOW_MS` late, a paused route resumed, a
//! claim that failed after locking its rows) is taken by a **sweep**: a claim from the start of
//! the index, run at most every `SWEEP_MS` of the callers' clock (the `now` passed to the
//! claim, so the test clock decides). A sweep that finds rows moves the cursor back to the
//! first of them, so the claims after it continue through the stragglers in order however many
//! there are. An empty windowed claim does not sweep: under load, workers that caught up claim
//! empty often, and each sweep under an open transaction walks every entry left since it
//! began.

use std::sync::{Mutex, PoisonError};

/// A position in the claim order: (run_at, notification_id, id).
pub(super) type Key = (i64, i64, i64);

/// The first key of the index: where a sweep starts.
pub(super) const START: Key = (i64::MIN, i64::MIN, i64::MIN);

/// How late (in ms of `run_at`) a row may become visible and still be taken by the next
/// claim. It covers an accept's transaction (its rows are stamped before it commits; a
/// 10,000-recipient accept commits within a few hundred ms) and the clock skew between nodes
/// (NTP keeps it to milliseconds). Under an open transaction, each claim walks the entries of
/// the rows claimed in the last `WINDOW_MS`: the price of the window.
pub const WINDOW_MS: i64 = 2_000;

/// How often (in ms of the callers' clock) a claim sweeps from the start of the index: the
/// longest a row below the window waits, plus the time to the next claim (an idle worker's
/// poll). Each sweep under an open transaction walks every entry left since it began.
pub const SWEEP_MS: i64 = 5_000;

/// The cursor and the sweeps of one store (shared by its workers).
#[derive(Debug)]
pub(super) struct ClaimStart {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    cursor: Key,
    /// The callers' `now` of the latest sweep; `None` before the first.
    swept_at: Option<i64>,
    /// Moves at each sweep's start and end: a windowed claim that overlapped a sweep does not
    /// move the cursor past the stragglers the sweep left for the claims after it.
    epoch: u64,
}

/// A claim's start, handed back to [`ClaimStart::end`] with what it returned.
#[derive(Debug, Clone, Copy)]
pub(super) struct Walk {
    /// The claim takes only rows at or after this key.
    pub from: Key,
    sweep: bool,
    epoch: u64,
}

impl Default for ClaimStart {
    fn default() -> ClaimStart {
        ClaimStart {
            state: Mutex::new(State {
                cursor: START,
                swept_at: None,
                epoch: 0,
            }),
        }
    }
}

impl ClaimStart {
    /// Where a claim at `now` starts: a sweep when none ran in the last `SWEEP_MS` of the
    /// callers' clock (or that clock went back by as much), else the lower of the cursor and
    /// the window.
    pub(super) fn begin(&self, now: i64) -> Walk {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let due = state
            .swept_at
            .is_none_or(|at| now.abs_diff(at) >= SWEEP_MS.unsigned_abs());
        if due {
            state.swept_at = Some(now);
            state.epoch += 1;
            return Walk {
                from: START,
                sweep: true,
                epoch: state.epoch,
            };
        }
        let window = (now.saturating_sub(WINDOW_MS), i64::MIN, i64::MIN);
        Walk {
            from: state.cursor.min(window),
            sweep: false,
            epoch: state.epoch,
        }
    }

    /// Moves the cursor after a claim that returned `first` as its first row (in claim order):
    /// a sweep sets it there (back, if it found stragglers); a windowed claim moves it forward,
    /// unless a sweep started since it began.
    pub(super) fn end(&self, walk: Walk, first: Option<Key>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if walk.sweep {
            state.epoch += 1;
            if let Some(first) = first {
                state.cursor = first;
            }
        } else if walk.epoch == state.epoch
            && let Some(first) = first
        {
            state.cursor = state.cursor.max(first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_claim_sweeps_then_claims_start_at_the_cursor_or_the_window() {
        let start = ClaimStart::default();
        let sweep = start.begin(100_000);
        assert_eq!(sweep.from, START);
        start.end(sweep, Some((1_000, 1, 10)));
        // The cursor is older than the window: the claim starts there.
        assert_eq!(start.begin(100_001).from, (1_000, 1, 10));
        let walk = start.begin(101_000);
        start.end(walk, Some((99_500, 2, 20)));
        // The cursor is now within the window: the window's start is lower.
        assert_eq!(start.begin(101_000).from, (99_000, i64::MIN, i64::MIN));
        // An empty claim leaves the cursor.
        let walk = start.begin(101_000);
        start.end(walk, None);
        assert_eq!(start.begin(104_999).from, (99_500, 2, 20));
        // SWEEP_MS after the last sweep, a sweep; it moves the cursor back to its first row.
        let sweep = start.begin(105_000);
        assert_eq!(sweep.from, START);
        start.end(sweep, Some((500, 3, 30)));
        assert_eq!(start.begin(105_001).from, (500, 3, 30));
        // The clock going back by SWEEP_MS sweeps too (a test clock reset).
        assert_eq!(start.begin(99_000).from, START);
    }

    #[test]
    fn a_windowed_claim_that_overlapped_a_sweep_does_not_move_the_cursor() {
        let start = ClaimStart::default();
        let sweep = start.begin(100_000);
        start.end(sweep, Some((1_000, 1, 10)));
        let before = start.begin(100_001);
        let sweep = start.begin(105_000);
        let during = start.begin(105_000);
        start.end(sweep, Some((600, 1, 1)));
        start.end(before, Some((90_000, 1, 1)));
        start.end(during, Some((90_000, 1, 1)));
        assert_eq!(start.begin(105_001).from, (600, 1, 1));
        // A claim that began after the sweep ended moves it again.
        let after = start.begin(105_001);
        start.end(after, Some((90_000, 1, 1)));
        assert_eq!(start.begin(105_001).from, (90_000, 1, 1));
    }
}
