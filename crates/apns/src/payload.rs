//! The APNs JSON payload of a notification (DESIGN.md §5, protocols/apns.md §3). Pure.
//!
//! ```json
//! {"aps":{"alert":{"title":"Climbers","body":"Ann: hi"},"badge":3,"sound":"default","thread-id":"g1"},
//!  "conversation_id":"g1","conversation_type":"group","sender_id":"u1","sender_nickname":"Ann","group_name":"Climbers"}
//! ```
//!
//! - `aps.alert` is always an object with `title` (the sender's iOS title when set, else the
//!   default title: iOS never uses the Android title; left out when empty), `subtitle` (only
//!   when the sender set one) and `body`.
//! - `aps.badge` only when the notification has one.
//! - `aps.sound`: `"default"` (also for an empty file name, which counts as unset), the file
//!   name, or no key at all for no-sound-no-vibration (APNs has no "silent" value; an absent key
//!   is the only way).
//! - `aps.thread-id` = the conversation id, so iOS groups a chat's notifications.
//! - The app data ([`AppData::pairs`](pushway_core::AppData::pairs)) as top-level custom keys,
//!   siblings of `aps`, the same names every channel uses.
//!
//! The whole body must be at most [`MAX_PAYLOAD`] bytes; [`build_payload`] shortens the body
//! text through [`pushway_core::fit_payload`] and fails only when even an empty body cannot fit
//! (a huge ext).

use pushway_core::{IosSound, Notification, PayloadTooLarge, fit_payload};

/// The largest APNs body for an alert, in bytes, inclusive (4097 bytes get `413`).
pub const MAX_PAYLOAD: usize = 4096;

/// A payload that fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The JSON bytes, as sent.
    pub json: Vec<u8>,
    /// Whether the body text was shortened to fit.
    pub shortened: bool,
}

/// Builds the payload of `notification`, shortening its body to fit [`MAX_PAYLOAD`].
pub fn build_payload(notification: &Notification) -> Result<Payload, PayloadTooLarge> {
    let fitted = fit_payload(&notification.body, MAX_PAYLOAD, |body| {
        encode(notification, body)
    })?;
    Ok(Payload {
        json: fitted.payload,
        shortened: fitted.shortened,
    })
}

/// The payload with `body` as the alert body, not size-checked. Written by hand (this runs once
/// per send): the bytes are exactly serde_json's compact output, strings escaped by serde_json
/// whenever they hold a byte it would escape.
fn encode(n: &Notification, body: &str) -> Vec<u8> {
    let title = n.ios_title();
    let mut out = Vec::with_capacity(200 + title.len() + body.len());
    out.extend_from_slice(br#"{"aps":{"alert":{"#);
    if !title.is_empty() {
        out.extend_from_slice(br#""title":"#);
        string(&mut out, title);
        out.push(b',');
    }
    if let Some(subtitle) = n.ios_subtitle().filter(|s| !s.is_empty()) {
        out.extend_from_slice(br#""subtitle":"#);
        string(&mut out, subtitle);
        out.push(b',');
    }
    out.extend_from_slice(br#""body":"#);
    string(&mut out, body);
    out.push(b'}');
    if let Some(badge) = n.badge {
        out.extend_from_slice(br#","badge":"#);
        decimal(&mut out, badge);
    }
    match &n.ios_sound {
        // An empty file name is unset (DESIGN.md §4.7): the default sound, not `"sound":""`.
        IosSound::Default => out.extend_from_slice(br#","sound":"default""#),
        IosSound::File(name) if name.is_empty() => {
            out.extend_from_slice(br#","sound":"default""#);
        }
        IosSound::File(name) => {
            out.extend_from_slice(br#","sound":"#);
            string(&mut out, name);
        }
        // No key at all: the only way to ask APNs for silence.
        IosSound::NoSoundNoVibration => {}
    }
    out.extend_from_slice(br#","thread-id":"#);
    string(&mut out, &n.app_data.conversation_id);
    out.push(b'}');
    for (key, value) in n.app_data.pairs() {
        out.push(b',');
        string(&mut out, key);
        out.push(b':');
        string(&mut out, &value);
    }
    out.push(b'}');
    out
}

/// A JSON string: copied as is when no byte needs escaping (the usual case), else escaped by
/// serde_json (control characters, `"` and `\`; non-ASCII stays raw UTF-8).
fn string(out: &mut Vec<u8>, s: &str) {
    // Without early exit and in fixed-size blocks, so the check compiles to SIMD (the body is
    // most of the bytes).
    let escape = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    let mut blocks = s.as_bytes().chunks_exact(16);
    let mut special = false;
    for block in &mut blocks {
        special |= block.iter().fold(false, |any, &b| any | escape(b));
    }
    special |= blocks
        .remainder()
        .iter()
        .fold(false, |any, &b| any | escape(b));
    let plain = !special;
    if plain {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// `n` in decimal, as serde_json writes it (without `to_string`'s allocation).
pub(crate) fn decimal(out: &mut Vec<u8>, n: impl Into<u64>) {
    out.extend_from_slice(Decimal::new(n.into()).as_bytes());
}

/// The decimal digits of a number, on the stack.
pub(crate) struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    pub fn new(mut n: u64) -> Decimal {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                return Decimal { digits, start };
            }
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use pushway_core::{AppData, ConversationType, IosSound, Notification, NotifyMode};

    pub(crate) fn notification() -> Notification {
        Notification {
            message_id: "m-1".into(),
            ttl: None,
            title: "u-17".into(),
            android_title: Some("Android only".into()),
            ios_alert: None,
            body: "Are we still on for 3pm?".into(),
            android_sound: None,
            ios_sound: IosSound::Default,
            warnings: Vec::new(),
            badge: Some(5),
            notify_mode: NotifyMode::Normal,
            app_data: AppData {
                conversation_id: "u-17".into(),
                conversation_type: ConversationType::C2c,
                sender_id: "u-17".into(),
                sender_nickname: None,
                group_name: None,
                ext: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::notification;
    use super::*;
    use pushway_core::{AppData, ConversationType, Ext};

    fn text(n: &Notification) -> String {
        String::from_utf8(build_payload(n).unwrap().json).unwrap()
    }

    #[test]
    fn badge_digits_are_to_strings() {
        for n in [0u64, 1, 9, 10, 99, 100, 12_345, 4_294_967_295, u64::MAX] {
            let mut out = Vec::new();
            decimal(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    #[test]
    fn c2c_alert_with_badge_and_default_sound() {
        assert_eq!(
            text(&notification()),
            r#"{"aps":{"alert":{"title":"u-17","body":"Are we still on for 3pm?"},"badge":5,"sound":"default","thread-id":"u-17"},"conversation_id":"u-17","conversation_type":"c2c","sender_id":"u-17"}"#
        );
    }

    #[test]
    fn group_alert_with_file_sound_no_badge_and_ext() {
        let mut n = notification();
        n.title = "Climbers".into();
        n.body = "Ann: \"hi\"\n".into();
        n.badge = None;
        n.ios_sound = IosSound::File("message.caf".into());
        n.app_data = AppData {
            conversation_id: "g1".into(),
            conversation_type: ConversationType::Group,
            sender_id: "u1".into(),
            sender_nickname: Some("Ann".into()),
            group_name: Some("Climbers".into()),
            ext: Some(Ext::from(r#"{"k":1}"#)),
        };
        assert_eq!(
            text(&n),
            r#"{"aps":{"alert":{"title":"Climbers","body":"Ann: \"hi\"\n"},"sound":"message.caf","thread-id":"g1"},"conversation_id":"g1","conversation_type":"group","sender_id":"u1","sender_nickname":"Ann","group_name":"Climbers","ext":"{\"k\":1}"}"#
        );
    }

    #[test]
    fn ios_title_and_subtitle_override_the_default_title() {
        let mut n = notification();
        n.ios_alert = Some(pushway_core::IosAlert {
            title: Some("Lunch".into()),
            subtitle: Some("from Ann".into()),
        });
        assert_eq!(
            text(&n),
            r#"{"aps":{"alert":{"title":"Lunch","subtitle":"from Ann","body":"Are we still on for 3pm?"},"badge":5,"sound":"default","thread-id":"u-17"},"conversation_id":"u-17","conversation_type":"c2c","sender_id":"u-17"}"#
        );
        // A subtitle alone keeps the default title.
        n.ios_alert = Some(pushway_core::IosAlert {
            title: None,
            subtitle: Some("from Ann".into()),
        });
        assert!(
            text(&n)
                .starts_with(r#"{"aps":{"alert":{"title":"u-17","subtitle":"from Ann","body":"#)
        );
    }

    #[test]
    fn an_empty_sound_file_is_the_default_sound() {
        let mut n = notification();
        n.ios_sound = IosSound::File(String::new());
        let v: serde_json::Value = serde_json::from_str(&text(&n)).unwrap();
        assert_eq!(v["aps"]["sound"], "default");
    }

    #[test]
    fn no_sound_leaves_the_key_out_and_binary_ext_is_base64() {
        let mut n = notification();
        n.ios_sound = IosSound::NoSoundNoVibration;
        n.app_data.ext = Some(Ext::new(vec![0xff, 0x00]));
        let v: serde_json::Value = serde_json::from_str(&text(&n)).unwrap();
        assert!(v["aps"].get("sound").is_none());
        assert_eq!(v["ext_base64"], "/wA=");
        assert!(v.get("ext").is_none());
    }

    #[test]
    fn long_bodies_are_shortened_to_exactly_fit() {
        let mut n = notification();
        n.body = "消息".repeat(2000);
        let p = build_payload(&n).unwrap();
        assert!(p.shortened);
        assert!(p.json.len() <= MAX_PAYLOAD, "{}", p.json.len());
        assert!(p.json.len() > MAX_PAYLOAD - 8, "{}", p.json.len());
        let v: serde_json::Value = serde_json::from_slice(&p.json).unwrap();
        assert!(v["aps"]["alert"]["body"].as_str().unwrap().ends_with('…'));
        assert!(!build_payload(&notification()).unwrap().shortened);
    }

    #[test]
    fn hand_written_json_equals_serde_json() {
        let mut n = notification();
        n.title = "t\u{1}\"\\/é".into();
        n.body = "tab\there 🇨🇳 \u{7f}".into();
        n.ios_sound = IosSound::File("a\"b.caf".into());
        n.app_data.ext = Some(Ext::from("{\"k\":\"v\"}\n"));
        let ours: serde_json::Value = serde_json::from_str(&text(&n)).unwrap();
        // Re-serialised compactly by serde_json, key order kept (preserve_order is off, so
        // compare as values and compare bytes against serde_json's own writing of each string).
        assert_eq!(ours["aps"]["alert"]["title"], n.title);
        assert_eq!(ours["aps"]["alert"]["body"], n.body);
        assert_eq!(ours["aps"]["sound"], "a\"b.caf");
        assert_eq!(ours["ext"], "{\"k\":\"v\"}\n");
        let mut escaped = Vec::new();
        string(&mut escaped, &n.title);
        assert_eq!(escaped, serde_json::to_vec(&n.title).unwrap());
        let mut plain = Vec::new();
        string(&mut plain, "plain é 表情");
        assert_eq!(plain, serde_json::to_vec("plain é 表情").unwrap());
    }

    #[test]
    fn a_body_full_of_escapes_keeps_the_longest_prefix_that_fits() {
        // 26 KB of pasted code: each `"`, `\` and newline is two bytes of JSON. The cut used to
        // subtract the escaped excess from the raw length and sent "…" alone.
        let mut n = notification();
        n.body = "\tlet p = \"C:\\\\tmp\\\\a.json\";\n".repeat(26 * 1024 / 27);
        let p = build_payload(&n).unwrap();
        assert!(p.shortened);
        let v: serde_json::Value = serde_json::from_slice(&p.json).unwrap();
        let kept = v["aps"]["alert"]["body"].as_str().unwrap();
        let kept = kept.strip_suffix('…').unwrap();
        assert_eq!(kept.len(), 3059);
        assert!(n.body.starts_with(kept));
        // One more character (every grapheme here is one byte) would not fit.
        let longer = format!("{}…", &n.body[..kept.len() + 1]);
        assert!(encode(&n, &longer).len() > MAX_PAYLOAD);
    }

    #[test]
    fn a_huge_ext_cannot_fit() {
        let mut n = notification();
        n.app_data.ext = Some(Ext::from("x".repeat(5000).as_str()));
        let err = build_payload(&n).unwrap_err();
        assert_eq!(err.limit, MAX_PAYLOAD);
        assert!(err.size > MAX_PAYLOAD);
    }
}
