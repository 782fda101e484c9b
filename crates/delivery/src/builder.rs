//! Assembling a provider with every layer, in the right order, from one small config struct.

use std::sync::Arc;
use std::time::Duration;

use pushway_core::PushProvider;

use crate::{
    ApnsEnvEvidence, Bulkhead, ConcurrencyConfig, ConfigError, Hygiene, HygieneConfig, Quarantine,
    RateLimit, RateLimitConfig, RateLimiter, Retry, RetryBudget, RetryConfig, Timeout, TokenSink,
};

/// The delivery discipline of one provider. `Default` is a sensible start; set a
/// [`rate_limit`](DeliveryConfig::rate_limit) for vendors that publish one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeliveryConfig {
    /// Deadline of one attempt (default 10 s).
    pub timeout: Duration,
    /// Attempts in flight at once; `None`: unlimited (default: 64, waiting at most 1 s).
    pub concurrency: Option<ConcurrencyConfig>,
    /// The vendor credential's rate; `None`: unlimited (the default) unless a shared
    /// [`RateLimiter`] is passed to [`DeliveryBuilder::rate_limiter`].
    pub rate_limit: Option<RateLimitConfig>,
    /// Retries; `None`: one attempt only (default: [`RetryConfig::default`]).
    pub retry: Option<RetryConfig>,
    /// Token hygiene (always on).
    pub hygiene: HygieneConfig,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            timeout: Duration::from_secs(10),
            concurrency: Some(ConcurrencyConfig::default()),
            rate_limit: None,
            retry: Some(RetryConfig::default()),
            hygiene: HygieneConfig::default(),
        }
    }
}

/// Builds `Retry → Hygiene → Bulkhead → RateLimit → Timeout → provider` (outermost first; see
/// the [crate docs](crate) for why this order) from a [`DeliveryConfig`].
///
/// State that must be shared beyond one stack is passed in: the retry budget (to bound the
/// retries of several providers together), the rate limiter (one per vendor credential, see
/// [`RateLimiters`](crate::RateLimiters)) and the APNs environment evidence (shared by the
/// production and sandbox stacks), and the hygiene layer's [`Quarantine`] (so the operator's
/// code can reach the held deletions). Without them, the stack gets its own.
#[must_use]
pub struct DeliveryBuilder {
    config: DeliveryConfig,
    sink: Arc<dyn TokenSink>,
    budget: Option<RetryBudget>,
    limiter: Option<RateLimiter>,
    evidence: Option<ApnsEnvEvidence>,
    quarantine: Option<Quarantine>,
}

impl DeliveryBuilder {
    /// A builder reporting dead tokens and alarms to `sink`.
    pub fn new(config: DeliveryConfig, sink: Arc<dyn TokenSink>) -> Self {
        DeliveryBuilder {
            config,
            sink,
            budget: None,
            limiter: None,
            evidence: None,
            quarantine: None,
        }
    }

    /// Draws retries from `budget` instead of a budget of this stack's own.
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Uses `limiter` (shared with other stacks of the same credential) instead of a bucket made
    /// from [`DeliveryConfig::rate_limit`].
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Shares `evidence` with the stack of the other APNs environment.
    pub fn apns_evidence(mut self, evidence: ApnsEnvEvidence) -> Self {
        self.evidence = Some(evidence);
        self
    }

    /// Keeps the hygiene layer's held deletions, verdict windows and alarm times in
    /// `quarantine`: keep a clone to inspect or take the held deletions.
    pub fn quarantine(mut self, quarantine: Quarantine) -> Self {
        self.quarantine = Some(quarantine);
        self
    }

    /// Wraps `provider`.
    pub fn build(
        self,
        provider: Arc<dyn PushProvider>,
    ) -> Result<Arc<dyn PushProvider>, ConfigError> {
        let config = self.config;
        let mut stack: Arc<dyn PushProvider> = Arc::new(Timeout::new(provider, config.timeout)?);
        let limiter = match (self.limiter, config.rate_limit) {
            (Some(limiter), _) => Some(limiter),
            (None, Some(rate)) => Some(RateLimiter::new(rate)?),
            (None, None) => None,
        };
        if let Some(limiter) = limiter {
            stack = Arc::new(RateLimit::new(stack, limiter));
        }
        if let Some(concurrency) = config.concurrency {
            stack = Arc::new(Bulkhead::new(stack, concurrency)?);
        }
        stack = Arc::new(
            Hygiene::new(
                stack,
                config.hygiene,
                self.sink,
                self.evidence.unwrap_or_default(),
            )?
            .with_quarantine(self.quarantine.unwrap_or_default()),
        );
        if let Some(retry) = config.retry {
            stack = Arc::new(Retry::new(stack, retry, self.budget.unwrap_or_default())?);
        }
        Ok(stack)
    }
}
