//! `GET /admin/v1/apps`: the apps served and their channels.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;

use super::Shared;
use crate::api::Problem;

/// One app as the admin API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct AppInfo {
    /// The app id.
    pub(crate) id: String,
    /// Its channels as `<kind>/<credential>`, sorted.
    pub(crate) channels: Vec<String>,
}

/// The apps' ids and channels, by id.
pub(crate) fn infos(state: &Shared) -> Vec<AppInfo> {
    state
        .service
        .apps
        .load()
        .values()
        .map(|app| {
            let mut channels: Vec<String> = app.channels.iter().map(ToString::to_string).collect();
            channels.sort();
            AppInfo {
                id: app.id.clone(),
                channels,
            }
        })
        .collect()
}

pub(super) async fn list(
    axum::extract::State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Vec<AppInfo>>, Problem> {
    state.gate.authorize(&headers)?;
    Ok(Json(infos(&state)))
}
