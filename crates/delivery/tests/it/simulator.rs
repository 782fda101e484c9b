//! The layers against the Xiaomi simulator's fault injection, through the real
//! [`XiaomiProvider`] over loopback HTTP.
//!
//! These tests run on the real clock (paused time would fire timeouts while a socket waits), with
//! millisecond backoffs, and assert request counts only. Xiaomi's rate-limit codes carry a
//! `retry_after` of 1 s, which the retry layer waits out: a test with them takes about a second.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use pushway_core::testing::sample_notification;
use pushway_core::{ChannelKey, Outcome, TokenKind};
use pushway_delivery::{
    AlarmKind, DeliveryBuilder, DeliveryConfig, Quarantine, RecordingSink, RetryConfig,
};
use pushway_mock::fault::Trigger;
use pushway_mock::xiaomi::{XiaomiFault, XiaomiSimulator};
use pushway_xiaomi::{XiaomiProvider, XiaomiProviderBuilder};

use crate::support::xiaomis;

const SECRET: &str = "TESTSECRET0123456789==";
const PACKAGE: &str = "com.example.chat";
const CHANNEL: &str = "108790";

fn xiaomi_builder(sim: &XiaomiSimulator, package: &str) -> XiaomiProviderBuilder {
    XiaomiProvider::builder()
        .app_secret(SECRET)
        .package(package)
        .channel_id(CHANNEL)
        .base_url(sim.base_url())
        .allow_plain_http(true)
        .timeout(Duration::from_secs(5))
}

fn xiaomi(sim: &XiaomiSimulator, package: &str) -> Arc<XiaomiProvider> {
    Arc::new(xiaomi_builder(sim, package).build().unwrap())
}

pub fn fast_config() -> DeliveryConfig {
    let mut retry = RetryConfig::default();
    retry.max_attempts = 5;
    retry.base_delay = Duration::from_millis(1);
    retry.max_delay = Duration::from_millis(20);
    let mut config = DeliveryConfig::default();
    config.retry = Some(retry);
    config
}

#[tokio::test]
async fn twenty_percent_injected_faults_all_end_delivered_within_the_budget() {
    const N: usize = 200;
    let sim = XiaomiSimulator::builder()
        .app_secret(SECRET)
        .start()
        .await
        .unwrap();
    // 20% of requests fail: half rate-limited (10027), half 503.
    sim.inject(Trigger::ratio(1, 10), XiaomiFault::RateLimited);
    sim.inject(Trigger::ratio(1, 9), XiaomiFault::Status(503));
    let sink = Arc::new(RecordingSink::new());
    let provider = DeliveryBuilder::new(fast_config(), sink.clone())
        .build(xiaomi(&sim, PACKAGE))
        .unwrap();

    let tokens = xiaomis(N);
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
    let requests = sim.request_count() as usize;
    // The budget's reserve is 100 retries over 10 s.
    assert!(requests <= N + N / 5 + 100, "{requests} requests");
    assert!(
        requests > N + N / 10,
        "{requests} requests: the faults were injected"
    );
    assert!(sink.dead().is_empty());
}

#[tokio::test]
async fn a_wrong_package_name_holds_the_deletions_and_raises_an_alarm() {
    let sim = XiaomiSimulator::builder()
        .app_secret(SECRET)
        .package(PACKAGE)
        .start()
        .await
        .unwrap();
    let sink = Arc::new(RecordingSink::new());
    let provider = DeliveryBuilder::new(fast_config(), sink.clone())
        .build(xiaomi(&sim, "com.example.wrong"))
        .unwrap();

    let outcomes = provider.send(&sample_notification(), &xiaomis(50)).await;

    assert!(
        sink.dead().is_empty(),
        "a wrong setting must not wipe the registry"
    );
    assert!(outcomes.iter().all(|o| o.as_str() == "misconfigured"));
    // pushway-xiaomi's own safeguard already calls a whole refused batch of 50 misconfigured.
    let alarms = sink.alarms();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].kind, AlarmKind::VendorMisconfigured);
    assert_eq!(alarms[0].reason.code(), "20301");
    assert_eq!(alarms[0].held.len(), 50);
    assert_eq!(sim.request_count(), 1, "not retried");
}

#[tokio::test]
async fn a_wrong_package_in_small_batches_deletes_only_the_prefix() {
    // xiaomi.md: "most sends of an app return 20301" is a wrong package or region. With the
    // provider's own safeguard out of the way, the hygiene layer's rate rule alone holds the
    // deletions after fewer than 50 single-regid requests.
    let sim = XiaomiSimulator::builder()
        .app_secret(SECRET)
        .package(PACKAGE)
        .start()
        .await
        .unwrap();
    let provider = xiaomi_builder(&sim, "com.example.wrong")
        .misconfiguration_safeguard(usize::MAX, u32::MAX)
        .build()
        .unwrap();
    let sink = Arc::new(RecordingSink::new());
    let quarantine = Quarantine::new();
    let provider = DeliveryBuilder::new(fast_config(), sink.clone())
        .quarantine(quarantine.clone())
        .build(Arc::new(provider))
        .unwrap();

    let n = sample_notification();
    for token in xiaomis(80) {
        provider.send(&n, &[token]).await;
    }

    assert_eq!(sim.request_count(), 80);
    assert_eq!(sink.dead().len(), 49);
    let key = ChannelKey::new(TokenKind::Xiaomi, "app");
    assert_eq!(quarantine.held_count(&key), 31);
    let alarms = sink.alarms();
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0].kind, AlarmKind::MassInvalid);
    assert_eq!(alarms[0].reason.code(), "20301");
}

#[tokio::test]
async fn unregistered_regids_reach_the_sink_once() {
    let sim = XiaomiSimulator::builder()
        .app_secret(SECRET)
        .start()
        .await
        .unwrap();
    sim.unregister(["regid-3", "regid-7"]);
    // The first request is rate-limited: the batch is retried, and still each dead regid is
    // reported once.
    sim.inject(Trigger::Times(1), XiaomiFault::RateLimited);
    let sink = Arc::new(RecordingSink::new());
    let provider = DeliveryBuilder::new(fast_config(), sink.clone())
        .build(xiaomi(&sim, PACKAGE))
        .unwrap();

    let outcomes = provider.send(&sample_notification(), &xiaomis(10)).await;

    assert_eq!(sim.request_count(), 2);
    let mut dead: Vec<String> = sink.dead().into_iter().map(|d| d.device.token).collect();
    dead.sort();
    assert_eq!(dead, ["regid-3", "regid-7"]);
    assert_eq!(outcomes.iter().filter(|o| o.is_delivered()).count(), 8);
}
