//! Login state per device (seed: a logged-out or kicked device gets nothing until it logs in).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::path::Params;
use super::{AppState, Problem};
use crate::store::Login;

async fn set(
    state: AppState,
    headers: HeaderMap,
    (app, user, device): (String, String, String),
    login: Login,
) -> Result<StatusCode, Problem> {
    state.authorize(&headers, &app)?;
    state
        .service
        .set_login(&app, &user, Some(&device), login)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn login(
    State(state): State<AppState>,
    Params(path): Params<(String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    set(state, headers, path, Login::LoggedIn).await
}

pub(super) async fn logout(
    State(state): State<AppState>,
    Params(path): Params<(String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    set(state, headers, path, Login::LoggedOut).await
}

pub(super) async fn kicked(
    State(state): State<AppState>,
    Params(path): Params<(String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    set(state, headers, path, Login::Kicked).await
}

pub(super) async fn logout_all(
    State(state): State<AppState>,
    Params((app, user)): Params<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, Problem> {
    state.authorize(&headers, &app)?;
    let count = state
        .service
        .set_login(&app, &user, None, Login::LoggedOut)
        .await?;
    Ok(Json(serde_json::json!({ "logged_out": count })))
}
