//! The provider behind the core router.

use std::sync::Arc;

use pushway_core::{ChannelKey, Router, TokenKind};
use pushway_mock::fcm::TokenState;

use crate::support::*;

/// 1,200 devices: three batches of at most 500 (one request per token each), one access
/// token for all, and the two dead tokens, only they, reported for deletion.
#[tokio::test]
async fn twelve_hundred_fcm_devices_through_the_router() {
    let sim = sim().await;
    let mut router = Router::new();
    router.register(
        ChannelKey::new(TokenKind::Fcm, "app"),
        Arc::new(provider(&sim)),
    );
    let devices = many(1200);
    sim.set_token_state(devices[3].token.clone(), TokenState::Unregistered);
    sim.set_token_state(devices[1100].token.clone(), TokenState::Invalid);
    let report = router.dispatch(&c2c(), &devices).await;
    assert_eq!(report.results().len(), 1200);
    let dropped: Vec<&str> = report.tokens_to_drop().map(|d| d.token.as_str()).collect();
    assert_eq!(
        dropped,
        [devices[3].token.as_str(), devices[1100].token.as_str()]
    );
    assert_eq!(report.delivered().count(), 1198);
    assert_eq!((sim.request_count(), sim.accepted_count()), (1200, 1198));
    assert_eq!(
        sim.issued_tokens(),
        1,
        "the concurrent batches share one token request"
    );
}
