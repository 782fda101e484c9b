//! One refused credential pauses only its own route; its rows are held, never dropped.

use pushway_gateway::config::{Secret, XiaomiConfig};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Harness, c2c, devices_of};

#[tokio::test]
async fn a_refused_credential_pauses_only_its_route() {
    let h = Harness::start_with(|config, sims| {
        let app = config.apps.get_mut("demo").expect("demo app");
        let mut wrong = XiaomiConfig::default();
        wrong.package = "com.example.chat".to_owned();
        wrong.channel_id = "im_messages".to_owned();
        wrong.app_secret = Some(Secret::new("not-the-secret"));
        wrong.base_url = Some(sims.xiaomi.base_url());
        wrong.danger_allow_plain_http = true;
        app.xiaomi.insert("wrong".to_owned(), wrong);
    })
    .await;
    let a = h
        .call(
            reqwest::Method::PUT,
            "/v1/apps/demo/users/bob/devices/mi",
            Some(json!({"kind": "xiaomi", "credential": "wrong", "token": "regid-bob"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    h.device("bob", "hw", "huawei", "hw-bob").await;
    h.device("carol", "mi", "xiaomi", "regid-carol").await;

    let body = |text: &str| json!({"message": c2c("alice", "bob", text), "recipients": [{"user_id": "bob"}, {"user_id": "carol"}]});
    let a = h.post_message("p1", body("one")).await;
    let bob = devices_of(&a.body, "bob");
    assert_eq!(bob[0]["device_id"], "hw");
    assert_eq!(bob[0]["state"], "delivered", "{:#}", a.body);
    assert_eq!(bob[1]["device_id"], "mi");
    assert_eq!(bob[1]["state"], "retrying");
    assert_eq!(bob[1]["last_outcome"], "auth");
    // The good Xiaomi credential of the same app is not affected.
    assert_eq!(devices_of(&a.body, "carol")[0]["state"], "delivered");

    // The next message: the paused route is not even tried; the others still deliver.
    let before = h.sims.xiaomi.request_count();
    // `?wait` answers once every row has an outcome to report: the held one is held.
    let b = h.post_message("p2", body("two")).await;
    assert_eq!(b.body["settled"], false);
    let bob = devices_of(&b.body, "bob");
    assert_eq!(bob[0]["state"], "delivered");
    assert_eq!(bob[1]["state"], "pending");
    assert_eq!(bob[1]["attempts"], 0);
    let paused = &bob[1]["route_paused"];
    assert!(
        paused["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("auth")),
        "{paused}"
    );
    assert!(paused["until_ms"].as_i64() > bob[0]["updated_at_ms"].as_i64());
    assert_eq!(devices_of(&b.body, "carol")[0]["state"], "delivered");
    assert!(
        devices_of(&b.body, "carol")[0]
            .get("route_paused")
            .is_none()
    );
    assert_eq!(h.sims.xiaomi.request_count(), before + 1);
    // Nothing was dropped: both of bob's held rows are still there.
    assert_eq!(
        h.count("deliveries WHERE state IN ('retrying', 'pending')")
            .await,
        2
    );
}

/// A custom-notify-mode message to a Xiaomi credential without `custom_activity` is refused for
/// that message only (`rejected`, dead): the route is not paused, so the next normal message to
/// the same device is delivered at once (it used to wait behind a paused route until the custom
/// message's time to live ran out).
#[tokio::test]
async fn a_custom_mode_message_without_an_activity_does_not_pause_the_route() {
    let h = Harness::start_with(|config, sims| {
        let app = config.apps.get_mut("demo").expect("demo app");
        let mut plain = XiaomiConfig::default();
        plain.package = "com.example.chat".to_owned();
        plain.channel_id = "im_messages".to_owned();
        plain.app_secret = Some(Secret::new("simulated-xiaomi-app-secret"));
        plain.base_url = Some(sims.xiaomi.base_url());
        plain.danger_allow_plain_http = true;
        app.xiaomi.insert("plain".to_owned(), plain);
    })
    .await;
    let a = h
        .call(
            reqwest::Method::PUT,
            "/v1/apps/demo/users/bob/devices/mi",
            Some(json!({"kind": "xiaomi", "credential": "plain", "token": "regid-bob"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);

    let mut custom = c2c("alice", "bob", "a photo");
    custom["push"] = json!({"ext": "photo-1", "android": {"notify_mode": "custom"}});
    let a = h
        .post_message(
            "c1",
            json!({"message": custom, "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    let bob = devices_of(&a.body, "bob");
    assert_eq!(bob[0]["state"], "dead", "{:#}", a.body);
    assert_eq!(bob[0]["last_outcome"], "rejected");
    assert_eq!(bob[0]["last_reason"], "custom_activity_missing");
    assert!(bob[0].get("route_paused").is_none(), "{:#}", a.body);

    let before = h.sims.xiaomi.request_count();
    let b = h
        .post_message(
            "c2",
            json!({"message": c2c("alice", "bob", "hello"), "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    assert_eq!(b.body["settled"], true, "{:#}", b.body);
    assert_eq!(devices_of(&b.body, "bob")[0]["state"], "delivered");
    assert_eq!(h.sims.xiaomi.request_count(), before + 1);
}
