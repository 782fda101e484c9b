//! The exact request the simulator decodes, field by field.

use pushway_core::{NotifyMode, PushProvider};
use pushway_xiaomi::request::{DESCRIPTION_MAX_UTF16, TITLE_MAX_UTF16, notify_id};
use pushway_xiaomi::{Template, XiaomiProvider};

use crate::common::*;

async fn send_one(
    provider: &XiaomiProvider,
    n: &pushway_core::Notification,
    regids: &[&str],
) -> Vec<pushway_core::Outcome> {
    provider.send(n, &tokens(regids)).await
}

#[tokio::test]
async fn c2c_notification_has_exactly_the_documented_fields() {
    let sim = sim().await;
    let provider = provider(&sim);
    let n = c2c();
    let outcomes = send_one(&provider, &n, &["REGID_A", "REGID_B"]).await;
    assert!(outcomes.iter().all(|o| o.is_delivered()), "{outcomes:?}");

    let request = only_request(&sim);
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v3/message/regid");
    assert_eq!(
        request.header("authorization"),
        Some("key=TESTSECRET0123456789==")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded;charset=UTF-8")
    );
    let id = notify_id(&n).to_string();
    assert_eq!(
        form(&request),
        pairs(&[
            ("restricted_package_name", PACKAGE),
            ("registration_id", "REGID_A,REGID_B"),
            ("pass_through", "0"),
            ("notify_type", "-1"),
            ("notify_id", &id),
            ("title", "alice"),
            ("description", "Are we still meeting at 8?"),
            (
                "payload",
                r#"{"conversation_id":"alice","conversation_type":"c2c","sender_id":"alice"}"#
            ),
            ("time_to_live", "86400000"),
            ("extra.channel_id", CHANNEL),
            ("extra.notify_effect", "1"),
        ])
    );
    // Encoded exactly once: the wire has the fixture's escapes, not double ones.
    let wire = std::str::from_utf8(&request.body).unwrap();
    assert!(
        wire.contains("registration_id=REGID_A%2CREGID_B&"),
        "{wire}"
    );
    assert!(
        wire.contains("description=Are+we+still+meeting+at+8%3F&"),
        "{wire}"
    );
    assert!(!wire.contains("%25"), "double-encoded: {wire}");
}

#[tokio::test]
async fn group_notification_carries_group_app_data_and_android_title() {
    let sim = sim().await;
    let provider = provider(&sim);
    let mut n = group();
    n.android_title = Some("Climbers (Android)".into());
    send_one(&provider, &n, &["REGID_A"]).await;
    let request = only_request(&sim);
    let id = notify_id(&n).to_string();
    assert_eq!(
        form(&request),
        pairs(&[
            ("restricted_package_name", PACKAGE),
            ("registration_id", "REGID_A"),
            ("pass_through", "0"),
            ("notify_type", "-1"),
            ("notify_id", &id),
            ("title", "Climbers (Android)"),
            ("description", "Ann: Look [图片]"),
            (
                "payload",
                r#"{"conversation_id":"g1","conversation_type":"group","sender_id":"u1","sender_nickname":"Ann","group_name":"Climbers","ext":"{\"k\":\"v & w=1+2%\"}"}"#
            ),
            ("extra.channel_id", CHANNEL),
            ("extra.notify_effect", "1"),
        ])
    );
}

#[tokio::test]
async fn payload_decodes_to_the_app_data_byte_for_byte() {
    let sim = sim().await;
    let provider = provider(&sim);
    let mut n = group();
    n.app_data.ext = Some(pushway_core::Ext::from(
        "a+b=c&d=%20e/f?g#h 漢字 😀 \"q\" \\ \n end",
    ));
    n.app_data.group_name = Some("登山 🧗".into());
    send_one(&provider, &n, &["REGID_A"]).await;
    let payload = only_request(&sim).form_value("payload").unwrap();
    assert_eq!(payload.as_bytes(), n.app_data.to_json().as_bytes());
    let back: pushway_core::AppData = serde_json::from_str(&payload).unwrap();
    assert_eq!(back, n.app_data);
}

#[tokio::test]
async fn regids_with_reserved_characters_arrive_intact() {
    let sim = sim().await;
    let provider = provider(&sim);
    let regids = ["ab+cd/ef==", "Zz9+/+/==", "plain"];
    let outcomes = send_one(&provider, &c2c(), &regids).await;
    assert!(outcomes.iter().all(|o| o.is_delivered()), "{outcomes:?}");
    let request = only_request(&sim);
    let wire = std::str::from_utf8(&request.body).unwrap();
    assert!(
        wire.contains("registration_id=ab%2Bcd%2Fef%3D%3D%2CZz9%2B%2F%2B%2F%3D%3D%2Cplain&"),
        "{wire}"
    );
    assert_eq!(
        request.form_value("registration_id").unwrap(),
        "ab+cd/ef==,Zz9+/+/==,plain"
    );
}

#[tokio::test]
async fn custom_sound_sets_sound_uri_and_keeps_the_sound_bit() {
    let sim = sim().await;
    let provider = provider(&sim);
    let mut n = c2c();
    n.android_sound = Some(sound("new_msg"));
    send_one(&provider, &n, &["REGID_A"]).await;
    let request = only_request(&sim);
    // The client SDK plays `sound_uri` only when bit 1 (sound) of notify_type is set.
    let notify_type: i32 = request.form_value("notify_type").unwrap().parse().unwrap();
    assert_eq!(
        notify_type & 1,
        1,
        "notify_type {notify_type} would be silent"
    );
    assert_eq!(notify_type, -1);
    assert_eq!(
        request.form_value("extra.sound_uri").unwrap(),
        "android.resource://com.example.chat/raw/new_msg"
    );
}

#[tokio::test]
async fn notify_mode_normal_opens_the_app() {
    let sim = sim().await;
    let provider = provider_builder(&sim)
        .custom_activity(".ui.ChatActivity")
        .build()
        .unwrap();
    send_one(&provider, &c2c(), &["REGID_A"]).await;
    let request = only_request(&sim);
    assert_eq!(request.form_value("extra.notify_effect").unwrap(), "1");
    assert_eq!(request.form_value("extra.intent_uri"), None);
}

#[tokio::test]
async fn notify_mode_custom_opens_the_activity_with_the_app_data() {
    let sim = sim().await;
    let provider = provider_builder(&sim)
        .custom_activity(".ui.ChatActivity")
        .build()
        .unwrap();
    let mut n = group();
    n.notify_mode = NotifyMode::Custom;
    n.app_data.group_name = Some("登山; a=b".into());
    let outcomes = send_one(&provider, &n, &["REGID_A"]).await;
    assert!(outcomes[0].is_delivered(), "{outcomes:?}");
    let request = only_request(&sim);
    assert_eq!(request.form_value("extra.notify_effect").unwrap(), "2");
    assert_eq!(
        request.form_value("extra.intent_uri").unwrap(),
        "intent:#Intent;component=com.example.chat/.ui.ChatActivity;S.conversation_id=g1;\
         S.conversation_type=group;S.sender_id=u1;S.sender_nickname=Ann;\
         S.group_name=%E7%99%BB%E5%B1%B1%3B%20a%3Db;\
         S.ext=%7B%22k%22%3A%22v%20%26%20w%3D1%2B2%25%22%7D;end"
    );
    // The payload still carries the whole app data.
    assert_eq!(request.form_value("payload").unwrap(), n.app_data.to_json());
}

#[tokio::test]
async fn notify_mode_custom_without_an_activity_is_not_sent() {
    let sim = sim().await;
    let provider = provider(&sim);
    let mut n = c2c();
    n.notify_mode = NotifyMode::Custom;
    let outcomes = send_one(&provider, &n, &["REGID_A", "REGID_B"]).await;
    assert_eq!(outcomes.len(), 2);
    for outcome in &outcomes {
        assert_eq!(outcome.as_str(), "rejected");
        assert_eq!(outcome.reason().unwrap().code(), "custom_activity_missing");
    }
    assert_eq!(sim.request_count(), 0);
}

#[tokio::test]
async fn cjk_and_emoji_text_is_sent_unchanged_within_the_limits() {
    let sim = sim().await;
    let provider = provider(&sim);
    let mut n = c2c();
    n.title = "张三 👩‍👩‍👧 🇨🇳".into();
    n.body = "你好，世界！😀 Grüße 🇯🇵".into();
    send_one(&provider, &n, &["REGID_A"]).await;
    let request = only_request(&sim);
    assert_eq!(request.form_value("title").unwrap(), n.title);
    assert_eq!(request.form_value("description").unwrap(), n.body);
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

#[tokio::test]
async fn title_and_description_at_the_limits_are_unchanged() {
    let sim = sim().await;
    let provider = provider(&sim);
    let mut n = c2c();
    // 48 UTF-16 units of emoji + one CJK character = exactly 49.
    n.title = format!("{}字", "😀".repeat(24));
    n.body = "好".repeat(DESCRIPTION_MAX_UTF16);
    assert_eq!(utf16_len(&n.title), TITLE_MAX_UTF16);
    send_one(&provider, &n, &["REGID_A"]).await;
    let request = only_request(&sim);
    assert_eq!(request.form_value("title").unwrap(), n.title);
    assert_eq!(request.form_value("description").unwrap(), n.body);
}

#[tokio::test]
async fn title_and_description_beyond_the_limits_are_cut_with_an_ellipsis() {
    let sim = sim().await;
    let provider = provider(&sim);
    let mut n = c2c();
    // 25 emoji = 50 UTF-16 units (25 chars: a char count would wrongly let it through).
    n.title = "😀".repeat(25);
    n.body = format!("{}好", "好".repeat(DESCRIPTION_MAX_UTF16));
    send_one(&provider, &n, &["REGID_A"]).await;
    let request = only_request(&sim);
    let title = request.form_value("title").unwrap();
    assert_eq!(title, format!("{}…", "😀".repeat(24)));
    assert_eq!(utf16_len(&title), TITLE_MAX_UTF16);
    let description = request.form_value("description").unwrap();
    assert_eq!(
        description,
        format!("{}…", "好".repeat(DESCRIPTION_MAX_UTF16 - 1))
    );
    assert_eq!(utf16_len(&description), DESCRIPTION_MAX_UTF16);
}

#[tokio::test]
async fn template_and_receipt_callback_fields() {
    let sim = sim().await;
    let provider = provider_builder(&sim)
        .template(
            Template::new("tpl_im_1")
                .param("sender", "{title}")
                .param("text", "{body}"),
        )
        .receipt_callback("https://push.example.com/receipts/xiaomi")
        .build()
        .unwrap();
    let n = c2c();
    send_one(&provider, &n, &["REGID_A"]).await;
    let request = only_request(&sim);
    let form = form(&request);
    let extras: Vec<_> = form
        .iter()
        .filter(|(k, _)| k.starts_with("extra."))
        .collect();
    assert_eq!(
        extras,
        pairs(&[
            ("extra.channel_id", CHANNEL),
            ("extra.notify_effect", "1"),
            ("extra.template_id", "tpl_im_1"),
            (
                "extra.template_param",
                r#"{"sender":"alice","text":"Are we still meeting at 8?"}"#
            ),
            ("extra.callback", "https://push.example.com/receipts/xiaomi"),
            ("extra.callback.param", "m_9001"),
            ("extra.callback.type", "19"),
        ])
        .iter()
        .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn oversized_app_data_is_rejected_before_any_request() {
    let sim = sim().await;
    let provider = provider(&sim);
    let mut n = c2c();
    n.app_data.ext = Some(pushway_core::Ext::from("x".repeat(5000).as_str()));
    let outcomes = send_one(&provider, &n, &["REGID_A"]).await;
    assert_eq!(outcomes[0].as_str(), "rejected");
    assert_eq!(outcomes[0].reason().unwrap().code(), "payload_too_large");
    assert_eq!(sim.request_count(), 0);
}

#[test]
fn debug_never_shows_the_app_secret() {
    let builder = XiaomiProvider::builder()
        .app_secret("SUPERSECRET")
        .package(PACKAGE)
        .channel_id(CHANNEL);
    assert!(!format!("{builder:?}").contains("SUPERSECRET"));
    let provider = builder.build().unwrap();
    let shown = format!("{provider:?}");
    assert!(!shown.contains("SUPERSECRET"), "{shown}");
    assert!(
        shown.contains("https://api.xmpush.xiaomi.com/v3/message/regid"),
        "{shown}"
    );
}

#[test]
fn builder_refuses_missing_settings_and_plain_http() {
    let base = || {
        XiaomiProvider::builder()
            .app_secret("s")
            .package(PACKAGE)
            .channel_id(CHANNEL)
    };
    assert!(base().build().is_ok());
    assert!(
        XiaomiProvider::builder()
            .package(PACKAGE)
            .channel_id(CHANNEL)
            .build()
            .is_err()
    );
    assert!(
        XiaomiProvider::builder()
            .app_secret("s")
            .channel_id(CHANNEL)
            .build()
            .is_err()
    );
    assert!(
        XiaomiProvider::builder()
            .app_secret("s")
            .package(PACKAGE)
            .build()
            .is_err()
    );
    assert!(base().base_url("http://127.0.0.1:1").build().is_err());
    assert!(
        base()
            .base_url("http://127.0.0.1:1")
            .allow_plain_http(true)
            .build()
            .is_ok()
    );
    let europe = base()
        .region(pushway_xiaomi::Region::Europe)
        .build()
        .unwrap();
    assert!(format!("{europe:?}").contains("https://fr-api.xmpush.global.xiaomi.com/v3/"));
}

#[tokio::test]
async fn a_sound_given_by_resource_id_is_passed_through_as_sound_uri() {
    // The seed's sample stores `android.resource://<package>/<R.raw id>`: Xiaomi takes a URI, so
    // the user's sound plays, never a failed push.
    let message: pushway_core::Message = pushway_core::json::from_str(
        r#"{"id":"m-1","conversation":{"type":"group","id":"g1"},"sender":{"user_id":"alice"},
            "elements":[{"type":"text","text":"hi"}]}"#,
    )
    .unwrap();
    let recipient: pushway_core::Recipient = pushway_core::json::from_str(
        r#"{"user_id":"bob","unread":1,
            "settings":{"group_sound":"android.resource://com.example.chat/2131558400"}}"#,
    )
    .unwrap();
    let rendered = pushway_core::render(&message, &recipient).expect("a sound never fails");
    let n = rendered.notification().expect("pushed").clone();
    let sim = sim().await;
    let outcomes = send_one(&provider(&sim), &n, &["REGID_A"]).await;
    assert!(outcomes[0].is_delivered(), "{outcomes:?}");
    let request = only_request(&sim);
    assert_eq!(
        request.form_value("extra.sound_uri").unwrap(),
        "android.resource://com.example.chat/2131558400"
    );
    assert_eq!(request.form_value("notify_type").unwrap(), "-1");
}
