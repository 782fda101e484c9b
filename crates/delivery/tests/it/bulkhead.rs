//! Bulkheads and timeouts: a vendor that never answers holds only its own slots, and every
//! attempt ends.

use std::sync::Arc;
use std::time::Duration;

use pushway_core::testing::{StubProvider, sample_notification};
use pushway_core::{ChannelKey, DeviceToken, Outcome, PushProvider, Reason, Router, TokenKind};
use pushway_delivery::{
    Bulkhead, ConcurrencyConfig, DeliveryBuilder, DeliveryConfig, RecordingSink, Timeout,
};
use tokio::time::Instant;

use crate::support::xiaomi;

const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test(start_paused = true)]
async fn a_provider_that_never_answers_does_not_delay_another_providers_outcomes() {
    let dead = Arc::new(StubProvider::new("huawei").delay(DAY));
    let alive = Arc::new(StubProvider::new("xiaomi"));
    let mut config = DeliveryConfig::default();
    config.timeout = Duration::from_secs(2);
    let mut slots = ConcurrencyConfig::default();
    slots.max_in_flight = 2;
    slots.max_wait = Duration::from_millis(100);
    config.concurrency = Some(slots);
    config.retry = None;
    let sink = Arc::new(RecordingSink::new());
    let build = |p: Arc<StubProvider>| {
        DeliveryBuilder::new(config.clone(), sink.clone())
            .build(p)
            .unwrap()
    };
    let mut router = Router::new();
    router
        .register(
            ChannelKey::new(TokenKind::Huawei, "app"),
            build(dead.clone()),
        )
        .register(
            ChannelKey::new(TokenKind::Xiaomi, "app"),
            build(alive.clone()),
        );
    let router = Arc::new(router);

    let start = Instant::now();
    let recipient = |kind, i| vec![DeviceToken::new(kind, "app", format!("token-{i}"))];
    let spawn = |devices: Vec<DeviceToken>| {
        let router = router.clone();
        tokio::spawn(async move {
            let report = router.dispatch(&sample_notification(), &devices).await;
            (start.elapsed(), report.into_results().remove(0).outcome)
        })
    };
    let dead_tasks: Vec<_> = (0..20)
        .map(|i| spawn(recipient(TokenKind::Huawei, i)))
        .collect();
    let alive_tasks: Vec<_> = (0..20)
        .map(|i| spawn(recipient(TokenKind::Xiaomi, i)))
        .collect();

    for task in alive_tasks {
        let (at, outcome) = task.await.unwrap();
        assert_eq!(outcome, Outcome::DELIVERED);
        assert_eq!(at, Duration::ZERO, "not held up by the dead vendor");
    }
    let mut timed_out = 0;
    let mut refused = 0;
    for task in dead_tasks {
        let (at, outcome) = task.await.unwrap();
        let code = outcome.reason().map(|r| r.code().to_owned());
        match code.as_deref() {
            Some(Reason::TIMEOUT) => {
                timed_out += 1;
                assert_eq!(at, Duration::from_secs(2));
            }
            Some(Reason::THROTTLED) => {
                refused += 1;
                assert_eq!(at, Duration::from_millis(100));
            }
            _ => panic!("{outcome:?}"),
        }
        assert!(outcome.is_retryable());
    }
    // The dead vendor held its two slots; everyone else was turned away quickly.
    assert_eq!((timed_out, refused), (2, 18));
    assert_eq!(alive.call_count(), 20);
}

#[tokio::test(start_paused = true)]
async fn the_timeout_ends_an_attempt_and_the_bulkhead_gets_its_slot_back() {
    let dead = Arc::new(StubProvider::new("apns").delay(DAY));
    let timeout = Arc::new(Timeout::new(dead, Duration::from_secs(5)).unwrap());
    let mut slots = ConcurrencyConfig::default();
    slots.max_in_flight = 1;
    let bulkhead = Bulkhead::new(timeout, slots).unwrap();

    let start = Instant::now();
    let outcomes = bulkhead
        .send(&sample_notification(), &[xiaomi("a"), xiaomi("b")])
        .await;
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes
            .iter()
            .all(|o| o.is_retryable() && o.reason().is_some_and(|r| r.code() == Reason::TIMEOUT))
    );
    assert_eq!(bulkhead.available(), 1);
}
