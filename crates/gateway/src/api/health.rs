//! `/livez` (the process answers) and `/readyz` (the store answers; credentials were loaded at
//! start or the process would not run).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::openapi::problems;
use super::{AppState, Problem};

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok` (live) or `ready`.
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
}

/// The process answers.
#[utoipa::path(
    get,
    path = "/livez",
    tag = "meta",
    operation_id = "livez",
    responses((status = 200, description = "Live", body = Health), HealthProblems)
)]
pub(super) async fn livez() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The store answers (credentials were loaded at start, or the process would not run).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    operation_id = "readyz",
    responses((status = 200, description = "Ready", body = Health), ReadyProblems)
)]
pub(super) async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, Problem> {
    state.service.ready().await.map_err(|_| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Store unavailable",
        )
        .retry_after(1)
    })?;
    Ok(Json(Health { status: "ready" }))
}

problems!(
    /// `GET /livez`: only the server's request timeout.
    HealthProblems: TIMEOUT
);

problems!(
    /// `GET /readyz`.
    ReadyProblems: TIMEOUT, UNAVAILABLE
);
