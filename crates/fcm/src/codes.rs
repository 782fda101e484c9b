//! FCM's `ErrorCode` (protocols/fcm.md §5): the `errorCode` of the
//! `type.googleapis.com/google.firebase.fcm.v1.FcmError` detail. Which
//! [`Outcome`](pushway_core::Outcome) each one gives is decided in one place,
//! [`classify`](crate::classify()).

use std::fmt;

/// An FCM `errorCode`. Codes this crate does not know are kept verbatim in
/// [`ErrorCode::Unknown`], so new codes reach logs and metrics unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `UNSPECIFIED_ERROR`: no more information.
    UnspecifiedError,
    /// `INVALID_ARGUMENT`: a bad request parameter, or a token that is not an FCM token, or a
    /// message over 4096 bytes (the message text tells which).
    InvalidArgument,
    /// `UNREGISTERED`: the app instance is gone (uninstalled, token expired after 270 days).
    Unregistered,
    /// `SENDER_ID_MISMATCH`: the token belongs to another Firebase project.
    SenderIdMismatch,
    /// `QUOTA_EXCEEDED`: the project's, the device's or the topic's rate was exceeded.
    QuotaExceeded,
    /// `UNAVAILABLE`: FCM is overloaded.
    Unavailable,
    /// `INTERNAL`: an unknown internal error.
    Internal,
    /// `THIRD_PARTY_AUTH_ERROR` (formerly `APNS_AUTH_ERROR`, parsed as this too): the project's
    /// APNs certificate or key, or its web-push key, is invalid or missing.
    ThirdPartyAuthError,
    /// A code this crate does not know, verbatim.
    Unknown(String),
}

const TABLE: &[(&str, ErrorCode)] = &[
    ("UNSPECIFIED_ERROR", ErrorCode::UnspecifiedError),
    ("INVALID_ARGUMENT", ErrorCode::InvalidArgument),
    ("UNREGISTERED", ErrorCode::Unregistered),
    ("SENDER_ID_MISMATCH", ErrorCode::SenderIdMismatch),
    ("QUOTA_EXCEEDED", ErrorCode::QuotaExceeded),
    ("UNAVAILABLE", ErrorCode::Unavailable),
    ("INTERNAL", ErrorCode::Internal),
    ("THIRD_PARTY_AUTH_ERROR", ErrorCode::ThirdPartyAuthError),
];

impl ErrorCode {
    /// The code for its text (`"UNREGISTERED"` → [`ErrorCode::Unregistered`]); anything else is
    /// [`ErrorCode::Unknown`].
    pub fn parse(code: &str) -> ErrorCode {
        let code = code.trim();
        if code == "APNS_AUTH_ERROR" {
            // The old name of THIRD_PARTY_AUTH_ERROR (firebase-admin-node maps both alike).
            return ErrorCode::ThirdPartyAuthError;
        }
        TABLE
            .iter()
            .find(|(text, _)| *text == code)
            .map_or_else(|| ErrorCode::Unknown(code.to_owned()), |(_, c)| c.clone())
    }

    /// The code as FCM writes it, e.g. `"UNREGISTERED"`.
    pub fn as_str(&self) -> &str {
        if let ErrorCode::Unknown(code) = self {
            return code;
        }
        TABLE
            .iter()
            .find(|(_, c)| c == self)
            .map_or("", |(text, _)| text)
    }
}

impl fmt::Display for ErrorCode {
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
            assert_eq!(ErrorCode::parse(text), *code);
            assert_eq!(code.as_str(), *text);
        }
    }

    #[test]
    fn unknown_codes_are_kept_verbatim_and_the_old_apns_name_is_mapped() {
        let code = ErrorCode::parse("SOMETHING_NEW");
        assert_eq!(code, ErrorCode::Unknown("SOMETHING_NEW".to_owned()));
        assert_eq!(code.to_string(), "SOMETHING_NEW");
        assert_eq!(
            ErrorCode::parse("APNS_AUTH_ERROR"),
            ErrorCode::ThirdPartyAuthError
        );
    }
}
