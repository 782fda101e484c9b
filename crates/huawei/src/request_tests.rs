use std::time::Duration;

use pushway_core::testing::sample_notification;
use pushway_core::{AndroidSound, ConversationType, Ext, Notification, NotifyMode};
use serde_json::{Value, json};

use super::*;

fn options() -> MessageOptions {
    MessageOptions {
        category: Some("IM".to_owned()),
        importance: Importance::Normal,
        badge_class: None,
        foreground_show: false,
        intent: IntentTarget::default(),
    }
}

fn body(n: &Notification, options: &MessageOptions, tokens: &[&str]) -> Value {
    let prepared = prepare(n, options).unwrap();
    serde_json::from_slice(&prepared.with_tokens(tokens.iter().copied())).unwrap()
}

fn group() -> Notification {
    let mut n = sample_notification();
    n.title = "Climbers".to_owned();
    n.body = "Ann: Look [图片]".to_owned();
    n.badge = Some(3);
    n.ttl = Some(Duration::from_secs(86_400));
    n.android_sound =
        Some(AndroidSound::parse("android.resource://com.example.im/raw/ring").unwrap());
    n.notify_mode = NotifyMode::Custom;
    n.app_data.conversation_id = "g1".to_owned();
    n.app_data.conversation_type = ConversationType::Group;
    n.app_data.sender_id = "u1".to_owned();
    n.app_data.sender_nickname = Some("Ann".to_owned());
    n.app_data.group_name = Some("Climbers & co".to_owned());
    n
}

#[test]
fn c2c_normal_default_sound_is_exactly_this() {
    let got = body(
        &sample_notification(),
        &options(),
        &["IQAAAACy0aaaTOKEN-A", "IQAAAACy0bbbTOKEN-B"],
    );
    let want = json!({"validate_only": false, "message": {
        "data": "{\"conversation_id\":\"alice\",\"conversation_type\":\"c2c\",\"sender_id\":\"alice\"}",
        "android": {"category": "IM", "notification": {
            "title": "alice", "body": "hello", "default_sound": true, "importance": "NORMAL",
            "tag": "c2c:alice", "click_action": {"type": 3}, "foreground_show": false}},
        "token": ["IQAAAACy0aaaTOKEN-A", "IQAAAACy0bbbTOKEN-B"]}});
    assert_eq!(got, want);
}

#[test]
fn group_custom_sound_custom_mode_badge_ttl_is_exactly_this() {
    let mut options = options();
    options.badge_class = Some("com.example.im.MainActivity".to_owned());
    options.importance = Importance::Low;
    options.intent = IntentTarget::new("myimpush", "chat/open").package("com.example.im");
    let got = body(&group(), &options, &["T1"]);
    let data = "{\"conversation_id\":\"g1\",\"conversation_type\":\"group\",\"sender_id\":\"u1\",\"sender_nickname\":\"Ann\",\"group_name\":\"Climbers & co\"}";
    let intent = "intent://chat/open#Intent;scheme=myimpush;package=com.example.im;launchFlags=0x4000000;\
S.conversation_id=g1;S.conversation_type=group;S.sender_id=u1;S.sender_nickname=Ann;\
S.group_name=Climbers%20%26%20co;end";
    let want = json!({"validate_only": false, "message": {
        "data": data,
        "android": {"category": "IM", "ttl": "86400s", "notification": {
            "title": "Climbers", "body": "Ann: Look [图片]", "sound": "/raw/ring",
            "default_sound": false, "importance": "LOW", "tag": "group:g1",
            "badge": {"set_num": 3, "class": "com.example.im.MainActivity"},
            "click_action": {"type": 1, "intent": intent}, "foreground_show": false}},
        "token": ["T1"]}});
    assert_eq!(got, want);
}

#[test]
fn field_order_and_explicit_false_are_on_the_wire() {
    let prepared = prepare(&sample_notification(), &options()).unwrap();
    let text = String::from_utf8(prepared.with_tokens(["A"].into_iter())).unwrap();
    assert!(
        text.starts_with(r#"{"validate_only":false,"message":{"data":"#),
        "{text}"
    );
    assert!(
        text.ends_with(r#""foreground_show":false}},"token":["A"]}}"#),
        "{text}"
    );
    assert!(text.contains(r#""default_sound":true"#));
}

#[test]
fn badge_needs_a_class_and_is_capped_at_99() {
    let mut n = sample_notification();
    n.badge = Some(250);
    assert!(
        body(&n, &options(), &["A"])["message"]["android"]["notification"]
            .get("badge")
            .is_none()
    );
    let mut options = options();
    options.badge_class = Some("a.B".to_owned());
    let got = body(&n, &options, &["A"]);
    assert_eq!(
        got["message"]["android"]["notification"]["badge"],
        json!({"set_num": 99, "class": "a.B"})
    );
    n.badge = None;
    assert!(
        body(&n, &options, &["A"])["message"]["android"]["notification"]
            .get("badge")
            .is_none()
    );
}

#[test]
fn ttl_is_whole_seconds_rounded_up_and_capped_at_15_days() {
    let mut n = sample_notification();
    let ttl = |n: &Notification| body(n, &options(), &["A"])["message"]["android"]["ttl"].clone();
    n.ttl = Some(Duration::from_millis(1500));
    assert_eq!(ttl(&n), "2s");
    n.ttl = Some(Duration::from_secs(30 * 86_400));
    assert_eq!(ttl(&n), "1296000s");
    n.ttl = None;
    assert_eq!(ttl(&n), Value::Null);
}

#[test]
fn no_category_leaves_the_key_out() {
    let mut options = options();
    options.category = None;
    assert!(
        body(&sample_notification(), &options, &["A"])["message"]["android"]
            .get("category")
            .is_none()
    );
}

#[test]
fn android_title_wins_over_the_default_title() {
    let mut n = sample_notification();
    n.android_title = Some("Android".to_owned());
    assert_eq!(
        body(&n, &options(), &["A"])["message"]["android"]["notification"]["title"],
        "Android"
    );
}

#[test]
fn a_long_body_is_shortened_to_exactly_fit_4096_bytes_without_tokens() {
    let mut n = sample_notification();
    n.body = "消息".repeat(2000);
    let prepared = prepare(&n, &options()).unwrap();
    assert!(prepared.shortened);
    assert!(prepared.size_without_tokens() <= MAX_MESSAGE_BYTES);
    assert!(
        prepared.size_without_tokens() > MAX_MESSAGE_BYTES - 8,
        "not over-shortened"
    );
    let tokens: Vec<String> = (0..1000)
        .map(|i| format!("IQAAAACy0kYkAABwsc{i:0112}"))
        .collect();
    let full = prepared.with_tokens(tokens.iter().map(String::as_str));
    let json: Value = serde_json::from_slice(&full).unwrap();
    assert_eq!(json["message"]["token"].as_array().unwrap().len(), 1000);
    assert!(
        json["message"]["android"]["notification"]["body"]
            .as_str()
            .unwrap()
            .ends_with('…')
    );
    // The same message with `"token":[]` is what Huawei measures.
    let empty: Vec<u8> = prepared.with_tokens(std::iter::empty());
    assert_eq!(empty.len(), prepared.size_without_tokens());
}

#[test]
fn a_huge_ext_is_payload_too_large() {
    let mut n = sample_notification();
    n.app_data.ext = Some(Ext::from("x".repeat(5000).as_str()));
    let err = prepare(&n, &options()).unwrap_err();
    assert_eq!(err.limit, MAX_MESSAGE_BYTES);
}

#[test]
fn tokens_needing_escapes_stay_valid_json() {
    let prepared = prepare(&sample_notification(), &options()).unwrap();
    let body = prepared.with_tokens(["a\"b", "c\\d", "e\u{1}"].into_iter());
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["message"]["token"], json!(["a\"b", "c\\d", "e\u{1}"]));
}

#[test]
fn intent_extras_are_uri_encoded_like_android() {
    let mut n = group();
    n.app_data.ext = Some(Ext::from("{\"k\":\"v w\";é}"));
    let got = body(&n, &options(), &["A"]);
    let intent = got["message"]["android"]["notification"]["click_action"]["intent"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(intent.starts_with("intent://open#Intent;scheme=pushway;launchFlags=0x4000000;"));
    assert!(
        intent.ends_with(";S.ext=%7B%22k%22%3A%22v%20w%22%3B%C3%A9%7D;end"),
        "{intent}"
    );
}

#[test]
fn a_body_full_of_escapes_keeps_the_longest_prefix_that_fits() {
    // Pasted code: each `"`, `\` and newline is two bytes of JSON. The cut used to subtract the
    // escaped excess from the raw length and sent far less than would fit.
    let mut n = sample_notification();
    n.body = "\tprintln!(\"{}\\n\", path);\n".repeat(1000);
    let prepared = prepare(&n, &options()).unwrap();
    assert!(prepared.shortened);
    let sent = body(&n, &options(), &[]);
    let kept = sent["message"]["android"]["notification"]["body"]
        .as_str()
        .unwrap()
        .strip_suffix('…')
        .unwrap()
        .to_owned();
    assert_eq!(kept.len(), 3141);
    assert!(n.body.starts_with(&kept));
    assert!(prepared.size_without_tokens() <= MAX_MESSAGE_BYTES);
    // One more character (every grapheme here is one byte) would not fit.
    let mut longer = n.clone();
    longer.body = format!("{}…", &n.body[..kept.len() + 1]);
    // (`prepare` shortens only what does not fit as it is.)
    assert!(prepare(&longer, &options()).unwrap().shortened);
}

#[test]
fn a_sound_by_resource_id_is_the_default_sound() {
    let mut n = sample_notification();
    n.android_sound =
        Some(AndroidSound::parse("android.resource://com.example.im/2131558400").unwrap());
    let got = body(&n, &options(), &["T"]);
    let notification = &got["message"]["android"]["notification"];
    assert_eq!(notification["default_sound"], true);
    assert!(notification.get("sound").is_none());
}
