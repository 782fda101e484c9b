//! Push Kit result codes (protocols/huawei.md §3.3). Which [`Outcome`](pushway_core::Outcome)
//! each one gives is decided in one place, [`classify`](crate::classify).

use std::fmt;

/// A result code of the v1/v2 send API (the `code` of the answer body).
///
/// Codes this crate does not know are kept verbatim in [`ResultCode::Unknown`], so new codes reach
/// logs and metrics unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResultCode {
    /// 80000000: every token accepted.
    Success,
    /// 80100000: some tokens accepted, some illegal; `msg` lists the illegal ones.
    PartialSuccess,
    /// 80100001: parameter error.
    ParameterError,
    /// 80100002: only one token allowed for this message type.
    OneTokenOnly,
    /// 80100003: message structure error.
    StructureError,
    /// 80100004: the TTL or expiry time is in the past.
    TtlInPast,
    /// 80100013: `collapse_key` illegal.
    CollapseKeyIllegal,
    /// 80100016: the message has sensitive content.
    SensitiveContent,
    /// 80100017: more than 100 concurrent topic-send tasks.
    TooManyTopicTasks,
    /// 80100018: the message body failed signature verification.
    SignatureFailed,
    /// 80200001: OAuth/JWT authentication error (missing header, credential of another app).
    AuthError,
    /// 80200003: the OAuth access token expired.
    TokenExpired,
    /// 80200005: the service-account JWT expired.
    JwtExpired,
    /// 80300002: the app may not push (Push Kit disabled, project mismatch).
    NotAllowed,
    /// 80300007: every token is invalid.
    AllTokensInvalid,
    /// 80300008: the message is over 4096 bytes (tokens excluded).
    MessageTooBig,
    /// 80300010: token count outside 1..=1000 (also misspelt `message`/`token` keys).
    TokenCount,
    /// 80300011: no permission for high-level (important) notifications.
    NoHighLevelPermission,
    /// 80600003: the push server failed to reach the OAuth service.
    OAuthUnreachable,
    /// 81000001: internal error.
    InternalError,
    /// A code this crate does not know, verbatim.
    Unknown(String),
}

const TABLE: &[(&str, ResultCode)] = &[
    ("80000000", ResultCode::Success),
    ("80100000", ResultCode::PartialSuccess),
    ("80100001", ResultCode::ParameterError),
    ("80100002", ResultCode::OneTokenOnly),
    ("80100003", ResultCode::StructureError),
    ("80100004", ResultCode::TtlInPast),
    ("80100013", ResultCode::CollapseKeyIllegal),
    ("80100016", ResultCode::SensitiveContent),
    ("80100017", ResultCode::TooManyTopicTasks),
    ("80100018", ResultCode::SignatureFailed),
    ("80200001", ResultCode::AuthError),
    ("80200003", ResultCode::TokenExpired),
    ("80200005", ResultCode::JwtExpired),
    ("80300002", ResultCode::NotAllowed),
    ("80300007", ResultCode::AllTokensInvalid),
    ("80300008", ResultCode::MessageTooBig),
    ("80300010", ResultCode::TokenCount),
    ("80300011", ResultCode::NoHighLevelPermission),
    ("80600003", ResultCode::OAuthUnreachable),
    ("81000001", ResultCode::InternalError),
];

impl ResultCode {
    /// The code for its text (`"80000000"` → [`ResultCode::Success`]); anything else is
    /// [`ResultCode::Unknown`].
    pub fn parse(code: &str) -> ResultCode {
        let code = code.trim();
        TABLE
            .iter()
            .find(|(text, _)| *text == code)
            .map_or_else(|| ResultCode::Unknown(code.to_owned()), |(_, c)| c.clone())
    }

    /// The code as Huawei writes it, e.g. `"80300007"`.
    pub fn as_str(&self) -> &str {
        if let ResultCode::Unknown(code) = self {
            return code;
        }
        TABLE
            .iter()
            .find(|(_, c)| c == self)
            .map_or("", |(text, _)| text)
    }

    /// Whether the credential was refused in a way a fresh access token or JWT may fix
    /// (80200001, 80200003, 80200005): the provider refreshes once and resends once.
    pub fn wants_new_credential(&self) -> bool {
        matches!(
            self,
            ResultCode::AuthError | ResultCode::TokenExpired | ResultCode::JwtExpired
        )
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips() {
        for (text, code) in TABLE {
            assert_eq!(ResultCode::parse(text), *code);
            assert_eq!(code.as_str(), *text);
        }
    }

    #[test]
    fn unknown_codes_are_kept_verbatim() {
        let code = ResultCode::parse("80300036");
        assert_eq!(code, ResultCode::Unknown("80300036".to_owned()));
        assert_eq!(code.to_string(), "80300036");
        assert!(!code.wants_new_credential());
        assert!(ResultCode::parse("80200003").wants_new_credential());
    }
}
