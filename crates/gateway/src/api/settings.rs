//! `/v1/apps/{app}/users/{user}/settings`: the seed's per-user push settings, read back exactly
//! as set.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;

use super::json::parse;
use super::openapi::problems;
use super::path::{Params, UserPath};
use super::{AppState, Problem};
use crate::store::StoredSettings;

/// Sets a user's push settings, exactly as given: an absent field is unset (the system
/// default), and reads back as absent.
#[utoipa::path(
    put,
    path = "/v1/apps/{app}/users/{user}/settings",
    tag = "settings",
    operation_id = "put_settings",
    params(UserPath),
    request_body(content = StoredSettings, content_type = "application/json",
        example = json!({"enabled": true, "c2c_sound": "android.resource://com.example.chat/raw/ding"})),
    responses(
        (status = 200, description = "Stored; the settings as stored", body = StoredSettings),
        PutSettingsProblems,
    ),
    security(("bearer" = []))
)]
pub(super) async fn put(
    State(state): State<AppState>,
    Params(UserPath { app, user }): Params<UserPath>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<StoredSettings>, Problem> {
    state.authorize(&headers, &app)?;
    let (settings, _) = parse::<StoredSettings>(&headers, body)?;
    state.service.put_settings(&app, &user, &settings).await?;
    Ok(Json(settings))
}

problems!(
    /// `PUT .../settings`.
    PutSettingsProblems: INVALID_PATH, MALFORMED_JSON, UNAUTHORIZED, FORBIDDEN, UNKNOWN_APP,
    PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, INVALID_FIELD, OVERLOADED, TIMEOUT, UNAVAILABLE
);

/// A user's push settings as set (`{}` when never set).
#[utoipa::path(
    get,
    path = "/v1/apps/{app}/users/{user}/settings",
    tag = "settings",
    operation_id = "get_settings",
    params(UserPath),
    responses(
        (status = 200, description = "The settings as set", body = StoredSettings),
        GetSettingsProblems,
    ),
    security(("bearer" = []))
)]
pub(super) async fn get(
    State(state): State<AppState>,
    Params(UserPath { app, user }): Params<UserPath>,
    headers: HeaderMap,
) -> Result<Json<StoredSettings>, Problem> {
    state.authorize(&headers, &app)?;
    Ok(Json(state.service.settings(&app, &user).await?))
}

problems!(
    /// `GET .../settings`.
    GetSettingsProblems: INVALID_PATH, UNAUTHORIZED, FORBIDDEN, UNKNOWN_APP, OVERLOADED, TIMEOUT,
    UNAVAILABLE
);
