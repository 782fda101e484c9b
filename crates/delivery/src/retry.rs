//! The retry layer: the only place in pushway that sends the same push twice.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pushway_core::{DeviceToken, Notification, Outcome, PushProvider, Reason};

use crate::jitter::Jitter;
use crate::{ConfigError, RetryBudget};

/// When and how often to retry. Plain data; checked by [`Retry::new`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Attempts per token per `send`, the first included (default 4). One token is never sent
    /// more often than this for one notification, whatever the budget says.
    pub max_attempts: u32,
    /// The first backoff (default 200 ms). Attempt `n`'s backoff is `base_delay × 2ⁿ⁻¹`, capped
    /// at `max_delay`, then jittered to between half and all of it ("equal jitter"), so a retry
    /// never follows at once and retries of many tokens spread out.
    pub base_delay: Duration,
    /// The largest backoff (default 10 s).
    pub max_delay: Duration,
    /// The longest vendor-given `retry_after` this layer waits out itself (default 30 s). A
    /// longer one is handed back to the caller as the `Retry` outcome it is: an IM push that
    /// late is usually stale, and holding a task that long is the caller's choice to make.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::new("retry.max_attempts", "must be at least 1"));
        }
        if self.base_delay.is_zero() {
            return Err(ConfigError::new("retry.base_delay", "must be above zero"));
        }
        if self.max_delay < self.base_delay {
            return Err(ConfigError::new(
                "retry.max_delay",
                "must be at least base_delay",
            ));
        }
        Ok(())
    }
}

/// Retries the tokens whose outcome is [`Outcome::Retry`], and only those.
///
/// - Each retry sends only the tokens that got `Retry` in the previous attempt; every other
///   token keeps its outcome. The outcome returned for a token is its last attempt's.
/// - It waits for the largest `retry_after` among those tokens when the vendor gave one (plus a
///   little jitter, never less), otherwise for an exponential backoff with jitter.
/// - At most [`max_attempts`](RetryConfig::max_attempts) attempts per token per `send`.
/// - Every retried token is withdrawn from a [`RetryBudget`]; tokens the budget refuses end with
///   `Retry { reason: throttled }` (detail "retry budget exhausted …"), keeping the vendor's
///   `retry_after`, so the caller may still schedule them later.
/// - If the provider breaks its contract (wrong number of outcomes) on a retry, the retried
///   tokens end `Unknown { reason: provider_contract }`; on the first attempt the answer is
///   passed through untouched for the router to report.
///
/// Put it outside the bulkhead and the rate limit, so a backing-off retry holds no slot and no
/// rate-limit tokens while it sleeps (see the [crate docs](crate) for the whole order).
pub struct Retry {
    inner: Arc<dyn PushProvider>,
    config: RetryConfig,
    budget: RetryBudget,
    jitter: Jitter,
    name: String,
}

impl Retry {
    /// Wraps `inner`. Share `budget` (clones share) between the providers whose retries should
    /// be bounded together.
    pub fn new(
        inner: Arc<dyn PushProvider>,
        config: RetryConfig,
        budget: RetryBudget,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Retry {
            name: format!("retry({})", inner.name()),
            inner,
            config,
            budget,
            jitter: Jitter::new(),
        })
    }

    /// The wait before attempt `attempt + 1`, given the vendor's hint.
    fn delay(&self, attempt: u32, hint: Option<Duration>) -> Duration {
        let base = self.config.base_delay;
        match hint {
            Some(after) => after + base.mul_f64(self.jitter.fraction() / 2.0),
            None => {
                let exp = base
                    .saturating_mul(1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX))
                    .min(self.config.max_delay);
                exp / 2 + (exp / 2).mul_f64(self.jitter.fraction())
            }
        }
    }
}

impl std::fmt::Debug for Retry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retry")
            .field("inner", &self.inner.name())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl PushProvider for Retry {
    fn name(&self) -> &str {
        &self.name
    }

    fn max_batch_size(&self) -> usize {
        self.inner.max_batch_size()
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        self.budget.deposit(tokens.len());
        let mut outcomes = self.inner.send(notification, tokens).await;
        if outcomes.len() != tokens.len() {
            return outcomes;
        }
        let mut attempt = 1;
        while attempt < self.config.max_attempts {
            // Tokens told to come back later than we wait out are handed back as they are.
            let mut pending: Vec<usize> = (0..tokens.len())
                .filter(|&i| {
                    outcomes[i].is_retryable()
                        && outcomes[i]
                            .retry_after()
                            .is_none_or(|after| after <= self.config.max_retry_after)
                })
                .collect();
            if pending.is_empty() {
                break;
            }
            let hint = pending
                .iter()
                .filter_map(|&i| outcomes[i].retry_after())
                .max();
            let granted = self.budget.withdraw(pending.len());
            for &i in &pending[granted..] {
                outcomes[i] = budget_exhausted(&outcomes[i]);
            }
            pending.truncate(granted);
            if pending.is_empty() {
                break;
            }

            tokio::time::sleep(self.delay(attempt, hint)).await;
            let batch: Vec<DeviceToken> = pending.iter().map(|&i| tokens[i].clone()).collect();
            let results = self.inner.send(notification, &batch).await;
            attempt += 1;
            if results.len() != batch.len() {
                let reason = Reason::new(Reason::PROVIDER_CONTRACT).with_detail(format!(
                    "provider {} returned {} outcomes for {} tokens on retry",
                    self.inner.name(),
                    results.len(),
                    batch.len()
                ));
                for &i in &pending {
                    outcomes[i] = Outcome::Unknown {
                        reason: reason.clone(),
                    };
                }
                break;
            }
            for (&i, outcome) in pending.iter().zip(results) {
                outcomes[i] = outcome;
            }
        }
        outcomes
    }
}

/// The outcome of a token the budget would not retry: still `Retry`, with the vendor's hint.
fn budget_exhausted(last: &Outcome) -> Outcome {
    let detail = match last.reason() {
        Some(reason) => format!("retry budget exhausted; last attempt: {reason}"),
        None => "retry budget exhausted".to_owned(),
    };
    Outcome::Retry {
        after: last.retry_after(),
        reason: Reason::new(Reason::THROTTLED).with_detail(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushway_core::testing::StubProvider;

    fn retry(config: RetryConfig) -> Retry {
        Retry::new(
            Arc::new(StubProvider::new("stub")),
            config,
            RetryBudget::default(),
        )
        .unwrap()
    }

    #[test]
    fn backoff_doubles_is_capped_and_never_zero() {
        let r = retry(RetryConfig {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryConfig::default()
        });
        for _ in 0..200 {
            let d1 = r.delay(1, None);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = r.delay(3, None);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            let d40 = r.delay(40, None);
            assert!(d40 >= Duration::from_millis(500) && d40 <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn a_hint_is_waited_out_in_full() {
        let r = retry(RetryConfig::default());
        for _ in 0..200 {
            let d = r.delay(1, Some(Duration::from_secs(5)));
            assert!(d >= Duration::from_secs(5) && d <= Duration::from_millis(5100));
        }
    }

    #[test]
    fn config_is_checked() {
        let config = RetryConfig {
            max_attempts: 0,
            ..RetryConfig::default()
        };
        let err = Retry::new(
            Arc::new(StubProvider::new("s")),
            config,
            RetryBudget::default(),
        )
        .unwrap_err();
        assert_eq!(err.field(), "retry.max_attempts");
    }
}
