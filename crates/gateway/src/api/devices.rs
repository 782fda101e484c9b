//! `/v1/apps/{app}/users/{user}/devices`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pushway_core::ApnsEnv;
use serde::Serialize;

use super::json::parse;
use super::path::Params;
use super::{AppState, Problem};
use crate::service::{DeviceIn, KindIn};
use crate::store::{DeviceState, Login};

/// A device as the API shows it.
#[derive(Debug, Serialize)]
struct DeviceOut<'a> {
    device_id: &'a str,
    kind: KindIn,
    #[serde(skip_serializing_if = "Option::is_none")]
    apns_env: Option<ApnsEnv>,
    credential: &'a str,
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<&'a str>,
    login: Login,
    created_at_ms: i64,
    updated_at_ms: i64,
}

fn out(state: &DeviceState) -> DeviceOut<'_> {
    let (kind, apns_env) = KindIn::of(state.device.kind);
    DeviceOut {
        device_id: &state.device.device_id,
        kind,
        apns_env,
        credential: &state.device.credential,
        token: &state.device.token,
        locale: state.device.locale.as_deref(),
        login: state.login,
        created_at_ms: state.created_at,
        updated_at_ms: state.updated_at,
    }
}

pub(super) async fn put(
    State(state): State<AppState>,
    Params((app, user, device)): Params<(String, String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    state.authorize(&headers, &app)?;
    let (input, _) = parse::<DeviceIn>(&headers, body)?;
    let (put, stored) = state
        .service
        .put_device(&app, &user, &device, input)
        .await?;
    let status = if put.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let moved: Vec<_> = put
        .moved_from
        .iter()
        .map(|(user_id, device_id)| serde_json::json!({"user_id": user_id, "device_id": device_id}))
        .collect();
    let mut body = serde_json::to_value(out(&stored)).unwrap_or_default();
    if !moved.is_empty()
        && let Some(object) = body.as_object_mut()
    {
        object.insert("moved_from".to_owned(), serde_json::Value::Array(moved));
    }
    Ok((status, Json(body)).into_response())
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Params((app, user, device)): Params<(String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    state.authorize(&headers, &app)?;
    state.service.delete_device(&app, &user, &device).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn list(
    State(state): State<AppState>,
    Params((app, user)): Params<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    state.authorize(&headers, &app)?;
    let devices = state.service.devices(&app, &user).await?;
    let devices: Vec<_> = devices.iter().map(out).collect();
    Ok(Json(serde_json::json!({ "devices": devices })).into_response())
}
