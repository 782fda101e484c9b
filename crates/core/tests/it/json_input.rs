//! JSON that does not fit the model is rejected with a typed error naming the field.

use pushway_core::{DeviceToken, Message, Recipient, json};

fn field_of<T: serde::de::DeserializeOwned + std::fmt::Debug>(text: &str) -> String {
    let err = json::from_str::<T>(text).expect_err("input must be rejected");
    assert!(err.is_invalid_input(), "{err}");
    err.field().expect("invalid input names a field").to_owned()
}

const GOOD: &str = r#"{"id":"m","conversation":{"type":"c2c","peer":"bob"},"sender":{"user_id":"alice"},"elements":[{"type":"text","text":"hi"}]}"#;

#[test]
fn a_valid_message_parses() {
    let message: Message = json::from_str(GOOD).unwrap();
    assert_eq!(message.sender.user_id, "alice");
}

#[test]
fn unknown_element_type_names_the_element() {
    let text = GOOD.replace(
        r#"{"type":"text","text":"hi"}"#,
        r#"{"type":"text","text":"hi"},{"type":"hologram"}"#,
    );
    assert_eq!(field_of::<Message>(&text), "elements[1].type");
}

#[test]
fn missing_sender_id_names_the_field() {
    let text = GOOD.replace(r#""user_id":"alice""#, r#""nickname":"A""#);
    assert_eq!(field_of::<Message>(&text), "sender");
}

#[test]
fn misspelt_setting_is_rejected_not_ignored() {
    let text = GOOD.replace(r#""elements""#, r#""push":{"enabeld":false},"elements""#);
    assert_eq!(field_of::<Message>(&text), "push.enabeld");
}

#[test]
fn wrong_type_names_the_nested_field() {
    let text = GOOD.replace(
        r#""elements""#,
        r#""push":{"ios":{"badge_enabled":"yes"}},"elements""#,
    );
    assert_eq!(field_of::<Message>(&text), "push.ios.badge_enabled");
}

#[test]
fn bad_base64_ext_names_the_field() {
    let text = GOOD.replace(
        r#""elements""#,
        r#""push":{"ext":{"base64":"***"}},"elements""#,
    );
    assert_eq!(field_of::<Message>(&text), "push.ext");
}

#[test]
fn unknown_login_state_names_the_field() {
    assert_eq!(
        field_of::<Recipient>(r#"{"user_id":"u","login":"asleep"}"#),
        "login"
    );
}

#[test]
fn unknown_token_kind_names_the_field() {
    let field = field_of::<DeviceToken>(r#"{"kind":"wns","credential":"c","token":"t"}"#);
    assert_eq!(field, "kind");
}

#[test]
fn fcm_is_a_token_kind_of_an_android_device() {
    let token: DeviceToken =
        json::from_str(r#"{"kind":"fcm","credential":"c","token":"t"}"#).unwrap();
    assert_eq!(token.kind, pushway_core::TokenKind::Fcm);
    assert_eq!(token.kind.as_str(), "fcm");
    assert!(token.kind.is_android());
    assert_eq!(token.kind.apns_env(), None);
}

#[test]
fn trailing_garbage_is_rejected() {
    let err = json::from_str::<Message>(&format!("{GOOD} x")).unwrap_err();
    assert!(err.is_invalid_input());
}

#[test]
fn device_tokens_are_redacted_in_debug_and_display() {
    let token = DeviceToken::new(
        pushway_core::TokenKind::ApnsProduction,
        "team",
        "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
    );
    let debug = format!("{token:?}");
    let display = format!("{token}");
    for shown in [&debug, &display] {
        assert!(!shown.contains("d4e5f607"), "token leaked: {shown}");
        assert!(shown.contains("a1b2c3…(64 chars)"), "{shown}");
    }
}

#[test]
fn an_empty_ios_sound_is_unset_and_other_sounds_still_parse() {
    use pushway_core::{IosPushSettings, IosSound};
    let parse = |sound: &str| -> IosPushSettings {
        pushway_core::json::from_str(&format!(r#"{{"sound":{sound}}}"#)).unwrap()
    };
    assert_eq!(parse(r#""""#).sound, None);
    assert_eq!(parse("null").sound, None);
    assert_eq!(parse(r#""default""#).sound, Some(IosSound::Default));
    assert_eq!(
        parse(r#""no_sound_no_vibration""#).sound,
        Some(IosSound::NoSoundNoVibration)
    );
    assert_eq!(
        parse(r#"{"file":"bell.caf"}"#).sound,
        Some(IosSound::File("bell.caf".into()))
    );
    let err = pushway_core::json::from_str::<IosPushSettings>(r#"{"sound":"loud"}"#).unwrap_err();
    assert_eq!(err.field(), Some("sound"));
    assert!(err.to_string().contains("unknown variant `loud`"), "{err}");
    let err =
        pushway_core::json::from_str::<IosPushSettings>(r#"{"sound":{"file":1}}"#).unwrap_err();
    assert!(err.field().is_some_and(|f| f.starts_with("sound")), "{err}");
}
