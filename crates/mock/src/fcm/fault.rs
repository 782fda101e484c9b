//! Faults the FCM simulator can inject: each documented error of protocols/fcm.md §5 with its
//! exact body, and transport faults (§7, §8 "Scripted faults").

use std::time::Duration;

use crate::fault::FaultKind;

use super::response::{self, ApiError, Detail, QuotaViolation, fcm};

/// A fault injected into matching requests (see [`crate::fault::Trigger`]). On `messages:send`
/// a fault answers in place of every check (S2–S13), so a scripted answer comes whatever the
/// request was; only an unknown path (S1) is answered first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FcmFault {
    /// 404 `NOT_FOUND` + FcmError `UNREGISTERED`.
    Unregistered,
    /// 400 `INVALID_ARGUMENT` + FcmError `INVALID_ARGUMENT`, "The registration token is not a
    /// valid FCM registration token".
    InvalidToken,
    /// 400 `INVALID_ARGUMENT` + FcmError `INVALID_ARGUMENT` + ApnsError 410 `Unregistered`,
    /// "APNs device token is disabled." (an iOS token dead at APNs).
    ApnsUnregistered,
    /// 403 `PERMISSION_DENIED` + FcmError `SENDER_ID_MISMATCH`, "SenderId mismatch".
    SenderIdMismatch,
    /// 429 `RESOURCE_EXHAUSTED` + QuotaFailure + FcmError `QUOTA_EXCEEDED`, with
    /// `retry-after: <secs>` when given.
    QuotaExceeded {
        /// `retry-after` in seconds; `None` sends no header.
        retry_after: Option<u64>,
    },
    /// 503 `UNAVAILABLE` + FcmError `UNAVAILABLE` (the body is \[?\] in §5), `retry-after` when
    /// given.
    Unavailable {
        /// `retry-after` in seconds; `None` sends no header.
        retry_after: Option<u64>,
    },
    /// 500 `INTERNAL` + FcmError `INTERNAL`, `retry-after` when given.
    Internal {
        /// `retry-after` in seconds; `None` sends no header.
        retry_after: Option<u64>,
    },
    /// 401 `UNAUTHENTICATED` + FcmError `THIRD_PARTY_AUTH_ERROR` + ApnsError 403
    /// `InvalidProviderToken`, "Auth error from APNS or Web Push Service".
    ThirdPartyAuthError,
    /// 401 `UNAUTHENTICATED` without details ("Request had invalid authentication credentials…",
    /// `www-authenticate` with `error="invalid_token"`): what an expired access token gets.
    Unauthenticated,
    /// 403 `PERMISSION_DENIED` without details (the account may not send for the project).
    PermissionDenied,
    /// 404 with Google's HTML "Error 404 (Not Found)!!1" page, as for a wrong URL.
    NotFoundHtml,
    /// An arbitrary answer, e.g. a 502 HTML page.
    Raw {
        /// HTTP status.
        status: u16,
        /// `content-type`; empty for none.
        content_type: String,
        /// The body, sent as is.
        body: String,
    },
    /// Answers normally (or with another fault), this much later. Latencies add up.
    Latency(Duration),
    /// Closes the connection (TCP) without answering and without GOAWAY.
    DropConnection,
    /// HTTP/2: `RST_STREAM` with `REFUSED_STREAM` (not processed; nothing recorded as
    /// accepted). HTTP/1.1: the connection closes without an answer.
    RefusedStream,
    /// Answers normally, then starts a graceful shutdown of the connection (GOAWAY `NO_ERROR`);
    /// requests arriving on it afterwards are refused like [`FcmFault::RefusedStream`].
    GoAway,
}

impl FaultKind for FcmFault {
    fn latency(&self) -> Option<Duration> {
        match self {
            FcmFault::Latency(d) => Some(*d),
            _ => None,
        }
    }
}

/// What the connection does with a request.
pub(crate) enum Action {
    /// The answer; `goaway` starts a graceful shutdown after it.
    Respond {
        error: Option<ApiError>,
        goaway: bool,
    },
    /// A scripted non-JSON answer.
    Raw(http::Response<http_body_util::Full<bytes::Bytes>>),
    Refuse,
    Drop,
}

impl FcmFault {
    /// The documented error this fault answers with, if it is one.
    pub(crate) fn api_error(&self, project: &str) -> Option<ApiError> {
        Some(match self {
            FcmFault::Unregistered => errors::unregistered(),
            FcmFault::InvalidToken => errors::invalid_token(),
            FcmFault::ApnsUnregistered => errors::apns_unregistered(),
            FcmFault::SenderIdMismatch => errors::sender_id_mismatch(),
            FcmFault::QuotaExceeded { retry_after } => errors::quota_exceeded(*retry_after),
            FcmFault::Unavailable { retry_after } => {
                ApiError::new(503, "UNAVAILABLE", "The service is currently unavailable.")
                    .detail(fcm("UNAVAILABLE"))
                    .retry_after(*retry_after)
            }
            FcmFault::Internal { retry_after } => {
                ApiError::new(500, "INTERNAL", "Internal error encountered.")
                    .detail(fcm("INTERNAL"))
                    .retry_after(*retry_after)
            }
            FcmFault::ThirdPartyAuthError => errors::third_party_auth_error(),
            FcmFault::Unauthenticated => errors::unauthenticated(),
            FcmFault::PermissionDenied => errors::permission_denied(project),
            _ => return None,
        })
    }

    /// What to do for a request to `path` (of `project`).
    pub(crate) fn action(&self, path: &str, project: &str) -> Action {
        if let Some(error) = self.api_error(project) {
            return Action::Respond {
                error: Some(error),
                goaway: false,
            };
        }
        match self {
            FcmFault::NotFoundHtml => Action::Raw(response::raw(
                404,
                "text/html; charset=UTF-8",
                response::not_found_html(path),
            )),
            FcmFault::Raw {
                status,
                content_type,
                body,
            } => Action::Raw(response::raw(*status, content_type, body.clone())),
            FcmFault::RefusedStream => Action::Refuse,
            FcmFault::GoAway => Action::Respond {
                error: None,
                goaway: true,
            },
            // DropConnection; Latency is never chosen as an action by the rule engine.
            _ => Action::Drop,
        }
    }
}

/// The error answers also produced by the checks (token registry, auth).
pub(crate) mod errors {
    use super::*;

    pub fn unregistered() -> ApiError {
        ApiError::new(404, "NOT_FOUND", response::NOT_FOUND).detail(fcm("UNREGISTERED"))
    }

    pub fn invalid_token() -> ApiError {
        ApiError::invalid_argument(response::INVALID_TOKEN)
    }

    pub fn apns_unregistered() -> ApiError {
        ApiError::invalid_argument("APNs device token is disabled.").detail(Detail::ApnsError {
            status_code: 410,
            reason: "Unregistered",
        })
    }

    pub fn third_party_auth_error() -> ApiError {
        ApiError::new(
            401,
            "UNAUTHENTICATED",
            "Auth error from APNS or Web Push Service",
        )
        .detail(fcm("THIRD_PARTY_AUTH_ERROR"))
        .detail(Detail::ApnsError {
            status_code: 403,
            reason: "InvalidProviderToken",
        })
    }

    pub fn sender_id_mismatch() -> ApiError {
        ApiError::new(403, "PERMISSION_DENIED", "SenderId mismatch")
            .detail(fcm("SENDER_ID_MISMATCH"))
    }

    pub fn quota_exceeded(retry_after: Option<u64>) -> ApiError {
        // [model]: the QuotaFailure contents are unverified (§5).
        ApiError::new(429, "RESOURCE_EXHAUSTED", "Quota exceeded.")
            .detail(Detail::QuotaFailure {
                violations: vec![QuotaViolation {
                    subject: "messaging".into(),
                    description: "Exceeded quota for messages sent per minute.".into(),
                }],
            })
            .detail(fcm("QUOTA_EXCEEDED"))
            .retry_after(retry_after)
    }

    pub fn unauthenticated() -> ApiError {
        let mut error = ApiError::new(401, "UNAUTHENTICATED", response::INVALID_CREDENTIAL);
        error.www_authenticate = Some(response::WWW_AUTHENTICATE_INVALID);
        error
    }

    pub fn missing_credential() -> ApiError {
        let mut error = ApiError::new(401, "UNAUTHENTICATED", response::MISSING_CREDENTIAL);
        error.www_authenticate = Some(response::WWW_AUTHENTICATE_MISSING);
        error
    }

    pub fn permission_denied(project: &str) -> ApiError {
        ApiError::new(
            403,
            "PERMISSION_DENIED",
            format!(
                "Permission 'cloudmessaging.messages.create' denied on resource \
                 '//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist)."
            ),
        )
    }

    pub fn insufficient_scopes() -> ApiError {
        ApiError::new(403, "PERMISSION_DENIED", response::INSUFFICIENT_SCOPES)
    }
}
