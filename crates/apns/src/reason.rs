//! The `reason` strings APNs answers with (protocols/apns.md §4), kept typed, with a fallback
//! that keeps strings Apple adds later instead of dropping them.

use std::fmt;

macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// A `reason` from an APNs error body (or a GOAWAY's debug data).
        ///
        /// New reasons appear over time (`InvalidPushType`, `ExpiredToken`,
        /// `UnrelatedKeyIdInToken` are recent), so unknown strings are kept in
        /// [`ApnsReason::Unknown`], never dropped.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ApnsReason {
            $($(#[$doc])* $name,)*
            /// A reason this crate does not know, as received.
            Unknown(String),
        }

        impl ApnsReason {
            /// Parses a reason string; unknown strings are kept as [`ApnsReason::Unknown`].
            pub fn parse(reason: &str) -> ApnsReason {
                match reason {
                    $(stringify!($name) => ApnsReason::$name,)*
                    other => ApnsReason::Unknown(other.to_owned()),
                }
            }

            /// The reason as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ApnsReason::$name => stringify!($name),)*
                    ApnsReason::Unknown(s) => s,
                }
            }

            /// Every known reason (for tests and docs).
            pub const KNOWN: &'static [ApnsReason] = &[$(ApnsReason::$name,)*];
        }
    };
}

reasons! {
    /// 400: `apns-collapse-id` longer than 64 bytes.
    BadCollapseId,
    /// 400: malformed device token, or a token of the other environment.
    BadDeviceToken,
    /// 400: bad `apns-expiration`.
    BadExpirationDate,
    /// 400: bad `apns-id`.
    BadMessageId,
    /// 400: bad `apns-priority`.
    BadPriority,
    /// 400: bad `apns-topic`.
    BadTopic,
    /// 400: the device token belongs to another topic (app).
    DeviceTokenNotForTopic,
    /// 400: a header was repeated.
    DuplicateHeaders,
    /// 400: idle time-out.
    IdleTimeout,
    /// 400: bad `apns-push-type`.
    InvalidPushType,
    /// 400: no device token in `:path`.
    MissingDeviceToken,
    /// 400: `apns-topic` needed but absent.
    MissingTopic,
    /// 400: empty body.
    PayloadEmpty,
    /// 400: pushing to this topic is not allowed.
    TopicDisallowed,
    /// 403: client certificate invalid.
    BadCertificate,
    /// 403: client certificate of the other environment.
    BadCertificateEnvironment,
    /// 403: the provider token's `iat` is older than one hour.
    ExpiredProviderToken,
    /// 403: action not allowed.
    Forbidden,
    /// 403: provider token invalid or not verifiable.
    InvalidProviderToken,
    /// 403: no provider token.
    MissingProviderToken,
    /// 403: the key is unrelated to the key first used on this connection.
    UnrelatedKeyIdInToken,
    /// 403: the key is not valid for this environment (Apple's spelling).
    BadEnvironmentKeyIdInToken,
    /// 403: the same fault, in the spelling observed on the wire (APNSwift PR #229).
    BadEnvironmentKeyInToken,
    /// 404: bad `:path`.
    BadPath,
    /// 405: not `POST`.
    MethodNotAllowed,
    /// 410: the device token expired.
    ExpiredToken,
    /// 410: the device token is no longer active for the topic.
    Unregistered,
    /// 413: body over the limit.
    PayloadTooLarge,
    /// 429: the provider token was replaced too often on one connection.
    TooManyProviderTokenUpdates,
    /// 429: too many pushes in a row to one device token.
    TooManyRequests,
    /// 500: APNs internal error.
    InternalServerError,
    /// 503: service unavailable.
    ServiceUnavailable,
    /// 503: this APNs server is shutting down.
    Shutdown,
}

impl fmt::Display for ApnsReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ApnsReason;

    #[test]
    fn known_reasons_round_trip() {
        for reason in ApnsReason::KNOWN {
            assert_eq!(&ApnsReason::parse(reason.as_str()), reason);
        }
        assert_eq!(ApnsReason::KNOWN.len(), 33);
    }

    #[test]
    fn unknown_reasons_are_kept() {
        let r = ApnsReason::parse("SomethingNew");
        assert_eq!(r, ApnsReason::Unknown("SomethingNew".into()));
        assert_eq!(r.as_str(), "SomethingNew");
    }
}
