//! `[apps.<app>.daemon] strategy = "daemon_first"`: at accept, a recipient whose daemon device
//! is connected gets the push there only (the vendor devices suppressed `daemon_live`); with it
//! offline, the vendor devices get it (the daemon device suppressed `vendor_preferred`); with
//! only a daemon device, it is queued. The default strategy sends to every device. On Postgres,
//! presence is the cluster's: a device connected to node A counts for a message posted to B.

use std::time::Duration;

use pushway_core::ChannelStrategy;
use pushway_daemon::client::{Connection, Push};
use pushway_gateway::app::{CredentialConfig, CredentialKind};
use pushway_gateway::config::{Config, DaemonConfig, StoreUrl};
use pushway_gateway::service::Change;
use pushway_gateway::simulate::DEMO_APP;
use pushway_gateway::{Gateway, start};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::daemon::{SECRET, connect, register, token, within};
use crate::support::{Harness, KEY, c2c, devices_of, fresh_database, recipient};

/// The demo app's daemon channel with `strategy`.
fn daemon(strategy: ChannelStrategy) -> DaemonConfig {
    let mut daemon = DaemonConfig::with_secret(SECRET);
    daemon.strategy = strategy;
    daemon
}

/// The harness with a daemon channel on the demo app, under `strategy`; alice has a daemon
/// device `phone` and a Xiaomi device `mi`.
async fn start_with(strategy: ChannelStrategy) -> Harness {
    let h = Harness::start_with(|config, _| {
        config.apps.get_mut(DEMO_APP).expect("demo").daemon = Some(daemon(strategy));
    })
    .await;
    let a = register(&h, "alice", "phone").await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    h.device("alice", "mi", "xiaomi", "regid-alice").await;
    h
}

/// A C2C message from bob to `user`.
fn to(user: &str, text: &str) -> Value {
    json!({"message": c2c("bob", user, text), "recipients": [{"user_id": user}]})
}

/// Receives one push and acks it, in the background (so a `?wait` POST sees `delivered`).
fn receive_one(mut device: Connection) -> tokio::task::JoinHandle<(Connection, Push)> {
    tokio::spawn(async move {
        let push = within(device.next()).await.expect("a push");
        device.ack(&push.id).await.expect("ack");
        (device, push)
    })
}

/// The (device id, kind, state) of each of `user`'s delivery rows in a status body.
fn rows(status: &Value, user: &str) -> Vec<(String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    devices_of(status, user)
        .as_array()
        .map(|d| {
            d.iter()
                .map(|d| (text(&d["device_id"]), text(&d["kind"]), text(&d["state"])))
                .collect()
        })
        .unwrap_or_default()
}

fn row(device: &str, kind: &str, state: &str) -> (String, String, String) {
    (device.to_owned(), kind.to_owned(), state.to_owned())
}

/// Polls `condition` until it holds, failing the test after 10 s.
async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether alice's phone is connected, as the hub of `gateway` sees it (for the whole cluster).
fn phone_seen_by(gateway: &Gateway) -> bool {
    let hub = gateway
        .service()
        .daemon_hub(DEMO_APP)
        .expect("a daemon hub");
    pushway_core::Presence::is_connected(
        &hub,
        &pushway_core::DeviceToken::new(pushway_core::TokenKind::Daemon, "daemon", "alice/phone"),
    )
}

#[tokio::test]
async fn daemon_first_sends_to_the_live_daemon_device_only_and_to_the_vendors_once_it_is_gone() {
    let h = start_with(ChannelStrategy::DaemonFirst).await;
    let device = connect(&h, &token(&h, "alice", "phone").await)
        .await
        .expect("connects");
    assert!(phone_seen_by(h.gateway()));

    // (a) Connected: the daemon device only; the Xiaomi device is left out, no row, no send.
    let receiving = receive_one(device);
    let a = h.post_message("live", to("alice", "while online")).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    let id = a.body["message_id"].as_str().expect("id").to_owned();
    let (device, push) = within(receiving).await.expect("device task");
    assert_eq!(push.id, id);
    assert_eq!(
        rows(&a.body, "alice"),
        [row("phone", "daemon", "delivered")]
    );
    let left_out = json!([{"device_id": "mi", "reason": "daemon_live"}]);
    assert_eq!(recipient(&a.body, "alice")["suppressed_devices"], left_out);
    let status = h
        .call(Method::GET, &format!("/v1/apps/demo/messages/{id}"), None)
        .await;
    assert_eq!(
        rows(&status.body, "alice"),
        [row("phone", "daemon", "delivered")]
    );
    assert_eq!(
        recipient(&status.body, "alice")["suppressed_devices"],
        left_out
    );
    assert_eq!(h.sims.xiaomi.request_count(), 0);

    // (b) Disconnected: the Xiaomi device only; the daemon device is left out, so the push
    // does not pop up again when it reconnects.
    device.close().await;
    until("the hub sees the phone gone", || {
        !phone_seen_by(h.gateway())
    })
    .await;
    let a = h.post_message("offline", to("alice", "while away")).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    assert_eq!(rows(&a.body, "alice"), [row("mi", "xiaomi", "delivered")]);
    assert_eq!(
        recipient(&a.body, "alice")["suppressed_devices"],
        json!([{"device_id": "phone", "reason": "vendor_preferred"}])
    );
    let xiaomi = h.sims.xiaomi.requests();
    assert_eq!(xiaomi.len(), 1);
    assert_eq!(
        xiaomi[0].form_value("registration_id").as_deref(),
        Some("regid-alice")
    );
    // Nothing waits in the daemon queue for the phone.
    let device = connect(&h, &token(&h, "alice", "phone").await)
        .await
        .expect("connects again");
    let receiving = receive_one(device);
    let a = h.post_message("back", to("alice", "back online")).await;
    let (device, push) = within(receiving).await.expect("device task");
    assert_eq!(push.id, a.body["message_id"].as_str().expect("id"));
    device.close().await;
}

#[tokio::test]
async fn daemon_first_queues_for_a_recipient_with_only_an_offline_daemon_device() {
    let h = start_with(ChannelStrategy::DaemonFirst).await;
    let a = register(&h, "carol", "laptop").await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let a = h.post_message("only", to("carol", "queued for you")).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    assert_eq!(rows(&a.body, "carol"), [row("laptop", "daemon", "queued")]);
    assert_eq!(
        recipient(&a.body, "carol")["suppressed_devices"],
        Value::Null
    );
}

#[tokio::test]
async fn all_devices_is_the_default_and_sends_to_every_device() {
    assert_eq!(
        DaemonConfig::default().strategy,
        ChannelStrategy::AllDevices
    );
    let h = start_with(ChannelStrategy::default()).await;
    let device = connect(&h, &token(&h, "alice", "phone").await)
        .await
        .expect("connects");
    let receiving = receive_one(device);
    let a = h.post_message("all", to("alice", "everywhere")).await;
    let (device, push) = within(receiving).await.expect("device task");
    assert_eq!(push.id, a.body["message_id"].as_str().expect("id"));
    let mut got = rows(&a.body, "alice");
    got.sort();
    assert_eq!(
        got,
        [
            row("mi", "xiaomi", "delivered"),
            row("phone", "daemon", "delivered")
        ]
    );
    assert_eq!(
        recipient(&a.body, "alice")["suppressed_devices"],
        Value::Null
    );
    assert_eq!(h.sims.xiaomi.request_count(), 1);
    device.close().await;
}

#[tokio::test]
async fn a_daemon_channel_changed_to_daemon_first_while_running_routes_by_presence() {
    let h = start_with(ChannelStrategy::AllDevices).await;
    let a = h.post_message("before", to("alice", "both")).await;
    assert_eq!(rows(&a.body, "alice").len(), 2, "{:#}", a.body);

    let changed = h
        .gateway()
        .service()
        .put_credential(
            DEMO_APP,
            CredentialKind::Daemon,
            "daemon",
            CredentialConfig::Daemon(daemon(ChannelStrategy::DaemonFirst)),
        )
        .await
        .expect("the new strategy is accepted");
    assert_eq!(changed.change, Change::Rotated);
    let a = h.post_message("after", to("alice", "vendor only")).await;
    assert_eq!(rows(&a.body, "alice"), [row("mi", "xiaomi", "delivered")]);
    assert_eq!(
        recipient(&a.body, "alice")["suppressed_devices"],
        json!([{"device_id": "phone", "reason": "vendor_preferred"}])
    );
}

/// Gateway A (the harness, node `a`) and gateway B (node `b`) on one fresh Postgres database,
/// whatever `PUSHWAY_TEST_STORE` says, the demo app with a `daemon_first` daemon channel on both
/// and alice's two devices.
async fn two_gateways() -> (Harness, Gateway) {
    let h = Harness::start_with(|config, _| {
        config.store.url = Some(StoreUrl::new(fresh_database()));
        config.cluster.node_id = "a".to_owned();
        let daemon = daemon(ChannelStrategy::DaemonFirst);
        config.apps.get_mut(DEMO_APP).expect("demo").daemon = Some(daemon);
    })
    .await;
    register(&h, "alice", "phone").await;
    h.device("alice", "mi", "xiaomi", "regid-alice").await;
    let mut config: Config = h.config().clone();
    config.cluster.node_id = "b".to_owned();
    let b = start(config).await.expect("gateway b starts");
    (h, b)
}

#[tokio::test]
async fn daemon_first_on_node_b_sees_the_device_connected_to_node_a() {
    let (h, b) = two_gateways().await;
    let a = h.gateway();
    let device = connect(&h, &token(&h, "alice", "phone").await)
        .await
        .expect("connects to a");
    // B learns of the connection through the cluster's notifications.
    until("node b sees the phone on node a", || phone_seen_by(&b)).await;
    // Connected to A only: B answers from the cluster's presence, not a connection of its own.
    let connected = |g: &Gateway| {
        g.service()
            .daemon_hub(DEMO_APP)
            .expect("hub")
            .stats()
            .connected
    };
    assert_eq!((connected(a), connected(&b)), (1, 0));

    let receiving = receive_one(device);
    let response = h
        .http
        .post(format!(
            "http://{}/v1/apps/demo/messages?wait=10s",
            b.addr()
        ))
        .bearer_auth(KEY)
        .header("idempotency-key", "cross")
        .json(&to("alice", "from node b"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let answer: Value = response.json().await.expect("body");
    let id = answer["message_id"].as_str().expect("id").to_owned();
    let (device, push) = within(receiving).await.expect("device task");
    assert_eq!(push.id, id);
    assert_eq!(
        recipient(&answer, "alice")["suppressed_devices"],
        json!([{"device_id": "mi", "reason": "daemon_live"}])
    );
    // Acked on A: the row B made ends `delivered` (B's own answer may have come first, with
    // the push `queued` for the device on A).
    let path = format!("/v1/apps/demo/messages/{id}");
    let mut status = Value::Null;
    for _ in 0..500 {
        status = h.call(Method::GET, &path, None).await.body;
        if rows(&status, "alice") == [row("phone", "daemon", "delivered")] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        rows(&status, "alice"),
        [row("phone", "daemon", "delivered")]
    );
    assert_eq!(h.sims.xiaomi.request_count(), 0);
    device.close().await;
    b.stop(Duration::from_secs(5)).await;
}
