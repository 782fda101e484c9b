//! Deterministic fault triggers shared by the Xiaomi and Huawei simulators.
//!
//! A fault rule pairs a [`Trigger`] (which requests) with a vendor fault (what happens to them).
//! Triggers never use randomness, so a test or benchmark that injects "1 request in 10" sees the
//! same requests fail on every run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Which requests a fault rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trigger {
    /// Every request.
    Always,
    /// The next `n` requests that reach the rule, then never again.
    Times(u64),
    /// `k` requests out of every `n`, spread evenly and deterministically: counting the requests
    /// that reach the rule from 1, request `i` is hit when `⌊i·k/n⌋ > ⌊(i−1)·k/n⌋`. `Ratio { k: 1,
    /// n: 10 }` hits requests 10, 20, 30, …; `k ≥ n` hits every request; `n = 0` hits none.
    Ratio {
        /// Requests hit per `n`.
        k: u64,
        /// Window length.
        n: u64,
    },
    /// Every request that targets this device token (regid / push token), whatever else it targets.
    Token(String),
}

impl Trigger {
    /// `k` requests out of every `n` (see [`Trigger::Ratio`]).
    pub fn ratio(k: u64, n: u64) -> Self {
        Trigger::Ratio { k, n }
    }

    /// Every request that targets `token` (see [`Trigger::Token`]).
    pub fn token(token: impl Into<String>) -> Self {
        Trigger::Token(token.into())
    }
}

/// What a vendor fault enum tells the shared rule engine about itself.
pub(crate) trait FaultKind: Clone + Send + 'static {
    /// `Some(d)` when the fault only adds latency `d` and lets the request go on.
    fn latency(&self) -> Option<Duration>;
}

/// The outcome of matching one request against the rules.
#[derive(Debug)]
pub(crate) struct Decision<F> {
    /// Sum of the latency of every matching latency rule.
    pub delay: Duration,
    /// The first matching fault that is not a latency, if any.
    pub action: Option<F>,
}

#[derive(Debug)]
struct Rule<F> {
    trigger: Trigger,
    fault: F,
    /// Requests that reached this rule (for `Ratio`) or were hit by it (for `Times`).
    seen: u64,
}

/// An ordered list of fault rules. Latencies of all matching rules add up; the first other rule
/// that matches decides the response, and the rules after it are not consulted (a `Times` rule
/// is not used up by a request another rule answered). `Ratio` rules count every request, so
/// their hit positions do not depend on the other rules.
#[derive(Debug)]
pub(crate) struct FaultRules<F> {
    /// Lets the hot path skip the lock when no rule is set (the benchmark case).
    any: AtomicBool,
    rules: Mutex<Vec<Rule<F>>>,
}

impl<F> Default for FaultRules<F> {
    fn default() -> Self {
        FaultRules {
            any: AtomicBool::new(false),
            rules: Mutex::new(Vec::new()),
        }
    }
}

impl<F: FaultKind> FaultRules<F> {
    /// Appends a rule.
    pub fn push(&self, trigger: Trigger, fault: F) {
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        rules.push(Rule {
            trigger,
            fault,
            seen: 0,
        });
        self.any.store(true, Ordering::Release);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        rules.clear();
        self.any.store(false, Ordering::Release);
    }

    /// Whether any rule is set.
    pub fn is_empty(&self) -> bool {
        !self.any.load(Ordering::Acquire)
    }

    /// Matches one request. `targets(t)` says whether the request targets token `t`.
    pub fn decide(&self, targets: impl Fn(&str) -> bool) -> Decision<F> {
        let mut decision = Decision {
            delay: Duration::ZERO,
            action: None,
        };
        if self.is_empty() {
            return decision;
        }
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        for rule in rules.iter_mut() {
            // A latency rule always applies; another rule only while no fault has been chosen,
            // so `Times(n)` counts the requests it really answered.
            let open = rule.fault.latency().is_some() || decision.action.is_none();
            let hit = match &rule.trigger {
                Trigger::Always => open,
                Trigger::Times(n) => {
                    let hit = open && rule.seen < *n;
                    if hit {
                        rule.seen += 1;
                    }
                    hit
                }
                Trigger::Ratio { k, n } => {
                    // Counts every request, so the hit positions do not depend on other rules.
                    rule.seen += 1;
                    open && ratio_hit(rule.seen, *k, *n)
                }
                Trigger::Token(token) => open && targets(token),
            };
            if !hit {
                continue;
            }
            match rule.fault.latency() {
                Some(d) => decision.delay += d,
                None => decision.action = Some(rule.fault.clone()),
            }
        }
        decision
    }
}

/// Whether request `i` (from 1) is hit by a `k` in `n` ratio.
fn ratio_hit(i: u64, k: u64, n: u64) -> bool {
    if n == 0 || k == 0 {
        return false;
    }
    if k >= n {
        return true;
    }
    let (i, k, n) = (u128::from(i), u128::from(k), u128::from(n));
    (i * k) / n > ((i - 1) * k) / n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    enum F {
        Slow(Duration),
        Fail(u8),
    }

    impl FaultKind for F {
        fn latency(&self) -> Option<Duration> {
            match self {
                F::Slow(d) => Some(*d),
                F::Fail(_) => None,
            }
        }
    }

    #[test]
    fn ratio_is_even_and_deterministic() {
        let hits: Vec<u64> = (1..=20).filter(|&i| ratio_hit(i, 1, 10)).collect();
        assert_eq!(hits, vec![10, 20]);
        let hits: Vec<u64> = (1..=10).filter(|&i| ratio_hit(i, 3, 10)).collect();
        assert_eq!(hits, vec![4, 7, 10]);
        assert!((1..=5).all(|i| ratio_hit(i, 5, 5)));
        assert!(!(1..=5).any(|i| ratio_hit(i, 1, 0)));
    }

    #[test]
    fn times_then_stops_and_latencies_add_up() {
        let rules = FaultRules::default();
        assert!(rules.is_empty());
        rules.push(Trigger::Always, F::Slow(Duration::from_millis(5)));
        rules.push(Trigger::Times(2), F::Fail(1));
        rules.push(Trigger::Always, F::Fail(2));
        rules.push(Trigger::Always, F::Slow(Duration::from_millis(7)));
        let d = rules.decide(|_| false);
        assert_eq!(d.delay, Duration::from_millis(12));
        assert_eq!(d.action, Some(F::Fail(1)));
        assert_eq!(rules.decide(|_| false).action, Some(F::Fail(1)));
        assert_eq!(rules.decide(|_| false).action, Some(F::Fail(2)));

        // Times rules behind a chosen fault are not used up.
        let rules = FaultRules::default();
        rules.push(Trigger::Times(1), F::Fail(1));
        rules.push(Trigger::Times(1), F::Fail(2));
        assert_eq!(rules.decide(|_| false).action, Some(F::Fail(1)));
        assert_eq!(rules.decide(|_| false).action, Some(F::Fail(2)));
        assert_eq!(rules.decide(|_| false).action, None);
        rules.clear();
        assert!(rules.is_empty());
        assert_eq!(rules.decide(|_| false).action, None);
    }

    #[test]
    fn token_trigger_matches_only_requests_naming_the_token() {
        let rules = FaultRules::default();
        rules.push(Trigger::token("abc"), F::Fail(3));
        assert_eq!(rules.decide(|t| t == "xyz").action, None);
        assert_eq!(rules.decide(|t| t == "abc").action, Some(F::Fail(3)));
    }
}
