//! The retry budget: retries may add only a fixed share of extra load (tower's `TpsBudget` is the
//! model).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::ConfigError;

/// The window is kept as this many slots; deposits and withdrawals older than the window expire
/// one slot at a time.
const SLOTS: usize = 10;

/// Bounds retries to a share of the first attempts seen recently, so a vendor outage cannot
/// multiply traffic: every first attempt of a token *deposits* one unit, every retried token
/// *withdraws* one, and a withdrawal is allowed while
///
/// `withdrawals ≤ min_per_sec × window + retry_ratio × deposits`
///
/// over the last `window`. The `min_per_sec` reserve lets a quiet sender still retry. Units are
/// tokens (one token in one request), because a vendor outage costs per token and Huawei counts
/// its limits per token.
///
/// Clones share one budget; share it across providers (see
/// [`DeliveryBuilder::retry_budget`](crate::DeliveryBuilder::retry_budget)) to bound retries of
/// the whole sender. Uses tokio's clock, so tests with paused time control it.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    slot_len: Duration,
    reserve: f64,
    ratio: f64,
    start: Instant,
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    /// Index (counted from `start`) of the slot `slots[current % SLOTS]` holds.
    current: u64,
    slots: [(u64, u64); SLOTS],
}

impl RetryBudget {
    /// The default window: tower's.
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);
    /// The default reserve: tower's.
    pub const DEFAULT_MIN_PER_SEC: u32 = 10;
    /// The default share: retries add at most 20% to the load.
    pub const DEFAULT_RETRY_RATIO: f64 = 0.2;

    /// A budget over `window` (at least 10 ms) allowing `min_per_sec` retries per second plus
    /// `retry_ratio` (0 ..= 1000) retries per first attempt.
    pub fn new(window: Duration, min_per_sec: u32, retry_ratio: f64) -> Result<Self, ConfigError> {
        if window < Duration::from_millis(10) {
            return Err(ConfigError::new(
                "retry_budget.window",
                "must be at least 10 ms",
            ));
        }
        if !(0.0..=1000.0).contains(&retry_ratio) {
            return Err(ConfigError::new(
                "retry_budget.retry_ratio",
                "must be within 0 ..= 1000",
            ));
        }
        Ok(Self::build(window, min_per_sec, retry_ratio))
    }

    fn build(window: Duration, min_per_sec: u32, ratio: f64) -> Self {
        RetryBudget {
            inner: Arc::new(Inner {
                slot_len: window / SLOTS as u32,
                reserve: f64::from(min_per_sec) * window.as_secs_f64(),
                ratio,
                start: Instant::now(),
                state: Mutex::new(Window {
                    current: 0,
                    slots: [(0, 0); SLOTS],
                }),
            }),
        }
    }

    /// Records `tokens` first attempts.
    pub fn deposit(&self, tokens: usize) {
        self.inner
            .with_window(|w| w.slots[w.index()].0 += tokens as u64);
    }

    /// Asks to retry `tokens` tokens; returns how many may be retried (all, some or none) and
    /// records that many withdrawals.
    pub fn withdraw(&self, tokens: usize) -> usize {
        let (ratio, reserve) = (self.inner.ratio, self.inner.reserve);
        self.inner.with_window(|w| {
            let (deposits, withdrawals) = w
                .slots
                .iter()
                .fold((0, 0), |(d, r), slot| (d + slot.0, r + slot.1));
            let allowed = reserve + ratio * deposits as f64 - withdrawals as f64;
            let granted = (allowed.max(0.0).floor() as usize).min(tokens);
            w.slots[w.index()].1 += granted as u64;
            granted
        })
    }
}

impl Default for RetryBudget {
    /// 10 s window, 10 retries a second in reserve, 20% extra load.
    fn default() -> Self {
        Self::build(
            Self::DEFAULT_WINDOW,
            Self::DEFAULT_MIN_PER_SEC,
            Self::DEFAULT_RETRY_RATIO,
        )
    }
}

impl Inner {
    fn with_window<T>(&self, f: impl FnOnce(&mut Window) -> T) -> T {
        let now_slot = (self.start.elapsed().as_nanos() / self.slot_len.as_nanos().max(1)) as u64;
        let mut window = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // Clear the slots that fell out of the window since the last call (at most all of them).
        let stale = now_slot.saturating_sub(window.current).min(SLOTS as u64);
        for step in 1..=stale {
            let i = ((window.current + step) % SLOTS as u64) as usize;
            window.slots[i] = (0, 0);
        }
        window.current = window.current.max(now_slot);
        f(&mut window)
    }
}

impl Window {
    fn index(&self) -> usize {
        (self.current % SLOTS as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn allows_the_reserve_plus_the_ratio_then_refuses() {
        let budget = RetryBudget::new(Duration::from_secs(10), 1, 0.2).unwrap();
        budget.deposit(100);
        // 10 in reserve + 20% of 100 = 30.
        assert_eq!(budget.withdraw(25), 25);
        assert_eq!(budget.withdraw(25), 5);
        assert_eq!(budget.withdraw(1), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn old_deposits_and_withdrawals_expire() {
        let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5).unwrap();
        budget.deposit(10);
        assert_eq!(budget.withdraw(10), 5);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(
            budget.withdraw(10),
            0,
            "the deposits expired with the window"
        );
        budget.deposit(4);
        assert_eq!(budget.withdraw(10), 2, "the old withdrawals expired too");
    }

    #[test]
    fn rejects_nonsense() {
        assert!(RetryBudget::new(Duration::ZERO, 1, 0.2).is_err());
        assert!(RetryBudget::new(Duration::from_secs(1), 1, -0.1).is_err());
        assert!(RetryBudget::new(Duration::from_secs(1), 1, f64::NAN).is_err());
    }
}
