//! The HTTP API, `/v1`: thin handlers (extract, call the [`Service`], map the result), one file
//! per resource; every error is a [`Problem`]. Layers (body limit, timeout, tracing) are set
//! here, in one place.
//!
//! | route | what |
//! |---|---|
//! | `PUT/DELETE /v1/apps/{app}/users/{user}/devices/{device}` | register / remove a device |
//! | `GET /v1/apps/{app}/users/{user}/devices` | a user's devices |
//! | `PUT/GET /v1/apps/{app}/users/{user}/settings` | push settings |
//! | `POST /v1/apps/{app}/users/{user}/devices/{device}/{login,logout,kicked}` | login state |
//! | `POST /v1/apps/{app}/users/{user}/logout` | log every device of the user out |
//! | `POST /v1/apps/{app}/users/{user}/devices/{device}/daemon-token` | a daemon device's token |
//! | `GET /v1/apps/{app}/daemon` | the daemon channel's WebSocket endpoint (devices) |
//! | `POST /v1/apps/{app}/messages[?wait=5s]` | accept a message (`Idempotency-Key`) |
//! | `GET /v1/apps/{app}/messages/{id}` | its status |
//! | `GET /v1/apps/{app}/messages/{id}/summary` | its status in counts |
//! | `GET /v1/apps/{app}/dead-tokens?after=&limit=` | the dead-token feed |
//! | `POST /v1/apps/{app}/tim/v4/{service}/{command}` | TIM REST ingest ([`crate::tim`]; Tencent's shapes, so not in the OpenAPI document) |
//! | `GET /v1/openapi.json` | the OpenAPI 3.1 document (no key needed; see [`openapi_json`]) |
//! | `GET /livez`, `GET /readyz` | health |
//!
//! Every route is also listed in `openapi::ApiDoc` (the document's one list of paths), with a
//! `#[utoipa::path]` on its handler.

pub mod admin_credentials;
mod daemon;
mod dead_tokens;
mod devices;
mod health;
pub(crate) mod json;
mod logins;
mod messages;
mod openapi;
pub(crate) mod path;
mod problem;
mod query;
mod settings;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use tokio::sync::Semaphore;
use tower_http::trace::TraceLayer;

pub use problem::Problem;

pub(crate) use openapi::message::MessageSchema;
pub(crate) use openapi::receive::ReceiveRulesSchema;

use crate::auth::{hash_key, matches};
use crate::config::ServerConfig;
use crate::service::Service;

/// What every handler shares.
pub(crate) struct State {
    pub(crate) service: Service,
    pub(crate) request_timeout: Duration,
}

pub(crate) type AppState = Arc<State>;

/// The API's OpenAPI 3.1 document as served at `GET /v1/openapi.json` (pretty JSON, final
/// newline): the repository's `openapi.json`.
pub fn openapi_json() -> String {
    openapi::json()
}

impl State {
    /// Checks the request's key reaches `app`.
    pub(crate) fn authorize(&self, headers: &HeaderMap, app: &str) -> Result<(), Problem> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            // The scheme is case-insensitive (RFC 9110 §11.1).
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .filter(|key| !key.is_empty())
            .ok_or_else(Problem::unauthorized)?;
        let hash = hash_key(presented);
        // Every key is compared (no early exit), each in constant time; the keys as they are
        // now (they change while running).
        let mut owner = None;
        for app in self.service.apps().load().values() {
            for key in &app.keys {
                if matches(key, &hash) {
                    owner = Some(app.id.clone());
                }
            }
        }
        let owner = owner.ok_or_else(Problem::unauthorized)?;
        if owner == app {
            return Ok(());
        }
        if self.service.app(app).is_ok() {
            Err(
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Key of another app")
                    .detail("this API key does not reach this app"),
            )
        } else {
            Err(Problem::new(
                StatusCode::NOT_FOUND,
                "unknown-app",
                "Unknown app",
            ))
        }
    }
}

/// The API's router over `service`, accepting the running apps' keys.
pub fn router(service: Service, config: &ServerConfig) -> Router {
    let timeout = config.request_timeout();
    let state = Arc::new(State {
        service,
        request_timeout: timeout,
    });
    let slots = Arc::new(Semaphore::new(config.max_in_flight_requests.max(1)));
    let user = "/v1/apps/{app}/users/{user}";
    Router::new()
        .route(&format!("{user}/devices"), get(devices::list))
        .route(
            &format!("{user}/devices/{{device}}"),
            put(devices::put).delete(devices::delete),
        )
        .route(
            &format!("{user}/devices/{{device}}/login"),
            post(logins::login),
        )
        .route(
            &format!("{user}/devices/{{device}}/logout"),
            post(logins::logout),
        )
        .route(
            &format!("{user}/devices/{{device}}/kicked"),
            post(logins::kicked),
        )
        .route(&format!("{user}/logout"), post(logins::logout_all))
        .route(
            &format!("{user}/devices/{{device}}/daemon-token"),
            post(daemon::token),
        )
        .route("/v1/apps/{app}/daemon", get(daemon::connect))
        .route(
            &format!("{user}/settings"),
            put(settings::put).get(settings::get),
        )
        .route("/v1/apps/{app}/messages", post(messages::post))
        .route("/v1/apps/{app}/messages/{id}", get(messages::get))
        .route(
            "/v1/apps/{app}/messages/{id}/summary",
            get(messages::summary),
        )
        .route("/v1/apps/{app}/dead-tokens", get(dead_tokens::get))
        .route(
            "/v1/apps/{app}/tim/v4/{service}/{command}",
            post(crate::tim::ingest),
        )
        .route("/v1/openapi.json", get(openapi::document))
        .route("/livez", get(health::livez))
        .route("/readyz", get(health::readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            with_limits(slots.clone(), timeout, req, next)
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Bounds `/v1` requests in progress (health checks always answer) and each request's time.
async fn with_limits(
    slots: Arc<Semaphore>,
    timeout: Duration,
    req: Request,
    next: Next,
) -> Response {
    let _slot = if req.uri().path().starts_with("/v1/") {
        match slots.try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) => {
                return Problem::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "Overloaded")
                    .detail("too many requests in progress; retry later")
                    .retry_after(1)
                    .into_response();
            }
        }
    } else {
        None
    };
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "Request timed out",
        )
        .retry_after(1)
        .into_response(),
    }
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "No such route")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
    )
}
