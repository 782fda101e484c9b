//! The retry layer: only `Retry` outcomes, only their tokens, honouring `retry_after`, with
//! backoff, a per-token cap and a shared budget.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use pushway_core::testing::{StubProvider, sample_notification};
use pushway_core::{Outcome, PushProvider, Reason};
use pushway_delivery::{Retry, RetryBudget, RetryConfig};

use crate::support::{BrokenOnRetry, Timed, xiaomi, xiaomis};

fn retry_layer(inner: Arc<dyn PushProvider>, max_attempts: u32, budget: RetryBudget) -> Retry {
    let mut config = RetryConfig::default();
    config.max_attempts = max_attempts;
    Retry::new(inner, config, budget).unwrap()
}

/// The default budget's reserve: 10 retries a second over a 10-second window.
const RESERVE: usize = 100;

#[tokio::test(start_paused = true)]
async fn twenty_percent_of_attempts_retry_and_every_notification_ends_delivered() {
    const N: usize = 1000;
    // Exactly every fifth attempt, whichever token it carries, is refused with `Retry`.
    let stub = Arc::new(StubProvider::new("xiaomi"));
    let pattern = [
        Outcome::retry("10027"),
        Outcome::DELIVERED,
        Outcome::DELIVERED,
        Outcome::DELIVERED,
        Outcome::DELIVERED,
    ];
    stub.sequence(pattern.iter().cycle().take(3 * N).cloned());
    let layer = retry_layer(stub.clone(), 5, RetryBudget::default());

    let tokens = xiaomis(N);
    let n = sample_notification();
    let outcomes = join_all(
        tokens
            .iter()
            .map(|t| layer.send(&n, std::slice::from_ref(t))),
    )
    .await;

    assert!(outcomes.iter().all(|o| o.len() == 1 && o[0].is_delivered()));
    let attempts = stub.call_count();
    // 20% of all attempts fail, so N successes take N / 0.8 = 1.25 N attempts: more than the
    // budget's 20% share alone, which its reserve covers.
    assert!(attempts <= N + N / 5 + RESERVE, "{attempts} attempts");
    assert!(attempts >= N + N / 5, "{attempts} attempts");
    let mut per_token: HashMap<String, usize> = HashMap::new();
    for token in stub.tokens_sent() {
        *per_token.entry(token).or_default() += 1;
    }
    assert_eq!(per_token.len(), N);
    assert!(per_token.values().all(|&a| a <= 5));
}

#[tokio::test(start_paused = true)]
async fn an_outage_cannot_multiply_traffic() {
    const N: usize = 1000;
    let stub = Arc::new(StubProvider::new("xiaomi").default_outcome(Outcome::retry("503")));
    let layer = retry_layer(stub.clone(), 4, RetryBudget::default());

    let tokens = xiaomis(N);
    let n = sample_notification();
    let outcomes = join_all(
        tokens
            .iter()
            .map(|t| layer.send(&n, std::slice::from_ref(t))),
    )
    .await;

    let attempts = stub.call_count();
    // Without the budget this would be 4 N.
    assert!(attempts <= N + N / 5 + RESERVE, "{attempts} attempts");
    let outcomes: Vec<&Outcome> = outcomes.iter().flatten().collect();
    assert!(outcomes.iter().all(|o| o.is_retryable()), "no outcome lost");
    let throttled = outcomes
        .iter()
        .filter(|o| o.reason().is_some_and(|r| r.code() == Reason::THROTTLED))
        .count();
    assert!(
        throttled >= N - N / 5 - RESERVE,
        "{throttled} refused by the budget"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_only_the_tokens_that_got_retry() {
    let stub = Arc::new(StubProvider::new("xiaomi").max_batch_size(1000));
    let dead = Outcome::InvalidToken {
        reason: Reason::new("20301"),
        since: None,
    };
    stub.script("b", [Outcome::retry("10027"), Outcome::DELIVERED]);
    stub.script("c", [dead.clone()]);
    stub.script(
        "d",
        [
            Outcome::retry("10027"),
            Outcome::retry("10027"),
            Outcome::rejected("10017"),
        ],
    );
    stub.script("e", [Outcome::rejected("10017")]);
    let layer = retry_layer(stub.clone(), 4, RetryBudget::default());

    let tokens: Vec<_> = ["a", "b", "c", "d", "e"].map(xiaomi).into();
    let outcomes = layer.send(&sample_notification(), &tokens).await;

    let batches: Vec<Vec<String>> = stub
        .calls()
        .iter()
        .map(|c| c.tokens.iter().map(|t| t.token.clone()).collect())
        .collect();
    assert_eq!(
        batches,
        [vec!["a", "b", "c", "d", "e"], vec!["b", "d"], vec!["d"]]
    );
    assert_eq!(
        outcomes,
        [
            Outcome::DELIVERED,
            Outcome::DELIVERED,
            dead,
            Outcome::rejected("10017"),
            Outcome::rejected("10017"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_is_not_retried_before_the_given_time() {
    let stub = Arc::new(StubProvider::new("apns"));
    let too_many = Outcome::Retry {
        after: Some(Duration::from_secs(30)),
        reason: Reason::new("TooManyRequests"),
    };
    stub.script("t", [too_many, Outcome::DELIVERED]);
    let timed = Timed::new(stub.clone());
    let layer = Arc::new(retry_layer(timed.clone(), 4, RetryBudget::default()));

    let task = tokio::spawn({
        let layer = layer.clone();
        async move { layer.send(&sample_notification(), &[xiaomi("t")]).await }
    });
    tokio::time::sleep(Duration::from_millis(29_999)).await;
    assert_eq!(stub.call_count(), 1, "no attempt before the vendor's time");
    let outcomes = task.await.unwrap();

    assert_eq!(outcomes, [Outcome::DELIVERED]);
    let times = timed.times();
    assert_eq!(times.len(), 2);
    assert!(times[1] - times[0] >= Duration::from_secs(30), "{times:?}");
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_longer_than_the_layer_waits_is_handed_back() {
    let hour = Outcome::Retry {
        after: Some(Duration::from_secs(3600)),
        reason: Reason::new("200001"),
    };
    let stub = Arc::new(StubProvider::new("xiaomi").default_outcome(hour.clone()));
    let layer = retry_layer(stub.clone(), 4, RetryBudget::default());
    let outcomes = layer.send(&sample_notification(), &[xiaomi("t")]).await;
    assert_eq!(outcomes, [hour]);
    assert_eq!(stub.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_attempt_cap_bounds_each_token_and_the_last_outcome_wins() {
    let stub = Arc::new(StubProvider::new("xiaomi"));
    stub.script(
        "t",
        ["first", "second", "third", "fourth"].map(Outcome::retry),
    );
    let layer = retry_layer(stub.clone(), 3, RetryBudget::default());
    let outcomes = layer.send(&sample_notification(), &[xiaomi("t")]).await;
    assert_eq!(stub.call_count(), 3);
    assert_eq!(outcomes, [Outcome::retry("third")]);
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_exponentially_and_never_retries_at_once() {
    let stub = Arc::new(StubProvider::new("xiaomi").default_outcome(Outcome::retry("503")));
    let timed = Timed::new(stub);
    let mut config = RetryConfig::default();
    config.max_attempts = 4;
    config.base_delay = Duration::from_millis(100);
    let layer = Retry::new(timed.clone(), config, RetryBudget::default()).unwrap();
    layer.send(&sample_notification(), &[xiaomi("t")]).await;

    let times = timed.times();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let ms = Duration::from_millis;
    assert_eq!(gaps.len(), 3);
    assert!(gaps[0] >= ms(50) && gaps[0] <= ms(100), "{gaps:?}");
    assert!(gaps[1] >= ms(100) && gaps[1] <= ms(200), "{gaps:?}");
    assert!(gaps[2] >= ms(200) && gaps[2] <= ms(400), "{gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn a_refusing_budget_ends_in_throttled_keeping_the_vendor_hint() {
    let busy = Outcome::Retry {
        after: Some(Duration::from_secs(2)),
        reason: Reason::new("503"),
    };
    let stub = Arc::new(StubProvider::new("huawei").default_outcome(busy));
    let none = RetryBudget::new(Duration::from_secs(10), 0, 0.0).unwrap();
    let layer = retry_layer(stub.clone(), 4, none);
    let outcomes = layer.send(&sample_notification(), &[xiaomi("t")]).await;

    assert_eq!(stub.call_count(), 1);
    let [Outcome::Retry { after, reason }] = outcomes.as_slice() else {
        panic!("{outcomes:?}")
    };
    assert_eq!(*after, Some(Duration::from_secs(2)));
    assert_eq!(reason.code(), Reason::THROTTLED);
    assert!(reason.detail().unwrap().contains("retry budget exhausted"));
}

#[tokio::test(start_paused = true)]
async fn one_budget_bounds_several_providers_together() {
    let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5).unwrap();
    let a = Arc::new(StubProvider::new("a").default_outcome(Outcome::retry("503")));
    let b = Arc::new(StubProvider::new("b").default_outcome(Outcome::retry("503")));
    let layer_a = retry_layer(a.clone(), 2, budget.clone());
    let layer_b = retry_layer(b.clone(), 2, budget);
    let n = sample_notification();
    // 4 first attempts on a deposit 4 → 2 retries allowed in all; a takes them.
    layer_a.send(&n, &xiaomis(4)).await;
    layer_b.send(&n, &xiaomis(1)).await;
    // a: 4 + 2, b: 1 + (2.5 allowed − 2 used → 0)
    assert_eq!(a.tokens_sent().len(), 6);
    assert_eq!(b.tokens_sent().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_contract_breach_on_a_retry_ends_unknown_for_the_retried_tokens() {
    let layer = retry_layer(BrokenOnRetry::new(), 4, RetryBudget::default());
    let outcomes = layer.send(&sample_notification(), &xiaomis(3)).await;
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes.iter().all(
        |o| matches!(o, Outcome::Unknown { reason } if reason.code() == Reason::PROVIDER_CONTRACT)
    ));
}
