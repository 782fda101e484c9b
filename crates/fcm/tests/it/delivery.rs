//! `Retry-After` through pushway-delivery's layers: waited out when short, handed back when long.

use std::sync::Arc;
use std::time::Duration;

use pushway_core::PushProvider;
use pushway_delivery::{DeliveryBuilder, DeliveryConfig, RecordingSink};
use pushway_mock::fcm::{FcmFault, Trigger};

use crate::support::*;

fn stack(sim: &pushway_mock::fcm::FcmSimulator) -> Arc<dyn PushProvider> {
    let provider: Arc<dyn PushProvider> = Arc::new(provider(sim));
    let sink = Arc::new(RecordingSink::new());
    DeliveryBuilder::new(DeliveryConfig::default(), sink)
        .build(provider)
        .unwrap()
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out_and_the_send_delivered() {
    let sim = sim().await;
    sim.inject(
        Trigger::Times(1),
        FcmFault::Unavailable {
            retry_after: Some(1),
        },
    );
    let outcomes = stack(&sim).send(&c2c(), &devices(&[TOKEN_A])).await;
    assert!(outcomes[0].is_delivered(), "{}", outcomes[0]);
    let statuses: Vec<_> = sends(&sim).iter().map(|r| r.status()).collect();
    assert_eq!(statuses, [Some(503), Some(200)]);
}

#[tokio::test]
async fn a_quota_error_without_retry_after_is_handed_back_with_a_minute() {
    let sim = sim().await;
    sim.inject(
        Trigger::Times(1),
        FcmFault::QuotaExceeded { retry_after: None },
    );
    let outcomes = stack(&sim).send(&c2c(), &devices(&[TOKEN_A])).await;
    assert_eq!(outcomes[0].as_str(), "retry");
    assert_eq!(outcomes[0].retry_after(), Some(Duration::from_secs(60)));
    // 60 s is longer than the retry layer waits itself (30 s): one request, the caller decides.
    assert_eq!(sends(&sim).len(), 1);
}
