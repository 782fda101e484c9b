//! The daemon channel on the API's own port: `GET /v1/apps/{app}/daemon` (the hub's WebSocket
//! endpoint: the upgrade is answered here, the upgraded connection handed to the app's hub) and
//! `POST /v1/apps/{app}/users/{user}/devices/{device}/daemon-token` (a device token, scoped to
//! that user and device).
//!
//! The WebSocket endpoint takes no API key: a device authenticates in its first frame, `hello`,
//! with the token (pushway-daemon's `PROTOCOL.md`).

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use utoipa::ToSchema;

use super::openapi::problems;
use super::path::{AppPath, DevicePath, Params};
use super::{AppState, Problem};

/// The only WebSocket version (RFC 6455).
const WEBSOCKET_VERSION: &str = "13";

problems!(
    /// `POST .../devices/{device}/daemon-token`.
    DaemonTokenProblems: INVALID_PATH, UNAUTHORIZED, FORBIDDEN, UNKNOWN_APP, INVALID_FIELD,
    UNKNOWN_DEVICE, NO_DAEMON_CHANNEL, NOT_A_DAEMON_DEVICE, DEVICE_NOT_LOGGED_IN, OVERLOADED,
    TIMEOUT, UNAVAILABLE
);

problems!(
    /// `GET /v1/apps/{app}/daemon`.
    DaemonConnectProblems: INVALID_PATH, INVALID_WEBSOCKET_UPGRADE, UNKNOWN_APP, NO_DAEMON_CHANNEL,
    UNSUPPORTED_WEBSOCKET_VERSION, OVERLOADED, TIMEOUT
);

/// `POST …/daemon-token`: the answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DaemonTokenOut {
    /// The JWT the device says `hello` with (`sub` = user, `dev` = device, `gen`, `iat`, `exp`).
    pub token: String,
    /// When it expires, in Unix milliseconds.
    pub expires_at_ms: i64,
}

/// Issues a token for a registered, logged-in daemon device, scoped to its user and device.
#[utoipa::path(
    post,
    path = "/v1/apps/{app}/users/{user}/devices/{device}/daemon-token",
    tag = "daemon",
    operation_id = "issue_daemon_token",
    params(DevicePath),
    responses(
        (status = 200, description = "The device's token (not to be cached)", body = DaemonTokenOut,
         headers(("Cache-Control" = String, description = "`no-store`"))),
        DaemonTokenProblems
    ),
    security(("bearer" = []))
)]
pub(super) async fn token(
    State(state): State<AppState>,
    Params(DevicePath { app, user, device }): Params<DevicePath>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    state.authorize(&headers, &app)?;
    let issued = state.service.daemon_token(&app, &user, &device).await?;
    let body = DaemonTokenOut {
        token: issued.token,
        expires_at_ms: issued.expires_at_ms,
    };
    // A credential: no cache may keep it.
    let no_store = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    Ok((no_store, Json(body)).into_response())
}

/// The daemon channel's WebSocket endpoint: devices connect here and authenticate with their
/// token in their first frame, `hello` (pushway-daemon's `PROTOCOL.md`); no API key.
#[utoipa::path(
    get,
    path = "/v1/apps/{app}/daemon",
    tag = "daemon",
    operation_id = "daemon_connect",
    params(AppPath),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol",
         headers(("Sec-WebSocket-Accept" = String, description = "RFC 6455 §4.2.2"))),
        DaemonConnectProblems
    )
)]
pub(super) async fn connect(
    State(state): State<AppState>,
    Params(AppPath { app }): Params<AppPath>,
    mut request: Request,
) -> Response {
    let hub = match state.service.daemon_hub(&app) {
        Ok(hub) => hub.clone(),
        Err(e) => return Problem::from(e).into_response(),
    };
    let accept = match check_upgrade(request.version(), request.headers()) {
        Ok(accept) => accept,
        Err(response) => return *response,
    };
    // Present only when hyper can hand the connection over (HTTP/1.1 with upgrade headers).
    if request.extensions().get::<OnUpgrade>().is_none() {
        return invalid("this connection cannot be upgraded").into_response();
    }
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => hub.serve_upgraded(TokioIo::new(upgraded)).await,
            Err(error) => tracing::debug!(%error, "daemon WebSocket upgrade failed"),
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

/// Checks a WebSocket opening handshake (RFC 6455 §4.2.1); its `Sec-WebSocket-Accept`, or the
/// problem answer.
fn check_upgrade(version: Version, headers: &HeaderMap) -> Result<HeaderValue, Box<Response>> {
    let fail = |detail: &str| Box::new(invalid(detail).into_response());
    if version != Version::HTTP_11 {
        return Err(fail("a WebSocket upgrade needs HTTP/1.1"));
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(fail("Connection: upgrade is required"));
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(fail("Upgrade: websocket is required"));
    }
    match headers.get(header::SEC_WEBSOCKET_VERSION) {
        None => return Err(fail("Sec-WebSocket-Version: 13 is required")),
        Some(v) if v.as_bytes() != WEBSOCKET_VERSION.as_bytes() => {
            let mut response = Problem::new(
                StatusCode::UPGRADE_REQUIRED,
                "unsupported-websocket-version",
                "Unsupported WebSocket version",
            )
            .detail("this server speaks WebSocket version 13")
            .into_response();
            response.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static(WEBSOCKET_VERSION),
            );
            return Err(Box::new(response));
        }
        Some(_) => {}
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| fail("Sec-WebSocket-Key is required"))?;
    // A base64-encoded 16-byte nonce.
    if !STANDARD
        .decode(key.as_bytes())
        .is_ok_and(|nonce| nonce.len() == 16)
    {
        return Err(fail("Sec-WebSocket-Key must be 16 bytes in base64"));
    }
    HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .map_err(|_| fail("Sec-WebSocket-Key is not usable"))
}

/// Whether header `name` lists `token` (comma-separated, case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn invalid(detail: &str) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-websocket-upgrade",
        "Invalid WebSocket upgrade",
    )
    .detail(detail)
}
