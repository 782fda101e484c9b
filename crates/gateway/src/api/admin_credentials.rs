//! Admin routes that change credentials and API keys while the gateway runs: thin handlers over
//! [`Service::put_credential`] and friends, to be mounted on the admin listener (which
//! authenticates them with its own key: these handlers check no key).
//!
//! | route | what |
//! |---|---|
//! | `PUT /apps/{app}/credentials/{kind}/{name}` | add or rotate a credential; the body is its section as JSON (`kind`: `apns`, `xiaomi`, `huawei`, `fcm`, `daemon` with name `daemon`) |
//! | `DELETE /apps/{app}/credentials/{kind}/{name}` | remove it (its pending deliveries are held) |
//! | `PUT /apps/{app}/api-keys/{name}` | add or replace an API key: `{"sha256": "<hex SHA-256 of the key>"}` |
//! | `DELETE /apps/{app}/api-keys/{name}` | remove it |
//! | `POST /reload` | re-read the configuration (file, environment, secret files) and apply it |
//!
//! Paths are relative: nest them (`Router::nest("/admin", routes())`). The state must give a
//! [`Service`] and a [`ConfigSource`] (`FromRef`). Answers: `200` with what changed
//! (`{"app","item","change"}`, or the reload's report); a refused credential is `422`
//! `/problems/credential-refused` with the reason in `detail` (the old one keeps serving);
//! `404` `/problems/unknown-app` or `/problems/not-configured`; `422` `/problems/invalid-field`.
//! No answer echoes a secret.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{post, put};
use serde::Deserialize;

use super::path::Params;
use super::{Problem, json};
use crate::app::{CredentialConfig, CredentialKind};
use crate::config::{Config, ConfigError};
use crate::service::{ChangeError, ChangeReport, Changed, Service};

/// Where `POST /reload` (and SIGHUP) read the configuration: the file the gateway started with,
/// the environment and the secret files, as at start.
#[derive(Clone)]
pub struct ConfigSource(Arc<dyn Fn() -> Result<Config, ConfigError> + Send + Sync>);

impl ConfigSource {
    /// A source calling `load` (blocking: it reads files).
    pub fn new(load: impl Fn() -> Result<Config, ConfigError> + Send + Sync + 'static) -> Self {
        ConfigSource(Arc::new(load))
    }

    /// Reads the configuration now.
    pub fn load(&self) -> Result<Config, ConfigError> {
        (self.0)()
    }
}

impl std::fmt::Debug for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigSource")
    }
}

/// The routes (see the module's docs).
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Service: FromRef<S>,
    ConfigSource: FromRef<S>,
{
    Router::new()
        .route(
            "/apps/{app}/credentials/{kind}/{name}",
            put(put_credential).delete(delete_credential),
        )
        .route(
            "/apps/{app}/api-keys/{name}",
            put(put_api_key).delete(delete_api_key),
        )
        .route("/reload", post(reload))
}

#[derive(Debug, Deserialize)]
struct CredentialPath {
    app: String,
    kind: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct KeyPath {
    app: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    sha256: String,
}

fn kind_of(kind: &str) -> Result<CredentialKind, Problem> {
    CredentialKind::parse(kind)
        .ok_or_else(|| Problem::invalid("kind", "one of apns, xiaomi, huawei, fcm, daemon"))
}

async fn put_credential(
    State(service): State<Service>,
    Params(path): Params<CredentialPath>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Changed>, Problem> {
    let kind = kind_of(&path.kind)?;
    let (value, _) = json::parse::<serde_json::Value>(&headers, body)?;
    let config = CredentialConfig::from_json(kind, value)
        .map_err(|message| Problem::invalid("body", message))?;
    let changed = service
        .put_credential(&path.app, kind, &path.name, config)
        .await?;
    Ok(Json(changed))
}

async fn delete_credential(
    State(service): State<Service>,
    Params(path): Params<CredentialPath>,
) -> Result<Json<Changed>, Problem> {
    let kind = kind_of(&path.kind)?;
    Ok(Json(
        service
            .remove_credential(&path.app, kind, &path.name)
            .await?,
    ))
}

async fn put_api_key(
    State(service): State<Service>,
    Params(path): Params<KeyPath>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Changed>, Problem> {
    let (key, _) = json::parse::<KeyBody>(&headers, body)?;
    Ok(Json(
        service
            .put_api_key(&path.app, &path.name, &key.sha256)
            .await?,
    ))
}

async fn delete_api_key(
    State(service): State<Service>,
    Params(path): Params<KeyPath>,
) -> Result<Json<Changed>, Problem> {
    Ok(Json(service.remove_api_key(&path.app, &path.name).await?))
}

async fn reload(
    State(service): State<Service>,
    State(source): State<ConfigSource>,
) -> Result<Json<ChangeReport>, Problem> {
    let config = tokio::task::spawn_blocking(move || source.load())
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reload-failed",
                "Reload failed",
            )
        })?
        // figment's and the loader's errors name keys and sources, not secret values.
        .map_err(|e| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-configuration",
                "Invalid configuration",
            )
            .detail(e.to_string())
        })?;
    Ok(Json(service.reload(&config).await?))
}

impl From<ChangeError> for Problem {
    fn from(e: ChangeError) -> Self {
        let detail = e.to_string();
        match e {
            ChangeError::UnknownApp => {
                Problem::new(StatusCode::NOT_FOUND, "unknown-app", "Unknown app").detail(detail)
            }
            ChangeError::NotConfigured { .. } => {
                Problem::new(StatusCode::NOT_FOUND, "not-configured", "Not configured")
                    .detail(detail)
            }
            ChangeError::Invalid { field, message } => Problem::invalid(field, message),
            ChangeError::Refused { reason, .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "credential-refused",
                "Credential refused",
            )
            .detail(reason),
            ChangeError::Disabled => {
                Problem::new(StatusCode::CONFLICT, "changes-disabled", "Changes disabled")
                    .detail(detail)
            }
            ChangeError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Store unavailable",
                )
                .retry_after(1)
            }
        }
    }
}
