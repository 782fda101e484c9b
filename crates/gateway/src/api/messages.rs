//! `/v1/apps/{app}/messages`: accept (202 after commit) and status.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::json::parse;
use super::path::Params;
use super::query::{duration, params};
use super::{AppState, Problem};
use crate::service::MessageRequest;
use crate::store::MessageStatus;

/// The header that makes a POST safe to repeat.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// `?wait=` stops this much before the request timeout, so the answer is not a timeout.
const WAIT_MARGIN: Duration = Duration::from_secs(1);

pub(super) async fn post(
    State(state): State<AppState>,
    Params(app): Params<String>,
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
    let accepted = state.service.accept(&app, &key, &raw, request).await?;
    let mut body = serde_json::json!({ "message_id": accepted.message_id });
    if let Some(wait) = wait {
        let wait = wait.min(state.request_timeout.saturating_sub(WAIT_MARGIN));
        let status = state
            .service
            .status_within(&app, &accepted.message_id, wait)
            .await?;
        if let Some(object) = body.as_object_mut() {
            object.insert("settled".to_owned(), status.is_settled().into());
            object.insert(
                "recipients".to_owned(),
                serde_json::to_value(&status.recipients).unwrap_or_default(),
            );
        }
    }
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

pub(super) async fn get(
    State(state): State<AppState>,
    Params((app, id)): Params<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<MessageStatus>, Problem> {
    state.authorize(&headers, &app)?;
    Ok(Json(state.service.status(&app, &id).await?))
}
