//! The schema of `POST /messages`' `message`: pushway-core's message model (which has no
//! schema of its own, and which the service parses the object into) without `id`, mirrored
//! field by field with the same serde attributes. The tests feed the same documents to both
//! and require them to agree, so a change to the core model that is not made here fails.

#![allow(
    dead_code,
    reason = "the mirror is only deserialised (by the tests) and described, never read"
)]

use serde::Deserialize;
use utoipa::ToSchema;

/// An IM message (pushway-core's `Message`), as the sender's IM server describes it; the
/// gateway assigns its id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Message)]
pub(crate) struct MessageSchema {
    /// Where the message was sent.
    conversation: Conversation,
    /// Who sent it.
    sender: Sender,
    /// The message body, in order.
    #[serde(default)]
    elements: Vec<Element>,
    /// Chat or system message; system messages are never pushed.
    #[serde(default)]
    kind: MessageKind,
    /// How long the vendors should keep trying to deliver, in seconds (also when the gateway
    /// stops trying); absent: the server's default.
    #[serde(default)]
    ttl_secs: Option<u64>,
    /// The sender's per-message push settings (seed: `TIMMessageOfflinePushSettings`).
    #[serde(default)]
    push: Option<MessagePushSettings>,
    /// Who the message @-mentions (for recipients whose group option is
    /// `notify_only_when_mentioned`).
    #[serde(default)]
    mentions: Mentions,
    /// Delivery control flags.
    #[serde(default)]
    control: MessageControl,
}

/// Who a group message @-mentions (TIM `GroupAtInfo`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Mentions {
    /// The user ids mentioned.
    #[serde(default)]
    user_ids: Vec<String>,
    /// Whether everyone is mentioned (@all).
    #[serde(default)]
    all: bool,
}

/// A message's delivery control flags (TIM `MsgLifeTime` 0 / `OnlineOnlyFlag`,
/// `SendMsgControl`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MessageControl {
    /// For online recipients only: never pushed (suppressed as `online_only`).
    #[serde(default)]
    online_only: bool,
    /// Push even to recipients who muted this C2C sender (`receive_not_notify` for the peer);
    /// default: the mute holds (`peer_muted`).
    #[serde(default)]
    ignore_peer_mute: bool,
}

/// The conversation a message belongs to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Conversation {
    /// One-to-one chat.
    C2c {
        /// The user the message is addressed to.
        peer: String,
    },
    /// Group chat.
    Group {
        /// The group id.
        id: String,
        /// The group's name, if it has one.
        #[serde(default)]
        name: Option<String>,
    },
}

/// The sender of a message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Sender {
    /// The sender's user id.
    user_id: String,
    /// The sender's nickname, if set.
    #[serde(default)]
    nickname: Option<String>,
    /// The sender's name card in the group, if set.
    #[serde(default)]
    name_card: Option<String>,
}

/// Chat (pushed) or system (never pushed).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum MessageKind {
    /// An ordinary chat message.
    #[default]
    Chat,
    /// A system message.
    System,
}

/// One element of a message body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Element {
    /// Text, shown as is.
    Text {
        /// The text.
        text: String,
    },
    /// A voice message.
    Sound,
    /// A file.
    File,
    /// An image.
    Image,
    /// An app-defined element: `desc` is what a push shows, `ext` goes to the app.
    Custom {
        /// The description shown in the push.
        #[serde(default)]
        desc: String,
        /// Extension bytes for the app.
        #[serde(default)]
        ext: Option<Ext>,
    },
    /// A video.
    Video,
    /// A location.
    Location,
    /// A sticker.
    Face,
}

/// Extension bytes carried to the app unchanged: UTF-8 text as a string, other bytes as
/// `{"base64": "..."}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
enum Ext {
    /// UTF-8 text.
    Text(String),
    /// Any bytes, in standard base64.
    Bytes(ExtBase64),
}

/// Bytes in standard base64.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ExtBase64 {
    /// Standard base64 (with padding).
    base64: String,
}

/// Per-message push settings; they override the recipient's own wherever both speak, except
/// that `enabled` can only turn a push off.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MessagePushSettings {
    /// Whether this message may be pushed at all.
    #[serde(default = "yes")]
    #[schema(default = true)]
    enabled: bool,
    /// The text to show instead of the rendered content, when not empty.
    #[serde(default)]
    descr: Option<String>,
    /// Extension bytes for the app; wins over a custom element's `ext`.
    #[serde(default)]
    ext: Option<Ext>,
    /// Android-only settings.
    #[serde(default)]
    android: Option<AndroidPushSettings>,
    /// iOS-only settings.
    #[serde(default)]
    ios: Option<IosPushSettings>,
}

/// Android settings of one message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AndroidPushSettings {
    /// The notification title on Android channels.
    #[serde(default)]
    title: Option<String>,
    /// The sound: `android.resource://<package>/raw/<name>` or
    /// `android.resource://<package>/<id>`; anything else is refused (422).
    #[serde(default)]
    sound: Option<String>,
    /// What a tap on the notification does.
    #[serde(default)]
    notify_mode: Option<NotifyMode>,
}

/// What a tap on a vendor-channel notification does.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum NotifyMode {
    /// The tap launches the app.
    Normal,
    /// The tap hands the app a callback with the push's app data.
    Custom,
}

/// iOS settings of one message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct IosPushSettings {
    /// The sound; absent, `null` or `""`: the default sound.
    #[serde(default)]
    sound: Option<IosSound>,
    /// Whether the push sets the app badge.
    #[serde(default = "yes")]
    #[schema(default = true)]
    badge_enabled: bool,
    /// The APNs title, replacing the default title on iOS; empty counts as unset.
    #[serde(default)]
    title: Option<String>,
    /// The APNs subtitle; empty counts as unset.
    #[serde(default)]
    subtitle: Option<String>,
}

/// An iOS sound: a keyword, or a sound file in the app bundle.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
enum IosSound {
    /// `"default"`, `"no_sound_no_vibration"`, or `""` (the default sound).
    Keyword(IosSoundKeyword),
    /// A sound file in the app bundle.
    File(IosSoundFile),
}

/// An iOS sound keyword.
#[derive(Debug, Deserialize, ToSchema)]
enum IosSoundKeyword {
    /// The default sound.
    #[serde(rename = "default")]
    Default,
    /// Neither sound nor vibration.
    #[serde(rename = "no_sound_no_vibration")]
    NoSoundNoVibration,
    /// Unset: the default sound.
    #[serde(rename = "")]
    Unset,
}

/// A sound file in the app bundle.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct IosSoundFile {
    /// Its file name.
    file: String,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::MessageSchema;

    /// Whether core's model accepts `message` (with the id the gateway adds).
    fn core_accepts(message: &Value) -> bool {
        let mut message = message.clone();
        if let Some(object) = message.as_object_mut() {
            object.insert("id".to_owned(), json!("m1"));
        }
        pushway_core::json::from_str::<pushway_core::Message>(&message.to_string()).is_ok()
    }

    fn mirror_accepts(message: &Value) -> bool {
        serde_json::from_value::<MessageSchema>(message.clone()).is_ok()
    }

    #[test]
    fn the_mirror_accepts_and_refuses_what_core_does() {
        let full = json!({
            "conversation": {"type": "group", "id": "g1", "name": "Team"},
            "sender": {"user_id": "alice", "nickname": "Al", "name_card": "Alice"},
            "elements": [
                {"type": "text", "text": "hi"}, {"type": "sound"}, {"type": "file"},
                {"type": "image"}, {"type": "video"}, {"type": "location"}, {"type": "face"},
                {"type": "custom", "desc": "card", "ext": {"base64": "AAE="}},
                {"type": "custom", "ext": "text"}
            ],
            "kind": "system",
            "ttl_secs": 60,
            "push": {
                "enabled": false, "descr": "New", "ext": "x",
                "android": {"title": "T", "sound": "android.resource://a.b/raw/c", "notify_mode": "custom"},
                "ios": {"sound": {"file": "ding.caf"}, "badge_enabled": false, "title": "I", "subtitle": "S"}
            },
            "mentions": {"user_ids": ["bob"], "all": true},
            "control": {"online_only": true, "ignore_peer_mute": true}
        });
        let minimal =
            json!({"conversation": {"type": "c2c", "peer": "bob"}, "sender": {"user_id": "a"}});
        let mut cases = vec![(full.clone(), true), (minimal.clone(), true)];
        for sound in [
            json!(""),
            json!(null),
            json!("default"),
            json!("no_sound_no_vibration"),
        ] {
            let mut m = minimal.clone();
            m["push"] = json!({"ios": {"sound": sound}});
            cases.push((m, true));
        }
        // serde ignores unknown fields in a unit variant of an internally tagged enum, even
        // with deny_unknown_fields (the document leaves those variants open).
        let mut extra = full.clone();
        extra["elements"][1]["extra"] = json!(1);
        cases.push((extra, true));
        let nulls = json!({"conversation": {"type": "group", "id": "g", "name": null},
            "sender": {"user_id": "a", "nickname": null}, "ttl_secs": null, "push": null});
        cases.push((nulls, true));
        // Unknown fields at every level, wrong tags and values, missing required fields.
        let refused = [
            ("/extra", json!(1)),
            ("/conversation/extra", json!(1)),
            ("/conversation/type", json!("channel")),
            ("/sender/extra", json!(1)),
            ("/elements/0/extra", json!(1)),
            ("/elements/0/type", json!("gif")),
            ("/elements/7/ext", json!({"base64": "AAE=", "x": 1})),
            ("/elements/7/extra", json!(1)),
            ("/elements", json!(null)),
            ("/kind", json!("notice")),
            ("/kind", json!(null)),
            ("/ttl_secs", json!(-1)),
            ("/push/extra", json!(1)),
            ("/push/enabled", json!(null)),
            ("/push/android/extra", json!(1)),
            ("/push/android/notify_mode", json!("silent")),
            ("/push/ios/extra", json!(1)),
            ("/push/ios/sound", json!("loud")),
            ("/push/ios/sound", json!({"file": "a", "x": 1})),
            ("/push/ios/title", json!(1)),
            ("/mentions/extra", json!(1)),
            ("/mentions/user_ids", json!("bob")),
            ("/mentions", json!(null)),
            ("/control/extra", json!(1)),
            ("/control/online_only", json!("yes")),
        ];
        for (pointer, value) in refused {
            let mut m = full.clone();
            let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            let Some(Value::Object(object)) = m.pointer_mut(parent) else {
                panic!("no object at {parent}");
            };
            object.insert(key.to_owned(), value);
            cases.push((m, false));
        }
        for missing in ["/conversation", "/sender"] {
            let mut m = minimal.clone();
            if let Some(object) = m.as_object_mut() {
                object.remove(&missing[1..]);
            }
            cases.push((m, false));
        }
        for (message, accepted) in &cases {
            assert_eq!(core_accepts(message), *accepted, "core: {message}");
            assert_eq!(mirror_accepts(message), *accepted, "mirror: {message}");
        }
    }
}
