//! Property tests: rendering never panics, and budgets are always respected.

use proptest::prelude::*;
use pushway_core::{
    AndroidPushSettings, Budget, Conversation, Element, Ext, IosPushSettings, IosSound, LoginState,
    Message, MessageKind, MessagePushSettings, NotifyMode, Recipient, Rendered, Sender,
    UserPushSettings, fit_payload, fit_text, render,
};

fn text() -> impl Strategy<Value = String> {
    // Mix ASCII, CJK, emoji with modifiers and ZWJ, combining marks and control characters.
    prop_oneof![
        "[a-z ]{0,12}",
        "[一-龥]{0,12}",
        proptest::collection::vec(
            prop_oneof![
                Just("👨‍👩‍👧"),
                Just("🇨🇳"),
                Just("👍🏽"),
                Just("e\u{301}"),
                Just("\n"),
                Just("\u{1}"),
                Just("\""),
                Just("\\"),
                Just("x"),
                Just("语")
            ],
            0..12
        )
        .prop_map(|parts| parts.concat()),
        any::<String>(),
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn sound() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        Just("android.resource://com.example.im/raw/ding".to_owned()),
        Just("android.resource://com.example.im/2131558400".to_owned()),
        Just("android.resource://com.other.app/raw/ding".to_owned()),
        Just("content://media/internal/audio/media/12".to_owned()),
        text(),
    ])
}

fn element() -> impl Strategy<Value = Element> {
    prop_oneof![
        text().prop_map(|text| Element::Text { text }),
        Just(Element::Sound),
        Just(Element::File),
        Just(Element::Image),
        Just(Element::Video),
        Just(Element::Location),
        Just(Element::Face),
        (
            text(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8))
        )
            .prop_map(|(desc, ext)| Element::Custom {
                desc,
                ext: ext.map(Ext::new)
            }),
    ]
}

fn push_settings() -> impl Strategy<Value = Option<MessagePushSettings>> {
    proptest::option::of(
        (
            any::<bool>(),
            opt_text(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
            opt_text(),
            sound(),
            any::<bool>(),
            any::<bool>(),
            prop_oneof![
                Just(None),
                Just(Some(IosSound::Default)),
                Just(Some(IosSound::NoSoundNoVibration)),
                text().prop_map(|f| Some(IosSound::File(f)))
            ],
        )
            .prop_map(
                |(enabled, descr, ext, title, sound, custom, badge, ios_sound)| {
                    MessagePushSettings {
                        enabled,
                        descr,
                        ext: ext.map(Ext::new),
                        android: Some(AndroidPushSettings {
                            title,
                            sound,
                            notify_mode: Some(if custom {
                                NotifyMode::Custom
                            } else {
                                NotifyMode::Normal
                            }),
                        }),
                        ios: Some(IosPushSettings {
                            sound: ios_sound,
                            badge_enabled: badge,
                            ..IosPushSettings::default()
                        }),
                    }
                },
            ),
    )
}

prop_compose! {
    fn message()(
        group in any::<bool>(),
        id in text(),
        name in opt_text(),
        user_id in "[a-c]{1,2}",
        nickname in opt_text(),
        name_card in opt_text(),
        elements in proptest::collection::vec(element(), 0..8),
        system in proptest::bool::weighted(0.1),
        push in push_settings(),
    ) -> Message {
        Message {
            id: "m".to_owned(),
            conversation: if group { Conversation::Group { id, name } } else { Conversation::C2c { peer: id } },
            sender: Sender { user_id, nickname, name_card },
            elements,
            kind: if system { MessageKind::System } else { MessageKind::Chat },
            ttl: None,
            push,
            mentions: Default::default(),
            control: Default::default(),
        }
    }
}

prop_compose! {
    fn recipient()(
        user_id in "[a-c]{1,2}",
        login in prop_oneof![Just(LoginState::LoggedIn), Just(LoginState::LoggedOut), Just(LoginState::KickedOffline)],
        enabled in proptest::bool::weighted(0.9),
        c2c_sound in sound(),
        group_sound in sound(),
        unread in any::<u32>(),
        locale in proptest::option::of(prop_oneof![Just("en-US".to_owned()), Just("zh".to_owned()), text()]),
    ) -> Recipient {
        Recipient { user_id, login, settings: UserPushSettings { enabled, c2c_sound, group_sound }, unread, locale, receive: Default::default(), now_ms: None }
    }
}

fn budget() -> impl Strategy<Value = Budget> {
    prop_oneof![
        (0usize..64).prop_map(Budget::Bytes),
        (0usize..32).prop_map(Budget::Chars),
        (0usize..32).prop_map(Budget::Utf16),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn render_never_panics_and_bodies_respect_their_budget(m in message(), r in recipient(), b in budget()) {
        if let Ok(Rendered::Notification(n)) = render(&m, &r) {
            prop_assert!(!n.body.is_empty(), "a notification always has something to show");
            let body = fit_text(&n.body, b);
            prop_assert!(b.measure(&body) <= b.limit(), "{:?} over {:?}", body, b);
            prop_assert!(n.body.starts_with(body.trim_end_matches('…')));
        }
    }

    #[test]
    fn fitted_payloads_respect_their_limit(m in message(), r in recipient(), limit in 0usize..400) {
        if let Ok(Rendered::Notification(n)) = render(&m, &r) {
            let build = |body: &str| serde_json::to_vec(&serde_json::json!({"title": n.title, "body": body})).unwrap();
            match fit_payload(&n.body, limit, build) {
                Ok(fitted) => prop_assert!(fitted.payload.len() <= limit),
                Err(e) => {
                    prop_assert_eq!(e.limit, limit);
                    prop_assert!(e.size > limit);
                }
            }
        }
    }

    #[test]
    fn a_sound_never_costs_the_push(m in message(), r in recipient(), package in proptest::option::of(Just("com.example.im"))) {
        // The same message and recipient without any sound render the same push, apart from
        // the sound fields and the warnings about them.
        let renderer = match package {
            Some(package) => pushway_core::Renderer::new().android_package(package),
            None => pushway_core::Renderer::new(),
        };
        let with = renderer.render(&m, &r);
        prop_assert!(with.is_ok(), "{:?}", with);
        let mut silent_m = m.clone();
        if let Some(android) = silent_m.push.as_mut().and_then(|p| p.android.as_mut()) {
            android.sound = None;
        }
        if let Some(ios) = silent_m.push.as_mut().and_then(|p| p.ios.as_mut()) {
            ios.sound = None;
        }
        let mut silent_r = r.clone();
        silent_r.settings.c2c_sound = None;
        silent_r.settings.group_sound = None;
        let (Ok(with), Ok(without)) = (with, renderer.render(&silent_m, &silent_r)) else {
            return Err(TestCaseError::fail("render failed"));
        };
        match (with, without) {
            (Rendered::Notification(mut a), Rendered::Notification(b)) => {
                prop_assert!(b.warnings.is_empty());
                if let Some(sound) = &a.android_sound {
                    prop_assert!(sound.name().is_some() || !a.warnings.is_empty(), "an id is reported");
                }
                a.android_sound = None;
                a.ios_sound = b.ios_sound.clone();
                a.warnings.clear();
                prop_assert_eq!(a, b);
            }
            (a, b) => prop_assert_eq!(a, b),
        }
    }
}
