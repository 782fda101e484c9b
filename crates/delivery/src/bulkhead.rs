//! The bulkhead: a concurrency limit per provider.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pushway_core::{DeviceToken, Notification, Outcome, PushProvider, Reason};
use tokio::sync::Semaphore;

use crate::ConfigError;

/// How many attempts a provider may have in flight.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConcurrencyConfig {
    /// Attempts in flight at once (default 64).
    pub max_in_flight: usize,
    /// The longest an attempt waits for a slot (default 1 s); beyond it every token of the
    /// batch gets `Retry { reason: throttled }` without a request being sent.
    pub max_wait: Duration,
}

impl Default for ConcurrencyConfig {
    fn default() -> Self {
        ConcurrencyConfig {
            max_in_flight: 64,
            max_wait: Duration::from_secs(1),
        }
    }
}

/// Lets at most `max_in_flight` attempts through to the provider at once; one attempt (one
/// batch) takes one slot. Clones share the slots.
///
/// Giving each provider its own bulkhead means a vendor that stops answering can hold only its
/// own slots: its callers fail fast with `Retry` once its slots are full, instead of piling up
/// without bound, while every other provider keeps its slots. With the [`Timeout`](crate::Timeout)
/// inside it, a slot is always given back.
#[derive(Clone)]
pub struct Bulkhead {
    inner: Arc<dyn PushProvider>,
    slots: Arc<Semaphore>,
    max_wait: Duration,
    name: String,
}

impl Bulkhead {
    /// Wraps `inner`.
    pub fn new(
        inner: Arc<dyn PushProvider>,
        config: ConcurrencyConfig,
    ) -> Result<Self, ConfigError> {
        if config.max_in_flight == 0 || config.max_in_flight > Semaphore::MAX_PERMITS {
            return Err(ConfigError::new(
                "concurrency.max_in_flight",
                "must be at least 1 and below 2^61",
            ));
        }
        Ok(Bulkhead {
            name: format!("bulkhead({})", inner.name()),
            inner,
            slots: Arc::new(Semaphore::new(config.max_in_flight)),
            max_wait: config.max_wait,
        })
    }

    /// Slots free right now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

impl std::fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bulkhead")
            .field("inner", &self.inner.name())
            .field("available", &self.available())
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

#[async_trait]
impl PushProvider for Bulkhead {
    fn name(&self) -> &str {
        &self.name
    }

    fn max_batch_size(&self) -> usize {
        self.inner.max_batch_size()
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        match tokio::time::timeout(self.max_wait, self.slots.acquire()).await {
            Ok(Ok(_permit)) => self.inner.send(notification, tokens).await,
            // Elapsed, or (never, the semaphore is not closed) closed.
            Ok(Err(_)) | Err(_) => {
                let reason = Reason::new(Reason::THROTTLED)
                    .with_detail(format!("{}: all concurrency slots busy", self.inner.name()));
                vec![Outcome::retry(reason); tokens.len()]
            }
        }
    }
}
