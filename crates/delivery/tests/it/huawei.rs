//! The layers against the Huawei Push Kit simulator, through the real [`HuaweiProvider`] over
//! loopback HTTP: injected flow control and inner errors end delivered within the retry budget;
//! tokens of another app (80300007) are held, never deleted. Real clock, millisecond backoffs
//! (no fault here carries a `Retry-After`); counts asserted, not time.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use pushway_core::testing::sample_notification;
use pushway_core::{ChannelKey, DeviceToken, Outcome, TokenKind};
use pushway_delivery::{AlarmKind, DeliveryBuilder, DeliveryConfig, Quarantine, RecordingSink};
use pushway_huawei::{HuaweiProvider, MISCONFIGURED_BATCH};
use pushway_mock::fault::Trigger;
use pushway_mock::huawei::{HuaweiFault, HuaweiSimulator};

use crate::simulator::fast_config;

const APP_ID: &str = "104567890";
const SECRET: &str = "3f9a0c1d2e4b5a6c7d8e9f00112233445566778899aabbccddeeff0011223344";

async fn simulator() -> HuaweiSimulator {
    HuaweiSimulator::builder()
        .app_id(APP_ID)
        .client_secret(SECRET)
        .start()
        .await
        .unwrap()
}

fn huawei(sim: &HuaweiSimulator) -> Arc<HuaweiProvider> {
    let provider = HuaweiProvider::builder()
        .app_id(APP_ID)
        .client_secret(SECRET)
        .base_url(sim.base_url())
        .allow_plain_http(true)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    Arc::new(provider)
}

fn tokens(n: usize) -> Vec<DeviceToken> {
    (0..n)
        .map(|i| {
            DeviceToken::new(
                TokenKind::Huawei,
                "app",
                format!("IQAAAACy0kYkAABwsc{i:08}"),
            )
        })
        .collect()
}

/// `messages:send` requests only (the OAuth token requests are not attempts).
fn sends(sim: &HuaweiSimulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with("/messages:send"))
        .count()
}

#[tokio::test]
async fn twenty_percent_flow_control_and_inner_errors_all_end_delivered_within_the_budget() {
    const N: usize = 200;
    let sim = simulator().await;
    // 20% of sends fail: half HTTP 503 with no body (flow control), half 81000001.
    sim.inject(Trigger::ratio(1, 10), HuaweiFault::FlowControl);
    sim.inject(Trigger::ratio(1, 9), HuaweiFault::InternalError);
    let sink = Arc::new(RecordingSink::new());
    let provider = DeliveryBuilder::new(fast_config(), sink.clone())
        .build(huawei(&sim))
        .unwrap();

    let tokens = tokens(N);
    let n = sample_notification();
    let outcomes = join_all(
        tokens
            .iter()
            .map(|t| provider.send(&n, std::slice::from_ref(t))),
    )
    .await;

    assert!(
        outcomes.iter().flatten().all(Outcome::is_delivered),
        "{outcomes:?}"
    );
    let sends = sends(&sim);
    // The budget's reserve is 100 retries over 10 s.
    assert!(sends <= N + N / 5 + 100, "{sends} sends");
    assert!(
        sends > N + N / 10,
        "{sends} sends: the faults were injected"
    );
    assert!(sink.dead().is_empty());
    assert!(sink.alarms().is_empty());
}

#[tokio::test]
async fn tokens_of_another_app_in_a_large_batch_are_held_with_an_alarm() {
    let sim = simulator().await;
    // None of these tokens belongs to the simulated app: 80300007 for all of them.
    sim.set_accept_any_token(false);
    let sink = Arc::new(RecordingSink::new());
    let provider = DeliveryBuilder::new(fast_config(), sink.clone())
        .build(huawei(&sim))
        .unwrap();

    let outcomes = provider.send(&sample_notification(), &tokens(300)).await;

    assert!(
        sink.dead().is_empty(),
        "a wrong app id must not wipe the registry"
    );
    assert!(outcomes.iter().all(|o| o.as_str() == "misconfigured"));
    let alarms = sink.alarms();
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    // pushway-huawei already calls a plain-text 80300007 on a large batch misconfigured.
    assert_eq!(alarms[0].kind, AlarmKind::VendorMisconfigured);
    assert_eq!(alarms[0].reason.code(), "80300007");
    assert_eq!(alarms[0].held.len(), 300);
    assert_eq!(sends(&sim), 1, "not retried");
}

#[tokio::test]
async fn tokens_of_another_app_in_small_batches_are_held_after_the_prefix() {
    // Below MISCONFIGURED_BATCH the provider reports 80300007 as InvalidToken; the hygiene
    // layer's rate rule holds the rest once 50 verdicts of the credential are in.
    const BATCH: usize = 5;
    const { assert!(BATCH < MISCONFIGURED_BATCH) };
    let sim = simulator().await;
    sim.set_accept_any_token(false);
    let sink = Arc::new(RecordingSink::new());
    let quarantine = Quarantine::new();
    let provider = DeliveryBuilder::new(DeliveryConfig::default(), sink.clone())
        .quarantine(quarantine.clone())
        .build(huawei(&sim))
        .unwrap();

    let n = sample_notification();
    for batch in tokens(300).chunks(BATCH) {
        provider.send(&n, batch).await;
    }

    assert_eq!(sends(&sim), 60);
    // The 10th request brings the 50th verdict: the 9 before it went through.
    assert_eq!(sink.dead().len(), 9 * BATCH);
    let key = ChannelKey::new(TokenKind::Huawei, "app");
    assert_eq!(quarantine.held_count(&key), 300 - 9 * BATCH);
    let alarms = sink.alarms();
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0].kind, AlarmKind::MassInvalid);
    assert_eq!(alarms[0].reason.code(), "80300007");
}
