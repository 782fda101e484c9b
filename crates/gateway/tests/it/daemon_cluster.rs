//! The daemon channel across two gateways (nodes) on one Postgres database: a device connected to
//! gateway A gets, in order, the pushes gateway B's workers queue, and its acks on A end B's
//! delivery rows `delivered`; reconnected to B, it gets what was queued meanwhile, in order.
//! These run on Postgres whatever `PUSHWAY_TEST_STORE` says.

use pushway_daemon::client::{ConnectOptions, Connection};
use pushway_gateway::config::{Config, StoreUrl};
use pushway_gateway::{Gateway, start};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::daemon::{SECRET, within};
use crate::support::{Harness, KEY, c2c, devices_of, fresh_database};

/// Gateway A (the harness, node `a`) and gateway B (node `b`) on one fresh database, the demo
/// app with a daemon channel on both. Every push is accepted through B; B's commit wakes the
/// workers of both nodes (LISTEN/NOTIFY), so either may send it: B's queue it for the device
/// on A (which B's append wakes across nodes), A's send it to the device directly. A's worker
/// polls only once an hour: it sends only what a wake-up made it claim.
async fn two_gateways() -> (Harness, Gateway) {
    let h = Harness::start_with(|config, _| {
        config.store.url = Some(StoreUrl::new(fresh_database()));
        config.cluster.node_id = "a".to_owned();
        config.worker.poll_interval_ms = 3_600_000;
        let daemon = pushway_gateway::config::DaemonConfig::with_secret(SECRET);
        config.apps.get_mut("demo").expect("demo").daemon = Some(daemon);
    })
    .await;
    let mut config: Config = h.config().clone();
    config.cluster.node_id = "b".to_owned();
    config.worker.poll_interval_ms = 20;
    let b = start(config).await.expect("gateway b starts");
    (h, b)
}

/// A request with the demo key to the gateway at `addr`.
async fn call(h: &Harness, at: &Gateway, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut request = h
        .http
        .request(method, format!("http://{}{path}", at.addr()))
        .bearer_auth(KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Registers alice's daemon device `phone` through `at` and returns a token for it.
async fn phone_token(h: &Harness, at: &Gateway) -> String {
    let path = "/v1/apps/demo/users/alice/devices/phone";
    call(h, at, Method::PUT, path, Some(json!({"kind": "daemon"}))).await;
    let token = call(h, at, Method::POST, &format!("{path}/daemon-token"), None).await;
    token["token"].as_str().expect("token").to_owned()
}

async fn connect(at: &Gateway, token: &str) -> Connection {
    let url = format!("ws://{}/v1/apps/demo/daemon", at.addr());
    Connection::connect(&url, token, &ConnectOptions::default())
        .await
        .expect("connects")
}

/// Posts a message to alice through `at` (under idempotency key `key`) and waits for its first
/// outcome, so the pushes of successive calls are queued in call order; its id.
async fn post_through(h: &Harness, at: &Gateway, key: &str) -> String {
    let body = json!({"message": c2c("bob", "alice", key), "recipients": [{"user_id": "alice"}]});
    let response = h
        .http
        .post(format!(
            "http://{}/v1/apps/demo/messages?wait=10s",
            at.addr()
        ))
        .bearer_auth(KEY)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let answer: Value = response.json().await.expect("body");
    let phone = &devices_of(&answer, "alice")[0];
    assert!(
        phone["state"] == "queued" || phone["state"] == "delivered",
        "{answer:#}"
    );
    answer["message_id"].as_str().expect("id").to_owned()
}

/// alice's phone's (state, last outcome, attempts) of message `id`, as the gateway at `at`
/// reports it, once delivered (at most 10 s).
async fn delivered_on(h: &Harness, at: &Gateway, id: &str) -> (Value, Value, Value) {
    for _ in 0..500 {
        let status = call(
            h,
            at,
            Method::GET,
            &format!("/v1/apps/demo/messages/{id}"),
            None,
        )
        .await;
        let phone = &devices_of(&status, "alice")[0];
        if phone["state"] == "delivered" {
            return (
                phone["state"].clone(),
                phone["last_outcome"].clone(),
                phone["attempts"].clone(),
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("message {id} never became delivered");
}

fn daemon_stats(at: &Gateway) -> pushway_daemon::HubStats {
    at.service()
        .daemon_hub("demo")
        .expect("a daemon hub")
        .stats()
}

#[tokio::test]
async fn pushes_queued_by_gateway_b_reach_a_device_on_gateway_a_in_order_and_its_acks_deliver_them()
{
    let (h, b) = two_gateways().await;
    let a = h.gateway();
    let token = phone_token(&h, &b).await;
    let mut device = connect(a, &token).await;
    let receiving = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..8 {
            let push = within(device.next()).await.expect("a push");
            device.ack(&push.id).await.expect("ack");
            got.push(push.id);
        }
        (device, got)
    });
    let mut sent = Vec::new();
    for i in 0..8 {
        sent.push(post_through(&h, &b, &format!("cross-{i}")).await);
    }
    let (device, got) = within(receiving).await.expect("device task");
    assert_eq!(got, sent, "in the order posted");
    device.close().await;
    for id in &sent {
        let expected = (json!("delivered"), json!("delivered"), json!(1));
        assert_eq!(delivered_on(&h, &b, id).await, expected, "{id} on b");
        assert_eq!(delivered_on(&h, a, id).await, expected, "{id} on a");
    }
    // Each push was sent once, by one node: queued by B (the device was not connected to it)
    // and sent by A's connection when B's append woke it, or sent by A's worker straight to
    // its connection and acked in time.
    let (a_stats, b_stats) = (daemon_stats(a), daemon_stats(&b));
    assert_eq!((a_stats.queued, b_stats.delivered), (0, 0));
    assert_eq!(a_stats.delivered + b_stats.queued, 8);
    assert_eq!(h.scalar("SELECT count(*) FROM daemon_queue").await, 0);
    b.stop(std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_device_moving_from_gateway_a_to_b_gets_what_was_queued_meanwhile_in_order() {
    let (h, b) = two_gateways().await;
    let a = h.gateway();
    let token = phone_token(&h, &b).await;
    let mut device = connect(a, &token).await;
    let first = post_through(&h, &b, "move-0").await;
    let push = within(device.next()).await.expect("a push");
    assert_eq!(push.id, first);
    device.ack(&push.id).await.expect("ack");
    // The next one arrives on A and is never acked: it stays queued.
    let unacked = post_through(&h, &b, "move-1").await;
    let push = within(device.next()).await.expect("a push");
    assert_eq!(push.id, unacked);
    device.close().await;
    let mut sent = vec![unacked];
    for i in 2..5 {
        sent.push(post_through(&h, &b, &format!("move-{i}")).await);
    }

    let mut device = connect(&b, &token).await;
    let mut got = Vec::new();
    for _ in 0..sent.len() {
        let push = within(device.next()).await.expect("a push");
        device.ack(&push.id).await.expect("ack");
        got.push(push.id);
    }
    assert_eq!(
        got, sent,
        "the unacked push first, then the rest in the order posted"
    );
    let expected = (json!("delivered"), json!("delivered"), json!(1));
    for id in std::iter::once(&first).chain(&sent) {
        assert_eq!(delivered_on(&h, a, id).await, expected, "{id}");
    }
    assert_eq!(h.scalar("SELECT count(*) FROM daemon_queue").await, 0);
    device.close().await;
    b.stop(std::time::Duration::from_secs(5)).await;
}
