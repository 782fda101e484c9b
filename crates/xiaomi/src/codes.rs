//! Xiaomi's result codes, named, and the family each belongs to.
//!
//! Sources: the official error-code page and the official Java SDK's `ErrorCode` class, as
//! collected in protocols/xiaomi.md §6. One table ([`XiaomiCode::class`]) maps every code to a
//! [`CodeClass`]; [`crate::classify()`] turns classes into outcomes.

use std::fmt;
use std::str::FromStr;

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $name:ident = $value:literal,)*) => {
        /// A Xiaomi result code (the JSON `code` of an answer). Codes this crate has no name for
        /// are kept as [`XiaomiCode::Unknown`] with their number, never lost.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum XiaomiCode {
            $($(#[doc = $doc])* $name,)*
            /// A code without a name here; the number as received.
            Unknown(i64),
        }

        impl XiaomiCode {
            /// The code for a number.
            pub const fn from_i64(code: i64) -> XiaomiCode {
                match code {
                    $($value => XiaomiCode::$name,)*
                    other => XiaomiCode::Unknown(other),
                }
            }

            /// The number.
            pub const fn as_i64(self) -> i64 {
                match self {
                    $(XiaomiCode::$name => $value,)*
                    XiaomiCode::Unknown(code) => code,
                }
            }
        }
    };
}

codes! {
    /// -1: unknown error.
    UnknownError = -1,
    /// 0: success.
    Success = 0,
    /// 1: internal error.
    InternalError = 1,
    /// 100: a parameter is empty.
    ParamEmpty = 100,
    /// 10001: system error.
    SystemError = 10001,
    /// 10002: system busy / service paused.
    SystemBusy = 10002,
    /// 10003: remote service error.
    RemoteServiceError = 10003,
    /// 10004: the caller's IP is restricted.
    IpRestricted = 10004,
    /// 10005: app key authentication missing.
    AppKeyAuthMissing = 10005,
    /// 10006: app key authentication failed.
    AppKeyAuthFailed = 10006,
    /// 10008: bad parameter.
    BadParameter = 10008,
    /// 10009: server busy.
    Busy = 10009,
    /// 10010: job timed out.
    JobTimeout = 10010,
    /// 10011: RPC error.
    RpcError = 10011,
    /// 10012: illegal request.
    IllegalRequest = 10012,
    /// 10013: illegal user.
    IllegalUser = 10013,
    /// 10014: API permission limited.
    ApiPermissionLimited = 10014,
    /// 10016: a required parameter is missing.
    MissingParameter = 10016,
    /// 10017: illegal parameter value.
    IllegalParameterValue = 10017,
    /// 10018: request too long.
    RequestTooLong = 10018,
    /// 10020: API not found.
    ApiNotFound = 10020,
    /// 10021: HTTP method not supported.
    MethodNotSupported = 10021,
    /// 10022: too many calls from this IP.
    IpRateLimited = 10022,
    /// 10023: too many calls from this user.
    UserRateLimited = 10023,
    /// 10024: too many calls of a rate-limited API.
    ApiRateLimited = 10024,
    /// 10025: bad callback URL.
    BadCallbackUrl = 10025,
    /// 10026: the app is blacklisted.
    AppBlacklisted = 10026,
    /// 10027: the app calls the API too often.
    AppRateLimited = 10027,
    /// 10028: total API calls too frequent.
    TotalRateLimited = 10028,
    /// 10031: the app is blacklisted, sending is forbidden.
    SendForbidden = 10031,
    /// 10034: the app sent too many messages today.
    DailyLimitReached = 10034,
    /// 10036: app operation forbidden.
    OperationForbidden = 10036,
    /// 10037: request expired.
    RequestExpired = 10037,
    /// 20301: sending failed, usually "No valid targets!".
    NoValidTargets = 20301,
    /// 20607: database error.
    DatabaseError = 20607,
    /// 21301: authentication failed (bad AppSecret).
    AuthenticationFailed = 21301,
    /// 21302: token authentication failed.
    TokenAuthFailed = 21302,
    /// 21303: restricted request.
    RestrictedRequest = 21303,
    /// 21305: a required parameter is missing.
    RequiredParameterMissing = 21305,
    /// 22000: illegal app.
    IllegalApp = 22000,
    /// 22001: app not found.
    AppNotFound = 22001,
    /// 22002: app revoked.
    AppRevoked = 22002,
    /// 22006: bad app id.
    BadAppId = 22006,
    /// 22007: bad app key.
    BadAppKey = 22007,
    /// 22008: bad app secret.
    BadAppSecret = 22008,
    /// 22021: app problem (SDK `ErrorCode`).
    AppError22021 = 22021,
    /// 22022: bad package name.
    BadPackageName = 22022,
    /// 22100: bad notification format.
    BadNotificationFormat = 22100,
    /// 22101: too many notifications.
    TooManyNotifications = 22101,
    /// 22102: sending the app notification failed.
    SendNotificationFailed = 22102,
    /// 22103: bad notify id.
    BadNotifyId = 22103,
    /// 26003: internal push call failed.
    InternalPushFailed = 26003,
    /// 26004: broadcasts too frequent.
    BroadcastTooFrequent = 26004,
    /// 26005: account settings changed too often.
    AccountSettingTooFrequent = 26005,
    /// 26006: sending needs review.
    NeedsReview = 26006,
    /// 27001: channel information mismatch (`extra.channel_id` missing, unapproved or wrong).
    ChannelMismatch = 27001,
    /// 65009: message content too long.
    ContentTooLong = 65009,
    /// 65011: a parameter was not supplied ("Title or Description is empty!").
    ParameterNotSupplied = 65011,
    /// 65014: too many extra key/value pairs.
    TooManyExtras = 65014,
    /// 65015: extra key/values too long in total.
    ExtrasTooLong = 65015,
    /// 65029: remote service exception.
    RemoteServiceException = 65029,
    /// 65030: JSON build error.
    JsonBuildError = 65030,
    /// 65036: callback parameter too long.
    CallbackParamTooLong = 65036,
    /// 65037: callback URL too long.
    CallbackUrlTooLong = 65037,
    /// 65038: callback URL illegal.
    CallbackUrlIllegal = 65038,
    /// 200001: the daily quota is used up ("exceed quota, quota: N, have acked: M").
    QuotaExceeded = 200001,
    /// 200002: the QPS limit is exceeded (from a secondary source only).
    QpsExceeded = 200002,
}

/// What a code means for the tokens of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeClass {
    /// Accepted (code 0).
    Success,
    /// No target of the request is valid (20301 "No valid targets!").
    InvalidTargets,
    /// The AppSecret, app or package is refused: alert, do not retry.
    Auth,
    /// Too many calls: back off and retry soon.
    RateLimited,
    /// The daily quota is used up: retry after the daily reset (00:00 China time).
    QuotaExhausted,
    /// A server-side failure: retry with backoff.
    Transient,
    /// The request was refused as malformed or not allowed: our bug or configuration.
    BadRequest,
    /// A code this crate does not classify.
    Unknown,
}

impl XiaomiCode {
    /// The family of the code (protocols/xiaomi.md §6.2, the one table the crate uses).
    pub const fn class(self) -> CodeClass {
        use XiaomiCode as C;
        match self {
            C::Success => CodeClass::Success,
            C::NoValidTargets => CodeClass::InvalidTargets,
            C::AuthenticationFailed
            | C::TokenAuthFailed
            | C::RestrictedRequest
            | C::IpRestricted
            | C::AppKeyAuthMissing
            | C::AppKeyAuthFailed
            | C::ApiPermissionLimited
            | C::AppBlacklisted
            | C::SendForbidden
            | C::OperationForbidden
            | C::IllegalApp
            | C::AppNotFound
            | C::AppRevoked
            | C::BadAppId
            | C::BadAppKey
            | C::BadAppSecret
            | C::AppError22021
            | C::BadPackageName => CodeClass::Auth,
            C::IpRateLimited
            | C::UserRateLimited
            | C::ApiRateLimited
            | C::AppRateLimited
            | C::TotalRateLimited
            | C::BroadcastTooFrequent
            | C::AccountSettingTooFrequent
            | C::QpsExceeded
            | C::RequestExpired => CodeClass::RateLimited,
            C::QuotaExceeded | C::DailyLimitReached => CodeClass::QuotaExhausted,
            C::UnknownError
            | C::InternalError
            | C::SystemError
            | C::SystemBusy
            | C::RemoteServiceError
            | C::Busy
            | C::JobTimeout
            | C::RpcError
            | C::DatabaseError
            | C::SendNotificationFailed
            | C::InternalPushFailed
            | C::RemoteServiceException => CodeClass::Transient,
            C::ParamEmpty
            | C::BadParameter
            | C::IllegalRequest
            | C::IllegalUser
            | C::MissingParameter
            | C::IllegalParameterValue
            | C::RequestTooLong
            | C::ApiNotFound
            | C::MethodNotSupported
            | C::BadCallbackUrl
            | C::RequiredParameterMissing
            | C::BadNotificationFormat
            | C::TooManyNotifications
            | C::BadNotifyId
            | C::NeedsReview
            | C::ChannelMismatch
            | C::ContentTooLong
            | C::ParameterNotSupplied
            | C::TooManyExtras
            | C::ExtrasTooLong
            | C::JsonBuildError
            | C::CallbackParamTooLong
            | C::CallbackUrlTooLong
            | C::CallbackUrlIllegal => CodeClass::BadRequest,
            // Families by number for codes without a name: 22000–22099 are app/credential
            // problems, 65006–65017 and 65035–65038 parameter problems (§6.1).
            C::Unknown(code) => match code {
                22000..=22099 => CodeClass::Auth,
                65006..=65017 | 65035..=65038 => CodeClass::BadRequest,
                _ => CodeClass::Unknown,
            },
        }
    }

    /// Whether this code says the daily quota is used up (as opposed to a rate limit).
    pub const fn is_quota_exhausted(self) -> bool {
        matches!(self.class(), CodeClass::QuotaExhausted)
    }

    /// Whether this code is a rate limit: retry soon.
    pub const fn is_rate_limited(self) -> bool {
        matches!(self.class(), CodeClass::RateLimited)
    }
}

impl From<i64> for XiaomiCode {
    fn from(code: i64) -> Self {
        XiaomiCode::from_i64(code)
    }
}

impl fmt::Display for XiaomiCode {
    /// The number, as it appears in outcome reasons (`"20301"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_i64())
    }
}

/// The text is not a Xiaomi code number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Xiaomi result code")]
pub struct ParseCodeError;

impl FromStr for XiaomiCode {
    type Err = ParseCodeError;

    /// Parses a number such as an outcome reason code (`"200001"`), so embedders can tell, for
    /// example, quota exhaustion from rate limiting.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<i64>()
            .map(XiaomiCode::from_i64)
            .map_err(|_| ParseCodeError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_unknown_codes_are_kept() {
        for n in [-1, 0, 20301, 21301, 27001, 200001, 200002, 10016] {
            let code = XiaomiCode::from_i64(n);
            assert!(!matches!(code, XiaomiCode::Unknown(_)), "{n}");
            assert_eq!(code.as_i64(), n);
        }
        assert_eq!(XiaomiCode::from_i64(99999), XiaomiCode::Unknown(99999));
        assert_eq!(XiaomiCode::Unknown(99999).as_i64(), 99999);
        assert_eq!("200001".parse(), Ok(XiaomiCode::QuotaExceeded));
        assert_eq!("x".parse::<XiaomiCode>(), Err(ParseCodeError));
        assert_eq!(XiaomiCode::ChannelMismatch.to_string(), "27001");
    }

    #[test]
    fn families() {
        let class = |n| XiaomiCode::from_i64(n).class();
        assert_eq!(class(0), CodeClass::Success);
        assert_eq!(class(20301), CodeClass::InvalidTargets);
        for n in [21301, 21302, 22000, 22008, 22022, 10026, 10031, 22050] {
            assert_eq!(class(n), CodeClass::Auth, "{n}");
        }
        for n in [10022, 10023, 10024, 10027, 10028, 26004, 200002] {
            assert_eq!(class(n), CodeClass::RateLimited, "{n}");
        }
        assert_eq!(class(200001), CodeClass::QuotaExhausted);
        assert_eq!(class(10034), CodeClass::QuotaExhausted);
        for n in [-1, 1, 10001, 10002, 10003, 20607, 22102, 26003, 65029] {
            assert_eq!(class(n), CodeClass::Transient, "{n}");
        }
        for n in [10016, 10017, 27001, 65011, 65009, 22100, 65006, 65013] {
            assert_eq!(class(n), CodeClass::BadRequest, "{n}");
        }
        assert_eq!(class(65003), CodeClass::Unknown);
        assert_eq!(class(424242), CodeClass::Unknown);
        assert!(XiaomiCode::QuotaExceeded.is_quota_exhausted());
        assert!(!XiaomiCode::AppRateLimited.is_quota_exhausted());
        assert!(XiaomiCode::AppRateLimited.is_rate_limited());
    }
}
