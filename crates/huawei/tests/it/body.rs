//! The exact request Push Kit receives.

use std::time::Duration;

use pushway_core::{AndroidSound, NotifyMode, PushProvider};
use pushway_huawei::{Importance, IntentTarget};
use serde_json::{Value, json};

use crate::support::*;

async fn sent_json(
    n: &pushway_core::Notification,
    build: pushway_huawei::HuaweiProviderBuilder,
    sim: &pushway_mock::huawei::HuaweiSimulator,
) -> Value {
    let provider = build.build().unwrap();
    let outcomes = provider.send(n, &devices(&[TOKEN_A, TOKEN_B])).await;
    assert_eq!(labels(&outcomes), ["delivered", "delivered"]);
    let sends = sends(sim);
    let last = sends.last().unwrap();
    last.json()
}

#[tokio::test]
async fn c2c_normal_mode_default_sound_is_exactly_this_on_the_wire() {
    let sim = sim().await;
    let got = sent_json(&c2c(), builder(&sim), &sim).await;
    let want = json!({"validate_only": false, "message": {
        "data": "{\"conversation_id\":\"alice\",\"conversation_type\":\"c2c\",\"sender_id\":\"alice\"}",
        "android": {"category": "IM", "notification": {
            "title": "alice", "body": "hello", "default_sound": true, "importance": "NORMAL",
            "tag": "c2c:alice", "click_action": {"type": 3}, "foreground_show": false}},
        "token": [TOKEN_A, TOKEN_B]}});
    assert_eq!(got, want);

    let request = &sends(&sim)[0];
    assert_eq!(request.path, format!("/v1/{APP_ID}/messages:send"));
    assert_eq!(
        request.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let auth = request.header("authorization").unwrap();
    assert!(
        auth.starts_with("Bearer DAEBAG") && auth.ends_with("/sim+token=="),
        "{auth}"
    );

    let token = &token_requests(&sim)[0];
    assert_eq!(token.path, "/oauth2/v3/token");
    assert_eq!(
        token.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        token.form(),
        [
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("client_id".to_owned(), APP_ID.to_owned()),
            ("client_secret".to_owned(), SECRET.to_owned()),
        ]
    );
}

#[tokio::test]
async fn group_custom_mode_custom_sound_badge_is_exactly_this_on_the_wire() {
    let sim = sim().await;
    let mut n = group();
    n.notify_mode = NotifyMode::Custom;
    n.android_sound =
        Some(AndroidSound::parse("android.resource://com.example.im/raw/ring").unwrap());
    n.badge = Some(7);
    n.ttl = Some(Duration::from_secs(3600));
    let build = builder(&sim)
        .badge_class("com.example.im.MainActivity")
        .importance(Importance::Normal)
        .category("IM")
        .intent_target(IntentTarget::new("myimpush", "chat/open").package("com.example.im"));
    let got = sent_json(&n, build, &sim).await;
    let data = "{\"conversation_id\":\"g1\",\"conversation_type\":\"group\",\"sender_id\":\"u1\",\"sender_nickname\":\"Ann\",\"group_name\":\"Climbers\"}";
    let intent = "intent://chat/open#Intent;scheme=myimpush;package=com.example.im;launchFlags=0x4000000;\
S.conversation_id=g1;S.conversation_type=group;S.sender_id=u1;S.sender_nickname=Ann;S.group_name=Climbers;end";
    let want = json!({"validate_only": false, "message": {
        "data": data,
        "android": {"category": "IM", "ttl": "3600s", "notification": {
            "title": "Climbers", "body": "Ann: Look [图片]", "sound": "/raw/ring", "default_sound": false,
            "importance": "NORMAL", "tag": "group:g1",
            "badge": {"set_num": 7, "class": "com.example.im.MainActivity"},
            "click_action": {"type": 1, "intent": intent}, "foreground_show": false}},
        "token": [TOKEN_A, TOKEN_B]}});
    assert_eq!(got, want);
}

#[tokio::test]
async fn each_notify_mode_and_sound_choice_maps_as_documented() {
    let sim = sim().await;
    for (mode, sound, click_type, default_sound) in [
        (NotifyMode::Normal, None, 3, true),
        (NotifyMode::Custom, None, 1, true),
        (
            NotifyMode::Normal,
            Some("android.resource://a.b/raw/ding"),
            3,
            false,
        ),
        (
            NotifyMode::Custom,
            Some("android.resource://a.b/raw/ding"),
            1,
            false,
        ),
    ] {
        let mut n = c2c();
        n.notify_mode = mode;
        n.android_sound = sound.map(|s| AndroidSound::parse(s).unwrap());
        let got = sent_json(&n, builder(&sim), &sim).await;
        let notification = &got["message"]["android"]["notification"];
        assert_eq!(notification["click_action"]["type"], click_type, "{mode:?}");
        assert_eq!(notification["default_sound"], default_sound);
        assert_eq!(notification.get("sound").is_some(), sound.is_some());
        let intent = notification["click_action"].get("intent");
        assert_eq!(intent.is_some(), mode == NotifyMode::Custom);
        if let Some(intent) = intent {
            assert!(
                intent
                    .as_str()
                    .unwrap()
                    .contains(";S.conversation_id=alice;")
            );
        }
    }
}

#[tokio::test]
async fn the_body_on_the_wire_is_what_build_request_returns() {
    let sim = sim().await;
    let provider = provider(&sim);
    provider.send(&group(), &devices(&[TOKEN_A])).await;
    let expected = provider.build_request(&group(), &[TOKEN_A]).unwrap();
    assert_eq!(sends(&sim)[0].body.as_ref(), expected.as_slice());
}

#[tokio::test]
async fn a_payload_that_cannot_fit_is_rejected_before_any_request() {
    let sim = sim().await;
    let mut n = c2c();
    n.app_data.ext = Some(pushway_core::Ext::from("x".repeat(5000).as_str()));
    let outcomes = provider(&sim).send(&n, &devices(&[TOKEN_A, TOKEN_B])).await;
    assert_eq!(labels(&outcomes), ["rejected", "rejected"]);
    assert_eq!(outcomes[0].reason().unwrap().code(), "payload_too_large");
    assert_eq!(sim.request_count(), 0);
}

#[tokio::test]
async fn a_long_body_is_shortened_and_accepted_by_the_simulator() {
    let sim = sim().await;
    let mut n = c2c();
    n.body = "很长的消息".repeat(1000);
    let outcomes = provider(&sim).send(&n, &many(1000)).await;
    assert!(
        outcomes.iter().all(|o| o.is_delivered()),
        "{:?}",
        outcomes[0]
    );
    let body = sends(&sim)[0].json();
    assert!(
        body["message"]["android"]["notification"]["body"]
            .as_str()
            .unwrap()
            .ends_with('…')
    );
}

/// Renders a C2C message to a recipient whose C2C sound is stored as the seed's sample builds it:
/// `android.resource://<package>/<R.raw id>`.
fn rendered_with_the_seed_sample_sound() -> pushway_core::Notification {
    let message: pushway_core::Message = pushway_core::json::from_str(
        r#"{"id":"m-1","conversation":{"type":"c2c","peer":"bob"},"sender":{"user_id":"alice"},
            "elements":[{"type":"text","text":"hi"}]}"#,
    )
    .unwrap();
    let recipient: pushway_core::Recipient = pushway_core::json::from_str(
        r#"{"user_id":"bob","unread":1,
            "settings":{"c2c_sound":"android.resource://com.example.im/2131558400"}}"#,
    )
    .unwrap();
    let rendered = pushway_core::render(&message, &recipient).expect("a sound never fails");
    rendered.notification().expect("pushed").clone()
}

#[tokio::test]
async fn a_sound_given_by_resource_id_plays_the_default_sound_and_is_delivered() {
    // Push Kit needs `/raw/<name>`, which an id does not give: the default sound, never a
    // failed push (the renderer reports the fallback on the notification).
    let sim = sim().await;
    let n = rendered_with_the_seed_sample_sound();
    assert_eq!(
        n.warnings,
        [pushway_core::RenderWarning::AndroidSoundWithoutName {
            uri: "android.resource://com.example.im/2131558400".to_owned()
        }]
    );
    let got = sent_json(&n, builder(&sim), &sim).await;
    let notification = &got["message"]["android"]["notification"];
    assert_eq!(notification["default_sound"], true);
    assert!(notification.get("sound").is_none(), "{notification}");
}
