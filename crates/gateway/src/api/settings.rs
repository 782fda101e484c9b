//! `/v1/apps/{app}/users/{user}/settings`: the seed's per-user push settings, read back exactly
//! as set.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;

use super::json::parse;
use super::path::Params;
use super::{AppState, Problem};
use crate::store::StoredSettings;

pub(super) async fn put(
    State(state): State<AppState>,
    Params((app, user)): Params<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<StoredSettings>, Problem> {
    state.authorize(&headers, &app)?;
    let (settings, _) = parse::<StoredSettings>(&headers, body)?;
    state.service.put_settings(&app, &user, &settings).await?;
    Ok(Json(settings))
}

pub(super) async fn get(
    State(state): State<AppState>,
    Params((app, user)): Params<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<StoredSettings>, Problem> {
    state.authorize(&headers, &app)?;
    Ok(Json(state.service.settings(&app, &user).await?))
}
