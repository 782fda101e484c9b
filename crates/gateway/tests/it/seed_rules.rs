//! The seed's rules end to end: settings as of accept time, per-message settings over per-user
//! ones, logged-out and kicked devices, system messages, the sender, users with no device.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Harness, c2c, devices_of, recipient};

const APNS_TOKEN: &str = "8f3a9c2d1e4b5a6978c0d1e2f3a4b5c6d7e8f90112233445566778899aabbccd";
const USER_SOUND: &str = "android.resource://com.example.chat/raw/user_tone";
const MESSAGE_SOUND: &str = "android.resource://com.example.chat/raw/message_tone";

fn group(text: &str, push: Option<Value>) -> Value {
    let mut message = json!({
        "conversation": {"type": "group", "id": "g1", "name": "Climbers"},
        "sender": {"user_id": "alice", "nickname": "Ann"},
        "elements": [{"type": "text", "text": text}]
    });
    if let Some(push) = push {
        message["push"] = push;
    }
    message
}

fn recipients(users: &[&str]) -> Value {
    Value::Array(
        users
            .iter()
            .map(|u| json!({"user_id": u, "unread": 3}))
            .collect(),
    )
}

#[tokio::test]
async fn every_recipient_gets_what_the_seed_says() {
    let h = Harness::start().await;
    h.device("alice", "a", "xiaomi", "regid-alice").await;
    h.device("bob", "b", "xiaomi", "regid-bob").await;
    h.device("carol", "c", "huawei", "hw-carol").await;
    h.device("dave", "d1", "huawei", "hw-dave").await;
    h.device("dave", "d2", "xiaomi", "regid-dave").await;
    h.device("erin", "e", "apns", APNS_TOKEN).await;
    let hr = &h;
    let settings = |user: &str, body: Value| {
        let path = format!("/v1/apps/demo/users/{user}/settings");
        async move {
            assert_eq!(
                hr.call(Method::PUT, &path, Some(body)).await.status,
                StatusCode::OK
            )
        }
    };
    settings("bob", json!({"group_sound": USER_SOUND})).await;
    settings("carol", json!({"enabled": false})).await;
    for (device, state) in [("d1", "logout"), ("d2", "kicked")] {
        let path = format!("/v1/apps/demo/users/dave/devices/{device}/{state}");
        assert_eq!(
            h.call(Method::POST, &path, None).await.status,
            StatusCode::NO_CONTENT
        );
    }

    let users = ["bob", "carol", "dave", "erin", "frank", "alice"];
    let push = json!({"android": {"sound": MESSAGE_SOUND}});
    let a = h
        .post_message(
            "m1",
            json!({"message": group("hi", Some(push)), "recipients": recipients(&users)}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    assert_eq!(a.body["settled"], true, "{:#}", a.body);
    let bob = devices_of(&a.body, "bob");
    assert_eq!(bob[0]["state"], "delivered");
    assert_eq!(bob[0]["attempts"], 1);
    assert_eq!(bob[0]["last_outcome"], "delivered");
    assert_eq!(
        recipient(&a.body, "carol")["suppressed"],
        "recipient_disabled"
    );
    assert_eq!(devices_of(&a.body, "dave"), &json!([]));
    assert_eq!(
        recipient(&a.body, "dave")["suppressed_devices"],
        json!([
            {"device_id": "d1", "reason": "recipient_logged_out"},
            {"device_id": "d2", "reason": "recipient_kicked_offline"}
        ])
    );
    assert_eq!(devices_of(&a.body, "erin")[0]["state"], "delivered");
    assert_eq!(recipient(&a.body, "frank")["suppressed"], "no_devices");
    assert_eq!(
        recipient(&a.body, "alice")["suppressed"],
        "recipient_is_sender"
    );
    // The same in counts: six recipients, carol, frank and alice suppressed as a whole,
    // dave's two devices left out, bob's and erin's deliveries done.
    let id = a.body["message_id"].as_str().expect("id");
    let summary = h
        .call(
            Method::GET,
            &format!("/v1/apps/demo/messages/{id}/summary"),
            None,
        )
        .await;
    assert_eq!(summary.status, StatusCode::OK);
    let updated = [devices_of(&a.body, "bob"), devices_of(&a.body, "erin")]
        .iter()
        .filter_map(|d| d[0]["updated_at_ms"].as_i64())
        .max();
    assert_eq!(
        summary.body,
        json!({
            "message_id": id,
            "created_at_ms": a.body["recipients"][0]["devices"][0]["created_at_ms"],
            "recipients": 6,
            "suppressed_recipients": 3,
            "suppressed_devices": 2,
            "deliveries": {"total": 2, "pending": 0, "in_flight": 0, "retrying": 0,
                           "queued": 0, "delivered": 2, "failed": 0, "dead": 0},
            "settled": true,
            "last_updated_at_ms": updated,
        })
    );

    // Exactly one Xiaomi request (bob's) and one APNs request (erin's); nothing to Huawei.
    let xiaomi = h.sims.xiaomi.requests();
    assert_eq!(xiaomi.len(), 1);
    let form = &xiaomi[0];
    assert_eq!(
        form.form_value("registration_id").as_deref(),
        Some("regid-bob")
    );
    assert_eq!(form.form_value("title").as_deref(), Some("Climbers"));
    assert_eq!(form.form_value("description").as_deref(), Some("Ann: hi"));
    // The message's sound wins over bob's own group sound.
    assert_eq!(
        form.form_value("extra.sound_uri").as_deref(),
        Some(MESSAGE_SOUND)
    );
    let apns = h.sims.apns.requests();
    assert_eq!(apns.len(), 1);
    assert_eq!(apns[0].device_token.as_deref(), Some(APNS_TOKEN));
    assert_eq!(apns[0].request.json()["aps"]["badge"], 3);
    assert_eq!(h.sims.huawei.request_count(), 0);

    // Without a message sound, bob's own group sound applies (settings as of accept time).
    let a = h
        .post_message(
            "m2",
            json!({"message": group("again", None), "recipients": recipients(&["bob"])}),
        )
        .await;
    assert_eq!(
        devices_of(&a.body, "bob")[0]["state"],
        "delivered",
        "{:#}",
        a.body
    );
    let xiaomi = h.sims.xiaomi.requests();
    assert_eq!(xiaomi.len(), 2);
    assert_eq!(
        xiaomi[1].form_value("extra.sound_uri").as_deref(),
        Some(USER_SOUND)
    );

    // Dave logs in again on one device: that device gets the next push.
    let path = "/v1/apps/demo/users/dave/devices/d2/login";
    assert_eq!(
        h.call(Method::POST, path, None).await.status,
        StatusCode::NO_CONTENT
    );
    let a = h
        .post_message(
            "m3",
            json!({"message": group("back", None), "recipients": recipients(&["dave"])}),
        )
        .await;
    assert_eq!(devices_of(&a.body, "dave")[0]["device_id"], "d2");
    assert_eq!(devices_of(&a.body, "dave")[0]["state"], "delivered");
    assert_eq!(
        recipient(&a.body, "dave")["suppressed_devices"],
        json!([{"device_id": "d1", "reason": "recipient_logged_out"}])
    );
}

#[tokio::test]
async fn system_messages_and_disabled_messages_never_push() {
    let h = Harness::start().await;
    h.device("bob", "b", "xiaomi", "regid-bob").await;
    let mut system = c2c("alice", "bob", "you were added");
    system["kind"] = json!("system");
    let a = h
        .post_message(
            "s1",
            json!({"message": system, "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(recipient(&a.body, "bob")["suppressed"], "system_message");

    let mut quiet = c2c("alice", "bob", "psst");
    quiet["push"] = json!({"enabled": false});
    let a = h
        .post_message(
            "s2",
            json!({"message": quiet, "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    assert_eq!(recipient(&a.body, "bob")["suppressed"], "message_disabled");
    assert_eq!(h.count("deliveries").await, 0);
    assert_eq!(h.sims.xiaomi.request_count(), 0);
}

#[tokio::test]
async fn status_shows_every_device_and_unknown_messages_are_404() {
    let h = Harness::start().await;
    h.device("bob", "b1", "xiaomi", "regid-bob").await;
    h.device("bob", "b2", "huawei", "hw-bob").await;
    let a = h
        .post_message(
            "st",
            json!({"message": c2c("alice", "bob", "hello"), "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    let id = a.body["message_id"].as_str().expect("id").to_owned();
    let status = h
        .status_until(&id, |s| {
            devices_of(s, "bob")
                .as_array()
                .is_some_and(|d| d.iter().all(|d| d["state"] == "delivered"))
        })
        .await;
    assert_eq!(status["message_id"], id.as_str());
    let devices = devices_of(&status, "bob")
        .as_array()
        .expect("devices")
        .clone();
    assert_eq!(devices.len(), 2);
    for (device, kind) in devices.iter().zip(["xiaomi", "huawei"]) {
        assert_eq!(device["kind"], kind);
        assert_eq!(device["credential"], "demo");
        assert_eq!(device["attempts"], 1);
        assert_eq!(device["last_outcome"], "delivered");
        assert!(device["updated_at_ms"].as_i64() >= device["created_at_ms"].as_i64());
        assert!(device.get("next_attempt_at_ms").is_none());
    }
    let missing = h
        .call(Method::GET, "/v1/apps/demo/messages/nope", None)
        .await;
    crate::support::assert_problem(&missing, 404, "unknown-message");
    let missing = h
        .call(Method::GET, "/v1/apps/demo/messages/nope/summary", None)
        .await;
    crate::support::assert_problem(&missing, 404, "unknown-message");
}

#[tokio::test]
async fn each_device_gets_the_placeholders_of_its_locale() {
    let h = Harness::start().await;
    let register = |device: &str, token: &str, locale: Option<&str>| {
        let mut body = json!({"kind": "xiaomi", "credential": "demo", "token": token});
        if let Some(locale) = locale {
            body["locale"] = json!(locale);
        }
        let path = format!("/v1/apps/demo/users/bob/devices/{device}");
        let h = &h;
        async move {
            assert!(
                h.call(Method::PUT, &path, Some(body))
                    .await
                    .status
                    .is_success()
            )
        }
    };
    register("en", "regid-en", Some("en-GB")).await;
    register("zh", "regid-zh", None).await;
    let mut message = c2c("alice", "bob", "look ");
    message["elements"]
        .as_array_mut()
        .expect("elements")
        .push(json!({"type": "image"}));
    let a = h
        .post_message(
            "loc",
            json!({"message": message, "recipients": [{"user_id": "bob"}]}),
        )
        .await;
    assert_eq!(a.body["settled"], true, "{:#}", a.body);
    let mut seen: Vec<(String, String)> = h
        .sims
        .xiaomi
        .requests()
        .iter()
        .map(|r| {
            (
                r.form_value("registration_id").unwrap_or_default(),
                r.form_value("description").unwrap_or_default(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("regid-en".to_owned(), "look [Image]".to_owned()),
            ("regid-zh".to_owned(), "look [图片]".to_owned()),
        ]
    );
}
