//! Login state per device (seed: a logged-out or kicked device gets nothing until it logs in).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use super::openapi::problems;
use super::path::{DevicePath, Params, UserPath};
use super::{AppState, Problem};
use crate::store::Login;

async fn set(
    state: AppState,
    headers: HeaderMap,
    DevicePath { app, user, device }: DevicePath,
    login: Login,
) -> Result<StatusCode, Problem> {
    state.authorize(&headers, &app)?;
    state
        .service
        .set_login(&app, &user, Some(&device), login)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The device logged in: it gets pushes again.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/users/{user}/devices/{device}/login",
    tag = "logins",
    operation_id = "login",
    params(DevicePath),
    responses((status = 204, description = "Set (also when no such device is registered yet)"), LoginProblems),
    security(("bearer" = []))
)]
pub(super) async fn login(
    State(state): State<AppState>,
    Params(path): Params<DevicePath>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    set(state, headers, path, Login::LoggedIn).await
}

/// The device logged out: it gets nothing until it logs in.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/users/{user}/devices/{device}/logout",
    tag = "logins",
    operation_id = "logout",
    params(DevicePath),
    responses((status = 204, description = "Set (also when no such device is registered yet)"), LoginProblems),
    security(("bearer" = []))
)]
pub(super) async fn logout(
    State(state): State<AppState>,
    Params(path): Params<DevicePath>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    set(state, headers, path, Login::LoggedOut).await
}

/// The device was kicked offline: it gets nothing until it logs in.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/users/{user}/devices/{device}/kicked",
    tag = "logins",
    operation_id = "kicked",
    params(DevicePath),
    responses((status = 204, description = "Set (also when no such device is registered yet)"), LoginProblems),
    security(("bearer" = []))
)]
pub(super) async fn kicked(
    State(state): State<AppState>,
    Params(path): Params<DevicePath>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    set(state, headers, path, Login::Kicked).await
}

problems!(
    /// `POST .../devices/{device}/{login,logout,kicked}` and `POST .../logout`.
    LoginProblems: INVALID_PATH, UNAUTHORIZED, FORBIDDEN, UNKNOWN_APP, INVALID_FIELD, OVERLOADED,
    TIMEOUT, UNAVAILABLE
);

/// How many devices were logged out.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LoggedOut {
    /// The user's registered devices, all now logged out.
    logged_out: u64,
}

/// Logs every registered device of the user out.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/users/{user}/logout",
    tag = "logins",
    operation_id = "logout_all",
    params(UserPath),
    responses((status = 200, description = "Logged out", body = LoggedOut), LoginProblems),
    security(("bearer" = []))
)]
pub(super) async fn logout_all(
    State(state): State<AppState>,
    Params(UserPath { app, user }): Params<UserPath>,
    headers: HeaderMap,
) -> Result<Json<LoggedOut>, Problem> {
    state.authorize(&headers, &app)?;
    let logged_out = state
        .service
        .set_login(&app, &user, None, Login::LoggedOut)
        .await?;
    Ok(Json(LoggedOut { logged_out }))
}
