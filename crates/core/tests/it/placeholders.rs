//! Localized placeholders per recipient: the table (element words and the group sender prefix)
//! is chosen by the recipient's locale — exact locale, else language, else the default.

use std::borrow::Cow;

use pushway_core::{Message, Placeholders, Recipient, Rendered, Renderer, json};

fn group_message() -> Message {
    json::from_str(
        r#"{"id":"m","conversation":{"type":"group","id":"g","name":"G"},
            "sender":{"user_id":"alice","nickname":"Ann"},
            "elements":[{"type":"text","text":"at "},{"type":"location"},{"type":"face"},{"type":"image"}]}"#,
    )
    .unwrap()
}

fn body(renderer: &Renderer, locale: Option<&str>) -> String {
    let mut recipient = Recipient::new("bob");
    recipient.locale = locale.map(str::to_owned);
    match renderer.render(&group_message(), &recipient).unwrap() {
        Rendered::Notification(n) => n.body,
        Rendered::Suppressed(r) => panic!("suppressed: {}", r.as_str()),
    }
}

#[test]
fn built_in_tables_by_locale() {
    let default = Renderer::new();
    assert_eq!(body(&default, None), "Ann: at [位置][表情][图片]");
    assert_eq!(body(&default, Some("zh-CN")), "Ann: at [位置][表情][图片]");
    assert_eq!(
        body(&default, Some("en-GB")),
        "Ann: at [Location][Sticker][Image]"
    );
    // A language without a table gets the default (zh).
    assert_eq!(body(&default, Some("fr-FR")), "Ann: at [位置][表情][图片]");
}

#[test]
fn tencents_english_words() {
    let tim = Renderer::new().placeholders_for("en", Placeholders::TIM_EN);
    assert_eq!(body(&tim, Some("en-US")), "Ann: at [Location][Face][Image]");
    assert_eq!(Placeholders::builtin("tim_en"), Some(Placeholders::TIM_EN));
    assert_eq!(Placeholders::builtin("zh"), Some(Placeholders::ZH));
    assert_eq!(Placeholders::builtin("klingon"), None);
}

#[test]
fn configured_tables_and_sender_formats() {
    let full_width = Placeholders {
        group_sender: Cow::Borrowed("{sender}： "),
        ..Placeholders::ZH
    };
    let ja: Placeholders = json::from_str(
        r#"{"sound":"[音声]","file":"[ファイル]","image":"[画像]","video":"[動画]",
            "location":"[位置情報]","face":"[スタンプ]","group_sender":"{sender}さん: "}"#,
    )
    .unwrap();
    let tw = Placeholders {
        location: Cow::Borrowed("[位置資訊]"),
        ..Placeholders::ZH
    };
    let renderer = Renderer::new()
        .placeholders_for("zh", full_width)
        .placeholders_for("ja", ja)
        .placeholders_for("zh-TW", tw);
    assert_eq!(
        body(&renderer, Some("zh-CN")),
        "Ann： at [位置][表情][图片]"
    );
    assert_eq!(
        body(&renderer, Some("ja-JP")),
        "Annさん: at [位置情報][スタンプ][画像]"
    );
    // The exact locale wins over its language, whatever the case or separator.
    assert_eq!(
        body(&renderer, Some("zh_tw")),
        "Ann: at [位置資訊][表情][图片]"
    );
    // No locale: the default table, whose prefix is still ": ".
    assert_eq!(body(&renderer, None), "Ann: at [位置][表情][图片]");
}

#[test]
fn a_table_without_sender_shows_no_name_and_c2c_has_no_prefix() {
    let anonymous = Placeholders {
        group_sender: Cow::Borrowed("› "),
        ..Placeholders::EN
    };
    let renderer = Renderer::new().placeholders_for("en", anonymous);
    assert_eq!(
        body(&renderer, Some("en")),
        "› at [Location][Sticker][Image]"
    );
    let c2c: Message = json::from_str(
        r#"{"id":"m","conversation":{"type":"c2c","peer":"bob"},"sender":{"user_id":"alice"},
            "elements":[{"type":"face"}]}"#,
    )
    .unwrap();
    let mut bob = Recipient::new("bob");
    bob.locale = Some("en".into());
    let Rendered::Notification(n) = renderer.render(&c2c, &bob).unwrap() else {
        panic!()
    };
    assert_eq!(n.body, "[Sticker]");
}

#[test]
fn a_table_from_json_defaults_its_prefix_and_rejects_unknown_words() {
    let table: Placeholders = json::from_str(
        r#"{"sound":"s","file":"f","image":"i","video":"v","location":"l","face":"x"}"#,
    )
    .unwrap();
    assert_eq!(table.group_sender, "{sender}: ");
    let err = json::from_str::<Placeholders>(
        r#"{"sound":"s","file":"f","image":"i","video":"v","location":"l","face":"x","gif":"g"}"#,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("gif"));
}
