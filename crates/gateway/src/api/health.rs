//! `/livez` (the process answers) and `/readyz` (the store answers; credentials were loaded at
//! start or the process would not run).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::{AppState, Problem};

pub(super) async fn livez() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

pub(super) async fn readyz(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, Problem> {
    state.service.ready().await.map_err(|_| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Store unavailable",
        )
        .retry_after(1)
    })?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}
