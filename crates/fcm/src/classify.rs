//! The one place where FCM answers become pushway [`Outcome`]s (protocols/fcm.md §5). Pure: no
//! I/O, no clock.
//!
//! The `errorCode` of an `FcmError` detail decides first (its `@type` matched by suffix), then
//! the envelope's `error.status`, then the HTTP status (a body that is not Google's envelope:
//! an HTML page, an empty body).
//!
//! | answer | outcome |
//! |---|---|
//! | 200 | `Delivered`, vendor id = `name` (`projects/p/messages/0:…`) |
//! | `INVALID_ARGUMENT` + `ApnsError` reason `Unregistered` | `InvalidToken{APNS_Unregistered}` |
//! | `INVALID_ARGUMENT` + `ApnsError` reason `BadDeviceToken` | `Stale{APNS_BadDeviceToken}` |
//! | message "… message is too big" | `Rejected{PAYLOAD_TOO_LARGE}` |
//! | `INVALID_ARGUMENT`, message "… not a valid FCM registration token" | `InvalidToken{INVALID_ARGUMENT:token}` |
//! | other `INVALID_ARGUMENT` (code or status), 400 | `Rejected{INVALID_ARGUMENT}` |
//! | `THIRD_PARTY_AUTH_ERROR` (401) | `Misconfigured{THIRD_PARTY_AUTH_ERROR}`: no token refresh |
//! | `UNAUTHENTICATED` / 401 without an `FcmError` | `Auth{UNAUTHENTICATED}`, [`wants_new_credential`](Classified::wants_new_credential) |
//! | `SENDER_ID_MISMATCH` | `Misconfigured{SENDER_ID_MISMATCH}`: a token of another project, kept |
//! | `PERMISSION_DENIED` / 403 without an `FcmError` | `Auth{PERMISSION_DENIED}` |
//! | `UNREGISTERED` | `InvalidToken{UNREGISTERED}` |
//! | `NOT_FOUND` / 404 / 405 without an `FcmError` (HTML, a wrong URL) | `Misconfigured{NOT_FOUND}`: never pruned |
//! | `QUOTA_EXCEEDED`, `RESOURCE_EXHAUSTED`, 429 | `Retry`, after `Retry-After` or [`QUOTA_RETRY_AFTER`] |
//! | `INTERNAL`, `UNAVAILABLE`, 500, 503, other 5xx | `Retry`, after `Retry-After` if given |
//! | `UNSPECIFIED_ERROR`, an unknown code | `Unknown{code}`; `Retry` with a 429 or 5xx status |
//!
//! Only the two `InvalidToken` shapes delete a token: a bare 404 is a wrong URL or project (the
//! retired `/batch` endpoint answers an HTML 404), never a dead device.

use std::time::{Duration, SystemTime};

use pushway_core::{Outcome, Reason};
use serde::Deserialize;
use serde_json::Value;

use crate::codes::ErrorCode;

/// The wait after a quota error that names none: FCM asks for "a minimum initial delay of
/// 1 minute" on `QUOTA_EXCEEDED` (fcm.md §5).
pub const QUOTA_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A classified answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Classified {
    /// The `FcmError` detail's code, when the answer carried one.
    pub code: Option<ErrorCode>,
    /// The envelope's `error.status` (`"NOT_FOUND"`…), when the body was Google's envelope.
    pub status: Option<String>,
    /// What happened to the token.
    pub outcome: Outcome,
}

impl Classified {
    /// Whether a fresh access token may fix this answer: `UNAUTHENTICATED` (or HTTP 401) without
    /// an `FcmError` detail. The provider then refreshes once and resends once. A 401 carrying
    /// `THIRD_PARTY_AUTH_ERROR` is the project's APNs or web-push credential, which no OAuth
    /// token fixes, even when its message reads like an OAuth one.
    pub fn wants_new_credential(&self) -> bool {
        self.code.is_none()
            && matches!(&self.outcome, Outcome::Auth { reason } if reason.code() == UNAUTHENTICATED)
    }
}

const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
const FCM_ERROR: &str = "google.firebase.fcm.v1.FcmError";
const APNS_ERROR: &str = "google.firebase.fcm.v1.ApnsError";

#[derive(Deserialize)]
struct Envelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Vec<Value>,
}

#[derive(Deserialize)]
struct Accepted {
    name: Option<String>,
}

/// Classifies one answer of `POST …/messages:send`.
///
/// `retry_after` is the parsed `Retry-After` header, if any (see [`parse_retry_after`]).
pub fn classify(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Classified {
    if (200..300).contains(&status) {
        // 200 means accepted; a body without `name` does not change that.
        let name = serde_json::from_slice::<Accepted>(body)
            .ok()
            .and_then(|a| a.name);
        return Classified {
            code: None,
            status: None,
            outcome: Outcome::Delivered { vendor_id: name },
        };
    }
    let error = serde_json::from_slice::<Envelope>(body)
        .ok()
        .map(|e| e.error);
    let Some(error) = error else {
        return Classified {
            code: None,
            status: None,
            outcome: by_status(http_status_name(status), status, retry_after, None),
        };
    };
    let message = error.message.as_deref().unwrap_or("");
    let detail_of = |type_suffix: &str| {
        error.details.iter().find(|d| {
            d["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with(type_suffix))
        })
    };
    let code = detail_of(FCM_ERROR)
        .and_then(|d| d["errorCode"].as_str())
        .map(ErrorCode::parse);
    let apns_reason = detail_of(APNS_ERROR).and_then(|d| d["reason"].as_str());
    let reason = |code: &str| {
        let reason = Reason::new(code.to_owned());
        if message.is_empty() {
            reason
        } else {
            reason.with_detail(message)
        }
    };
    let outcome = match &code {
        Some(ErrorCode::InvalidArgument) => match apns_reason {
            Some("Unregistered") => Outcome::InvalidToken {
                reason: reason("APNS_Unregistered"),
                since: None,
            },
            Some("BadDeviceToken") => Outcome::Stale {
                reason: reason("APNS_BadDeviceToken"),
            },
            _ if is_too_big(message) => Outcome::rejected(reason("PAYLOAD_TOO_LARGE")),
            _ if message.contains("not a valid FCM registration token") => Outcome::InvalidToken {
                reason: reason("INVALID_ARGUMENT:token"),
                since: None,
            },
            _ => Outcome::rejected(reason("INVALID_ARGUMENT")),
        },
        Some(ErrorCode::Unregistered) => Outcome::InvalidToken {
            reason: reason("UNREGISTERED"),
            since: None,
        },
        Some(ErrorCode::SenderIdMismatch) => Outcome::Misconfigured {
            reason: reason("SENDER_ID_MISMATCH"),
        },
        Some(ErrorCode::ThirdPartyAuthError) => Outcome::Misconfigured {
            reason: reason("THIRD_PARTY_AUTH_ERROR"),
        },
        Some(ErrorCode::QuotaExceeded) => Outcome::Retry {
            after: Some(retry_after.unwrap_or(QUOTA_RETRY_AFTER)),
            reason: reason("QUOTA_EXCEEDED"),
        },
        Some(c @ (ErrorCode::Unavailable | ErrorCode::Internal)) => Outcome::Retry {
            after: retry_after,
            reason: reason(c.as_str()),
        },
        Some(c @ (ErrorCode::UnspecifiedError | ErrorCode::Unknown(_))) => {
            if is_retryable_status(status) {
                Outcome::Retry {
                    after: retry_after.or((status == 429).then_some(QUOTA_RETRY_AFTER)),
                    reason: reason(c.as_str()),
                }
            } else {
                Outcome::Unknown {
                    reason: reason(c.as_str()),
                }
            }
        }
        None => {
            let name = error.status.as_deref().or(http_status_name(status));
            by_status(name, status, retry_after, Some(message))
        }
    };
    Classified {
        code,
        status: error.status,
        outcome,
    }
}

/// The outcome of an answer without an `FcmError`: by the `google.rpc.Code` name when there is
/// one, else by the HTTP status alone.
fn by_status(
    name: Option<&str>,
    http: u16,
    retry_after: Option<Duration>,
    message: Option<&str>,
) -> Outcome {
    let reason = |code: &str| {
        let reason = Reason::new(code.to_owned());
        match message {
            Some(m) if !m.is_empty() => reason.with_detail(m),
            _ => reason,
        }
    };
    if message.is_some_and(is_too_big) {
        return Outcome::rejected(reason("PAYLOAD_TOO_LARGE"));
    }
    match name {
        Some("INVALID_ARGUMENT") => Outcome::rejected(reason("INVALID_ARGUMENT")),
        Some(UNAUTHENTICATED) => Outcome::Auth {
            reason: reason(UNAUTHENTICATED),
        },
        Some("PERMISSION_DENIED") => Outcome::Auth {
            reason: reason("PERMISSION_DENIED"),
        },
        Some("NOT_FOUND") => Outcome::Misconfigured {
            reason: reason("NOT_FOUND"),
        },
        Some(code @ "RESOURCE_EXHAUSTED") => Outcome::Retry {
            after: Some(retry_after.unwrap_or(QUOTA_RETRY_AFTER)),
            reason: reason(code),
        },
        Some(code @ ("INTERNAL" | "UNAVAILABLE")) => Outcome::Retry {
            after: retry_after,
            reason: reason(code),
        },
        // An unknown status name, or an HTTP status with no name of its own.
        other => {
            let code = other.map_or_else(|| format!("http_{http}"), str::to_owned);
            match http {
                429 | 500..=599 => Outcome::Retry {
                    after: retry_after.or((http == 429).then_some(QUOTA_RETRY_AFTER)),
                    reason: reason(&code),
                },
                404 | 405 => Outcome::Misconfigured {
                    reason: reason(&code),
                },
                400..=499 => Outcome::rejected(reason(&code)),
                _ => Outcome::Unknown {
                    reason: reason(&code),
                },
            }
        }
    }
}

/// The `google.rpc.Code` name Google's APIs answer with each HTTP status (used when the body is
/// not Google's envelope).
fn http_status_name(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "INVALID_ARGUMENT",
        401 => UNAUTHENTICATED,
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        _ => return None,
    })
}

fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500..=599)
}

/// "Android message is too big" (fcm.md §5, the only signal of an over-size message).
fn is_too_big(message: &str) -> bool {
    message.contains("message is too big")
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (relative to `now`; a date in
/// the past is no wait). `None` for anything else.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
