//! The timeout layer: one deadline per attempt.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pushway_core::{DeviceToken, Notification, Outcome, PushProvider, Reason};

use crate::ConfigError;

/// Ends an attempt that takes longer than its deadline: every token of the batch gets
/// `Retry { reason: timeout }`. The attempt's future is dropped, which cancels its request.
///
/// Providers have their own network timeouts; this one bounds the whole attempt, whatever the
/// provider does (a stalled credential refresh, a stuck connection pool, a provider that never
/// answers), so the bulkhead slot it holds is always given back.
pub struct Timeout {
    inner: Arc<dyn PushProvider>,
    after: Duration,
    name: String,
}

impl Timeout {
    /// Wraps `inner` with a deadline of `after` (above zero) per attempt.
    pub fn new(inner: Arc<dyn PushProvider>, after: Duration) -> Result<Self, ConfigError> {
        if after.is_zero() {
            return Err(ConfigError::new("timeout", "must be above zero"));
        }
        Ok(Timeout {
            name: format!("timeout({})", inner.name()),
            inner,
            after,
        })
    }
}

impl std::fmt::Debug for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeout")
            .field("inner", &self.inner.name())
            .field("after", &self.after)
            .finish()
    }
}

#[async_trait]
impl PushProvider for Timeout {
    fn name(&self) -> &str {
        &self.name
    }

    fn max_batch_size(&self) -> usize {
        self.inner.max_batch_size()
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        match tokio::time::timeout(self.after, self.inner.send(notification, tokens)).await {
            Ok(outcomes) => outcomes,
            Err(_elapsed) => {
                let reason = Reason::new(Reason::TIMEOUT).with_detail(format!(
                    "{} gave no answer within {:?}",
                    self.inner.name(),
                    self.after
                ));
                vec![Outcome::retry(reason); tokens.len()]
            }
        }
    }
}
