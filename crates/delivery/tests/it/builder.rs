//! The builder: a config struct in, a layered provider out.

use std::sync::Arc;
use std::time::Duration;

use pushway_core::testing::{StubProvider, sample_notification};
use pushway_core::{ChannelKey, Outcome, PushProvider, Reason, Router, TokenKind};
use pushway_delivery::{
    DeliveryBuilder, DeliveryConfig, RateLimitConfig, RateLimiters, RecordingSink,
};

use crate::support::{Timed, xiaomi, xiaomis};

fn sink() -> Arc<RecordingSink> {
    Arc::new(RecordingSink::new())
}

#[test]
fn the_stack_goes_in_the_documented_order() {
    let mut config = DeliveryConfig::default();
    config.rate_limit = Some(RateLimitConfig::per_second(500.0));
    let provider = DeliveryBuilder::new(config, sink())
        .build(Arc::new(StubProvider::new("xiaomi").max_batch_size(1000)))
        .unwrap();
    assert_eq!(
        provider.name(),
        "retry(hygiene(bulkhead(rate_limit(timeout(xiaomi)))))"
    );
    assert_eq!(provider.max_batch_size(), 1000);

    let mut bare = DeliveryConfig::default();
    bare.retry = None;
    bare.concurrency = None;
    let provider = DeliveryBuilder::new(bare, sink())
        .build(Arc::new(StubProvider::new("apns")))
        .unwrap();
    assert_eq!(provider.name(), "hygiene(timeout(apns))");
}

#[test]
fn impossible_settings_are_refused_when_building() {
    let build = |config: DeliveryConfig| {
        DeliveryBuilder::new(config, sink())
            .build(Arc::new(StubProvider::new("x")))
            .err()
            .map(|e| e.field().to_owned())
    };
    let mut config = DeliveryConfig::default();
    config.timeout = Duration::ZERO;
    assert_eq!(build(config).as_deref(), Some("timeout"));
    let mut config = DeliveryConfig::default();
    config.rate_limit = Some(RateLimitConfig::per_second(-1.0));
    assert_eq!(build(config).as_deref(), Some("rate_limit.per_second"));
    let mut config = DeliveryConfig::default();
    let mut retry = config.retry.clone().unwrap();
    retry.max_attempts = 0;
    config.retry = Some(retry);
    assert_eq!(build(config).as_deref(), Some("retry.max_attempts"));
    let err = DeliveryBuilder::new(DeliveryConfig::default(), sink())
        .build(Arc::new(StubProvider::new("x")))
        .map(|_| ());
    assert_eq!(err, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_retried_through_the_whole_stack() {
    let stub = Arc::new(StubProvider::new("xiaomi"));
    // The vendor stalls on the first attempt (a scripted stall: a long Retry-After is not
    // waited; here the timeout layer makes the stall a `Retry { timeout }`).
    let stalling = Arc::new(Stall::new(stub.clone()));
    let mut config = DeliveryConfig::default();
    config.timeout = Duration::from_secs(3);
    let provider = DeliveryBuilder::new(config, sink())
        .build(stalling)
        .unwrap();
    let outcomes = provider.send(&sample_notification(), &[xiaomi("t")]).await;
    assert_eq!(outcomes, [Outcome::DELIVERED]);
    assert_eq!(
        stub.call_count(),
        1,
        "the stalled attempt never reached the stub"
    );
}

#[tokio::test(start_paused = true)]
async fn stacks_of_one_credential_share_its_rate_through_the_registry() {
    let limiters = RateLimiters::new();
    let key = ChannelKey::new(TokenKind::Xiaomi, "app");
    let mut rate = RateLimitConfig::per_second(10.0);
    rate.burst = 1;
    rate.max_wait = Duration::from_secs(60);
    let timed = Timed::new(Arc::new(StubProvider::new("xiaomi").max_batch_size(1000)));
    let build = || {
        DeliveryBuilder::new(DeliveryConfig::default(), sink())
            .rate_limiter(limiters.limiter(&key, rate.clone()).unwrap())
            .build(timed.clone())
            .unwrap()
    };
    let (a, b) = (build(), build());
    let mut router = Router::new();
    router.register(key.clone(), a);
    let n = sample_notification();
    for _ in 0..5 {
        router.dispatch(&n, &xiaomis(3)).await;
        b.send(&n, &xiaomis(1)).await;
    }
    let times = timed.times();
    assert_eq!(times.len(), 10);
    assert_eq!(
        *times.last().unwrap(),
        Duration::from_millis(900),
        "{times:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dispatch_through_built_stacks_reports_every_device() {
    let stub = Arc::new(StubProvider::new("xiaomi").max_batch_size(1000));
    stub.script("regid-1", [Outcome::retry("10027"), Outcome::DELIVERED]);
    stub.outcome_for(
        "regid-2",
        Outcome::InvalidToken {
            reason: Reason::new("20301"),
            since: None,
        },
    );
    let sink = sink();
    let provider = DeliveryBuilder::new(DeliveryConfig::default(), sink.clone())
        .build(stub.clone())
        .unwrap();
    let mut router = Router::new();
    router.register(ChannelKey::new(TokenKind::Xiaomi, "app"), provider);
    let report = router.dispatch(&sample_notification(), &xiaomis(3)).await;
    assert_eq!(report.counts(), [("delivered", 2), ("invalid_token", 1)]);
    assert_eq!(sink.dead().len(), 1);
}

/// Never answers its first call; delegates afterwards.
struct Stall {
    inner: Arc<StubProvider>,
    first: std::sync::atomic::AtomicBool,
}

impl Stall {
    fn new(inner: Arc<StubProvider>) -> Self {
        Stall {
            inner,
            first: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

#[pushway_core::async_trait]
impl PushProvider for Stall {
    fn name(&self) -> &str {
        "stall"
    }

    fn max_batch_size(&self) -> usize {
        1
    }

    async fn send(
        &self,
        notification: &pushway_core::Notification,
        tokens: &[pushway_core::DeviceToken],
    ) -> Vec<Outcome> {
        if self.first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.inner.send(notification, tokens).await
    }
}
