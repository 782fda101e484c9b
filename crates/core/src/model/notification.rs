//! The rendered, channel-neutral notification.

use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::message::secs as ttl_secs;
use super::{AndroidSound, ConversationType, Ext, IosSound, NotifyMode, RenderWarning};

/// A rendered notification: what every channel shows, before any vendor-specific encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The message id (de-duplication, `apns-id`, daemon push id).
    pub message_id: String,
    /// How long vendors should keep trying (JSON: `ttl_secs`).
    #[serde(
        default,
        rename = "ttl_secs",
        with = "ttl_secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl: Option<Duration>,
    /// The default title (used on iOS, and on Android unless `android_title` is set).
    pub title: String,
    /// The sender's Android title override, for Android channels only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android_title: Option<String>,
    /// The iOS title and subtitle overrides, for APNs only (absent = the default title, no
    /// subtitle).
    #[serde(default, rename = "ios_alert", skip_serializing_if = "Option::is_none")]
    pub ios_alert: Option<IosAlert>,
    /// The body text.
    pub body: String,
    /// The Android sound; `None` = the system default sound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android_sound: Option<AndroidSound>,
    /// The iOS sound.
    pub ios_sound: IosSound,
    /// The iOS badge; `None` = leave the badge alone (no `badge` key at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub badge: Option<u32>,
    /// What a tap does on vendor channels.
    pub notify_mode: NotifyMode,
    /// The data handed to the app, identical on every channel.
    pub app_data: AppData,
    /// What the renderer replaced by a default instead of failing the push (a sound that cannot
    /// be played, DESIGN.md §4.6), for the caller to log or count. Absent from JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RenderWarning>,
}

impl Notification {
    /// The title an Android channel shows: the sender's Android title when set, else the default.
    pub fn android_title(&self) -> &str {
        self.android_title.as_deref().unwrap_or(&self.title)
    }

    /// The title APNs shows: the sender's iOS title when set, else the default.
    pub fn ios_title(&self) -> &str {
        self.ios_alert
            .as_ref()
            .and_then(|a| a.title.as_deref())
            .unwrap_or(&self.title)
    }

    /// The APNs subtitle, when the sender set one.
    pub fn ios_subtitle(&self) -> Option<&str> {
        self.ios_alert.as_ref().and_then(|a| a.subtitle.as_deref())
    }
}

/// The sender's iOS title and subtitle (TIM REST `ApnsInfo.Title`/`SubTitle`, tim.md §3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IosAlert {
    /// Replaces the default title on iOS when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The alert's subtitle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
}

/// The app-facing data of a push, delivered under the same names on every channel (APNs custom
/// keys, Xiaomi `payload`, Huawei `message.data`, daemon frame), so the app code that opens the
/// right chat is the same whatever channel woke it.
///
/// | key | value |
/// |---|---|
/// | `conversation_id` | C2C: the sender's user id; group: the group id |
/// | `conversation_type` | `"c2c"` or `"group"` |
/// | `sender_id` | the sender's user id |
/// | `sender_nickname` | group only: name card, else nickname; absent otherwise |
/// | `group_name` | group only, absent when the group has no name |
/// | `ext` | the ext bytes when they are UTF-8 text |
/// | `ext_base64` | the ext bytes in standard base64 when they are not UTF-8 (instead of `ext`) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppData {
    /// C2C: the sender's user id; group: the group id.
    pub conversation_id: String,
    /// C2C or group.
    pub conversation_type: ConversationType,
    /// The sender's user id.
    pub sender_id: String,
    /// Group only: the sender's name card, else nickname.
    pub sender_nickname: Option<String>,
    /// Group only: the group's name.
    pub group_name: Option<String>,
    /// Extension bytes for the app.
    pub ext: Option<Ext>,
}

impl AppData {
    /// The app data as `(key, value)` string pairs, in the documented key order, leaving out
    /// absent fields. Vendors whose data fields are string maps use this.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, std::borrow::Cow<'_, str>)> {
        use std::borrow::Cow;
        let ext = self.ext.as_ref().map(|ext| match ext.as_str() {
            Some(text) => ("ext", Cow::Borrowed(text)),
            None => ("ext_base64", Cow::Owned(ext.to_base64())),
        });
        [
            Some((
                "conversation_id",
                Cow::Borrowed(self.conversation_id.as_str()),
            )),
            Some((
                "conversation_type",
                Cow::Borrowed(self.conversation_type.as_str()),
            )),
            Some(("sender_id", Cow::Borrowed(self.sender_id.as_str()))),
            self.sender_nickname
                .as_deref()
                .map(|v| ("sender_nickname", Cow::Borrowed(v))),
            self.group_name
                .as_deref()
                .map(|v| ("group_name", Cow::Borrowed(v))),
            ext,
        ]
        .into_iter()
        .flatten()
    }

    /// The app data as a compact JSON object string (Xiaomi `payload`, Huawei `message.data`).
    pub fn to_json(&self) -> String {
        // Serialising a map of strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for AppData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (key, value) in self.pairs() {
            map.serialize_entry(key, &value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for AppData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire {
            conversation_id: String,
            conversation_type: ConversationType,
            sender_id: String,
            #[serde(default)]
            sender_nickname: Option<String>,
            #[serde(default)]
            group_name: Option<String>,
            #[serde(default)]
            ext: Option<String>,
            #[serde(default)]
            ext_base64: Option<String>,
        }
        let wire = Wire::deserialize(d)?;
        let ext = match (wire.ext, wire.ext_base64) {
            (Some(_), Some(_)) => {
                return Err(de::Error::custom(
                    "`ext` and `ext_base64` are mutually exclusive",
                ));
            }
            (Some(text), None) => Some(Ext::from(text.as_str())),
            (None, Some(b64)) => {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|e| de::Error::custom(format!("ext_base64: {e}")))?;
                Some(Ext::new(bytes))
            }
            (None, None) => None,
        };
        Ok(AppData {
            conversation_id: wire.conversation_id,
            conversation_type: wire.conversation_type,
            sender_id: wire.sender_id,
            sender_nickname: wire.sender_nickname,
            group_name: wire.group_name,
            ext,
        })
    }
}
