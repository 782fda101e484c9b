//! The admin listener: the admin API (`/admin/v1`, JSON, errors as `application/problem+json`
//! like `/v1`) and the console (`/console`, server-rendered HTML), on their own address
//! (`[admin] listen`) with their own key (`[admin]`, see [`AdminConfig`]). App API keys do not
//! reach it.
//!
//! | route | what |
//! |---|---|
//! | `GET /admin/v1/apps` | the apps and their channels |
//! | `GET /admin/v1/apps/{app}/dead-letters?reason=&since_ms=&until_ms=&cursor=&limit=` | dead deliveries, oldest first |
//! | `POST /admin/v1/apps/{app}/dead-letters/replay` | `{"ids": [...]}` or `{"filter": {...}, "limit": n}`: pending again, with a fresh attempt budget |
//! | `PUT`/`DELETE /admin/v1/apps/{app}/credentials/{kind}/{name}` | add or rotate (checked first), or remove, a vendor credential |
//! | `PUT`/`DELETE /admin/v1/apps/{app}/api-keys/{name}` | add or rotate, or remove, an API key |
//! | `POST /admin/v1/reload` | the configuration read again and applied, as on SIGHUP |
//!
//! The console's pages are listed in `console`.
//!
//! Every `/admin/v1` route takes `Authorization: Bearer <admin key>`; the console takes the
//! session cookie its login form opens (see `session`). Nothing here shows a secret: no key,
//! credential or device token is in any answer.

pub(crate) mod apps;
pub(crate) mod console;
pub(crate) mod dead_letters;
pub(crate) mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

use self::session::Gate;
use crate::api::Problem;
use crate::api::admin_credentials::{self, ConfigSource};
use crate::auth::KeyHash;
use crate::config::AdminConfig;
use crate::service::Service;

/// The largest admin request body (a replay of 1000 ids fits many times over).
const BODY_LIMIT: usize = 256 * 1024;

/// What every admin handler shares.
pub(crate) struct AdminState {
    pub(crate) service: Service,
    pub(crate) gate: Gate,
}

pub(crate) type Shared = Arc<AdminState>;

/// What the credential routes need.
#[derive(Clone)]
struct CredentialState {
    service: Service,
    source: ConfigSource,
}

impl FromRef<CredentialState> for Service {
    fn from_ref(state: &CredentialState) -> Service {
        state.service.clone()
    }
}

impl FromRef<CredentialState> for ConfigSource {
    fn from_ref(state: &CredentialState) -> ConfigSource {
        state.source.clone()
    }
}

/// The admin listener's router over `service`, reached with the admin key whose hash is `key`.
/// `source` is what `POST /admin/v1/reload` reads.
pub fn router(
    service: Service,
    key: KeyHash,
    config: &AdminConfig,
    source: ConfigSource,
) -> Router {
    let state = Arc::new(AdminState {
        service: service.clone(),
        gate: Gate::new(key, Duration::from_secs(config.session_secs.max(1))),
    });
    // The credential routes check no key themselves: the admin key is checked here, before.
    let gate = state.clone();
    let credentials = admin_credentials::routes::<CredentialState>()
        .with_state(CredentialState { service, source })
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let gate = gate.clone();
            async move {
                match gate.gate.authorize(req.headers()) {
                    Ok(()) => next.run(req).await,
                    Err(problem) => axum::response::IntoResponse::into_response(problem),
                }
            }
        }));
    Router::new()
        .nest("/admin/v1", credentials)
        .route("/admin/v1/apps", get(apps::list))
        .route("/admin/v1/apps/{app}/dead-letters", get(dead_letters::list))
        .route(
            "/admin/v1/apps/{app}/dead-letters/replay",
            post(dead_letters::replay),
        )
        .merge(console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(hardened))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Headers on every admin answer: never cached (pages show live state and CSRF tokens), never
/// framed, no content sniffing, no referrer, and a content security policy that allows no
/// script and nothing from elsewhere (only the page's own inline style), so a user id or
/// message text that slipped through escaping still could not run.
async fn hardened(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let set = [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
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
