//! Errors as `application/problem+json` (RFC 9457), one stable `type` per error.
//!
//! | type | status | when |
//! |---|---|---|
//! | `/problems/malformed-json` | 400 | the body is not JSON |
//! | `/problems/invalid-field` | 422 | a field is missing, unknown, of the wrong type or value (`field` names it) |
//! | `/problems/unsupported-media-type` | 415 | the body is not `application/json` |
//! | `/problems/payload-too-large` | 413 | the body is over the limit |
//! | `/problems/invalid-query` | 400 | a query parameter does not parse |
//! | `/problems/invalid-path` | 400 | a path segment is not UTF-8 once percent-decoded |
//! | `/problems/missing-idempotency-key` | 400 | `POST /messages` without `Idempotency-Key` |
//! | `/problems/unauthorized` | 401 | no `Authorization: Bearer` key, or an unknown one |
//! | `/problems/forbidden` | 403 | the key belongs to another app |
//! | `/problems/unknown-app` | 404 | no app has this id |
//! | `/problems/unknown-device` | 404 | no such device |
//! | `/problems/unknown-message` | 404 | no such message |
//! | `/problems/not-found` | 404 | no such route |
//! | `/problems/method-not-allowed` | 405 | the route has no such method |
//! | `/problems/idempotency-key-reused` | 409 | the key was used for a different request |
//! | `/problems/unknown-credential` | 422 | the app has no credential of that name and kind |
//! | `/problems/unsupported-token-kind` | 422 | the app has no channel of this kind (daemon without `[apps.<app>.daemon]`) |
//! | `/problems/no-daemon-channel` | 404 | the app has no daemon channel |
//! | `/problems/not-a-daemon-device` | 409 | a daemon token for a device of another kind |
//! | `/problems/device-not-logged-in` | 409 | a daemon token for a logged-out or kicked device |
//! | `/problems/invalid-websocket-upgrade` | 400 | `GET /daemon` without a valid WebSocket upgrade |
//! | `/problems/unsupported-websocket-version` | 426 | `Sec-WebSocket-Version` is not 13 |
//! | `/problems/overloaded` | 503 | too many requests in progress; try again (`Retry-After`) |
//! | `/problems/timeout` | 503 | the request took longer than the server's limit |
//! | `/problems/unavailable` | 503 | the store failed; try again (`Retry-After`) |

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::ServiceError;

/// A problem answer (RFC 9457).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(skip)]
    status: StatusCode,
    /// The problem's type, stable: `/problems/<slug>`.
    #[serde(rename = "type")]
    #[schema(format = "uri-reference", example = "/problems/invalid-field")]
    kind: String,
    /// A short summary of the type.
    #[schema(value_type = String)]
    title: &'static str,
    /// The HTTP status.
    #[serde(rename = "status")]
    status_code: u16,
    /// What went wrong in this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// The offending field, as a path (`recipients[0].user_id`), for `invalid-field` and
    /// the like.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip)]
    retry_after: Option<u64>,
}

impl Problem {
    /// A problem of type `/problems/<slug>`.
    pub fn new(status: StatusCode, slug: &str, title: &'static str) -> Self {
        Problem {
            status,
            kind: format!("/problems/{slug}"),
            title,
            status_code: status.as_u16(),
            detail: None,
            field: None,
            retry_after: None,
        }
    }

    /// Adds a human-readable detail.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Names the offending field.
    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Adds `Retry-After`.
    #[must_use]
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub(crate) fn unauthorized() -> Self {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Missing or unknown API key",
        )
    }

    pub(crate) fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "Invalid field",
        )
        .field(field)
        .detail(detail)
    }

    pub(crate) fn invalid_query(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "Invalid query parameter",
        )
        .detail(detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        let detail = e.to_string();
        match e {
            ServiceError::UnknownApp => {
                Problem::new(StatusCode::NOT_FOUND, "unknown-app", "Unknown app").detail(detail)
            }
            ServiceError::Invalid { field, message } => Problem::invalid(field, message),
            ServiceError::UnknownCredential { .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown-credential",
                "Unknown credential",
            )
            .field("credential")
            .detail(detail),
            ServiceError::UnsupportedKind(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported-token-kind",
                "Token kind not supported",
            )
            .field("kind")
            .detail(detail),
            ServiceError::NoDaemonChannel => Problem::new(
                StatusCode::NOT_FOUND,
                "no-daemon-channel",
                "No daemon channel",
            )
            .detail(detail),
            ServiceError::NotDaemonDevice => Problem::new(
                StatusCode::CONFLICT,
                "not-a-daemon-device",
                "Not a daemon device",
            )
            .detail(detail),
            ServiceError::NotLoggedIn(_) => Problem::new(
                StatusCode::CONFLICT,
                "device-not-logged-in",
                "Device not logged in",
            )
            .detail(detail),
            ServiceError::Daemon(e) => {
                tracing::error!(error = %e, "daemon channel failure");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Store unavailable",
                )
                .retry_after(1)
            }
            ServiceError::UnknownDevice => {
                Problem::new(StatusCode::NOT_FOUND, "unknown-device", "Unknown device")
            }
            ServiceError::UnknownMessage => {
                Problem::new(StatusCode::NOT_FOUND, "unknown-message", "Unknown message")
            }
            ServiceError::IdempotencyKeyReused => Problem::new(
                StatusCode::CONFLICT,
                "idempotency-key-reused",
                "Idempotency-Key reused",
            )
            .detail(detail),
            ServiceError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Store unavailable",
                )
                .retry_after(1)
            }
        }
    }
}
