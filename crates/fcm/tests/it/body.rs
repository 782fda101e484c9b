//! The exact request FCM receives for the seed's cases, over TLS and HTTP/2.

use pushway_core::{AndroidSound, NotifyMode, PushProvider};
use serde_json::{Value, json};

use crate::support::*;

async fn sent_json(notification: &pushway_core::Notification) -> (Value, Value) {
    let sim = sim_builder().strict_size(true).start().await.unwrap();
    let provider = provider(&sim);
    let outcomes = provider.send(notification, &devices(&[TOKEN_A])).await;
    assert!(outcomes[0].is_delivered(), "{}", outcomes[0]);
    let sent = sends(&sim);
    assert_eq!(sent.len(), 1);
    let built: Value =
        serde_json::from_slice(&provider.build_request(notification, TOKEN_A).unwrap()).unwrap();
    (sent[0].json(), built)
}

#[tokio::test]
async fn c2c_is_exactly_this_with_bearer_json_and_http2() {
    let sim = sim().await;
    let outcomes = provider(&sim).send(&c2c(), &devices(&[TOKEN_A])).await;
    let name = match &outcomes[0] {
        pushway_core::Outcome::Delivered {
            vendor_id: Some(name),
        } => name.clone(),
        other => panic!("{other:?}"),
    };
    let sent = sends(&sim);
    assert_eq!(sent.len(), 1);
    let request = &sent[0];
    assert_eq!(
        request.request.path,
        "/v1/projects/pushway-test/messages:send"
    );
    assert_eq!(request.request.method, "POST");
    assert_eq!(request.request.version, reqwest::Version::HTTP_2);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(
        request
            .header("authorization")
            .unwrap()
            .starts_with("Bearer ya29.sim-"),
        "{:?}",
        request.header("authorization")
    );
    // The vendor id is the `name` the simulator answered.
    assert!(
        matches!(&request.outcome, pushway_mock::fcm::FcmOutcome::Answered { name: Some(n), .. } if *n == name)
    );
    assert_eq!(
        request.json(),
        json!({"message": {
            "data": {"conversation_id": "alice", "conversation_type": "c2c", "sender_id": "alice"},
            "android": {"priority": "HIGH", "notification": {
                "title": "alice", "body": "hello", "channel_id": "im_messages",
                "default_sound": true, "tag": "c2c:alice", "notification_count": 1}},
            "token": TOKEN_A}})
    );
}

#[tokio::test]
async fn group_with_badge_is_exactly_this() {
    let (sent, built) = sent_json(&group()).await;
    let want = json!({"message": {
        "data": {"conversation_id": "g1", "conversation_type": "group", "sender_id": "u1",
                 "sender_nickname": "Ann", "group_name": "Climbers"},
        "android": {"priority": "HIGH", "notification": {
            "title": "Climbers", "body": "Ann: Look [图片]", "channel_id": "im_messages",
            "default_sound": true, "tag": "group:g1", "notification_count": 7}},
        "token": TOKEN_A}});
    assert_eq!(sent, want);
    assert_eq!(built, want);
}

#[tokio::test]
async fn custom_mode_with_a_sound_and_ttl_is_exactly_this() {
    let mut n = group();
    n.notify_mode = NotifyMode::Custom;
    n.android_sound =
        Some(AndroidSound::parse("android.resource://com.example.im/raw/ring").unwrap());
    n.badge = None;
    n.ttl = Some(std::time::Duration::from_secs(3600));
    let (sent, _) = sent_json(&n).await;
    assert_eq!(
        sent,
        json!({"message": {
            "data": {"conversation_id": "g1", "conversation_type": "group", "sender_id": "u1",
                     "sender_nickname": "Ann", "group_name": "Climbers"},
            "android": {"priority": "HIGH", "ttl": "3600s", "notification": {
                "title": "Climbers", "body": "Ann: Look [图片]", "channel_id": "im_messages",
                "sound": "ring", "tag": "group:g1",
                "click_action": "pushway.intent.OPEN_CONVERSATION"}},
            "token": TOKEN_A}})
    );
}

/// Long bodies are cut to fit, and the simulator's strict size rule (the whole message minus
/// the target) accepts what was sent.
#[tokio::test]
async fn long_cjk_and_emoji_bodies_are_sent_shortened_and_accepted() {
    for text in ["消息".repeat(2000), "👨‍👩‍👧‍👦🇨🇳".repeat(200)] {
        let mut n = c2c();
        n.body = text.clone();
        let (sent, built) = sent_json(&n).await;
        assert_eq!(sent, built);
        let body = sent["message"]["android"]["notification"]["body"]
            .as_str()
            .unwrap();
        let kept = body.strip_suffix('…').unwrap();
        assert!(
            text.starts_with(kept) && kept.len() > 3500,
            "{}",
            kept.len()
        );
        let mut message = sent["message"].clone();
        message.as_object_mut().unwrap().remove("token");
        assert!(serde_json::to_vec(&message).unwrap().len() <= pushway_fcm::MAX_MESSAGE_BYTES);
    }
}
