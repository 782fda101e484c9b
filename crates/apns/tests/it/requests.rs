//! The exact request APNs receives.

use std::time::Duration;

use pushway_apns::CollapseId;
use pushway_core::{IosSound, Outcome};

use crate::*;

fn only_request(env: &Env) -> pushway_mock::apns::ApnsRequest {
    let mut requests = env.sim.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests.pop().unwrap()
}

#[tokio::test]
async fn c2c_request_is_exact_over_h2c() {
    let env = h2c().await;
    let outcome = env.send(&c2c()).await;
    let r = only_request(&env);
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.request.method, http::Method::POST);
    assert_eq!(r.request.path, format!("/3/device/{TOKEN}"));
    let id = pushway_apns::request::apns_id("m-9001", TOKEN).to_string();
    let mut names: Vec<&str> = r.request.headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "apns-id",
            "apns-priority",
            "apns-push-type",
            "apns-topic",
            "authorization"
        ]
    );
    assert_eq!(r.header("apns-topic"), Some(TOPIC));
    assert_eq!(r.header("apns-push-type"), Some("alert"));
    assert_eq!(r.header("apns-priority"), Some("10"));
    assert_eq!(r.header("apns-id"), Some(id.as_str()));
    assert!(r.header("authorization").unwrap().starts_with("bearer ey"));
    assert_eq!(
        std::str::from_utf8(&r.request.body).unwrap(),
        r#"{"aps":{"alert":{"title":"u-17","body":"Are we still on for 3pm?"},"badge":5,"sound":"default","thread-id":"u-17"},"conversation_id":"u-17","conversation_type":"c2c","sender_id":"u-17"}"#
    );
    assert_eq!(
        outcome,
        Outcome::Delivered {
            vendor_id: Some(id)
        }
    );
}

#[tokio::test]
async fn group_request_is_exact_over_tls() {
    let env = start(true, |b| b, |b| b).await;
    let outcome = env.send(&group()).await;
    assert!(outcome.is_delivered(), "{outcome:?}");
    let r = only_request(&env);
    assert_eq!(r.request.path, format!("/3/device/{TOKEN}"));
    assert_eq!(r.header("apns-topic"), Some(TOPIC));
    assert_eq!(
        std::str::from_utf8(&r.request.body).unwrap(),
        r#"{"aps":{"alert":{"title":"Climbers","body":"Ann: Look [图片]"},"sound":"message.caf","thread-id":"g1"},"conversation_id":"g1","conversation_type":"group","sender_id":"u1","sender_nickname":"Ann","group_name":"Climbers","ext":"{\"route\":\"chat/g1\"}"}"#
    );
}

#[tokio::test]
async fn each_sound_case_and_badge_on_off() {
    let env = h2c().await;
    let cases = [
        (IosSound::Default, Some(3), Some("default")),
        (IosSound::File("ping.caf".into()), None, Some("ping.caf")),
        (IosSound::NoSoundNoVibration, Some(0), None),
        (IosSound::NoSoundNoVibration, None, None),
    ];
    for (i, (sound, badge, want_sound)) in cases.into_iter().enumerate() {
        env.sim.clear_requests();
        let mut n = c2c();
        n.message_id = format!("m-{i}");
        n.ios_sound = sound;
        n.badge = badge;
        assert!(env.send(&n).await.is_delivered());
        let body = only_request(&env).request.json();
        let aps = body["aps"].as_object().unwrap();
        assert_eq!(
            aps.get("sound").and_then(|v| v.as_str()),
            want_sound,
            "case {i}"
        );
        assert_eq!(
            aps.get("badge").and_then(|v| v.as_u64()),
            badge.map(u64::from),
            "case {i}"
        );
        let keys: Vec<&str> = aps.keys().map(String::as_str).collect();
        let mut want = vec!["alert"];
        if badge.is_some() {
            want.push("badge");
        }
        if want_sound.is_some() {
            want.push("sound");
        }
        want.push("thread-id");
        assert_eq!(keys, want, "case {i}");
    }
}

#[tokio::test]
async fn custom_data_binary_ext_goes_as_base64() {
    let env = h2c().await;
    let mut n = group();
    n.app_data.ext = Some(pushway_core::Ext::new(vec![0xde, 0xad, 0xbe, 0xef]));
    assert!(env.send(&n).await.is_delivered());
    let body = only_request(&env).request.json();
    assert_eq!(body["ext_base64"], "3q2+7w==");
    assert!(body.get("ext").is_none());
    assert_eq!(body["sender_nickname"], "Ann");
}

#[tokio::test]
async fn expiration_from_ttl_and_collapse_id_from_the_message() {
    let env = start(false, |b| b, |b| b.collapse_id(CollapseId::MessageId)).await;
    let mut n = c2c();
    n.ttl = Some(Duration::from_secs(3600));
    let before = env
        .clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(env.send(&n).await.is_delivered());
    let after = env
        .clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let r = only_request(&env);
    let exp: u64 = r.header("apns-expiration").unwrap().parse().unwrap();
    assert!((before + 3600..=after + 3600).contains(&exp), "{exp}");
    assert_eq!(r.header("apns-collapse-id"), Some("m-9001"));
}

#[tokio::test]
async fn collapse_id_from_the_conversation() {
    let env = start(false, |b| b, |b| b.collapse_id(CollapseId::ConversationId)).await;
    assert!(env.send(&group()).await.is_delivered());
    assert_eq!(only_request(&env).header("apns-collapse-id"), Some("g1"));
}

#[tokio::test]
async fn upper_case_tokens_are_sent_in_lower_case() {
    let env = h2c().await;
    assert!(
        env.send_to(&c2c(), &TOKEN.to_uppercase())
            .await
            .is_delivered()
    );
    assert_eq!(
        only_request(&env).request.path,
        format!("/3/device/{TOKEN}")
    );
}
