//! The stub provider embedders test with.

use pushway_core::testing::{StubProvider, sample_notification};
use pushway_core::{DeviceToken, Outcome, PushProvider, Reason, TokenKind};

fn tokens(names: &[&str]) -> Vec<DeviceToken> {
    names
        .iter()
        .map(|n| DeviceToken::new(TokenKind::Huawei, "app", *n))
        .collect()
}

#[tokio::test]
async fn scripted_outcomes_are_consumed_in_order_then_fall_back() {
    let stub = StubProvider::new("huawei").max_batch_size(10);
    stub.script("t1", [Outcome::retry("503"), Outcome::retry("503")]);
    stub.outcome_for("t2", Outcome::rejected("80300008"));
    stub.sequence([Outcome::Auth {
        reason: Reason::new("80200001"),
    }]);
    let n = sample_notification();

    let first = stub.send(&n, &tokens(&["t1", "t2", "t3", "t4"])).await;
    assert_eq!(
        first,
        [
            Outcome::retry("503"),
            Outcome::rejected("80300008"),
            Outcome::Auth {
                reason: Reason::new("80200001")
            },
            Outcome::DELIVERED,
        ]
    );
    let second = stub.send(&n, &tokens(&["t1"])).await;
    assert_eq!(second, [Outcome::retry("503")]);
    let third = stub.send(&n, &tokens(&["t1"])).await;
    assert_eq!(third, [Outcome::DELIVERED]);

    let calls = stub.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].notification, n);
    assert_eq!(stub.tokens_sent(), ["t1", "t2", "t3", "t4", "t1", "t1"]);
}

#[tokio::test]
async fn default_outcome_applies_to_unscripted_tokens() {
    let stub = StubProvider::new("x").default_outcome(Outcome::Queued);
    let got = stub.send(&sample_notification(), &tokens(&["a"])).await;
    assert_eq!(got, [Outcome::Queued]);
}

#[test]
fn outcome_helpers() {
    let retry = Outcome::Retry {
        after: Some(std::time::Duration::from_secs(3)),
        reason: Reason::new("429"),
    };
    assert!(retry.is_retryable() && !retry.should_drop_token() && !retry.is_delivered());
    assert_eq!(retry.retry_after(), Some(std::time::Duration::from_secs(3)));
    assert_eq!(retry.as_str(), "retry");
    assert_eq!(retry.to_string(), "retry (429)");
    let dead = Outcome::InvalidToken {
        reason: Reason::new("Unregistered").with_detail("410"),
        since: None,
    };
    assert!(dead.should_drop_token() && !dead.is_retryable());
    assert_eq!(dead.to_string(), "invalid_token (Unregistered: 410)");
    let misconfigured = Outcome::Misconfigured {
        reason: Reason::new("20301"),
    };
    assert!(
        !misconfigured.should_drop_token(),
        "a configuration fault never deletes tokens"
    );
    let stale = Outcome::Stale {
        reason: Reason::new("noRight"),
    };
    assert!(!stale.should_drop_token() && !stale.is_retryable());
    assert!(Outcome::Queued.is_delivered());
    assert_eq!(Outcome::Unroutable.reason(), None);
}
