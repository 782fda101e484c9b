//! The `reason` strings APNs answers with, their HTTP statuses and their exact error bodies.

use bytes::Bytes;

macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident = $status:literal,)*) => {
        /// A `reason` APNs puts in an error body (protocols/apns.md §4, Apple's *Handling
        /// notification responses from APNs*).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ApnsReason {
            $($(#[$doc])* $name,)*
        }

        impl ApnsReason {
            /// Every reason the simulator can emit, in the order of §4's table.
            pub const ALL: &'static [ApnsReason] = &[$(ApnsReason::$name,)*];

            /// The reason as it appears on the wire, e.g. `"BadDeviceToken"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ApnsReason::$name => stringify!($name),)*
                }
            }

            /// The HTTP status APNs pairs with this reason.
            pub const fn status(self) -> u16 {
                match self {
                    $(ApnsReason::$name => $status,)*
                }
            }

            /// The compact JSON body `{"reason":"…"}` (without `timestamp`), as a static buffer.
            fn static_body(self) -> &'static str {
                match self {
                    $(ApnsReason::$name => concat!("{\"reason\":\"", stringify!($name), "\"}"),)*
                }
            }
        }
    };
}

reasons! {
    /// `apns-collapse-id` longer than 64 bytes.
    BadCollapseId = 400,
    /// Malformed device token, or a token of the other environment.
    BadDeviceToken = 400,
    /// Bad `apns-expiration`.
    BadExpirationDate = 400,
    /// Bad `apns-id`.
    BadMessageId = 400,
    /// Bad `apns-priority`.
    BadPriority = 400,
    /// Bad `apns-topic`.
    BadTopic = 400,
    /// The device token belongs to another topic.
    DeviceTokenNotForTopic = 400,
    /// A header was repeated.
    DuplicateHeaders = 400,
    /// Idle time-out.
    IdleTimeout = 400,
    /// Bad `apns-push-type`.
    InvalidPushType = 400,
    /// No device token in `:path`.
    MissingDeviceToken = 400,
    /// `apns-topic` needed but absent.
    MissingTopic = 400,
    /// Empty body.
    PayloadEmpty = 400,
    /// Pushing to this topic is not allowed.
    TopicDisallowed = 400,
    /// Client certificate invalid.
    BadCertificate = 403,
    /// Client certificate of the other environment.
    BadCertificateEnvironment = 403,
    /// Provider token `iat` older than one hour.
    ExpiredProviderToken = 403,
    /// Action not allowed.
    Forbidden = 403,
    /// Provider token invalid or its signature not verifiable.
    InvalidProviderToken = 403,
    /// No provider token.
    MissingProviderToken = 403,
    /// A key unrelated to the connection's first key.
    UnrelatedKeyIdInToken = 403,
    /// Key not valid for this environment (Apple's documented spelling).
    BadEnvironmentKeyIdInToken = 403,
    /// Key not valid for this environment (the spelling observed on the wire; the default).
    BadEnvironmentKeyInToken = 403,
    /// `:path` not under `/3/device/`.
    BadPath = 404,
    /// Method other than `POST`.
    MethodNotAllowed = 405,
    /// The device token expired (carries `timestamp`).
    ExpiredToken = 410,
    /// The device token is no longer active for the topic (carries `timestamp`).
    Unregistered = 410,
    /// Body over the limit.
    PayloadTooLarge = 413,
    /// The provider token was replaced too often on this connection.
    TooManyProviderTokenUpdates = 429,
    /// Too many pushes to one device token.
    TooManyRequests = 429,
    /// Internal server error.
    InternalServerError = 500,
    /// Service unavailable.
    ServiceUnavailable = 503,
    /// The server is shutting down.
    Shutdown = 503,
}

impl ApnsReason {
    /// Whether APNs adds a millisecond `timestamp` to this reason's body (the 410 reasons only).
    pub const fn has_timestamp(self) -> bool {
        self.status() == 410
    }

    /// The exact body the simulator sends: compact JSON, keys in Apple's order, `timestamp` (epoch
    /// milliseconds, a JSON integer) only for the 410 reasons.
    pub fn body(self, timestamp_ms: u64) -> Bytes {
        if self.has_timestamp() {
            Bytes::from(format!(
                r#"{{"reason":"{}","timestamp":{timestamp_ms}}}"#,
                self.as_str()
            ))
        } else {
            Bytes::from_static(self.static_body().as_bytes())
        }
    }

    /// Looks a reason up by its wire name.
    pub fn from_name(name: &str) -> Option<ApnsReason> {
        ApnsReason::ALL.iter().copied().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for ApnsReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
