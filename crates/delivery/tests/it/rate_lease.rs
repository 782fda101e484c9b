//! A rate shared through a [`RateSource`]: limiters (nodes) lease blocks of units from one
//! bucket, one lease per block, and fail closed when the source cannot answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pushway_core::testing::{StubProvider, sample_notification};
use pushway_core::{Outcome, PushProvider, Reason};
use pushway_delivery::{
    Lease, LeaseError, MemorySource, RateLimit, RateLimitConfig, RateLimiter, RateSource, RateUnit,
    SOURCE_BACKOFF, lease_block,
};
use tokio::time::Instant;

use crate::support::xiaomis;

/// A [`MemorySource`] that records the units of every lease asked, and fails (or never
/// answers) on demand.
#[derive(Debug, Default)]
struct Fake {
    bucket: MemorySource,
    asked: Mutex<Vec<u32>>,
    failing: AtomicBool,
    hanging: AtomicBool,
}

impl Fake {
    fn asked(&self) -> Vec<u32> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait]
impl RateSource for Fake {
    async fn lease(&self, config: &RateLimitConfig, units: u32) -> Result<Lease, LeaseError> {
        self.asked.lock().unwrap().push(units);
        if self.hanging.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(LeaseError::new("connection refused"));
        }
        self.bucket.lease(config, units).await
    }
}

fn rate(per_second: f64, burst: u32) -> RateLimitConfig {
    let mut config = RateLimitConfig::per_second(per_second);
    config.burst = burst;
    config.max_wait = Duration::from_secs(10);
    config
}

#[test]
fn a_block_is_a_tenth_of_a_second_within_one_and_the_burst() {
    assert_eq!(lease_block(&rate(100.0, 50)), 10);
    assert_eq!(lease_block(&rate(100.0, 4)), 4, "at most the burst");
    assert_eq!(lease_block(&rate(1.0, 5)), 1, "at least one");
    assert_eq!(lease_block(&rate(25.0, 5)), 3, "rounded up");
}

#[tokio::test(start_paused = true)]
async fn one_lease_per_block_not_per_send() {
    let source = Arc::new(Fake::default());
    let limiter = RateLimiter::shared(rate(100.0, 10), source.clone()).unwrap();
    let start = Instant::now();
    for _ in 0..10 {
        limiter.acquire(1).await.unwrap();
    }
    assert_eq!(source.asked(), [10], "ten sends, one lease");
    assert_eq!(start.elapsed(), Duration::ZERO, "a full bucket");
    // The 11th needs the next block: its turn comes when the first block's 100 ms are over.
    limiter.acquire(1).await.unwrap();
    assert_eq!(source.asked(), [10, 10]);
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    for _ in 0..9 {
        limiter.acquire(1).await.unwrap();
    }
    assert_eq!(source.asked(), [10, 10]);
    assert_eq!(start.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn a_send_larger_than_the_pool_leases_a_block_and_keeps_the_rest() {
    let source = Arc::new(Fake::default());
    let mut config = rate(100.0, 20);
    config.unit = RateUnit::Tokens;
    let limiter = RateLimiter::shared(config, source.clone()).unwrap();
    for _ in 0..3 {
        limiter.acquire(3).await.unwrap();
    }
    // 9 of the first block's 10 spent; 3 more need a second block, 8 of it left after.
    limiter.acquire(3).await.unwrap();
    assert_eq!(source.asked(), [10, 10]);
    limiter.acquire(8).await.unwrap();
    assert_eq!(source.asked(), [10, 10], "the rest of the block");
    // More than a block at once: exactly what is lacking (at most the burst).
    limiter.acquire(15).await.unwrap();
    assert_eq!(source.asked(), [10, 10, 15]);
}

/// Sends `n` units one at a time through `limiter`; the instant of the last.
async fn send_n(limiter: RateLimiter, n: usize, start: Instant) -> Duration {
    for _ in 0..n {
        limiter.acquire(1).await.unwrap();
    }
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn two_nodes_on_one_source_share_its_rate() {
    // 20/s, burst 2: blocks of 2 units (100 ms each).
    let config = rate(20.0, 2);
    let start = Instant::now();
    let alone = RateLimiter::shared(config.clone(), Arc::new(Fake::default())).unwrap();
    // 30 units alone: 15 blocks, the i-th block's turn at (i − 1) × 100 ms.
    assert_eq!(send_n(alone, 30, start).await, Duration::from_millis(1400));

    let start = Instant::now();
    let source = Arc::new(Fake::default());
    let a = RateLimiter::shared(config.clone(), source.clone()).unwrap();
    let b = RateLimiter::shared(config, source.clone()).unwrap();
    let (last_a, last_b) = tokio::join!(
        tokio::spawn(send_n(a, 30, start)),
        tokio::spawn(send_n(b, 30, start))
    );
    // 60 units through one bucket: 30 blocks, the last one's turn at 2.9 s, not 1.4 s.
    let last = last_a.unwrap().max(last_b.unwrap());
    assert_eq!(last, Duration::from_millis(2900));
    assert_eq!(source.asked(), [2; 30], "one lease per block of two");
}

#[tokio::test(start_paused = true)]
async fn a_turn_beyond_the_longest_wait_is_refused_and_reserves_nothing() {
    let mut config = rate(10.0, 1);
    config.max_wait = Duration::ZERO;
    let source = Arc::new(Fake::default());
    let a = RateLimiter::shared(config.clone(), source.clone()).unwrap();
    let b = RateLimiter::shared(config, source.clone()).unwrap();
    assert_eq!(a.acquire(1).await, Ok(()));
    assert_eq!(b.acquire(1).await, Err(Duration::from_millis(100)));
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_eq!(b.acquire(1).await, Ok(()), "the refusal took nothing");
    assert_eq!(a.acquire(1).await, Err(Duration::from_millis(100)));
    assert_eq!(source.asked(), [1, 1, 1, 1]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_source_refuses_sends_for_the_backoff_then_recovers() {
    let source = Arc::new(Fake::default());
    source.failing.store(true, Ordering::SeqCst);
    let stub = Arc::new(StubProvider::new("xiaomi").max_batch_size(1000));
    let limiter = RateLimiter::shared(rate(100.0, 10), source.clone()).unwrap();
    let layer = RateLimit::new(stub.clone(), limiter.clone());
    let n = sample_notification();

    let outcomes = layer.send(&n, &xiaomis(2)).await;
    assert_eq!(stub.call_count(), 0, "nothing sent without the bucket");
    for outcome in outcomes {
        let Outcome::Retry { after, reason } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(reason.code(), Reason::THROTTLED);
        assert_eq!(after, Some(SOURCE_BACKOFF));
    }
    // Within the backoff the source is not asked again.
    tokio::time::advance(Duration::from_millis(400)).await;
    assert_eq!(limiter.acquire(1).await, Err(Duration::from_millis(600)));
    assert_eq!(source.asked(), [10]);

    source.failing.store(false, Ordering::SeqCst);
    tokio::time::advance(Duration::from_millis(600)).await;
    assert_eq!(layer.send(&n, &xiaomis(2)).await, [Outcome::DELIVERED; 2]);
    assert_eq!(stub.call_count(), 1);
    assert_eq!(source.asked(), [10, 10]);
}

#[tokio::test(start_paused = true)]
async fn a_source_that_never_answers_is_given_up_after_the_longest_wait() {
    let source = Arc::new(Fake::default());
    source.hanging.store(true, Ordering::SeqCst);
    let mut config = rate(100.0, 10);
    config.max_wait = Duration::from_millis(300);
    let limiter = RateLimiter::shared(config, source.clone()).unwrap();
    let start = Instant::now();
    assert_eq!(limiter.acquire(1).await, Err(SOURCE_BACKOFF));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(source.asked(), [10]);
}
