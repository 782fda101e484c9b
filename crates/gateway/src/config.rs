//! The gateway's configuration: a TOML file plus `PUSHWAY_*` environment overrides (figment),
//! with secrets read from `*_file` keys and never shown in `Debug`.
//!
//! Environment keys nest with `__`: `PUSHWAY_SERVER__LISTEN=0.0.0.0:8080` sets `server.listen`,
//! `PUSHWAY_APPS__CHAT__XIAOMI__MI__APP_SECRET_FILE=/run/secrets/mi` sets that credential's file.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

/// A configuration that cannot be used; says which key of which source is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
        }
    }

    pub(crate) fn at(key: &str, message: impl fmt::Display) -> Self {
        ConfigError::new(format!("{key}: {message}"))
    }
}

/// A secret value: `Debug` never shows it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: pass it on, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The HTTP server.
    #[serde(default)]
    pub server: ServerConfig,
    /// The database.
    #[serde(default)]
    pub store: StoreConfig,
    /// The delivery workers.
    #[serde(default)]
    pub worker: WorkerConfig,
    /// The apps served, by app id.
    #[serde(default)]
    pub apps: BTreeMap<String, AppConfig>,
}

impl Config {
    /// Reads `file` (when given) and the `PUSHWAY_*` environment over the embedded defaults.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::new(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("PUSHWAY_").split("__"));
        // figment's errors name the key and the source (file or environment variable).
        figment
            .extract()
            .map_err(|e| ConfigError::new(e.to_string()))
    }
}

/// The HTTP server's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Where to listen (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// The largest request body accepted, in bytes (default 1 MiB).
    pub body_limit_bytes: usize,
    /// How long one request may take, in seconds (default 30); `?wait=` is capped below it.
    pub request_timeout_secs: u64,
    /// `/v1` requests in progress at once (default 1024); more are answered `503` with
    /// `Retry-After`, never queued without bound or dropped silently.
    pub max_in_flight_requests: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            max_in_flight_requests: 1024,
        }
    }
}

impl ServerConfig {
    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }
}

/// The database's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct StoreConfig {
    /// The SQLite file (default `./pushway-data/pushway.sqlite3`); its directory is created.
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("./pushway-data/pushway.sqlite3"),
        }
    }
}

/// The delivery workers' settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// How long a claimed row is leased before another worker may claim it again (default 60 s).
    pub lease_secs: u64,
    /// How often to look for due rows when nothing woke the worker (default 250 ms).
    pub poll_interval_ms: u64,
    /// Rows claimed at once (default 500).
    pub claim_batch: u32,
    /// Dispatches in flight at once (default 256).
    pub max_in_flight: usize,
    /// Sends per delivery before a `Retry` outcome makes it dead (default 10).
    pub max_attempts: u32,
    /// The first retry's backoff in milliseconds, doubled per attempt (default 1000).
    pub backoff_base_ms: u64,
    /// The longest backoff in milliseconds (default 300 000).
    pub backoff_max_ms: u64,
    /// How long a misconfigured route is paused, in milliseconds (default 60 000).
    pub route_pause_ms: u64,
    /// How long a delivery is tried when the message has no TTL, in seconds (default 1 day).
    pub default_ttl_secs: u64,
    /// Deadline of one vendor attempt, in seconds (default 10).
    pub send_timeout_secs: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            lease_secs: 60,
            poll_interval_ms: 250,
            claim_batch: 500,
            max_in_flight: 256,
            max_attempts: 10,
            backoff_base_ms: 1000,
            backoff_max_ms: 300_000,
            route_pause_ms: 60_000,
            default_ttl_secs: 86_400,
            send_timeout_secs: 10,
        }
    }
}

/// One app: its API keys and vendor credentials, each credential under a name devices register
/// with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AppConfig {
    /// The keys that reach this app (and only this app).
    pub api_keys: Vec<ApiKeyConfig>,
    /// APNs credentials by name.
    pub apns: BTreeMap<String, ApnsConfig>,
    /// Xiaomi credentials by name.
    pub xiaomi: BTreeMap<String, XiaomiConfig>,
    /// Huawei credentials by name.
    pub huawei: BTreeMap<String, HuaweiConfig>,
}

/// One API key: exactly one of `key`, `key_file` (the key itself) or `sha256` (hex of its
/// SHA-256, so the key never needs to be in the configuration).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ApiKeyConfig {
    /// A name for logs.
    pub name: String,
    /// The key.
    #[serde(default)]
    pub key: Option<Secret>,
    /// A file holding the key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Hex SHA-256 of the key.
    #[serde(default)]
    pub sha256: Option<String>,
}

impl ApiKeyConfig {
    /// A key given inline.
    pub fn inline(name: impl Into<String>, key: impl Into<String>) -> Self {
        ApiKeyConfig {
            name: name.into(),
            key: Some(Secret::new(key)),
            ..ApiKeyConfig::default()
        }
    }
}

/// An APNs token-auth credential; serves both environments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ApnsConfig {
    /// The team id.
    pub team_id: String,
    /// The key id.
    pub key_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// The `.p8` key (PKCS#8 PEM).
    #[serde(default)]
    pub key_pem: Option<Secret>,
    /// A file holding the `.p8` key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Production endpoint override (a simulator).
    #[serde(default)]
    pub production_url: Option<String>,
    /// Sandbox endpoint override (a simulator).
    #[serde(default)]
    pub sandbox_url: Option<String>,
    /// An extra trusted root certificate (PEM), for a simulator's self-signed certificate.
    #[serde(default)]
    pub ca_cert_pem: Option<String>,
}

/// A Xiaomi MiPush credential.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct XiaomiConfig {
    /// The Android package.
    pub package: String,
    /// The notification channel id registered with Xiaomi.
    pub channel_id: String,
    /// The AppSecret.
    #[serde(default)]
    pub app_secret: Option<Secret>,
    /// A file holding the AppSecret.
    #[serde(default)]
    pub app_secret_file: Option<PathBuf>,
    /// Endpoint override (a simulator).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Allows an `http://` endpoint (simulators only).
    #[serde(default)]
    pub danger_allow_plain_http: bool,
}

/// A Huawei Push Kit credential (OAuth client).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HuaweiConfig {
    /// The app id (also the OAuth client id).
    pub app_id: String,
    /// The OAuth client secret.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// A file holding the OAuth client secret.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Endpoint override (a simulator), for both OAuth and push.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Allows an `http://` endpoint (simulators only).
    #[serde(default)]
    pub danger_allow_plain_http: bool,
}

/// The secret given inline or in a file, exactly one of them; `key` names it in errors.
// Read at start-up only, before any request is served, so a blocking read is fine here.
pub(crate) fn secret(
    key: &str,
    inline: &Option<Secret>,
    file: &Option<PathBuf>,
) -> Result<Secret, ConfigError> {
    match (inline, file) {
        (Some(secret), None) => Ok(secret.clone()),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Secret::new(s.trim_end_matches(['\r', '\n'])))
            .map_err(|e| {
                ConfigError::at(&format!("{key}_file"), format!("{}: {e}", path.display()))
            }),
        (Some(_), Some(_)) => Err(ConfigError::at(
            key,
            format!("set either {key} or {key}_file, not both"),
        )),
        (None, None) => Err(ConfigError::at(
            key,
            format!("{key} or {key}_file is required"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug() {
        let mut app = AppConfig::default();
        app.api_keys
            .push(ApiKeyConfig::inline("main", "pw_very_secret_key"));
        let mi = XiaomiConfig {
            app_secret: Some(Secret::new("xiaomi-very-secret")),
            ..XiaomiConfig::default()
        };
        app.xiaomi.insert("mi".to_owned(), mi);
        let mut config = Config::default();
        config.apps.insert("chat".to_owned(), app);
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("very_secret") && !debug.contains("very-secret"),
            "{debug}"
        );
        assert!(debug.contains("Secret(<redacted>)"));
    }

    #[test]
    fn a_secret_is_inline_or_in_a_file_not_both() {
        let file = Some(PathBuf::from("/nonexistent"));
        let inline = Some(Secret::new("s"));
        let both = secret("apps.a.xiaomi.mi.app_secret", &inline, &file);
        assert!(both.is_err_and(|e| e.to_string().contains("not both")));
        let neither = secret("apps.a.xiaomi.mi.app_secret", &None, &None);
        assert!(neither.is_err_and(|e| e.to_string().starts_with("apps.a.xiaomi.mi.app_secret:")));
        let missing = secret("k", &None, &file);
        assert!(missing.is_err_and(|e| e.to_string().starts_with("k_file: /nonexistent")));
    }
}
