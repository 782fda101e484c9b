//! A group message to 1,507 recipients, five of them with devices: the same rules and answers
//! as for a small one, every recipient in the order given, and the same idempotency. Past the
//! first 1,000 recipients the gateway reads, renders and writes them in parts
//! (`service::accept::STREAM_PART`): u1003's settings, u1200's own rendering (an unread count
//! no recipient before has) and the last recipient are in the second part.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Harness, devices_of, recipient, xiaomi_tokens};

const APNS_TOKEN: &str = "8f3a9c2d1e4b5a6978c0d1e2f3a4b5c6d7e8f90112233445566778899aabbccd";

#[tokio::test]
async fn a_large_group_message_follows_the_seed_s_rules_for_every_recipient() {
    let n = 1_507;
    let last = format!("u{}", n - 1);
    let h = Harness::start().await;
    h.device("u0", "p", "xiaomi", "regid-u0").await;
    h.device("u600", "d1", "huawei", "hw-u600").await;
    h.device("u600", "d2", "xiaomi", "regid-u600").await;
    h.device(&last, "p", "xiaomi", "regid-last").await;
    h.device("u1200", "phone", "apns", APNS_TOKEN).await;
    let path = "/v1/apps/demo/users/u600/devices/d1/logout";
    assert_eq!(
        h.call(Method::POST, path, None).await.status,
        StatusCode::NO_CONTENT
    );
    let path = "/v1/apps/demo/users/u1003/settings";
    let a = h
        .call(Method::PUT, path, Some(json!({"enabled": false})))
        .await;
    assert_eq!(a.status, StatusCode::OK);

    let users: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
    let body = json!({
        "message": {
            "conversation": {"type": "group", "id": "g1", "name": "Climbers"},
            "sender": {"user_id": "u5", "nickname": "Ann"},
            "elements": [{"type": "text", "text": "hi all"}]
        },
        "recipients": users
            .iter()
            .enumerate()
            .map(|(i, u)| json!({"user_id": u, "unread": if i == 1200 { 42 } else { 1 + i % 3 }}))
            .collect::<Vec<Value>>(),
    });
    let a = h.post_message("big", body.clone()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    assert_eq!(a.body["settled"], true, "{:#}", a.body["recipients"][0]);

    let order: Vec<&str> = a.body["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .map(|r| r["user_id"].as_str().expect("user"))
        .collect();
    assert_eq!(order, users);
    for user in ["u0", last.as_str()] {
        let devices = devices_of(&a.body, user);
        assert_eq!(devices.as_array().map(Vec::len), Some(1), "{user}");
        assert_eq!(devices[0]["state"], "delivered", "{user}");
    }
    let u600 = devices_of(&a.body, "u600");
    assert_eq!(u600.as_array().map(Vec::len), Some(1));
    assert_eq!(u600[0]["device_id"], "d2");
    assert_eq!(u600[0]["state"], "delivered");
    assert_eq!(
        recipient(&a.body, "u600")["suppressed_devices"],
        json!([{"device_id": "d1", "reason": "recipient_logged_out"}])
    );
    assert_eq!(
        recipient(&a.body, "u5")["suppressed"],
        "recipient_is_sender"
    );
    assert_eq!(
        recipient(&a.body, "u1003")["suppressed"],
        "recipient_disabled"
    );
    assert_eq!(devices_of(&a.body, "u1200")[0]["state"], "delivered");
    let no_devices = a.body["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .filter(|r| r["suppressed"] == "no_devices")
        .count();
    assert_eq!(no_devices, n - 6);

    // Each logged-in device once (the three share a rendering: unread 1 each).
    assert_eq!(xiaomi_tokens(&h), ["regid-last", "regid-u0", "regid-u600"]);
    // u1200's rendering, first made in the second part, is the one its device got.
    let apns = h.sims.apns.requests();
    assert_eq!(apns.len(), 1);
    assert_eq!(apns[0].device_token.as_deref(), Some(APNS_TOKEN));
    assert_eq!(apns[0].request.json()["aps"]["badge"], 42);

    // The same key again: the same message, nothing added.
    let again = h.post_message("big", body).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body["message_id"], a.body["message_id"]);
    assert_eq!(h.count("messages").await, 1);
    assert_eq!(h.count("recipients").await, i64::try_from(n).expect("n"));
    assert_eq!(h.count("deliveries").await, 4);
    assert_eq!(xiaomi_tokens(&h), ["regid-last", "regid-u0", "regid-u600"]);
}
