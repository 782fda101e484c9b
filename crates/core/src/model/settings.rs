//! Push settings: the sender's per-message settings and the recipient's per-user settings.

use serde::{Deserialize, Serialize};

use super::Ext;

/// Per-message push settings (seed: `TIMMessageOfflinePushSettings`). They override the
/// recipient's per-user settings wherever both speak, except that `enabled` can only turn a push
/// off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagePushSettings {
    /// Whether this message may be pushed at all (default `true`).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The text to show instead of the rendered content; used verbatim when non-empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descr: Option<String>,
    /// Extension bytes for the app; wins over a custom element's `ext`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<Ext>,
    /// Android-only settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android: Option<AndroidPushSettings>,
    /// iOS-only settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ios: Option<IosPushSettings>,
}

impl Default for MessagePushSettings {
    fn default() -> Self {
        MessagePushSettings {
            enabled: true,
            descr: None,
            ext: None,
            android: None,
            ios: None,
        }
    }
}

/// Android settings of one message (seed: `AndroidSettings`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AndroidPushSettings {
    /// The notification title on Android channels (iOS keeps the default title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The sound, as an app-resource URI: `android.resource://<package>/raw/<name>`, or
    /// `android.resource://<package>/<R.raw id>` as the seed's sample builds it. A sound the app
    /// cannot play falls back to the default sound with a warning; it never costs the push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sound: Option<String>,
    /// What a tap on the notification does (vendor channels only); default `Normal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_mode: Option<NotifyMode>,
}

/// iOS settings of one message (seed: `IOSSettings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IosPushSettings {
    /// The sound; `None` (or an empty file name) means the default sound. JSON `""` reads as
    /// `None`, like every other empty setting (the seed's `setSound("")`).
    #[serde(
        default,
        deserialize_with = "empty_is_unset",
        skip_serializing_if = "Option::is_none"
    )]
    pub sound: Option<IosSound>,
    /// Whether the push sets the app badge (default `true`).
    #[serde(default = "yes")]
    pub badge_enabled: bool,
    /// The iOS title, replacing the default title on APNs (TIM REST `ApnsInfo.Title`, or the
    /// all-platform `OfflinePushInfo.Title`); empty counts as unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The iOS subtitle (TIM REST `ApnsInfo.SubTitle`); empty counts as unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
}

impl Default for IosPushSettings {
    fn default() -> Self {
        IosPushSettings {
            sound: None,
            badge_enabled: true,
            title: None,
            subtitle: None,
        }
    }
}

/// The iOS sound of a message. JSON: `"default"`, `"no_sound_no_vibration"` or
/// `{"file": "<name>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum IosSound {
    /// The system's default sound.
    Default,
    /// A sound file in the app bundle.
    File(String),
    /// Neither sound nor vibration (the seed's `NO_SOUND_NO_VIBRATION`).
    NoSoundNoVibration,
}

/// What a tap on a vendor-channel notification does (seed: `NotifyMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyMode {
    /// The tap launches the app; the app gets no callback.
    #[default]
    Normal,
    /// The tap hands the app a callback carrying the push's app data.
    Custom,
}

/// The recipient's own push settings (seed: `TIMOfflinePushSettings`, stored server-side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPushSettings {
    /// Whether the recipient wants offline pushes at all (default `true`).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Sound for C2C pushes (app-resource URI, by name or id, as
    /// [`AndroidPushSettings::sound`]); `None` = system default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c2c_sound: Option<String>,
    /// Sound for group pushes (app-resource URI, by name or id, as
    /// [`AndroidPushSettings::sound`]); `None` = system default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_sound: Option<String>,
}

impl Default for UserPushSettings {
    fn default() -> Self {
        UserPushSettings {
            enabled: true,
            c2c_sound: None,
            group_sound: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// An iOS sound, where `""` (and `null`) mean unset; anything else reads as [`IosSound`], with
/// its own error messages.
fn empty_is_unset<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<IosSound>, D::Error> {
    use serde::de::{self, IntoDeserializer, MapAccess, Visitor};

    struct Sound;
    impl<'de> Visitor<'de> for Sound {
        type Value = Option<IosSound>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(r#""default", "no_sound_no_vibration", {"file": "<name>"} or """#)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(Sound)
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            if text.is_empty() {
                return Ok(None);
            }
            IosSound::deserialize(text.into_deserializer()).map(Some)
        }

        fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
            IosSound::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_option(Sound)
}
