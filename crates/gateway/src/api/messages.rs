//! `/v1/apps/{app}/messages`: accept (202 after commit) and status.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::Instrument;
use utoipa::ToSchema;

use super::json::parse;
use super::openapi::problems;
use super::path::{AppPath, MessagePath, Params};
use super::query::{duration, params};
use super::{AppState, Problem};
use crate::service::MessageRequest;
use crate::store::{MessageStatus, MessageSummary, RecipientStatus};

/// The header that makes a POST safe to repeat.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// `?wait=` stops this much before the request timeout, so the answer is not a timeout.
const WAIT_MARGIN: Duration = Duration::from_secs(1);

/// An accepted message.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Accepted)]
pub(crate) struct AcceptedOut {
    /// The message id (the same for a repeated `Idempotency-Key`).
    message_id: String,
    /// With `?wait=`: whether every delivery has an outcome that will not change.
    #[serde(skip_serializing_if = "Option::is_none")]
    settled: Option<bool>,
    /// With `?wait=`: every recipient's status as of the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    recipients: Option<Vec<RecipientStatus>>,
}

/// Accepts a message for its recipients: answers `202` once the message and one delivery per
/// (recipient, device) are committed. The same `Idempotency-Key` with the same body answers the
/// same id and adds nothing.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/messages",
    tag = "messages",
    operation_id = "post_message",
    params(
        AppPath,
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 256,
            pattern = r"^[\x20-\x7e]*$", example = "msg-1",
            description = "Makes the POST safe to repeat: 1 to 256 visible ASCII characters, unique per message"),
        ("wait" = Option<String>, Query, pattern = r"^[0-9]+(ms|s|m)$", example = "5s",
            description = "Answer with the per-device outcomes once every delivery's first outcome is known, or as they are after this long (`500ms`, `5s`, `1m`; capped below the server's request timeout)"),
    ),
    request_body(content = MessageRequest, content_type = "application/json",
        example = json!({
            "message": {
                "conversation": {"type": "c2c", "peer": "bob"},
                "sender": {"user_id": "alice", "nickname": "Alice"},
                "elements": [{"type": "text", "text": "hello"}]
            },
            "recipients": [{"user_id": "bob", "unread": 3}]
        })),
    responses(
        (status = 202, description = "Accepted: committed, to be delivered", body = AcceptedOut),
        PostMessageProblems,
    ),
    security(("bearer" = []))
)]
pub(super) async fn post(
    State(state): State<AppState>,
    Params(AppPath { app }): Params<AppPath>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    state.authorize(&headers, &app)?;
    let mut wait = None;
    for (name, value) in params(query.as_deref(), &["wait"])? {
        if name == "wait" {
            wait = Some(duration(value)?);
        }
    }
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "missing-idempotency-key",
                "Idempotency-Key required",
            )
            .detail(
                "send an Idempotency-Key header (1-256 characters) so a retried POST adds nothing",
            )
        })?
        .to_owned();
    let (request, raw) = parse::<MessageRequest>(&headers, body)?;
    // The message's span (ids only): what the accept logs carries the app, and the id once
    // known. Debug level: off by default, so the accept path pays nothing for it.
    let span = tracing::debug_span!("message", app = %app, message_id = tracing::field::Empty);
    let accepted = state
        .service
        .accept(&app, &key, &raw, request)
        .instrument(span.clone())
        .await?;
    span.record("message_id", accepted.message_id.as_str());
    span.in_scope(|| tracing::debug!(created = accepted.created, "message accepted"));
    let mut body = AcceptedOut {
        message_id: accepted.message_id,
        settled: None,
        recipients: None,
    };
    if let Some(wait) = wait {
        let wait = wait.min(state.request_timeout.saturating_sub(WAIT_MARGIN));
        let status = state
            .service
            .status_within(&app, &body.message_id, wait)
            .await?;
        body.settled = Some(status.is_settled());
        body.recipients = Some(status.recipients);
    }
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

problems!(
    /// `POST /messages`.
    PostMessageProblems: INVALID_PATH, INVALID_QUERY, MISSING_IDEMPOTENCY_KEY, MALFORMED_JSON,
    UNAUTHORIZED, FORBIDDEN, UNKNOWN_APP, KEY_REUSED, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE,
    INVALID_FIELD, OVERLOADED, TIMEOUT, UNAVAILABLE
);

/// A message's status: every recipient, suppressed (with the reason) or with their devices'
/// deliveries.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}/messages/{id}",
    tag = "messages",
    operation_id = "get_message",
    params(MessagePath),
    responses(
        (status = 200, description = "The message's status", body = MessageStatus),
        GetMessageProblems,
    ),
    security(("bearer" = []))
)]
pub(super) async fn get(
    State(state): State<AppState>,
    Params(MessagePath { app, id }): Params<MessagePath>,
    headers: HeaderMap,
) -> Result<Json<MessageStatus>, Problem> {
    state.authorize(&headers, &app)?;
    Ok(Json(state.service.status(&app, &id).await?))
}

problems!(
    /// `GET /messages/{id}`.
    GetMessageProblems: INVALID_PATH, UNAUTHORIZED, FORBIDDEN, UNKNOWN_APP, UNKNOWN_MESSAGE,
    OVERLOADED, TIMEOUT, UNAVAILABLE
);

/// A message's status in counts: recipients, suppressions and deliveries by state, whether it
/// is settled and when a delivery last changed. One small answer however many recipients the
/// message has: poll this, then read the full status once.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}/messages/{id}/summary",
    tag = "messages",
    operation_id = "get_message_summary",
    params(MessagePath),
    responses(
        (status = 200, description = "The message's status in counts", body = MessageSummary),
        GetMessageProblems,
    ),
    security(("bearer" = []))
)]
pub(super) async fn summary(
    State(state): State<AppState>,
    Params(MessagePath { app, id }): Params<MessagePath>,
    headers: HeaderMap,
) -> Result<Json<MessageSummary>, Problem> {
    state.authorize(&headers, &app)?;
    Ok(Json(state.service.summary(&app, &id).await?))
}
