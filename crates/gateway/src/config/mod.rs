//! The gateway's configuration: a TOML file plus `PUSHWAY_*` environment overrides (figment),
//! with secrets read from `*_file` keys and never shown in `Debug`.
//!
//! ```toml
//! [server]
//! listen = "0.0.0.0:8080"
//!
//! [store]
//! path = "/var/lib/pushway/pushway.sqlite3"
//!
//! [apps.chat]
//! api_keys = [{ name = "im-backend", sha256 = "<hex SHA-256 of the key>" }]
//!
//! [apps.chat.apns.main]
//! team_id = "T3AM1D9ZQ8"
//! key_id = "K7Q2M9X4PL"
//! topic = "com.example.chat"
//! key_file = "/run/secrets/AuthKey_K7Q2M9X4PL.p8"
//!
//! [apps.chat.xiaomi.main]
//! package = "com.example.chat"
//! channel_id = "im_messages"
//! custom_activity = ".ui.ChatActivity"
//! app_secret_file = "/run/secrets/xiaomi"
//! rate_limit = { per_second = 500, burst = 50 }   # the app's QPS tier; the cluster's on Postgres
//!
//! [apps.chat.huawei.main]
//! app_id = "104437395"
//! client_secret_file = "/run/secrets/huawei"
//!
//! [apps.chat.fcm.main]
//! channel_id = "im_messages"
//! service_account_file = "/run/secrets/firebase-service-account.json"
//!
//! [apps.chat.daemon]
//! secret_file = "/run/secrets/daemon"
//! strategy = "daemon_first"   # a connected daemon device instead of the vendors (default "all_devices")
//!
//! [apps.chat.webhook]
//! url = "https://im.example.com/pushway/events"
//! secret_file = "/run/secrets/webhook"
//! ```
//!
//! Devices register under a credential name (`main` above) and kind; daemon devices under the
//! credential `daemon` (the app has one daemon channel, see [`DaemonConfig`]; its `strategy`
//! says whether a recipient's connected daemon device stands in for its vendor devices). A vendor
//! credential's `rate_limit`: [`RateConfig`]. The signed
//! delivery webhook: [`WebhookConfig`].
//!
//! On SIGHUP, `pushway serve` reads the file, the environment and the secret files again and
//! applies what changed in `apps` (see [`Service::reload`](crate::service::Service::reload)):
//! each new credential is checked first, a refused one keeps the old one serving. `server`,
//! `store`, `worker`, `admin`, `cluster` and each app's `webhook` apply at start only: a reload
//! that changes them says so (`needs_restart`) and keeps the running ones.
//!
//! Environment keys nest with `__`: `PUSHWAY_SERVER__LISTEN=0.0.0.0:8080` sets `server.listen`,
//! `PUSHWAY_APPS__CHAT__XIAOMI__MI__APP_SECRET_FILE=/run/secrets/mi` sets that credential's file.

mod admin;
mod apps;
mod cluster;
mod daemon;
mod rate;
mod secret;
mod store;
mod webhook;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

pub use admin::AdminConfig;
pub use apps::{
    ApiKeyConfig, ApnsConfig, AppConfig, FcmConfig, HuaweiConfig, PlaceholdersConfig, RenderConfig,
    XiaomiConfig,
};
pub use cluster::ClusterConfig;
pub use daemon::DaemonConfig;
pub use rate::RateConfig;
pub use secret::Secret;
pub(crate) use secret::secret;
pub use store::{StoreConfig, StoreUrl};
pub use webhook::WebhookConfig;

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
    /// The admin listener (admin API and console).
    #[serde(default)]
    pub admin: AdminConfig,
    /// This node among several on one Postgres database.
    #[serde(default)]
    pub cluster: ClusterConfig,
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
    /// On SIGTERM / Ctrl-C, how long requests and deliveries in progress may take to finish,
    /// in seconds (default 10); leases of deliveries still unanswered are then released.
    pub shutdown_grace_secs: u64,
    /// How `pushway serve` writes its logs: `text` (default) or `json` (one object per line);
    /// `--log-format` overrides it.
    pub log_format: LogFormat,
}

/// A log format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per event, with its spans' fields (`message_id`, `delivery_id`…).
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            max_in_flight_requests: 1024,
            shutdown_grace_secs: 10,
            log_format: LogFormat::Text,
        }
    }
}

impl ServerConfig {
    /// The shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }
}

/// The delivery workers' settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// Whether this process runs delivery workers (default true). Off, it still accepts
    /// messages (each delivery committed, as always) and serves the whole API, and delivers
    /// nothing: the rows stay due for a process whose workers are on. For API-only nodes of a
    /// Postgres cluster (the other nodes deliver); on SQLite, a gateway started later on the
    /// same file sends them. It also prunes nothing (pruning is the workers' job).
    pub enabled: bool,
    /// How long a claimed row is leased before another worker may claim it again (default 60 s).
    pub lease_secs: u64,
    /// How often to look for due rows when nothing woke the worker (default 250 ms, on both
    /// stores). A commit wakes idle workers at once (on Postgres, those of every node, through
    /// `LISTEN/NOTIFY`), so this bounds only how late rows due later are found: retries after
    /// their backoff, leases that ran out. On Postgres each idle node runs one claim query per
    /// interval: raising it (1000–2000 ms) saves queries and makes retries that much later.
    pub poll_interval_ms: u64,
    /// Rows claimed at once (default 500).
    pub claim_batch: u32,
    /// Dispatches in flight at once (default 256).
    pub max_in_flight: usize,
    /// Claimed rows in memory at once (default 5,000, about 5 MiB): the claim loop takes no more
    /// while its dispatches hold this many, however large the backlog. A worker sends at most
    /// this many rows per vendor round trip, so raise it when vendors answer slowly and the
    /// backlog drains too slowly (5,000 rows at 150 ms is about 33,000 rows/s).
    pub max_rows_in_flight: usize,
    /// Retryable failures (429, 5xx, timeouts…) after which a delivery is dead (default 10);
    /// sends held by a paused route do not count.
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
    /// How long finished messages (and dead-token feed entries) are kept, in seconds (default 7
    /// days). An idempotency key is remembered as long as its message: keep this longer than
    /// callers retry.
    pub retention_secs: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            enabled: true,
            lease_secs: 60,
            poll_interval_ms: 250,
            claim_batch: 500,
            max_in_flight: 256,
            max_rows_in_flight: 5_000,
            max_attempts: 10,
            backoff_base_ms: 1000,
            backoff_max_ms: 300_000,
            route_pause_ms: 60_000,
            default_ttl_secs: 86_400,
            send_timeout_secs: 10,
            retention_secs: 7 * 86_400,
        }
    }
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Toml};

    use super::{Config, LogFormat};

    /// The example in this module's docs, so the docs cannot drift from the code.
    fn documented_example() -> String {
        let source = include_str!("mod.rs");
        let start = source
            .find("//! ```toml\n")
            .map(|i| i + "//! ```toml\n".len());
        let block = start.and_then(|s| source[s..].find("//! ```\n").map(|e| &source[s..s + e]));
        block
            .unwrap_or_default()
            .lines()
            .map(|l| {
                l.strip_prefix("//! ")
                    .unwrap_or(l.trim_start_matches("//!"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_documented_example_parses() {
        let text = documented_example();
        assert!(text.contains("[apps.chat.xiaomi.main]"), "{text}");
        let config: Config = Figment::from(Toml::string(&text))
            .extract()
            .expect("parses");
        assert_eq!(config.server.listen.to_string(), "0.0.0.0:8080");
        let chat = &config.apps["chat"];
        assert_eq!(chat.api_keys[0].name, "im-backend");
        assert_eq!(chat.apns["main"].topic, "com.example.chat");
        assert_eq!(chat.xiaomi["main"].channel_id, "im_messages");
        assert_eq!(
            chat.xiaomi["main"].custom_activity.as_deref(),
            Some(".ui.ChatActivity")
        );
        let rate = chat.xiaomi["main"].rate_limit.as_ref().expect("a rate");
        assert_eq!((rate.per_second, rate.burst), (500.0, Some(50)));
        assert_eq!(chat.huawei["main"].app_id, "104437395");
        assert_eq!(chat.fcm["main"].channel_id, "im_messages");
        assert_eq!(
            chat.fcm["main"].service_account_file.as_deref(),
            Some(std::path::Path::new(
                "/run/secrets/firebase-service-account.json"
            ))
        );
        let daemon = chat.daemon.as_ref().expect("a daemon section");
        assert_eq!(daemon.token_lifetime_secs, 7 * 86_400);
        assert_eq!(config.worker.max_attempts, 10);
        let webhook = chat.webhook.as_ref().expect("a webhook section");
        assert_eq!(webhook.events, ["delivered", "dead", "token_invalidated"]);
    }

    #[test]
    fn the_log_format_is_text_or_json() {
        let parse = |text: &str| {
            Figment::from(Toml::string(text))
                .extract::<Config>()
                .map_err(Box::new)
        };
        let config = parse("[server]\nlog_format = \"json\"").expect("parses");
        assert_eq!(config.server.log_format, LogFormat::Json);
        assert_eq!(
            parse("").expect("parses").server.log_format,
            LogFormat::Text
        );
        let bad = parse("[server]\nlog_format = \"xml\"").expect_err("refused");
        assert!(bad.to_string().contains("log_format"), "{bad}");
    }
}
