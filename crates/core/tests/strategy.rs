//! Channel strategies on the router: `AllDevices` (the default) and `DaemonFirst`.

// Tests and their helpers may panic on a broken expectation.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use pushway_core::testing::{StubProvider, sample_notification};
use pushway_core::{
    ChannelKey, ChannelStrategy, DeviceToken, Outcome, Presence, Reason, Router, TokenKind,
};

/// A presence that knows a fixed, changeable set of connected daemon tokens.
#[derive(Default)]
struct Connected(Mutex<HashSet<String>>);

impl Connected {
    fn set(&self, tokens: &[&str]) {
        let mut set = self.0.lock().unwrap();
        set.clear();
        set.extend(tokens.iter().map(|t| (*t).to_owned()));
    }
}

impl Presence for Connected {
    fn is_connected(&self, device: &DeviceToken) -> bool {
        self.0.lock().unwrap().contains(&device.token)
    }
}

struct Setup {
    router: Router,
    presence: Arc<Connected>,
    daemon: Arc<StubProvider>,
    xiaomi: Arc<StubProvider>,
    apns: Arc<StubProvider>,
}

fn setup() -> Setup {
    let daemon = Arc::new(StubProvider::new("daemon").default_outcome(Outcome::Queued));
    let xiaomi = Arc::new(StubProvider::new("xiaomi").max_batch_size(1000));
    let apns = Arc::new(StubProvider::new("apns"));
    let presence = Arc::new(Connected::default());
    let mut router = Router::new();
    router
        .register(ChannelKey::new(TokenKind::Daemon, "app"), daemon.clone())
        .register(ChannelKey::new(TokenKind::Xiaomi, "app"), xiaomi.clone())
        .register(
            ChannelKey::new(TokenKind::ApnsProduction, "app"),
            apns.clone(),
        )
        .set_presence(presence.clone());
    Setup {
        router,
        presence,
        daemon,
        xiaomi,
        apns,
    }
}

fn devices() -> Vec<DeviceToken> {
    vec![
        DeviceToken::new(TokenKind::Xiaomi, "app", "regid-1"),
        DeviceToken::new(TokenKind::Daemon, "app", "daemon-1"),
        DeviceToken::new(TokenKind::ApnsProduction, "app", "apns-1"),
    ]
}

fn skipped(reason: &'static str) -> Outcome {
    Outcome::skipped(Reason::new(reason))
}

fn outcomes(report: &pushway_core::DispatchReport) -> Vec<Outcome> {
    report.results().iter().map(|r| r.outcome.clone()).collect()
}

#[tokio::test]
async fn daemon_first_sends_only_to_the_live_daemon() {
    let s = setup();
    s.presence.set(&["daemon-1"]);
    let devices = devices();
    let report = s
        .router
        .dispatch_with(
            ChannelStrategy::DaemonFirst,
            &sample_notification(),
            &devices,
        )
        .await;

    assert_eq!(
        outcomes(&report),
        [
            skipped(Reason::DAEMON_LIVE),
            Outcome::Queued,
            skipped(Reason::DAEMON_LIVE)
        ]
    );
    assert_eq!(s.daemon.tokens_sent(), ["daemon-1"]);
    assert_eq!(s.xiaomi.call_count(), 0);
    assert_eq!(s.apns.call_count(), 0);
    // Results stay in the order of the devices, each with its own device.
    let order: Vec<&str> = report
        .results()
        .iter()
        .map(|r| r.device.token.as_str())
        .collect();
    assert_eq!(order, ["regid-1", "daemon-1", "apns-1"]);
    // Skipped devices are neither delivered, nor dropped, nor retried.
    assert_eq!(report.delivered().count(), 1);
    assert_eq!(report.tokens_to_drop().count(), 0);
    assert_eq!(report.to_retry().count(), 0);
    assert_eq!(report.counts(), [("queued", 1), ("skipped", 2)]);
}

#[tokio::test]
async fn daemon_first_uses_the_vendors_when_no_daemon_is_connected() {
    let s = setup();
    let devices = devices();
    let report = s
        .router
        .dispatch_with(
            ChannelStrategy::DaemonFirst,
            &sample_notification(),
            &devices,
        )
        .await;

    assert_eq!(
        outcomes(&report),
        [
            Outcome::DELIVERED,
            skipped(Reason::VENDOR_PREFERRED),
            Outcome::DELIVERED
        ]
    );
    assert_eq!(s.daemon.call_count(), 0);
    assert_eq!(s.xiaomi.tokens_sent(), ["regid-1"]);
    assert_eq!(s.apns.tokens_sent(), ["apns-1"]);
}

#[tokio::test]
async fn daemon_first_follows_the_connection_from_one_dispatch_to_the_next() {
    let s = setup();
    let devices = devices();
    let n = sample_notification();
    s.presence.set(&["daemon-1"]);
    s.router
        .dispatch_with(ChannelStrategy::DaemonFirst, &n, &devices)
        .await;
    s.presence.set(&[]);
    s.router
        .dispatch_with(ChannelStrategy::DaemonFirst, &n, &devices)
        .await;

    assert_eq!(s.daemon.call_count(), 1);
    assert_eq!(s.xiaomi.call_count(), 1);
    assert_eq!(s.apns.call_count(), 1);
}

#[tokio::test]
async fn daemon_first_sends_to_every_live_daemon_device_and_skips_offline_ones() {
    let s = setup();
    s.presence.set(&["daemon-1", "daemon-3"]);
    let devices = [
        DeviceToken::new(TokenKind::Daemon, "app", "daemon-1"),
        DeviceToken::new(TokenKind::Daemon, "app", "daemon-2"),
        DeviceToken::new(TokenKind::Daemon, "app", "daemon-3"),
    ];
    let report = s
        .router
        .dispatch_with(
            ChannelStrategy::DaemonFirst,
            &sample_notification(),
            &devices,
        )
        .await;
    assert_eq!(
        outcomes(&report),
        [
            Outcome::Queued,
            skipped(Reason::DAEMON_LIVE),
            Outcome::Queued
        ]
    );
    let mut sent = s.daemon.tokens_sent();
    sent.sort();
    assert_eq!(sent, ["daemon-1", "daemon-3"]);
}

#[tokio::test]
async fn daemon_first_queues_on_the_daemon_when_there_is_no_vendor_device() {
    let s = setup();
    let devices = [
        DeviceToken::new(TokenKind::Daemon, "app", "daemon-1"),
        // A vendor device with no provider does not count as a way to reach the recipient.
        DeviceToken::new(TokenKind::Huawei, "app", "hw-1"),
    ];
    let report = s
        .router
        .dispatch_with(
            ChannelStrategy::DaemonFirst,
            &sample_notification(),
            &devices,
        )
        .await;
    assert_eq!(outcomes(&report), [Outcome::Queued, Outcome::Unroutable]);
    assert_eq!(s.daemon.tokens_sent(), ["daemon-1"]);
}

#[tokio::test]
async fn a_connected_daemon_device_without_a_provider_is_not_live() {
    let s = setup();
    s.presence.set(&["other-daemon"]);
    let devices = [
        DeviceToken::new(TokenKind::Daemon, "other-app", "other-daemon"),
        DeviceToken::new(TokenKind::Xiaomi, "app", "regid-1"),
    ];
    let report = s
        .router
        .dispatch_with(
            ChannelStrategy::DaemonFirst,
            &sample_notification(),
            &devices,
        )
        .await;
    assert_eq!(
        outcomes(&report),
        [skipped(Reason::VENDOR_PREFERRED), Outcome::DELIVERED]
    );
}

#[tokio::test]
async fn daemon_first_without_presence_uses_the_vendors() {
    let s = setup();
    let mut router = Router::new();
    router
        .register(ChannelKey::new(TokenKind::Daemon, "app"), s.daemon.clone())
        .register(ChannelKey::new(TokenKind::Xiaomi, "app"), s.xiaomi.clone());
    let devices = [
        DeviceToken::new(TokenKind::Daemon, "app", "daemon-1"),
        DeviceToken::new(TokenKind::Xiaomi, "app", "regid-1"),
    ];
    let report = router
        .dispatch_with(
            ChannelStrategy::DaemonFirst,
            &sample_notification(),
            &devices,
        )
        .await;
    assert_eq!(
        outcomes(&report),
        [skipped(Reason::VENDOR_PREFERRED), Outcome::DELIVERED]
    );
}

#[tokio::test]
async fn all_devices_is_the_default_and_is_plain_dispatch() {
    assert_eq!(ChannelStrategy::default(), ChannelStrategy::AllDevices);
    let s = setup();
    s.presence.set(&["daemon-1"]);
    let devices = devices();
    let n = sample_notification();
    let with = s
        .router
        .dispatch_with(ChannelStrategy::default(), &n, &devices)
        .await;
    let plain = s.router.dispatch(&n, &devices).await;
    assert_eq!(with, plain);
    assert_eq!(
        outcomes(&with),
        [Outcome::DELIVERED, Outcome::Queued, Outcome::DELIVERED]
    );
    assert_eq!(s.daemon.call_count(), 2);
}

#[test]
fn skipped_outcome_and_strategy_labels_are_stable() {
    let outcome = skipped(Reason::DAEMON_LIVE);
    assert_eq!(outcome.as_str(), "skipped");
    assert!(!outcome.is_delivered() && !outcome.is_retryable() && !outcome.should_drop_token());
    assert_eq!(
        serde_json::to_value(&outcome).unwrap(),
        serde_json::json!({"outcome": "skipped", "reason": {"code": "daemon_live"}})
    );
    assert_eq!(ChannelStrategy::DaemonFirst.as_str(), "daemon_first");
    assert_eq!(
        serde_json::to_value(ChannelStrategy::DaemonFirst).unwrap(),
        serde_json::json!("daemon_first")
    );
}

#[test]
fn plan_decides_as_dispatch_with_without_sending() {
    let devices = devices();
    let connected = |d: &DeviceToken| d.token == "daemon-1";
    let offline = |_: &DeviceToken| false;
    let all = |_: &DeviceToken| true;
    let live = Some(Reason::DAEMON_LIVE);
    let preferred = Some(Reason::VENDOR_PREFERRED);
    let daemon_first = ChannelStrategy::DaemonFirst;
    // Rule 1: the connected daemon device only.
    assert_eq!(
        daemon_first.plan(&devices, connected, all),
        [live, None, live]
    );
    // Rule 1 needs a provider for the connected daemon device: without one, rule 2.
    let no_daemon = |d: &DeviceToken| d.kind != TokenKind::Daemon;
    assert_eq!(
        daemon_first.plan(&devices, connected, no_daemon),
        [None, preferred, None]
    );
    // Rule 2: offline, the vendors.
    assert_eq!(
        daemon_first.plan(&devices, offline, all),
        [None, preferred, None]
    );
    // Rule 3: no vendor device with a provider, the daemon device anyway.
    let daemon_only = |d: &DeviceToken| d.kind == TokenKind::Daemon;
    assert_eq!(
        daemon_first.plan(&devices, offline, daemon_only),
        [None, None, None]
    );
    // All devices: every one, whatever the presence.
    assert_eq!(
        ChannelStrategy::AllDevices.plan(&devices, connected, all),
        [None, None, None]
    );
    assert!(daemon_first.plan(&[], connected, all).is_empty());
}
