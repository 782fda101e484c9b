//! `/v1/apps/{app}/users/{user}/devices`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pushway_core::ApnsEnv;
use serde::Serialize;
use utoipa::ToSchema;

use super::json::parse;
use super::openapi::problems;
use super::path::{DevicePath, Params, UserPath};
use super::{AppState, Problem};
use crate::service::{ApnsEnvSchema, DeviceIn, KindIn};
use crate::store::{DeviceState, Login};

/// A registered device.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Device)]
pub(crate) struct DeviceOut<'a> {
    /// The app-chosen device id, unique per user.
    device_id: &'a str,
    /// The channel.
    kind: KindIn,
    /// The APNs environment, for `apns` devices only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ApnsEnvSchema>)]
    apns_env: Option<ApnsEnv>,
    /// The credential name the token was issued under.
    credential: &'a str,
    /// The token.
    token: &'a str,
    /// The device's locale (BCP 47), if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<&'a str>,
    /// The login state.
    login: Login,
    /// When it was first registered (Unix ms).
    created_at_ms: i64,
    /// When it was last registered or changed (Unix ms).
    updated_at_ms: i64,
    /// The registrations the token moved away from (a phone that changed account), only
    /// when it moved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    moved_from: Vec<MovedFrom>,
}

/// A registration a token moved away from.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MovedFrom {
    /// The user it was registered for.
    user_id: String,
    /// The device id it was registered under.
    device_id: String,
}

/// A user's devices.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeviceList)]
pub(crate) struct DeviceList<'a> {
    /// By device id.
    devices: Vec<DeviceOut<'a>>,
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
        moved_from: Vec::new(),
    }
}

/// Registers or updates a device. A token registered for another user or device of the app
/// moves here (the other registration is removed).
#[utoipa::path(
    put,
    path = "/v1/apps/{app}/users/{user}/devices/{device}",
    tag = "devices",
    operation_id = "put_device",
    params(DevicePath),
    request_body(content = DeviceIn, content_type = "application/json",
        example = json!({"kind": "xiaomi", "credential": "demo", "token": "regid-bob", "locale": "en"})),
    responses(
        (status = 201, description = "Registered (a new device id for the user)", body = DeviceOut),
        (status = 200, description = "Updated (the device id was registered)", body = DeviceOut),
        PutDeviceProblems,
    ),
    security(("bearer" = []))
)]
pub(super) async fn put(
    State(state): State<AppState>,
    Params(DevicePath { app, user, device }): Params<DevicePath>,
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
    let mut body = out(&stored);
    body.moved_from = put
        .moved_from
        .into_iter()
        .map(|(user_id, device_id)| MovedFrom { user_id, device_id })
        .collect();
    Ok((status, Json(body)).into_response())
}

problems!(
    /// `PUT .../devices/{device}`.
    PutDeviceProblems: INVALID_PATH, MALFORMED_JSON, UNAUTHORIZED, FORBIDDEN, UNKNOWN_APP,
    UNKNOWN_DEVICE, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, INVALID_FIELD, UNKNOWN_CREDENTIAL,
    UNSUPPORTED_TOKEN_KIND, OVERLOADED, TIMEOUT, UNAVAILABLE
);

/// Removes a device.
#[utoipa::path(
    delete,
    path = "/v1/apps/{app}/users/{user}/devices/{device}",
    tag = "devices",
    operation_id = "delete_device",
    params(DevicePath),
    responses(
        (status = 204, description = "Removed"),
        DeleteDeviceProblems,
    ),
    security(("bearer" = []))
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    Params(DevicePath { app, user, device }): Params<DevicePath>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    state.authorize(&headers, &app)?;
    state.service.delete_device(&app, &user, &device).await?;
    Ok(StatusCode::NO_CONTENT)
}

problems!(
    /// `DELETE .../devices/{device}`.
    DeleteDeviceProblems: INVALID_PATH, UNAUTHORIZED, FORBIDDEN, UNKNOWN_APP, UNKNOWN_DEVICE,
    OVERLOADED, TIMEOUT, UNAVAILABLE
);

/// A user's devices, by device id.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}/users/{user}/devices",
    tag = "devices",
    operation_id = "list_devices",
    params(UserPath),
    responses(
        (status = 200, description = "The user's devices (none when unknown)", body = DeviceList),
        ListDevicesProblems,
    ),
    security(("bearer" = []))
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Params(UserPath { app, user }): Params<UserPath>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    state.authorize(&headers, &app)?;
    let devices = state.service.devices(&app, &user).await?;
    let devices = devices.iter().map(out).collect();
    Ok(Json(DeviceList { devices }).into_response())
}

problems!(
    /// `GET .../devices`.
    ListDevicesProblems: INVALID_PATH, UNAUTHORIZED, FORBIDDEN, UNKNOWN_APP, OVERLOADED, TIMEOUT,
    UNAVAILABLE
);
