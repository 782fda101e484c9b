//! Test helpers: tokens, and providers that record when they were called.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pushway_core::{DeviceToken, Notification, Outcome, PushProvider, TokenKind, async_trait};
use tokio::time::Instant;

pub fn xiaomi(token: &str) -> DeviceToken {
    DeviceToken::new(TokenKind::Xiaomi, "app", token)
}

pub fn xiaomis(n: usize) -> Vec<DeviceToken> {
    (0..n).map(|i| xiaomi(&format!("regid-{i}"))).collect()
}

/// Records the (paused-clock) time and tokens of every call, then delegates.
pub struct Timed {
    inner: Arc<dyn PushProvider>,
    start: Instant,
    calls: Mutex<Vec<(Duration, Vec<String>)>>,
}

impl Timed {
    pub fn new(inner: Arc<dyn PushProvider>) -> Arc<Self> {
        Arc::new(Timed {
            inner,
            start: Instant::now(),
            calls: Mutex::new(Vec::new()),
        })
    }

    /// When each call came, since `new`.
    pub fn times(&self) -> Vec<Duration> {
        self.calls.lock().unwrap().iter().map(|c| c.0).collect()
    }
}

#[async_trait]
impl PushProvider for Timed {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn max_batch_size(&self) -> usize {
        self.inner.max_batch_size()
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        let tokens_str = tokens.iter().map(|t| t.token.clone()).collect();
        self.calls
            .lock()
            .unwrap()
            .push((self.start.elapsed(), tokens_str));
        self.inner.send(notification, tokens).await
    }
}

/// Answers `Retry` for every token on the first call, then breaks the contract (no outcomes).
pub struct BrokenOnRetry {
    calls: Mutex<usize>,
}

impl BrokenOnRetry {
    pub fn new() -> Arc<Self> {
        Arc::new(BrokenOnRetry {
            calls: Mutex::new(0),
        })
    }
}

#[async_trait]
impl PushProvider for BrokenOnRetry {
    fn name(&self) -> &str {
        "broken"
    }

    fn max_batch_size(&self) -> usize {
        100
    }

    async fn send(&self, _: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        let mut calls = self.calls.lock().unwrap();
        *calls += 1;
        if *calls == 1 {
            vec![Outcome::retry("503"); tokens.len()]
        } else {
            Vec::new()
        }
    }
}
