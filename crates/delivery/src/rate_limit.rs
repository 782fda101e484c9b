//! The rate limit: a token bucket per vendor credential, shared by every clone and every task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use pushway_core::{ChannelKey, DeviceToken, Notification, Outcome, PushProvider, Reason};
use tokio::time::Instant;

use crate::ConfigError;
use crate::rate_lease::{Lease, Leased, RateSource, gcra_take};

/// Xiaomi's smallest per-app QPS tier (apps with under 100 k devices), in requests per second:
/// a safe default for Xiaomi when the app's tier is not known (protocols/xiaomi.md §7).
pub const XIAOMI_MIN_APP_QPS: f64 = 500.0;

/// What one unit of rate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RateUnit {
    /// One request, whatever its batch size (Xiaomi counts requests, up to 1000 regids each).
    #[default]
    Requests,
    /// One token (Huawei counts devices: a request with 1000 tokens costs 1000). Set the burst
    /// to at least the largest batch: a batch larger than the burst is charged only the burst,
    /// so that it can go at all.
    Tokens,
}

/// A vendor's rate: plain data, checked by [`RateLimiter::new`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// Sustained units per second (0.001 ..= 1 000 000 000).
    pub per_second: f64,
    /// Units that may go at once after a quiet spell (at least 1).
    pub burst: u32,
    /// What a unit is.
    pub unit: RateUnit,
    /// The longest a `send` waits for its turn (default 1 s). Beyond it the batch is not sent
    /// and every token gets `Retry { reason: throttled }`, `after` = when its turn would come.
    pub max_wait: Duration,
}

impl RateLimitConfig {
    /// `per_second` requests a second, a burst of a tenth of a second's worth (at least 1), so
    /// that no one-second window sees more than 1.1 × the rate; waits at most 1 s.
    pub fn per_second(per_second: f64) -> Self {
        RateLimitConfig {
            per_second,
            burst: (per_second / 10.0).clamp(1.0, f64::from(u32::MAX)) as u32,
            unit: RateUnit::Requests,
            max_wait: Duration::from_secs(1),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        // The bounds keep the unit interval (1 / rate) and burst × interval well inside
        // `Duration`.
        if !(0.001..=1e9).contains(&self.per_second) {
            return Err(ConfigError::new(
                "rate_limit.per_second",
                "must be within 0.001 ..= 1 000 000 000",
            ));
        }
        if self.burst == 0 {
            return Err(ConfigError::new("rate_limit.burst", "must be at least 1"));
        }
        Ok(())
    }
}

/// A token bucket (kept as GCRA: one "theoretical arrival time"). Clones share one bucket, so
/// every clone of a layer and every task using it draws from the same rate.
///
/// A caller whose turn is within `max_wait` reserves it at once and sleeps until then, so
/// waiting callers go in the order they asked; a caller whose turn is further away reserves
/// nothing. A reservation abandoned by a dropped future is lost (the rate errs low, never high).
/// Uses tokio's clock, so tests with paused time control it.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    inner: Arc<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    config: RateLimitConfig,
    /// The theoretical arrival time: when the bucket will be empty if nothing else comes.
    tat: Mutex<Instant>,
    /// The bucket lives elsewhere: `tat` is unused, units come in leased blocks.
    shared: Option<Leased>,
}

impl RateLimiter {
    /// A bucket, full.
    pub fn new(config: RateLimitConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(RateLimiter {
            inner: Arc::new(Bucket {
                config,
                tat: Mutex::new(Instant::now()),
                shared: None,
            }),
        })
    }

    /// A limiter whose bucket is `source`, shared with other limiters (other processes, when
    /// the source is a database row): it leases [`lease_block`](crate::lease_block) units at
    /// a time (one round trip per block, not per send) and spends them here. When the source
    /// fails, sends are refused (`Err`, as beyond `max_wait`) for
    /// [`SOURCE_BACKOFF`](crate::SOURCE_BACKOFF): the limiter never sends faster than the rate.
    pub fn shared(
        config: RateLimitConfig,
        source: Arc<dyn RateSource>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(RateLimiter {
            inner: Arc::new(Bucket {
                shared: Some(Leased::new(source, &config)),
                config,
                tat: Mutex::new(Instant::now()),
            }),
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &RateLimitConfig {
        &self.inner.config
    }

    /// Waits for room for `units` units (at most the configured `max_wait`). `Err` carries how
    /// long the caller would have had to wait.
    pub async fn acquire(&self, units: u32) -> Result<(), Duration> {
        let bucket = &*self.inner;
        let units = units.clamp(1, bucket.config.burst);
        if let Some(shared) = &bucket.shared {
            let ready_at = shared.reserve(&bucket.config, units).await?;
            tokio::time::sleep_until(ready_at).await;
            return Ok(());
        }
        let wait = {
            let now = Instant::now();
            let mut tat = bucket.tat.lock().unwrap_or_else(PoisonError::into_inner);
            let (new_tat, lease) = gcra_take(*tat, now, &bucket.config, units);
            *tat = new_tat;
            match lease {
                Lease::Granted { after } => after,
                Lease::Refused { after } => return Err(after),
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }
}

/// Shared buckets by channel key, for an embedder that builds several provider stacks and wants
/// one bucket per vendor credential without passing limiters around.
#[derive(Debug, Clone, Default)]
pub struct RateLimiters {
    buckets: Arc<Mutex<HashMap<ChannelKey, RateLimiter>>>,
}

impl RateLimiters {
    /// No buckets yet.
    pub fn new() -> Self {
        RateLimiters::default()
    }

    /// The bucket of `key`, created from `config` on first use (later configs are ignored: the
    /// first one wins, so every stack of a credential shares one rate).
    pub fn limiter(
        &self,
        key: &ChannelKey,
        config: RateLimitConfig,
    ) -> Result<RateLimiter, ConfigError> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(limiter) = buckets.get(key) {
            return Ok(limiter.clone());
        }
        let limiter = RateLimiter::new(config)?;
        buckets.insert(key.clone(), limiter.clone());
        Ok(limiter)
    }
}

/// Waits for its turn in a [`RateLimiter`] before each attempt; waits rather than fails, up to
/// the limiter's `max_wait`, after which every token of the batch gets `Retry` (reason
/// [`Reason::THROTTLED`], `after` = when its turn would have come) without a request being sent.
pub struct RateLimit {
    inner: Arc<dyn PushProvider>,
    limiter: RateLimiter,
    name: String,
}

impl RateLimit {
    /// Wraps `inner`; pass a clone of the credential's one limiter to every stack that uses it.
    pub fn new(inner: Arc<dyn PushProvider>, limiter: RateLimiter) -> Self {
        RateLimit {
            name: format!("rate_limit({})", inner.name()),
            inner,
            limiter,
        }
    }
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner.name())
            .field("limiter", &self.limiter.config())
            .finish()
    }
}

#[async_trait]
impl PushProvider for RateLimit {
    fn name(&self) -> &str {
        &self.name
    }

    fn max_batch_size(&self) -> usize {
        self.inner.max_batch_size()
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        let units = match self.limiter.config().unit {
            RateUnit::Requests => 1,
            RateUnit::Tokens => u32::try_from(tokens.len()).unwrap_or(u32::MAX),
        };
        match self.limiter.acquire(units).await {
            Ok(()) => self.inner.send(notification, tokens).await,
            Err(wait) => {
                let outcome = Outcome::Retry {
                    after: Some(wait),
                    reason: Reason::new(Reason::THROTTLED).with_detail("rate limit"),
                };
                vec![outcome; tokens.len()]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_lets_the_burst_through_then_spaces_requests() {
        assert_eq!(RateLimitConfig::per_second(10.0).burst, 1);
        assert_eq!(RateLimitConfig::per_second(500.0).burst, 50);
        let mut config = RateLimitConfig::per_second(10.0);
        config.burst = 3;
        let limiter = RateLimiter::new(config).unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire(1).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire(1).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_beyond_the_longest_wait_without_reserving() {
        let mut config = RateLimitConfig::per_second(1.0);
        config.max_wait = Duration::from_millis(500);
        let limiter = RateLimiter::new(config).unwrap();
        limiter.acquire(1).await.unwrap();
        assert_eq!(limiter.acquire(1).await, Err(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(limiter.acquire(1).await, Ok(()));
    }

    #[test]
    fn config_is_checked() {
        let err = RateLimiter::new(RateLimitConfig::per_second(0.0)).unwrap_err();
        assert_eq!(err.field(), "rate_limit.per_second");
        let mut config = RateLimitConfig::per_second(5.0);
        config.burst = 0;
        assert_eq!(
            RateLimiter::new(config).unwrap_err().field(),
            "rate_limit.burst"
        );
    }
}
