//! The rate limit: one bucket per credential, shared by every clone and task, waiting rather
//! than failing, up to a bound.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use pushway_core::testing::{StubProvider, sample_notification};
use pushway_core::{ChannelKey, Outcome, PushProvider, Reason, TokenKind};
use pushway_delivery::{RateLimit, RateLimitConfig, RateLimiter, RateLimiters, RateUnit};
use tokio::time::Instant;

use crate::support::{Timed, xiaomi, xiaomis};

/// The most calls in any window of `len` starting at a call.
fn busiest_window(times: &[Duration], len: Duration) -> usize {
    times
        .iter()
        .map(|&start| {
            times
                .iter()
                .filter(|&&t| t >= start && t < start + len)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn fifty_tasks_stay_within_the_rate_over_ten_seconds() {
    const QPS: f64 = 20.0;
    let mut config = RateLimitConfig::per_second(QPS);
    config.max_wait = Duration::from_secs(5);
    let limiter = RateLimiter::new(config).unwrap();
    // Two providers of the same credential, each behind its own layer: one bucket for both.
    let timed = Timed::new(Arc::new(StubProvider::new("xiaomi")));
    let layers = [
        Arc::new(RateLimit::new(timed.clone(), limiter.clone())),
        Arc::new(RateLimit::new(timed.clone(), limiter)),
    ];

    let start = Instant::now();
    let tasks = (0..50).map(|i| {
        let layer = layers[i % 2].clone();
        tokio::spawn(async move {
            let n = sample_notification();
            let token = [xiaomi(&format!("regid-{i}"))];
            let mut outcomes = Vec::new();
            while start.elapsed() < Duration::from_secs(12) {
                outcomes.extend(layer.send(&n, &token).await);
            }
            outcomes
        })
    });
    let outcomes: Vec<Outcome> = join_all(tasks)
        .await
        .into_iter()
        .flat_map(|r| r.unwrap())
        .collect();

    assert!(
        outcomes.iter().all(Outcome::is_delivered),
        "it waits, it does not fail"
    );
    let times = timed.times();
    let ten = busiest_window(&times, Duration::from_secs(10));
    // At most the sustained rate plus one burst (2) in any 10 s …
    let burst = 2;
    assert!(ten <= 10 * QPS as usize + burst, "{ten} requests in 10 s");
    // … and the limit does not starve the sender either.
    assert!(ten >= 10 * QPS as usize, "{ten} requests in 10 s");
    let one = busiest_window(&times, Duration::from_secs(1));
    assert!(one <= QPS as usize + burst, "{one} requests in 1 s");
    let first_10s = times
        .iter()
        .filter(|t| **t < Duration::from_secs(10))
        .count();
    assert!(first_10s <= 10 * QPS as usize + burst, "{first_10s}");
}

#[tokio::test(start_paused = true)]
async fn a_turn_further_than_the_bound_is_a_retry_with_its_time() {
    let mut config = RateLimitConfig::per_second(1.0);
    config.max_wait = Duration::from_millis(100);
    let stub = Arc::new(StubProvider::new("xiaomi").max_batch_size(1000));
    let layer = RateLimit::new(stub.clone(), RateLimiter::new(config).unwrap());
    let n = sample_notification();

    assert_eq!(layer.send(&n, &xiaomis(2)).await, [Outcome::DELIVERED; 2]);
    let outcomes = layer.send(&n, &xiaomis(2)).await;
    assert_eq!(stub.call_count(), 1, "the refused batch was not sent");
    for outcome in outcomes {
        let Outcome::Retry { after, reason } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(reason.code(), Reason::THROTTLED);
        assert_eq!(after, Some(Duration::from_secs(1)));
    }
}

#[tokio::test(start_paused = true)]
async fn a_tokens_rate_charges_every_token_of_a_batch() {
    // Huawei counts devices: 100 tokens a second.
    let mut config = RateLimitConfig::per_second(100.0);
    config.unit = RateUnit::Tokens;
    config.burst = 100;
    let timed = Timed::new(Arc::new(StubProvider::new("huawei").max_batch_size(1000)));
    let layer = RateLimit::new(timed.clone(), RateLimiter::new(config).unwrap());
    let n = sample_notification();
    layer.send(&n, &xiaomis(100)).await;
    layer.send(&n, &xiaomis(50)).await;
    // A batch bigger than the burst still goes, charged one full burst.
    layer.send(&n, &xiaomis(500)).await;
    assert_eq!(
        timed.times(),
        [
            Duration::ZERO,
            Duration::from_millis(500),
            Duration::from_millis(1500)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_registry_gives_one_bucket_per_credential() {
    let limiters = RateLimiters::new();
    let key = ChannelKey::new(TokenKind::Xiaomi, "app");
    let other = ChannelKey::new(TokenKind::Xiaomi, "other-app");
    let mut config = RateLimitConfig::per_second(1.0);
    config.max_wait = Duration::ZERO;
    let a = limiters.limiter(&key, config.clone()).unwrap();
    let b = limiters.limiter(&key, config.clone()).unwrap();
    let c = limiters.limiter(&other, config).unwrap();
    assert_eq!(a.acquire(1).await, Ok(()));
    assert!(b.acquire(1).await.is_err(), "same credential, same bucket");
    assert_eq!(c.acquire(1).await, Ok(()), "another credential has its own");
}
