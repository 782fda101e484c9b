//! The send body (protocols/huawei.md §2; DESIGN.md §5). Pure: no I/O, no clock.
//!
//! ```text
//! {"validate_only":false,"message":{
//!    "data":"<app data JSON>",
//!    "android":{"category":"IM","ttl":"86400s","notification":{
//!       "title":…,"body":…,"sound":"/raw/<name>","default_sound":false,   (or "default_sound":true,
//!                                                         also for a sound given by numeric id)
//!       "importance":"NORMAL","tag":"<c2c|group>:<conversation id>",
//!       "badge":{"set_num":n,"class":"<launcher activity>"},              (with a badge class only)
//!       "click_action":{"type":3}  |  {"type":1,"intent":"intent://…;S.<key>=<value>;…;end"},
//!       "foreground_show":false}},
//!    "token":[…]}}
//! ```
//!
//! The message without its tokens must fit [`MAX_MESSAGE_BYTES`]: it is built once per send with
//! an empty token list, measured, its body shortened by [`pushway_core::fit_payload`] when needed,
//! and the tokens are then spliced in.

use pushway_core::{Notification, NotifyMode, PayloadTooLarge, fit_payload};
use serde::Serialize;

use crate::builder::{Importance, IntentTarget};

/// Largest message in bytes of UTF-8 JSON, the token list excluded (§2.2, 80300008).
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Most tokens in one request (§2.2, 80300010).
pub const MAX_TOKENS: usize = 1000;

/// Longest TTL Push Kit keeps a message for an offline device: 15 days (§2.3).
pub const MAX_TTL_SECS: u64 = 15 * 24 * 3600;

/// Largest `set_num` of a badge (§5).
const MAX_BADGE: u32 = 99;

/// What the provider's configuration contributes to every message.
#[derive(Debug, Clone)]
pub(crate) struct MessageOptions {
    pub category: Option<String>,
    pub importance: Importance,
    pub badge_class: Option<String>,
    pub foreground_show: bool,
    pub intent: IntentTarget,
}

#[derive(Serialize)]
struct Body<'a> {
    validate_only: bool,
    message: Message<'a>,
}

#[derive(Serialize)]
struct Message<'a> {
    data: &'a str,
    android: Android<'a>,
    /// Always empty here and always last: the tokens are spliced in after measuring.
    token: [&'a str; 0],
}

#[derive(Serialize)]
struct Android<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<String>,
    notification: AndroidNotification<'a>,
}

#[derive(Serialize)]
struct AndroidNotification<'a> {
    title: &'a str,
    body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sound: Option<String>,
    default_sound: bool,
    importance: &'static str,
    tag: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    badge: Option<Badge<'a>>,
    click_action: ClickAction<'a>,
    foreground_show: bool,
}

#[derive(Serialize)]
struct Badge<'a> {
    set_num: u32,
    class: &'a str,
}

#[derive(Serialize)]
struct ClickAction<'a> {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    intent: Option<&'a str>,
}

/// A message measured and fitted, waiting for its tokens.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// The body up to and including `"token":[`.
    head: Vec<u8>,
    /// Whether the body text was shortened to fit.
    pub shortened: bool,
}

const TAIL: &[u8] = b"]}}";

impl Prepared {
    /// The size of the message without tokens, as Huawei counts it (`"token":[]`).
    pub fn size_without_tokens(&self) -> usize {
        self.head.len() + TAIL.len()
    }

    /// The complete body for `tokens`.
    pub fn with_tokens<'t>(
        &self,
        tokens: impl ExactSizeIterator<Item = &'t str> + Clone,
    ) -> Vec<u8> {
        let extra: usize = tokens.clone().map(|t| t.len() + 3).sum();
        let mut body = Vec::with_capacity(self.head.len() + extra + TAIL.len());
        body.extend_from_slice(&self.head);
        for (i, token) in tokens.enumerate() {
            if i > 0 {
                body.push(b',');
            }
            push_json_string(&mut body, token);
        }
        body.extend_from_slice(TAIL);
        body
    }
}

/// Whether `text` needs JSON escapes. Written without early exit so it vectorises: the check runs
/// over every byte of a 1000-token body (~130 KB), where a byte-at-a-time loop was most of the
/// provider's CPU.
fn needs_escape(text: &str) -> bool {
    text.bytes().fold(false, |bad, b| {
        bad | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

/// Appends `text` as a JSON string; tokens are base64-like, so the copy is the usual path.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    if !needs_escape(text) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, text).is_err() {
        // Writing a string into a Vec cannot fail; keep the JSON well formed regardless.
        out.extend_from_slice(b"\"\"");
    }
}

/// Builds and fits the message for `notification`.
pub(crate) fn prepare(
    notification: &Notification,
    options: &MessageOptions,
) -> Result<Prepared, PayloadTooLarge> {
    let data = notification.app_data.to_json();
    let tag = format!(
        "{}:{}",
        notification.app_data.conversation_type.as_str(),
        notification.app_data.conversation_id
    );
    let intent = match notification.notify_mode {
        NotifyMode::Normal => None,
        NotifyMode::Custom => Some(options.intent.uri(notification.app_data.pairs())),
    };
    // Push Kit takes the resource name only: a sound given by numeric id (reported by the
    // renderer as `RenderWarning::AndroidSoundWithoutName`) plays the default sound.
    let sound = notification
        .android_sound
        .as_ref()
        .and_then(|s| s.name())
        .map(|name| format!("/raw/{name}"));
    let ttl = notification.ttl.map(|ttl| {
        // Whole seconds, rounded up so a sub-second TTL is not sent as "0s".
        let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        format!("{}s", secs.min(MAX_TTL_SECS))
    });
    let badge = notification
        .badge
        .zip(options.badge_class.as_deref())
        .map(|(n, class)| Badge {
            set_num: n.min(MAX_BADGE),
            class,
        });
    let build = |body: &str| {
        let message = Body {
            validate_only: false,
            message: Message {
                data: &data,
                android: Android {
                    category: options.category.as_deref(),
                    ttl: ttl.clone(),
                    notification: AndroidNotification {
                        title: notification.android_title(),
                        body,
                        default_sound: sound.is_none(),
                        sound: sound.clone(),
                        importance: options.importance.as_str(),
                        tag: &tag,
                        badge: badge.as_ref().map(|b| Badge {
                            set_num: b.set_num,
                            class: b.class,
                        }),
                        click_action: match &intent {
                            None => ClickAction {
                                kind: 3,
                                intent: None,
                            },
                            Some(uri) => ClickAction {
                                kind: 1,
                                intent: Some(uri),
                            },
                        },
                        foreground_show: options.foreground_show,
                    },
                },
                token: [],
            },
        };
        // Serialising borrowed strings and integers into a Vec cannot fail.
        serde_json::to_vec(&message).unwrap_or_default()
    };
    let fitted = fit_payload(&notification.body, MAX_MESSAGE_BYTES, build)?;
    let mut head = fitted.payload;
    // The serialised body ends with `"token":[]}}`: keep everything up to the `[`.
    if head.ends_with(TAIL) {
        head.truncate(head.len() - TAIL.len());
    }
    Ok(Prepared {
        head,
        shortened: fitted.shortened,
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
