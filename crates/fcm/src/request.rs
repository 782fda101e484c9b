//! The send body (protocols/fcm.md §3, DESIGN.md §5). Pure: no I/O, no clock.
//!
//! ```text
//! {"message":{
//!    "data":{"conversation_id":…,"conversation_type":"c2c"|"group","sender_id":…,…},  (strings only)
//!    "android":{"priority":"HIGH","ttl":"<secs>s",                    (ttl only when one is set)
//!       "notification":{"title":…,"body":…,
//!          "channel_id":…,                                       (when configured)
//!          "sound":"<res/raw name>"  |  "default_sound":true,
//!          "tag":"<c2c|group>:<conversation id>",
//!          "click_action":"<intent-filter action>",                 (NotifyMode::Custom only)
//!          "notification_count":n}},                                 (with a badge only)
//!    "token":"<registration token>"}}
//! ```
//!
//! - `tag` groups a chat's notifications (a new one replaces the shown one); the conversation
//!   type is part of it because a user id and a group id may be equal.
//! - The app data travels in `data` for both modes: FCM hands it to a tapped app as the launch
//!   intent's extras, to the activity of `click_action` in custom mode.
//! - Field names are snake_case, as every Admin SDK sends them.
//!
//! The message without its target must fit [`MAX_MESSAGE_BYTES`] (fcm.md §4 budgets the whole
//! serialized message, the stricter reading of FCM's "keys and values"): it is built once per
//! notification, measured, its body shortened by [`pushway_core::fit_payload`] when needed, and
//! each token is then spliced in.

use std::time::Duration;

use pushway_core::{AppData, Notification, NotifyMode, PayloadTooLarge, fit_payload};
use serde::Serialize;

/// Largest message in bytes of UTF-8 JSON, the target (`token`) excluded (fcm.md §4).
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Longest `android.ttl` FCM accepts: 28 days (fcm.md §3, §4).
pub const MAX_TTL_SECS: u64 = 28 * 24 * 3600;

/// What the provider's configuration contributes to every message.
#[derive(Debug, Clone)]
pub(crate) struct MessageOptions {
    pub channel_id: Option<String>,
    pub click_action: String,
    pub default_ttl: Option<Duration>,
}

#[derive(Serialize)]
struct Message<'a> {
    data: &'a AppData,
    android: Android<'a>,
}

#[derive(Serialize)]
struct Android<'a> {
    priority: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<&'a str>,
    notification: AndroidNotification<'a>,
}

#[derive(Serialize)]
struct AndroidNotification<'a> {
    title: &'a str,
    body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sound: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_sound: Option<bool>,
    tag: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    click_action: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_count: Option<i32>,
}

/// A message measured and fitted, waiting for its token.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// `{"message":{…` without the message's closing brace.
    head: Vec<u8>,
    /// The size of the message object without its target, as budgeted.
    pub message_bytes: usize,
    /// Whether the body text was shortened to fit.
    pub shortened: bool,
}

const PREFIX: &[u8] = b"{\"message\":";

impl Prepared {
    /// The complete body for `token`.
    pub fn with_token(&self, token: &str) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.head.len() + token.len() + 16);
        body.extend_from_slice(&self.head);
        body.extend_from_slice(b",\"token\":");
        push_json_string(&mut body, token);
        body.extend_from_slice(b"}}");
        body
    }
}

/// Appends `text` as a JSON string; tokens are base64-like, so the copy is the usual path.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, text).is_err() {
        // Writing a string into a Vec cannot fail; keep the JSON well formed regardless.
        out.extend_from_slice(b"\"\"");
    }
}

/// `"<secs>s"`: whole seconds, rounded up so a sub-second TTL is not sent as `"0s"` (which means
/// now-or-never), capped at [`MAX_TTL_SECS`].
fn ttl_text(ttl: Duration) -> String {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    format!("{}s", secs.min(MAX_TTL_SECS))
}

/// Builds and fits the message for `notification`.
pub(crate) fn prepare(
    notification: &Notification,
    options: &MessageOptions,
) -> Result<Prepared, PayloadTooLarge> {
    let data = &notification.app_data;
    let tag = format!(
        "{}:{}",
        data.conversation_type.as_str(),
        data.conversation_id
    );
    let click_action = match notification.notify_mode {
        NotifyMode::Normal => None,
        NotifyMode::Custom => Some(options.click_action.as_str()),
    };
    // FCM takes the `res/raw` resource name: a sound given by numeric id (reported by the
    // renderer as `RenderWarning::AndroidSoundWithoutName`) plays the default sound.
    let sound = notification.android_sound.as_ref().and_then(|s| s.name());
    let ttl = notification.ttl.or(options.default_ttl).map(ttl_text);
    // int32 on the wire; a badge is a count hint for badging launchers.
    let count = notification
        .badge
        .map(|n| i32::try_from(n).unwrap_or(i32::MAX));
    let build = |body: &str| {
        let message = Message {
            data,
            android: Android {
                priority: "HIGH",
                ttl: ttl.as_deref(),
                notification: AndroidNotification {
                    title: notification.android_title(),
                    body,
                    channel_id: options.channel_id.as_deref(),
                    sound,
                    default_sound: sound.is_none().then_some(true),
                    tag: &tag,
                    click_action,
                    notification_count: count,
                },
            },
        };
        // Serialising borrowed strings and integers into a Vec cannot fail.
        serde_json::to_vec(&message).unwrap_or_default()
    };
    let fitted = fit_payload(&notification.body, MAX_MESSAGE_BYTES, build)?;
    let message_bytes = fitted.payload.len();
    let mut head = Vec::with_capacity(PREFIX.len() + message_bytes + 200);
    head.extend_from_slice(PREFIX);
    // The message object without its closing brace: the token goes in before it.
    head.extend_from_slice(&fitted.payload[..message_bytes.saturating_sub(1)]);
    Ok(Prepared {
        head,
        message_bytes,
        shortened: fitted.shortened,
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
