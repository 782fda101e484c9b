//! The router: grouping by channel key, batching, concurrency, one outcome per device.

use std::sync::Arc;
use std::time::Duration;

use pushway_core::testing::{StubProvider, sample_notification};
use pushway_core::{
    ChannelKey, DeviceToken, Outcome, PushProvider, Reason, Router, TokenKind, async_trait,
};

fn xiaomi(n: usize) -> Vec<DeviceToken> {
    (0..n)
        .map(|i| DeviceToken::new(TokenKind::Xiaomi, "app-a", format!("regid-{i}")))
        .collect()
}

#[tokio::test]
async fn groups_devices_by_kind_and_credential() {
    let apns = Arc::new(StubProvider::new("apns"));
    let xiaomi_a = Arc::new(StubProvider::new("xiaomi-a").max_batch_size(1000));
    let xiaomi_b = Arc::new(StubProvider::new("xiaomi-b").max_batch_size(1000));
    let mut router = Router::new();
    router
        .register(
            ChannelKey::new(TokenKind::ApnsProduction, "team"),
            apns.clone(),
        )
        .register(
            ChannelKey::new(TokenKind::Xiaomi, "app-a"),
            xiaomi_a.clone(),
        )
        .register(
            ChannelKey::new(TokenKind::Xiaomi, "app-b"),
            xiaomi_b.clone(),
        );
    let devices = vec![
        DeviceToken::new(TokenKind::Xiaomi, "app-a", "a1"),
        DeviceToken::new(TokenKind::ApnsProduction, "team", "p1"),
        DeviceToken::new(TokenKind::Xiaomi, "app-b", "b1"),
        DeviceToken::new(TokenKind::Xiaomi, "app-a", "a2"),
        DeviceToken::new(TokenKind::ApnsProduction, "team", "p2"),
    ];
    let report = router.dispatch(&sample_notification(), &devices).await;

    assert_eq!(xiaomi_a.tokens_sent(), ["a1", "a2"]);
    assert_eq!(xiaomi_a.call_count(), 1);
    assert_eq!(xiaomi_b.tokens_sent(), ["b1"]);
    // APNs declares a batch of 1: one call per token.
    assert_eq!(apns.call_count(), 2);
    let results: Vec<_> = report
        .results()
        .iter()
        .map(|r| r.device.token.as_str())
        .collect();
    assert_eq!(results, ["a1", "p1", "b1", "a2", "p2"]);
    assert!(
        report
            .results()
            .iter()
            .all(|r| r.outcome == Outcome::DELIVERED)
    );
}

#[tokio::test]
async fn splits_2500_tokens_into_batches_of_1000_1000_500() {
    let provider = Arc::new(StubProvider::new("xiaomi").max_batch_size(1000));
    let mut router = Router::new();
    router.register(
        ChannelKey::new(TokenKind::Xiaomi, "app-a"),
        provider.clone(),
    );
    let devices = xiaomi(2500);
    let report = router.dispatch(&sample_notification(), &devices).await;

    let sizes: Vec<usize> = provider.calls().iter().map(|c| c.tokens.len()).collect();
    assert_eq!(sizes, [1000, 1000, 500]);
    assert_eq!(report.results().len(), 2500);
    let sent = provider.tokens_sent();
    let expected: Vec<String> = devices.iter().map(|d| d.token.clone()).collect();
    assert_eq!(sent, expected, "every token sent exactly once, in order");
    assert_eq!(report.counts(), [("delivered", 2500)]);
}

#[tokio::test]
async fn outcomes_land_on_their_own_devices() {
    let provider = Arc::new(StubProvider::new("xiaomi").max_batch_size(2));
    provider.outcome_for(
        "regid-1",
        Outcome::InvalidToken {
            reason: Reason::new("20301"),
            since: None,
        },
    );
    provider.outcome_for("regid-4", Outcome::retry("503"));
    let mut router = Router::new();
    router.register(ChannelKey::new(TokenKind::Xiaomi, "app-a"), provider);
    let devices = xiaomi(5);
    let report = router.dispatch(&sample_notification(), &devices).await;

    let labels: Vec<_> = report
        .results()
        .iter()
        .map(|r| r.outcome.as_str())
        .collect();
    assert_eq!(
        labels,
        [
            "delivered",
            "invalid_token",
            "delivered",
            "delivered",
            "retry"
        ]
    );
    let dropped: Vec<_> = report.tokens_to_drop().map(|d| d.token.as_str()).collect();
    assert_eq!(dropped, ["regid-1"]);
    let retry: Vec<_> = report.to_retry().map(|(d, _)| d.token.as_str()).collect();
    assert_eq!(retry, ["regid-4"]);
}

#[tokio::test]
async fn devices_without_a_provider_are_unroutable() {
    let provider = Arc::new(StubProvider::new("xiaomi").max_batch_size(1000));
    let mut router = Router::new();
    router.register(
        ChannelKey::new(TokenKind::Xiaomi, "app-a"),
        provider.clone(),
    );
    let devices = vec![
        DeviceToken::new(TokenKind::Huawei, "app-a", "h1"),
        DeviceToken::new(TokenKind::Xiaomi, "app-a", "x1"),
        DeviceToken::new(TokenKind::Xiaomi, "other-app", "x2"),
    ];
    let report = router.dispatch(&sample_notification(), &devices).await;
    let labels: Vec<_> = report
        .results()
        .iter()
        .map(|r| r.outcome.as_str())
        .collect();
    assert_eq!(labels, ["unroutable", "delivered", "unroutable"]);
    assert_eq!(provider.tokens_sent(), ["x1"]);
}

#[tokio::test]
async fn an_empty_dispatch_calls_nobody() {
    let provider = Arc::new(StubProvider::new("xiaomi"));
    let mut router = Router::new();
    router.register(
        ChannelKey::new(TokenKind::Xiaomi, "app-a"),
        provider.clone(),
    );
    let report = router.dispatch(&sample_notification(), &[]).await;
    assert!(report.results().is_empty());
    assert_eq!(provider.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn providers_run_concurrently() {
    let slow_a = Arc::new(StubProvider::new("a").delay(Duration::from_secs(10)));
    let slow_b = Arc::new(
        StubProvider::new("b")
            .max_batch_size(1)
            .delay(Duration::from_secs(10)),
    );
    let mut router = Router::new();
    router
        .register(ChannelKey::new(TokenKind::Huawei, "h"), slow_a)
        .register(ChannelKey::new(TokenKind::Xiaomi, "x"), slow_b);
    let devices = vec![
        DeviceToken::new(TokenKind::Huawei, "h", "1"),
        DeviceToken::new(TokenKind::Xiaomi, "x", "2"),
        DeviceToken::new(TokenKind::Xiaomi, "x", "3"),
        DeviceToken::new(TokenKind::Xiaomi, "x", "4"),
    ];
    let start = tokio::time::Instant::now();
    let report = router.dispatch(&sample_notification(), &devices).await;
    // Four batches of ten (virtual) seconds each: run one after another they would take forty.
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(report.counts(), [("delivered", 4)]);
}

/// A provider that breaks the contract by answering too few outcomes.
struct ShortProvider;

#[async_trait]
impl PushProvider for ShortProvider {
    fn name(&self) -> &str {
        "short"
    }
    fn max_batch_size(&self) -> usize {
        10
    }
    async fn send(&self, _: &pushway_core::Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        vec![Outcome::DELIVERED; tokens.len().saturating_sub(1)]
    }
}

#[tokio::test]
async fn a_provider_that_miscounts_outcomes_yields_unknown_not_a_panic() {
    let mut router = Router::new();
    router.register(
        ChannelKey::new(TokenKind::Xiaomi, "app-a"),
        Arc::new(ShortProvider),
    );
    let report = router.dispatch(&sample_notification(), &xiaomi(3)).await;
    assert_eq!(report.counts(), [("unknown", 3)]);
    let reason = report.results()[0].outcome.reason().unwrap();
    assert_eq!(reason.code(), Reason::PROVIDER_CONTRACT);
}

#[tokio::test]
async fn the_report_serialises_one_entry_per_device() {
    let provider = Arc::new(StubProvider::new("apns"));
    provider.outcome_for(
        "dead",
        Outcome::InvalidToken {
            reason: Reason::new("Unregistered"),
            since: Some(std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)),
        },
    );
    let mut router = Router::new();
    router.register(ChannelKey::new(TokenKind::ApnsSandbox, "team"), provider);
    let devices = vec![DeviceToken::new(TokenKind::ApnsSandbox, "team", "dead")];
    let report = router.dispatch(&sample_notification(), &devices).await;
    assert_eq!(
        serde_json::to_value(&report).unwrap(),
        serde_json::json!({"results": [{
            "device": {"kind": "apns_sandbox", "credential": "team", "token": "dead"},
            "outcome": {"outcome": "invalid_token", "reason": {"code": "Unregistered"}, "since": 1_700_000_000_123u64}
        }]})
    );
}
