//! The request for one notification to a batch of regids: pure, no I/O.
//!
//! Every value is form-encoded exactly once, by a real form encoder (`form_urlencoded`, the
//! `application/x-www-form-urlencoded` rules Java's `URLEncoder` follows): regids keep their
//! `+`, `/` and `=`, and the `payload` is the app data JSON as is. Like the official Java SDK,
//! the payload is not URL-encoded beforehand; clients that do so make the app decode it twice
//! (protocols/xiaomi.md §4.1, the double-encoding trap).

use std::borrow::Cow;

use pushway_core::{Budget, Notification, NotifyMode, Outcome, Reason, fit_text};

use crate::config::{Config, Template};

/// The send path: one message to a list of regids (the official SDK's `send()`).
pub const PATH: &str = "/v3/message/regid";
/// The request's `Content-Type`, as the official SDK sends it.
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded;charset=UTF-8";
/// Longest `title`: Xiaomi wants fewer than 50 characters. Counted in UTF-16 units, as Java
/// (the server's language) counts, so an emoji counts 2 (protocols/xiaomi.md §4.1).
pub const TITLE_MAX_UTF16: usize = 49;
/// Longest `description`: fewer than 128 characters, counted like [`TITLE_MAX_UTF16`].
pub const DESCRIPTION_MAX_UTF16: usize = 127;
/// Largest `payload` (the app data JSON) in UTF-8 bytes: below 4 KB (protocols/xiaomi.md §4.1).
pub const MAX_PAYLOAD_BYTES: usize = 4095;
/// Longest value of an `extra.*` key (protocols/xiaomi.md §4.1), which bounds `extra.intent_uri`.
pub const MAX_EXTRA_VALUE_CHARS: usize = 1024;
/// Longest `extra.callback.param` in bytes; a longer message id is not sent as the tag.
pub const MAX_CALLBACK_PARAM_BYTES: usize = 64;
/// Longest filled template parameter value, in UTF-16 units (1–128 characters, D-TPL).
pub const TEMPLATE_PARAM_MAX_UTF16: usize = 128;

/// `notify_type`, with or without a custom sound: sound, vibration and light (`DEFAULT_ALL`).
/// Bit 1 (sound) must stay set with `extra.sound_uri`: Xiaomi's client SDK applies `sound_uri`
/// only when `notifyType & 1 != 0` (it then calls `setDefaults(notifyType ^ 1)` and
/// `setSound(uri)`), so clearing the bit gives a silent notification (protocols/xiaomi.md §4.2).
const NOTIFY_TYPE_DEFAULT_ALL: &str = "-1";

/// A ready-to-send request: `POST` [`PATH`] with [`CONTENT_TYPE`] and this body. The transport
/// adds `Authorization: key=<AppSecret>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XiaomiRequest {
    body: String,
}

impl XiaomiRequest {
    /// The path, relative to the base URL.
    pub fn path(&self) -> &'static str {
        PATH
    }

    /// The `Content-Type`.
    pub fn content_type(&self) -> &'static str {
        CONTENT_TYPE
    }

    /// The form body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The form body, owned.
    pub fn into_body(self) -> String {
        self.body
    }
}

/// The `notify_id` of a conversation: notifications with the same id replace each other, so
/// one chat shows one entry. FNV-1a (32 bits) of `"<type>:<id>"`, in `0..=i32::MAX` as Xiaomi
/// requires; stable across processes and versions.
pub fn notify_id(notification: &Notification) -> u32 {
    let data = &notification.app_data;
    let mut hash: u32 = 0x811c_9dc5;
    let parts = [
        data.conversation_type.as_str().as_bytes(),
        b":",
        data.conversation_id.as_bytes(),
    ];
    for byte in parts.into_iter().flatten() {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash & 0x7fff_ffff
}

/// Why a request was not built.
#[derive(Debug)]
pub(crate) enum NotBuilt {
    /// A regid is empty or contains the list separator `,` (found while encoding, so the hot
    /// path scans each regid once).
    MalformedRegid,
    /// Every regid gets this outcome (payload too large, no activity for a Custom notification).
    Outcome(Outcome),
}

impl From<Outcome> for NotBuilt {
    fn from(outcome: Outcome) -> Self {
        NotBuilt::Outcome(outcome)
    }
}

/// Reason code of a regid that is empty or contains `,`.
pub const MALFORMED_REGID: &str = "malformed_regid";

/// Builds the form for `notification` to `regids`.
pub(crate) fn build(
    config: &Config,
    notification: &Notification,
    regids: &[&str],
) -> Result<XiaomiRequest, NotBuilt> {
    let payload = notification.app_data.to_json();
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(NotBuilt::Outcome(Outcome::rejected(
            Reason::new(Reason::PAYLOAD_TOO_LARGE).with_detail(format!(
                "app data of {} bytes exceeds Xiaomi's payload limit of {MAX_PAYLOAD_BYTES}",
                payload.len()
            )),
        )));
    }
    let intent_uri = match notification.notify_mode {
        NotifyMode::Normal => None,
        NotifyMode::Custom => Some(custom_intent(config, notification)?),
    };
    let title = fit_text(notification.android_title(), Budget::Utf16(TITLE_MAX_UTF16));
    let description = fit_text(&notification.body, Budget::Utf16(DESCRIPTION_MAX_UTF16));

    let regid_bytes: usize = regids.iter().map(|r| r.len() + 3).sum();
    let capacity = regid_bytes * 9 / 8 + payload.len() * 2 + 512;
    let mut body = String::with_capacity(capacity);
    let mut form = form_urlencoded::Serializer::for_suffix(&mut body, 0);
    form.append_pair("restricted_package_name", &config.package);
    form.finish();
    body.push_str("&registration_id=");
    let mut malformed = false;
    for (i, regid) in regids.iter().enumerate() {
        if i > 0 {
            body.push_str("%2C");
        }
        malformed |= regid.is_empty() | form_encode_into(regid, &mut body);
    }
    if malformed {
        return Err(NotBuilt::MalformedRegid);
    }
    let mut form = form_urlencoded::Serializer::for_suffix(&mut body, 0);
    form.append_pair("pass_through", "0");
    form.append_pair("notify_type", NOTIFY_TYPE_DEFAULT_ALL);
    form.append_pair("notify_id", &notify_id(notification).to_string());
    form.append_pair("title", &title);
    form.append_pair("description", &description);
    form.append_pair("payload", &payload);
    if let Some(ttl) = notification.ttl {
        form.append_pair("time_to_live", &ttl.as_millis().to_string());
    }
    form.append_pair("extra.channel_id", &config.channel_id);
    match &intent_uri {
        None => {
            form.append_pair("extra.notify_effect", "1");
        }
        Some(uri) => {
            form.append_pair("extra.notify_effect", "2");
            form.append_pair("extra.intent_uri", uri);
        }
    }
    if let Some(sound) = &notification.android_sound {
        form.append_pair("extra.sound_uri", sound.uri());
    }
    if let Some(template) = &config.template {
        form.append_pair("extra.template_id", &template.id);
        form.append_pair(
            "extra.template_param",
            &template_param(template, notification),
        );
    }
    if let Some(url) = &config.receipt_url {
        form.append_pair("extra.callback", url);
        if notification.message_id.len() <= MAX_CALLBACK_PARAM_BYTES {
            form.append_pair("extra.callback.param", &notification.message_id);
        }
        form.append_pair("extra.callback.type", &config.receipt_types.to_string());
    }
    form.finish();
    Ok(XiaomiRequest { body })
}

/// Form-encodes `value` onto `out` exactly as `form_urlencoded::byte_serialize` does (ASCII
/// letters, digits and `*-._` kept, space as `+`, every other byte `%XX`), table-driven: the
/// regid list is nearly all of the body and the iterator-based serializer costs several
/// nanoseconds a byte there. Tested byte-identical to `form_urlencoded` in this module.
/// Returns whether `value` contains a `,`.
fn form_encode_into(value: &str, out: &mut String) -> bool {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    const KEEP: [bool; 256] = {
        let mut keep = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            keep[b] = c.is_ascii_alphanumeric() || matches!(c, b'*' | b'-' | b'.' | b'_');
            b += 1;
        }
        keep
    };
    let bytes = value.as_bytes();
    let mut start = 0;
    let mut comma = false;
    for (i, &byte) in bytes.iter().enumerate() {
        if KEEP[usize::from(byte)] {
            continue;
        }
        // A non-empty run holds only kept ASCII bytes, so it starts and ends on char
        // boundaries (after a multi-byte lead byte comes a continuation byte, never kept).
        if let Some(run) = value.get(start..i) {
            out.push_str(run);
        }
        comma |= byte == b',';
        if byte == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        start = i + 1;
    }
    if let Some(run) = value.get(start..) {
        out.push_str(run);
    }
    comma
}

/// `intent:#Intent;component=<pkg>/<activity>;S.<key>=<value>;…;end`, the form of Android's
/// `Intent.toUri(URI_INTENT_SCHEME)`: each app-data pair becomes a string extra. When the URI
/// would pass Xiaomi's extra-value limit, the `ext` extra is left out (the app still gets it in
/// `payload`, which the opened activity reads from the `MiPushMessage`).
fn custom_intent(config: &Config, notification: &Notification) -> Result<String, Outcome> {
    // Refused for this notification, not `Misconfigured`: the credential itself works, and a
    // gateway pauses a misconfigured route, which would hold every Normal-mode push behind one
    // Custom-mode message.
    let Some(component) = &config.custom_component else {
        return Err(Outcome::Rejected {
            reason: Reason::new("custom_activity_missing")
                .with_detail("NotifyMode::Custom needs XiaomiProviderBuilder::custom_activity"),
        });
    };
    let build = |with_ext: bool| {
        let mut uri = String::with_capacity(256);
        uri.push_str("intent:#Intent;component=");
        uri.push_str(component);
        for (key, value) in notification.app_data.pairs() {
            if !with_ext && key.starts_with("ext") {
                continue;
            }
            uri.push_str(";S.");
            android_uri_encode(key, &mut uri);
            uri.push('=');
            android_uri_encode(&value, &mut uri);
        }
        uri.push_str(";end");
        uri
    };
    let full = build(true);
    if full.len() <= MAX_EXTRA_VALUE_CHARS {
        return Ok(full);
    }
    let short = build(false);
    if short.len() <= MAX_EXTRA_VALUE_CHARS {
        return Ok(short);
    }
    Err(Outcome::rejected(
        Reason::new(Reason::PAYLOAD_TOO_LARGE).with_detail(format!(
            "extra.intent_uri of {} characters exceeds {MAX_EXTRA_VALUE_CHARS}",
            short.len()
        )),
    ))
}

/// Android's `Uri.encode`: every byte of the UTF-8 text is `%XX`-escaped except ASCII letters,
/// digits and `_-!.~'()*`, so `Intent.parseUri` gives the value back exactly.
fn android_uri_encode(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"_-!.~'()*".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

/// `extra.template_param`: a JSON object of the template's parameters, placeholders filled.
fn template_param(template: &Template, notification: &Notification) -> String {
    let data = &notification.app_data;
    let mut params = serde_json::Map::new();
    for (name, value) in &template.params {
        let filled = value
            .replace("{title}", notification.android_title())
            .replace("{body}", &notification.body)
            .replace("{sender_id}", &data.sender_id)
            .replace("{conversation_id}", &data.conversation_id);
        let fitted: Cow<'_, str> = fit_text(&filled, Budget::Utf16(TEMPLATE_PARAM_MAX_UTF16));
        params.insert(name.clone(), serde_json::Value::String(fitted.into_owned()));
    }
    serde_json::Value::Object(params).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushway_core::testing::sample_notification;

    #[test]
    fn form_encode_into_is_byte_identical_to_form_urlencoded() {
        let mut samples: Vec<String> = (0u8..=127).map(|b| char::from(b).to_string()).collect();
        samples.extend(
            [
                "ab+cd/ef==",
                "a b&c=d%e,f",
                "é漢😀\u{7f}~!'()",
                "",
                "*-._AZaz09",
            ]
            .map(String::from),
        );
        let all_ascii: String = (0u8..=127).map(char::from).collect();
        samples.push(all_ascii);
        for sample in samples {
            let mut ours = String::new();
            let comma = form_encode_into(&sample, &mut ours);
            assert_eq!(comma, sample.contains(','));
            let theirs: String = form_urlencoded::byte_serialize(sample.as_bytes()).collect();
            assert_eq!(ours, theirs, "{sample:?}");
        }
    }

    #[test]
    fn android_uri_encode_matches_android_rules() {
        let mut out = String::new();
        android_uri_encode("a b;c=d/é_-!.~'()*", &mut out);
        assert_eq!(out, "a%20b%3Bc%3Dd%2F%C3%A9_-!.~'()*");
    }

    #[test]
    fn notify_id_is_stable_and_in_range() {
        let n = sample_notification();
        // FNV-1a of "c2c:alice", masked to 31 bits: pinned, so a change of ids is noticed
        // (ids must stay stable across versions for notifications to keep replacing each other).
        assert_eq!(notify_id(&n), 1_321_588_995);
        let mut group = n.clone();
        group.app_data.conversation_type = pushway_core::ConversationType::Group;
        assert_ne!(notify_id(&group), notify_id(&n));
        assert!(notify_id(&group) <= i32::MAX as u32);
    }
}
