//! The provider behind the core router.

use std::sync::Arc;

use pushway_core::{ChannelKey, Router, TokenKind};

use crate::support::*;

#[tokio::test]
async fn twenty_five_hundred_tokens_through_the_router_are_three_requests() {
    let sim = sim().await;
    let mut router = Router::new();
    router.register(
        ChannelKey::new(TokenKind::Huawei, "app"),
        Arc::new(provider(&sim)),
    );
    let devices = many(2500);
    let report = router.dispatch(&c2c(), &devices).await;
    assert_eq!(report.results().len(), 2500);
    assert!(report.results().iter().all(|r| r.outcome.is_delivered()));
    let mut sizes: Vec<usize> = sends(&sim)
        .iter()
        .map(|r| r.json()["message"]["token"].as_array().unwrap().len())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [500, 1000, 1000]);
    assert_eq!(
        sim.issued_tokens(),
        1,
        "the three concurrent batches share one token fetch"
    );
    assert_eq!(sim.delivered(), 2500);
}

#[tokio::test]
async fn per_token_outcomes_reach_the_right_devices_through_the_router() {
    let sim = sim().await;
    let mut router = Router::new();
    router.register(
        ChannelKey::new(TokenKind::Huawei, "app"),
        Arc::new(provider(&sim)),
    );
    let devices = many(1500);
    sim.unregister([devices[3].token.clone(), devices[1200].token.clone()]);
    let report = router.dispatch(&c2c(), &devices).await;
    let dropped: Vec<&str> = report.tokens_to_drop().map(|d| d.token.as_str()).collect();
    assert_eq!(
        dropped,
        [devices[3].token.as_str(), devices[1200].token.as_str()]
    );
    assert_eq!(report.delivered().count(), 1498);
}
