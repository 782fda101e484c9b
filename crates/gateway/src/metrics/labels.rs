//! Label values, bounded: channels from the token kind, reasons from a vendor's code only when
//! it looks like a code and is among the first distinct ones seen.

use std::collections::HashSet;
use std::sync::Mutex;

use pushway_core::TokenKind;

/// The most distinct `reason` label values one gateway keeps; later new ones are `other`.
/// Vendors' codes are small enumerations; this bounds a vendor that starts answering with
/// free text.
pub const MAX_REASONS: usize = 128;
/// The longest reason code kept as a label value.
const MAX_REASON_LEN: usize = 48;

/// The `channel` label of a token kind: `apns` (both environments), `xiaomi`, `huawei`, `fcm`,
/// `daemon`.
pub fn channel_label(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::ApnsProduction | TokenKind::ApnsSandbox => "apns",
        TokenKind::Xiaomi => "xiaomi",
        TokenKind::Huawei => "huawei",
        TokenKind::Fcm => "fcm",
        TokenKind::Daemon => "daemon",
        _ => "other",
    }
}

/// The reason codes admitted as label values so far.
#[derive(Debug, Default)]
pub(super) struct Reasons(Mutex<HashSet<String>>);

impl Reasons {
    pub(super) fn label(&self, code: Option<&str>) -> String {
        let Some(code) = code else {
            return "none".to_owned();
        };
        let looks_like_a_code = !code.is_empty()
            && code.len() <= MAX_REASON_LEN
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
        if !looks_like_a_code {
            return "other".to_owned();
        }
        let mut seen = super::lock(&self.0);
        if seen.contains(code) || seen.len() < MAX_REASONS {
            seen.insert(code.to_owned());
            code.to_owned()
        } else {
            "other".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kept_free_text_and_overflow_are_other() {
        let reasons = Reasons::default();
        assert_eq!(reasons.label(None), "none");
        assert_eq!(reasons.label(Some("20301")), "20301");
        assert_eq!(reasons.label(Some("BadDeviceToken")), "BadDeviceToken");
        assert_eq!(reasons.label(Some("token abc is bad")), "other");
        assert_eq!(reasons.label(Some(&"x".repeat(49))), "other");
        for i in 0..MAX_REASONS {
            reasons.label(Some(&format!("c{i}")));
        }
        assert_eq!(reasons.label(Some("new_code")), "other");
        // Codes admitted before the cap stay.
        assert_eq!(reasons.label(Some("20301")), "20301");
    }

    #[test]
    fn apns_environments_share_one_channel() {
        assert_eq!(channel_label(TokenKind::ApnsSandbox), "apns");
        assert_eq!(channel_label(TokenKind::ApnsProduction), "apns");
        assert_eq!(channel_label(TokenKind::Daemon), "daemon");
    }
}
