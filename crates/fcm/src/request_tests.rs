use std::time::Duration;

use pushway_core::testing::sample_notification;
use pushway_core::{AndroidSound, ConversationType, Ext, Notification, NotifyMode};
use serde_json::{Value, json};

use super::*;

const TOKEN: &str = "fGw0qy4TGgk:APA91bGtoken-A";

fn options() -> MessageOptions {
    MessageOptions {
        channel_id: Some("im_messages".to_owned()),
        click_action: "com.example.im.OPEN_CHAT".to_owned(),
        default_ttl: None,
    }
}

fn body(n: &Notification, options: &MessageOptions) -> Value {
    let prepared = prepare(n, options).unwrap();
    serde_json::from_slice(&prepared.with_token(TOKEN)).unwrap()
}

fn group() -> Notification {
    let mut n = sample_notification();
    n.title = "Climbers".to_owned();
    n.body = "Ann: Look [图片]".to_owned();
    n.badge = Some(3);
    n.ttl = Some(Duration::from_secs(86_400));
    n.app_data.conversation_id = "g1".to_owned();
    n.app_data.conversation_type = ConversationType::Group;
    n.app_data.sender_id = "u1".to_owned();
    n.app_data.sender_nickname = Some("Ann".to_owned());
    n.app_data.group_name = Some("Climbers & co".to_owned());
    n
}

#[test]
fn c2c_normal_default_sound_is_exactly_this() {
    let got = body(&sample_notification(), &options());
    let want = json!({"message": {
        "data": {"conversation_id": "alice", "conversation_type": "c2c", "sender_id": "alice"},
        "android": {"priority": "HIGH", "notification": {
            "title": "alice", "body": "hello", "channel_id": "im_messages",
            "default_sound": true, "tag": "c2c:alice", "notification_count": 1}},
        "token": TOKEN}});
    assert_eq!(got, want);
}

#[test]
fn group_with_ttl_and_badge_is_exactly_this() {
    let got = body(&group(), &options());
    let want = json!({"message": {
        "data": {"conversation_id": "g1", "conversation_type": "group", "sender_id": "u1",
                 "sender_nickname": "Ann", "group_name": "Climbers & co"},
        "android": {"priority": "HIGH", "ttl": "86400s", "notification": {
            "title": "Climbers", "body": "Ann: Look [图片]", "channel_id": "im_messages",
            "default_sound": true, "tag": "group:g1", "notification_count": 3}},
        "token": TOKEN}});
    assert_eq!(got, want);
}

#[test]
fn custom_mode_with_a_sound_and_ext_is_exactly_this() {
    let mut n = group();
    n.notify_mode = NotifyMode::Custom;
    n.android_sound =
        Some(AndroidSound::parse("android.resource://com.example.im/raw/ring").unwrap());
    n.app_data.ext = Some(Ext::from("{\"k\":1}"));
    n.badge = None;
    let got = body(&n, &options());
    let want = json!({"message": {
        "data": {"conversation_id": "g1", "conversation_type": "group", "sender_id": "u1",
                 "sender_nickname": "Ann", "group_name": "Climbers & co", "ext": "{\"k\":1}"},
        "android": {"priority": "HIGH", "ttl": "86400s", "notification": {
            "title": "Climbers", "body": "Ann: Look [图片]", "channel_id": "im_messages",
            "sound": "ring", "tag": "group:g1", "click_action": "com.example.im.OPEN_CHAT"}},
        "token": TOKEN}});
    assert_eq!(got, want);
}

#[test]
fn the_wire_text_is_compact_snake_case_with_the_token_last() {
    let prepared = prepare(&sample_notification(), &options()).unwrap();
    let text = String::from_utf8(prepared.with_token(TOKEN)).unwrap();
    assert_eq!(
        text,
        r#"{"message":{"data":{"conversation_id":"alice","conversation_type":"c2c","sender_id":"alice"},"android":{"priority":"HIGH","notification":{"title":"alice","body":"hello","channel_id":"im_messages","default_sound":true,"tag":"c2c:alice","notification_count":1}},"token":"fGw0qy4TGgk:APA91bGtoken-A"}}"#
    );
    // What is budgeted: the message object without `,"token":…`.
    assert_eq!(
        prepared.message_bytes,
        text.len() - r#"{"message":,"token":"fGw0qy4TGgk:APA91bGtoken-A"}"#.len()
    );
}

#[test]
fn non_utf8_ext_travels_as_base64_in_a_string_value() {
    let mut n = sample_notification();
    n.app_data.ext = Some(Ext::new(vec![0xff, 0x00, 0x01]));
    let got = body(&n, &options());
    assert_eq!(got["message"]["data"]["ext_base64"], "/wAB");
    assert!(got["message"]["data"].get("ext").is_none());
    assert!(
        got["message"]["data"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_string)
    );
}

#[test]
fn no_channel_leaves_the_key_out_and_a_sound_by_id_is_the_default_sound() {
    let mut n = sample_notification();
    n.android_sound =
        Some(AndroidSound::parse("android.resource://com.example.im/2131558400").unwrap());
    let mut options = options();
    options.channel_id = None;
    let notification = &body(&n, &options)["message"]["android"]["notification"];
    assert!(notification.get("channel_id").is_none());
    assert!(notification.get("sound").is_none());
    assert_eq!(notification["default_sound"], true);
}

#[test]
fn ttl_rounds_up_caps_at_28_days_and_falls_back_to_the_default() {
    let ttl =
        |n: &Notification, o: &MessageOptions| body(n, o)["message"]["android"]["ttl"].clone();
    let mut n = sample_notification();
    let mut o = options();
    assert_eq!(ttl(&n, &o), Value::Null);
    o.default_ttl = Some(Duration::from_secs(3600));
    assert_eq!(ttl(&n, &o), "3600s");
    n.ttl = Some(Duration::from_millis(1500));
    assert_eq!(ttl(&n, &o), "2s");
    n.ttl = Some(Duration::ZERO);
    assert_eq!(ttl(&n, &o), "0s");
    n.ttl = Some(Duration::from_secs(60 * 86_400));
    assert_eq!(ttl(&n, &o), "2419200s");
}

#[test]
fn android_title_wins_and_a_huge_badge_stays_int32() {
    let mut n = sample_notification();
    n.android_title = Some("Android".to_owned());
    n.badge = Some(u32::MAX);
    let got = body(&n, &options());
    assert_eq!(
        got["message"]["android"]["notification"]["title"],
        "Android"
    );
    assert_eq!(
        got["message"]["android"]["notification"]["notification_count"],
        i32::MAX
    );
}

#[test]
fn a_long_cjk_body_is_shortened_to_exactly_fit_4096_bytes() {
    let mut n = sample_notification();
    n.body = "消息".repeat(2000);
    let prepared = prepare(&n, &options()).unwrap();
    assert!(prepared.shortened);
    assert!(prepared.message_bytes <= MAX_MESSAGE_BYTES);
    // CJK characters are 3 bytes: the cut is within one character (plus the ellipsis) of full.
    assert!(
        prepared.message_bytes > MAX_MESSAGE_BYTES - 3,
        "not over-shortened"
    );
    let got = body(&n, &options());
    let sent = got["message"]["android"]["notification"]["body"]
        .as_str()
        .unwrap();
    let kept = sent.strip_suffix('…').unwrap();
    assert!(n.body.starts_with(kept));
    // 244 bytes of message around an empty body, 3 of ellipsis: (4096 - 244 - 3) / 3 characters.
    assert_eq!(kept.chars().count(), 1283);
}

#[test]
fn a_long_emoji_body_is_cut_on_a_grapheme_boundary() {
    let mut n = sample_notification();
    // A family emoji is one grapheme of 7 chars / 25 bytes; a flag, 2 chars / 8 bytes.
    n.body = "👨‍👩‍👧‍👦🇨🇳".repeat(200);
    let prepared = prepare(&n, &options()).unwrap();
    assert!(prepared.shortened);
    assert!(prepared.message_bytes <= MAX_MESSAGE_BYTES);
    let got = body(&n, &options());
    let kept = got["message"]["android"]["notification"]["body"]
        .as_str()
        .unwrap()
        .strip_suffix('…')
        .unwrap()
        .to_owned();
    assert!(n.body.starts_with(&kept));
    // Whole graphemes only: what was kept is a whole number of the 33-byte pairs, or that plus
    // a whole family emoji.
    assert!(
        kept.len().is_multiple_of(33) || kept.len() % 33 == 25,
        "{}",
        kept.len()
    );
    assert!(
        prepared.message_bytes > MAX_MESSAGE_BYTES - 33,
        "not over-shortened"
    );
}

#[test]
fn a_huge_ext_is_payload_too_large() {
    let mut n = sample_notification();
    n.app_data.ext = Some(Ext::from("x".repeat(5000).as_str()));
    let err = prepare(&n, &options()).unwrap_err();
    assert_eq!(err.limit, MAX_MESSAGE_BYTES);
}

#[test]
fn a_token_needing_escapes_stays_valid_json() {
    let prepared = prepare(&sample_notification(), &options()).unwrap();
    let json: Value = serde_json::from_slice(&prepared.with_token("a\"b\\c\u{1}")).unwrap();
    assert_eq!(json["message"]["token"], "a\"b\\c\u{1}");
}
